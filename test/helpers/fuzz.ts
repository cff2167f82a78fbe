/**
 * Fuzzing and property tests with fast-check: a fixed seed per property (replayable), and
 * arbitraries that mutate valid inputs the way parsers of paths, headers and files go wrong.
 *
 *   test('…', { timeout: FUZZ_TIMEOUT_MS }, () => {
 *     fc.assert(fc.property(mutated(fc.constantFrom(...SAMPLES)), (input) => { ... }), fuzzParams('parseRepoName'));
 *   });
 *
 * On a failure fast-check names the seed, the path and the shrunk counterexample; the message
 * ends with how to replay it (GITWARD_FUZZ_SEED=<seed>).
 */
import fc from 'fast-check';

/** Runs of a property at the default; GITWARD_FUZZ_RUNS raises (or lowers) it for a local run. */
export const FUZZ_RUNS = positiveInt(process.env.GITWARD_FUZZ_RUNS) ?? 2_000;

/**
 * Safety net only: a property ends when its runs are done. Generous, because the HTTP fuzzers wait
 * on a server and a backend per request on a shared, loaded machine.
 */
export const FUZZ_TIMEOUT_MS = 600_000;

function positiveInt(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n > 0 ? n : null;
}

/** FNV-1a over a name: a stable 32-bit seed per property. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(text, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h | 0;
}

/**
 * The seed of the property `name`: GITWARD_FUZZ_SEED when set (to replay a failure or explore),
 * else a fixed one derived from the name, so every run, in CI or not, judges the same inputs.
 */
export function fuzzSeed(name: string): number {
  const fromEnv = process.env.GITWARD_FUZZ_SEED;
  if (fromEnv !== undefined && /^-?\d+$/.test(fromEnv)) return Number(fromEnv) | 0;
  return fnv1a(name);
}

/**
 * fast-check parameters of the property `name`: its fixed seed, `numRuns` runs (FUZZ_RUNS by
 * default), and a failure message that ends with the replay command.
 */
export function fuzzParams<T>(name: string, numRuns = FUZZ_RUNS): fc.Parameters<T> {
  const seed = fuzzSeed(name);
  return {
    seed,
    numRuns,
    reporter: (details) => report(name, seed, details),
  };
}

function report<T>(name: string, seed: number, details: fc.RunDetails<T>): void {
  if (!details.failed) return;
  const cause = details.errorInstance;
  const why = cause instanceof Error ? cause.message : String(cause);
  throw new Error(
    `${fc.defaultReportMessage(details) ?? 'property failed'}\nWhy: ${why}\n(fuzz ${name}: seed ${seed}; replay with GITWARD_FUZZ_SEED=${seed})`,
    { cause },
  );
}

/** Shows an input in an assertion message: JSON for strings, hex for bytes, cut to `max` characters. */
export function show(input: unknown, max = 600): string {
  const text = Buffer.isBuffer(input) ? `<hex ${input.toString('hex')}>` : (JSON.stringify(input) ?? String(input));
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/**
 * Tokens that parsers of paths, headers and config files tend to get wrong: separators, encodings
 * of them, control characters, look-alikes, and grammar words.
 */
export const HOSTILE_TOKENS: readonly string[] = [
  '/',
  '//',
  '.',
  '..',
  '../',
  '.git',
  '.GIT',
  '%2e',
  '%2E',
  '%2e%2e',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '\0',
  '%0a',
  '%0d',
  '\r',
  '\n',
  '\r\n',
  '\t',
  ' ',
  '%20',
  '%',
  '%%',
  '%zz',
  '%c0%ae',
  '%c0%af',
  '%e0%80%ae',
  '%ef%bc%8e',
  '%252e',
  '%25',
  ':',
  '::',
  ';',
  '?',
  '#',
  '&',
  '=',
  '@',
  ',',
  '"',
  "'",
  '`',
  '$',
  '~',
  '-',
  '_',
  '*',
  '!',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u200b',
  '\u202e',
  '\u2028',
  '\ufeff',
  '\ud800',
  'é',
  'ſ',
  'K',
  '𝔤',
  'A'.repeat(64),
  'a'.repeat(300),
];

/** One edit of `mutated`, at a position taken modulo the input's length. */
type Edit =
  | { readonly op: 'insert'; readonly at: number; readonly text: string }
  | { readonly op: 'delete' | 'duplicate'; readonly at: number; readonly len: number }
  | { readonly op: 'move'; readonly at: number; readonly other: number }
  | { readonly op: 'upper' | 'lower' | 'truncate'; readonly at: number };

function editArb(tokens: readonly string[]): fc.Arbitrary<Edit> {
  const at = fc.nat();
  const char = fc
    .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff }))
    .map((c) => String.fromCharCode(c));
  return fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('insert' as const), at, text: fc.constantFrom(...tokens) }), weight: 2 },
    fc.record({ op: fc.constant('insert' as const), at, text: char }),
    fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ op: fc.constant('move' as const), at, other: fc.nat() }),
    fc.record({ op: fc.constantFrom('upper' as const, 'lower' as const, 'truncate' as const), at }),
  );
}

