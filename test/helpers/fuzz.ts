/**
 * Seeded fuzzing for the pure parsers: a small PRNG, generators and mutators, and `forAll`, which
 * runs a property a fixed number of times and names the seed and the input when it fails.
 *
 *   test('…', { timeout: fuzzBudget('parseRepoName') }, () => {
 *     const rng = fuzzRng('parseRepoName');      // prints the seed; GITWARD_FUZZ_SEED=N replays it
 *     forAll(rng, FUZZ_ITERATIONS, () => mutate(rng, rng.pick(SAMPLES)), (input) => { ... });
 *   });
 *
 * No dependency: the generators are plain functions of the PRNG, so a seed replays exactly.
 */
import crypto from 'node:crypto';

/** The default of FUZZ_ITERATIONS, at which the budgets below hold. */
const DEFAULT_FUZZ_ITERATIONS = 2_000;
/**
 * Iterations of each property: enough to reach the corners the mutators aim at, few enough that
 * all fuzz files together stay well under a minute in CI. GITWARD_FUZZ_ITERATIONS raises it locally.
 */
export const FUZZ_ITERATIONS = positiveInt(process.env.GITWARD_FUZZ_ITERATIONS) ?? DEFAULT_FUZZ_ITERATIONS;

/** Issue 7's bound: all fuzz tests together, in CI at the default iterations, run in under a minute. */
export const FUZZ_SUITE_BOUND_MS = 60_000;
/**
 * What one fuzz file costs besides its tests' budgets (a Node process, compiling imports): about
 * 0.2 s measured; this much is set aside per file when the budgets are added up.
 */
export const FUZZ_FILE_OVERHEAD_MS = 500;

/**
 * The time budget of each fuzz test, by the name of its seed (fuzzRng), in ms at the default
 * iterations. Each is the test's `timeout`, which stops a test waiting on I/O (the HTTP fuzzers);
 * a synchronous loop never lets that timer fire, so forAll also stops a test once its process has
 * spent the budget in CPU time: that is the fuzzers' own cost, which other work on a shared CI
 * machine does not inflate the way it does wall time (each fuzz file runs in a process of its
 * own, its tests one after another). The comments give what each test took in CI mode on this
 * project's 2-core machine, alone and with 4 files at once (CPU time; wall time for the HTTP
 * ones); the budgets leave 3-10 times that for slower CI machines. test/fuzz/budgets.test.ts checks
 * that every fuzz test has one and that they add up, with FUZZ_FILE_OVERHEAD_MS per file, to less
 * than FUZZ_SUITE_BOUND_MS.
 */
export const FUZZ_BUDGETS_MS: Readonly<Record<string, number>> = {
  // basic-auth.test.ts: 0.21-0.24 s CPU; 0.05 s.
  parseBasicAuth: 1_500,
  'parseBasicAuth-valid': 500,
  // cgi-head.test.ts: 0.28-0.33 s; 0.06 s.
  'cgi-head': 2_000,
  'cgi-head-cap': 500,
  // client-address.test.ts: 0.32-0.34 s.
  'client-address': 2_000,
  // config.test.ts, YAML parsing and the whole loader per input: 0.9 s; 0 s; 0.8-0.9 s; 1.25-1.4 s;
  // 0.1 s; 0 s.
  'config-text': 4_500,
  'config-closed-maps': 500,
  'config-unknown-key': 4_500,
  'config-types': 6_500,
  'config-cyclic-alias': 1_000,
  'config-duplicate-key': 500,
  // htpasswd.test.ts: 0.15-0.17 s; apr1 and crypt hashing, 0.18 s.
  parseHtpasswd: 1_000,
  verifyPassword: 1_000,
  // http-requests.test.ts, a connection per request and a backend run per 200 (wall time):
  // 1.1-3.4 s; 1.0-1.4 s.
  'http-git-route': 12_000,
  'http-sidecar': 7_500,
  // repo-name.test.ts: 0.18-0.2 s; 0.21-0.23 s.
  parseRepoName: 1_000,
  classify: 1_500,
  // budgets.test.ts: reads the fuzz files' source; a few thousand empty checks.
  'fuzz-budgets': 500,
  'fuzz-deadline': 500,
};

/**
 * The budget of the fuzz test named `name` (FUZZ_BUDGETS_MS), scaled up when GITWARD_FUZZ_ITERATIONS
 * asks for more inputs than the default. Throws for a name without a budget.
 */
export function fuzzBudget(name: string): number {
  const ms = FUZZ_BUDGETS_MS[name];
  if (ms === undefined) throw new Error(`fuzz test ${name} has no budget in FUZZ_BUDGETS_MS`);
  return Math.ceil(ms * Math.max(1, FUZZ_ITERATIONS / DEFAULT_FUZZ_ITERATIONS));
}

function positiveInt(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n > 0 ? n : null;
}

/** A seeded pseudo-random source (mulberry32: 32-bit state, fast, good enough for fuzzing). */
export interface Rng {
  readonly seed: number;
  /** The CPU time this rng's test may spend (its budget, from fuzzRng), or Infinity. */
  readonly budgetMs: number;
  /** CPU time (user + system) the process has spent since the rng was made, in ms. */
  spentMs(): number;
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

/** Creates the PRNG for `seed`, with no budget unless one is given (its CPU clock starts now). */
export function createRng(seed: number, budgetMs = Number.POSITIVE_INFINITY): Rng {
  const cpuStart = process.cpuUsage();
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
    budgetMs,
    spentMs() {
      const { user, system } = process.cpuUsage(cpuStart);
      return (user + system) / 1000;
    },
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

/** `createRng(fuzzSeed(name))`, with the test's budget (fuzzBudget). */
export function fuzzRng(name: string): Rng {
  return createRng(fuzzSeed(name), fuzzBudget(name));
}

function checkBudget(rng: Rng, i: number, iterations: number): void {
  if (rng.budgetMs === Number.POSITIVE_INFINITY || rng.spentMs() <= rng.budgetMs) return;
  throw new Error(
    `seed ${rng.seed}: over its budget of ${rng.budgetMs} ms of CPU time after ${i + 1} of ${iterations} inputs (FUZZ_BUDGETS_MS in test/helpers/fuzz.ts; the fuzz suite must stay under ${FUZZ_SUITE_BOUND_MS / 1000} s in CI)`,
  );
}

/** Shows an input in a failure message: JSON for strings, hex for bytes, cut to `max` characters. */
export function show(input: unknown, max = 600): string {
  const text = Buffer.isBuffer(input) ? `<hex ${input.toString('hex')}>` : JSON.stringify(input) ?? String(input);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/**
 * Runs `check` on `iterations` inputs from `generate`. A failure is rethrown naming the seed, the
 * iteration and the input, so `GITWARD_FUZZ_SEED=<seed>` replays it. Once the process has spent
 * more CPU time than the rng's budget it fails too: the test has overrun its budget.
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
    checkBudget(rng, i, iterations);
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
    checkBudget(rng, i, iterations);
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
