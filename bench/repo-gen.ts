import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Deterministic bench repos: every run measures the same bytes. Content comes from a seeded PRNG
 * (AES-128-CTR over zeros with the seed as key: fast and incompressible), history is written with
 * `git fast-import`.
 */

/** Bump when the generated content changes, so a cached copy is regenerated. */
export const GENERATOR_VERSION = 1;

/** A seeded stream of pseudo-random bytes and numbers. */
export interface Prng {
  bytes(n: number): Buffer;
  /** An integer in [0, n). */
  int(n: number): number;
}

/** Creates a PRNG from a 32-bit seed. The same seed always yields the same sequence. */
export function createPrng(seed: number): Prng {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const bytes = (n: number): Buffer => cipher.update(Buffer.alloc(n));
  return { bytes, int: (n) => bytes(4).readUInt32BE(0) % n };
}

/** What a generated repo looks like. */
export interface RepoShape {
  readonly name: string;
  readonly seed: number;
  readonly commits: number;
  /** Files changed per commit. */
  readonly filesPerCommit: number;
  /** Distinct paths the changes are spread over. */
  readonly paths: number;
  /** Size of each new blob, bytes (random, so it does not compress). */
  readonly blobBytes: number;
}

/** ~100 MB of history over 5,000 commits (2 new 10 KB blobs each), as in BENCH-NOTES. */
export const BIG_HISTORY: RepoShape = {
  name: 'history',
  seed: 1,
  commits: 5000,
  filesPerCommit: 2,
  paths: 2000,
  blobBytes: 10_000,
};
/** ~0.3 MB: the repo cloned 32 times in parallel. */
export const SMALL: RepoShape = {
  name: 'small',
  seed: 2,
  commits: 30,
  filesPerCommit: 1,
  paths: 30,
  blobBytes: 10_000,
};
/** One commit of 300 MB of random bytes (30 × 10 MB): the big push and the big clone. */
export const PUSH_300: RepoShape = {
  name: 'push300',
  seed: 3,
  commits: 1,
  filesPerCommit: 30,
  paths: 30,
  blobBytes: 10 * 1024 * 1024,
};

/** Fixed dates so commit ids are stable. */
const EPOCH = 1_700_000_000;

/** Writes `shape` as a bare repo at `dir` with git fast-import (level-1 zlib: random data gains nothing). */
export async function generateRepo(dir: string, shape: RepoShape, env: Record<string, string>): Promise<void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir], env);
  const child = spawn('git', ['-c', 'pack.compression=1', '-c', 'core.compression=1', 'fast-import', '--quiet'], {
    cwd: dir,
    env,
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const prng = createPrng(shape.seed);
  const write = (chunk: Buffer | string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (child.stdin.write(chunk)) {
        resolve();
        return;
      }
      const onError = (err: Error) => {
        child.stdin.off('drain', onDrain);
        reject(err);
      };
      const onDrain = () => {
        child.stdin.off('error', onError);
        resolve();
      };
      child.stdin.once('drain', onDrain);
      child.stdin.once('error', onError);
    });
  let mark = 0;
  let lastCommit = 0;
  for (let c = 0; c < shape.commits; c++) {
    const changes: string[] = [];
    for (let f = 0; f < shape.filesPerCommit; f++) {
      const blobMark = ++mark;
      const data = prng.bytes(shape.blobBytes);
      await write(`blob\nmark :${blobMark}\ndata ${data.length}\n`);
      await write(data);
      await write('\n');
      const p = shape.commits === 1 ? f : prng.int(shape.paths);
      changes.push(`M 100644 :${blobMark} d${String(p % 40).padStart(2, '0')}/f${String(p).padStart(5, '0')}.bin\n`);
    }
    const commitMark = ++mark;
    const msg = `commit ${c} of ${shape.name}\n`;
    const when = `${EPOCH + c * 60} +0000`;
    await write(
      `commit refs/heads/main\nmark :${commitMark}\nauthor Bench <bench@example.org> ${when}\ncommitter Bench <bench@example.org> ${when}\ndata ${Buffer.byteLength(msg)}\n${msg}`,
    );
    if (lastCommit !== 0) await write(`from :${lastCommit}\n`);
    await write(changes.join(''));
    await write('\n');
    lastCommit = commitMark;
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`git fast-import failed for ${shape.name} (${String(code)})`);
  // One pack with an index of its own, as a real server repo after gc would have.
  await run('git', ['-c', 'pack.compression=1', 'repack', '-a', '-d', '-q'], env, dir);
}

/** Returns the cached repo for `shape` under `cacheDir`, generating it when missing. */
export async function cachedRepo(
  cacheDir: string,
  shape: RepoShape,
  env: Record<string, string>,
  log: (s: string) => void,
): Promise<string> {
  const dir = path.join(cacheDir, `v${GENERATOR_VERSION}-${shape.name}.git`);
  const done = path.join(dir, 'gitward-bench-complete');
  if (fs.existsSync(done)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  log(`generating ${shape.name} (${shape.commits} commits) in ${dir} …`);
  await generateRepo(dir, shape, env);
  fs.writeFileSync(done, '');
  return dir;
}

/** Size of the pack files of a bare repo, bytes. */
export function packBytes(dir: string): number {
  const packDir = path.join(dir, 'objects', 'pack');
  return fs
    .readdirSync(packDir)
    .filter((f) => f.endsWith('.pack'))
    .reduce((sum, f) => sum + fs.statSync(path.join(packDir, f)).size, 0);
}

function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${String(code)})`)),
    );
  });
}