function applyEdit(s: string, e: Edit): string {
  const at = e.at % (s.length + 1);
  switch (e.op) {
    case 'insert':
      return s.slice(0, at) + e.text + s.slice(at);
    case 'delete':
      return s.slice(0, at) + s.slice(at + e.len);
    case 'duplicate':
      return s.slice(0, at + e.len) + s.slice(at, at + e.len) + s.slice(at + e.len);
    case 'move': {
      const other = e.other % (s.length + 1);
      const [a, b] = at < other ? [at, other] : [other, at];
      return s.slice(0, a) + s.slice(b) + s.slice(a, b);
    }
    case 'upper':
      return s.slice(0, at) + s.slice(at).toUpperCase();
    case 'lower':
      return s.slice(0, at) + s.slice(at).toLowerCase();
    case 'truncate':
      return s.slice(0, at);
  }
}

/**
 * Values of `base` with 1–4 edits each: a hostile token or a random character inserted, a range
 * deleted, duplicated or moved, the case of a tail flipped, or a truncation. Shrinks towards fewer,
 * simpler edits.
 */
export function mutated(base: fc.Arbitrary<string>, tokens: readonly string[] = HOSTILE_TOKENS): fc.Arbitrary<string> {
  return fc
    .tuple(base, fc.array(editArb(tokens), { minLength: 1, maxLength: 4 }))
    .map(([s, edits]) => edits.reduce(applyEdit, s));
}

/** One edit of `mutatedBytes`. */
type ByteEdit =
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete' | 'duplicate'; readonly at: number; readonly len: number }
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'truncate'; readonly at: number };

/** Byte-level `mutated`: bytes (random, chosen, or special) inserted, ranges deleted or duplicated, bits flipped, truncation. */
export function mutatedBytes(base: fc.Arbitrary<Buffer>, tokens: readonly Buffer[] = []): fc.Arbitrary<Buffer> {
  const at = fc.nat();
  const special = fc
    .constantFrom(0x00, 0x0a, 0x0d, 0x3a, 0x20, 0x09, 0x7f, 0x80, 0xff, 0xc0)
    .map((b) => Uint8Array.of(b));
  const inserted =
    tokens.length > 0
      ? fc.oneof(fc.constantFrom(...tokens), fc.uint8Array({ minLength: 1, maxLength: 4 }), special)
      : fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 4 }), special);
  const edit: fc.Arbitrary<ByteEdit> = fc.oneof(
    fc.record({ op: fc.constant('insert' as const), at, bytes: inserted }),
    fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 32 }) }),
    fc.record({ op: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('truncate' as const), at }),
  );
  const apply = (b: Buffer, e: ByteEdit): Buffer => {
    const i = e.at % (b.length + 1);
    switch (e.op) {
      case 'insert':
        return Buffer.concat([b.subarray(0, i), e.bytes, b.subarray(i)]);
      case 'delete':
        return Buffer.concat([b.subarray(0, i), b.subarray(i + e.len)]);
      case 'duplicate':
        return Buffer.concat([b.subarray(0, i + e.len), b.subarray(i, i + e.len), b.subarray(i + e.len)]);
      case 'flip': {
        if (i >= b.length) return b;
        const copy = Buffer.from(b);
        copy[i] = (copy[i] as number) ^ (1 << e.bit);
        return copy;
      }
      case 'truncate':
        return b.subarray(0, i);
    }
  };
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([b, edits]) => edits.reduce(apply, b));
}

/**
 * Chunk sizes for an incremental parser: `chunksOf(buf, sizes)` cuts `buf` into pieces of these
 * sizes in turn (the last piece takes the rest); no sizes is one piece.
 */
export const chunkSizes: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 16 });

/** Cuts `buf` into non-empty pieces of `sizes` in turn; after the sizes, the rest in one piece. */
export function chunksOf(buf: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  for (const size of sizes) {
    if (i >= buf.length) break;
    out.push(buf.subarray(i, i + size));
    i += size;
  }
  if (i < buf.length) out.push(buf.subarray(i));
  return out;
}
