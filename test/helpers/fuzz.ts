/**
 * Seeded fuzzing for the pure parsers: a small PRNG, generators and mutators, and `forAll`, which
 * runs a property a fixed number of times and names the seed and the input when it fails.
 *
 *   const rng = fuzzRng('repo-name');            // prints the seed; GITWARD_FUZZ_SEED=N replays it
 *   forAll(rng, FUZZ_ITERATIONS, () => mutate(rng, rng.pick(SAMPLES)), (input) => { ... });
 *
 * No dependency: the generators are plain functions of the PRNG, so a seed replays exactly.
 */
import crypto from 'node:crypto';

/**
 * Iterations of each property: enough to reach the corners the mutators aim at, few enough that
 * all fuzz files together stay well under a minute in CI. GITWARD_FUZZ_ITERATIONS raises it locally.
 */
export const FUZZ_ITERATIONS = positiveInt(process.env.GITWARD_FUZZ_ITERATIONS) ?? 2_000;

function positiveInt(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n > 0 ? n : null;
}

/** A seeded pseudo-random source (mulberry32: 32-bit state, fast, good enough for fuzzing). */
export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `n` random bytes. */
  bytes(n: number): Buffer;
  /** A string of up to `maxLen` characters drawn from `alphabet` (a string or a list of pieces). */
  string(alphabet: string | readonly string[], maxLen: number): string;
}

/** Creates the PRNG for `seed`. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const rng: Rng = {
    seed,
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))),
    string(alphabet, maxLen) {
      const pieces = typeof alphabet === 'string' ? [...alphabet] : alphabet;
      let s = '';
      const len = int(maxLen + 1);
      for (let i = 0; i < len; i++) s += pieces[int(pieces.length)] as string;
      return s;
    },
  };
  return rng;
}

/**
 * The seed of one fuzz file: GITWARD_FUZZ_SEED when set (to replay a failure); in CI (CI=true) a
 * fixed seed derived from the file's name, so a landing is judged on the same inputs every time;
 * elsewhere a fresh random one, so developers' runs keep exploring. Always printed for replay.
 */
export function fuzzSeed(name: string): number {
  const fromEnv = process.env.GITWARD_FUZZ_SEED;
  let seed: number;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) seed = Number(fromEnv) >>> 0;
  else if (process.env.CI === 'true') seed = fnv1a(name);
  else seed = crypto.randomInt(0, 2 ** 32 - 1);
  process.stdout.write(`# fuzz ${name}: seed ${seed} (replay with GITWARD_FUZZ_SEED=${seed})\n`);
  return seed;
}

/** FNV-1a over a name: a stable 32-bit seed per fuzz file. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(text, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h;
}

/** `createRng(fuzzSeed(name))`. */
export function fuzzRng(name: string): Rng {
  return createRng(fuzzSeed(name));
}

/** Shows an input in a failure message: JSON for strings, hex for bytes, cut to `max` characters. */
export function show(input: unknown, max = 600): string {
  const text = Buffer.isBuffer(input) ? `<hex ${input.toString('hex')}>` : JSON.stringify(input) ?? String(input);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/**
 * Runs `check` on `iterations` inputs from `generate`. A failure is rethrown naming the seed, the
 * iteration and the input, so `GITWARD_FUZZ_SEED=<seed>` replays it.
 */
export function forAll<T>(rng: Rng, iterations: number, generate: () => T, check: (input: T) => void): void {
  for (let i = 0; i < iterations; i++) {
    const input = generate();
    try {
      check(input);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`seed ${rng.seed}, iteration ${i}, input ${show(input)}:\n${message}`, { cause: err });
    }
  }
}

/** `forAll` for asynchronous properties. */
export async function forAllAsync<T>(rng: Rng, iterations: number, generate: () => T, check: (input: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < iterations; i++) {
    const input = generate();
    try {
      await check(input);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`seed ${rng.seed}, iteration ${i}, input ${show(input)}:\n${message}`, { cause: err });
    }
  }
}

/**
 * Tokens that parsers of paths, headers and config files tend to get wrong: separators, encodings
 * of them, control characters, look-alikes, and grammar words.
 */
export const HOSTILE_TOKENS: readonly string[] = [
  '/', '//', '.', '..', '../', '.git', '.GIT', '%2e', '%2E', '%2e%2e', '%2f', '%2F', '%5c', '\\', '%00', '\0', '%0a', '%0d',
  '\r', '\n', '\r\n', '\t', ' ', '%20', '%', '%%', '%zz', '%c0%ae', '%c0%af', '%e0%80%ae', '%ef%bc%8e', '%252e', '%25',
  ':', '::', ';', '?', '#', '&', '=', '@', ',', '"', "'", '`', '$', '~', '-', '_', '*', '!', '\u007f', '\u0085', '\u00a0',
  '\u200b', '\u202e', '\u2028', '\ufeff', '\ud800', 'é', 'ſ', 'K', '𝔤', 'A'.repeat(64), 'a'.repeat(300),
];

/**
 * Applies 1–4 random edits to `input`: insert a hostile token or a random character, delete,
 * duplicate or swap a range, flip case, or truncate. Pure function of the PRNG.
 */
export function mutate(rng: Rng, input: string, tokens: readonly string[] = HOSTILE_TOKENS): string {
  let s = input;
  const edits = rng.range(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(s.length + 1);
    switch (rng.int(8)) {
      case 0:
      case 1:
        s = s.slice(0, at) + rng.pick(tokens) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(rng.int(rng.chance(0.8) ? 0x80 : 0x10000)) + s.slice(at);
        break;
      case 3:
        s = s.slice(0, at) + s.slice(at + rng.range(1, 8));
        break;
      case 4: {
        const len = rng.range(1, 16);
        s = s.slice(0, at + len) + s.slice(at, at + len) + s.slice(at + len);
        break;
      }
      case 5: {
        const other = rng.int(s.length + 1);
        const [a, b] = at < other ? [at, other] : [other, at];
        s = s.slice(0, a) + s.slice(b) + s.slice(a, b);
        break;
      }
      case 6:
        s = s.slice(0, at) + (rng.chance(0.5) ? s.slice(at).toUpperCase() : s.slice(at).toLowerCase());
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

/** Byte-level `mutate`: insert random or chosen bytes, delete, duplicate, flip bits, truncate. */
export function mutateBytes(rng: Rng, input: Buffer, tokens: readonly Buffer[] = []): Buffer {
  let b = input;
  const edits = rng.range(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(6)) {
      case 0:
        b = Buffer.concat([b.subarray(0, at), tokens.length > 0 && rng.chance(0.6) ? rng.pick(tokens) : rng.bytes(rng.range(1, 4)), b.subarray(at)]);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.range(1, 8))]);
        break;
      case 2: {
        const len = rng.range(1, 32);
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 3:
        if (at < b.length) {
          b = Buffer.from(b);
          b[at] = (b[at] as number) ^ (1 << rng.int(8));
        }
        break;
      case 4:
        b = b.subarray(0, at);
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick([0x00, 0x0a, 0x0d, 0x3a, 0x20, 0x09, 0x7f, 0x80, 0xff, 0xc0])]), b.subarray(at)]);
    }
  }
  return b;
}

/** Splits `buf` into 1..n random non-empty chunks (for incremental parsers). */
export function randomChunks(rng: Rng, buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const len = rng.chance(0.3) ? buf.length - i : rng.range(1, Math.max(1, Math.min(buf.length - i, 64)));
    chunks.push(buf.subarray(i, i + len));
    i += len;
  }
  return chunks;
}
