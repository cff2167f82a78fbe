import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * Commits read while looking for an ancestor before asking `git merge-base` instead: a push moves
 * a branch a few commits, so the answer is almost always found in the first handful.
 */
const MAX_WALK_COMMITS = 512;
/**
 * Committer clocks disagree; a commit this much older than the one searched for is still walked
 * through (only commits older than that are skipped, and a skip makes the answer git's own).
 */
const CLOCK_SKEW_SLOP_SECONDS = 86_400;
/** One commit object read through cat-file; larger ones (a giant message) are still read whole. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

interface CommitInfo {
  readonly parents: readonly string[];
  readonly time: number;
}

type ObjectAnswer = { kind: 'commit'; info: CommitInfo } | { kind: 'other' } | { kind: 'missing' };

/** Reads objects through one long-running `git cat-file --batch`, in order. */
interface BatchReader {
  read(sha: string): Promise<ObjectAnswer>;
  /** Starts the process now (it starts on the first read otherwise). */
  start(): void;
  close(): void;
}

function parseCommit(body: string): CommitInfo {
  const parents: string[] = [];
  let time = 0;
  for (const line of body.split('\n')) {
    if (line === '') break;
    if (line.startsWith('parent ')) parents.push(line.slice(7).trim());
    else if (line.startsWith('committer ')) {
      const m = /> (\d+) [+-]\d{4}$/.exec(line);
      if (m) time = Number(m[1]);
    }
  }
  return { parents, time };
}

function createBatchReader(cwd: string, env: Record<string, string>): BatchReader {
  let child: ChildProcessWithoutNullStreams | null = null;
  let failed: Error | null = null;
  let buf: Buffer = Buffer.alloc(0);
  const waiting: Array<{ resolve: (a: ObjectAnswer) => void; reject: (e: Error) => void }> = [];
  // An idle cat-file must never keep a process alive (a caller that forgets close() would hang
  // the push): its handles are referenced only while an answer is awaited.
  const hold = (on: boolean): void => {
    if (!child) return;
    for (const h of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref(): unknown; unref(): unknown }>) {
      if (on) h.ref();
      else h.unref();
    }
  };
  const failAll = (err: Error): void => {
    failed ??= err;
    for (const w of waiting.splice(0)) w.reject(failed);
  };
  const drain = (): void => {
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (waiting.length === 0) hold(false);
      if (nl < 0 || waiting.length === 0) return;
      const header = buf.subarray(0, nl).toString('utf8');
      const parts = header.split(' ');
      if (parts[1] === 'missing' || parts[1] === 'ambiguous') {
        buf = buf.subarray(nl + 1);
        waiting.shift()?.resolve({ kind: 'missing' });
        continue;
      }
      const size = Number(parts[2]);
      if (parts.length !== 3 || !Number.isSafeInteger(size)) {
        failAll(new Error(`unexpected git cat-file output: ${header.slice(0, 100)}`));
        return;
      }
      if (buf.length < nl + 1 + size + 1) return;
      const body = buf.subarray(nl + 1, nl + 1 + size).toString('utf8');
      buf = buf.subarray(nl + 1 + size + 1);
      waiting.shift()?.resolve(parts[1] === 'commit' ? { kind: 'commit', info: parseCommit(body) } : { kind: 'other' });
    }
  };
  const start = (): ChildProcessWithoutNullStreams => {
    const c = spawn('git', ['cat-file', '--batch'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    c.stdout.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > MAX_BUFFERED_BYTES) failAll(new Error('git cat-file answer too large'));
      else drain();
    });
    c.stderr.resume();
    c.stdin.on('error', (err: Error) => failAll(err));
    c.on('error', (err: Error) => failAll(err));
    c.on('close', (code) => failAll(new Error(`git cat-file exited (${String(code)})`)));
    return c;
  };
  return {
    start() {
      if (child || failed) return;
      child = start();
      hold(false);
    },
    read(sha) {
      if (failed) return Promise.reject(failed);
      child ??= start();
      const c = child;
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        hold(true);
        c.stdin.write(`${sha}\n`);
      });
    },
    close() {
      child?.stdin.end();
    },
  };
}

/** Answers "is A an ancestor of D?" quickly for the common case, and through git otherwise. */
export interface CommitWalker {
  /** True: found by walking; false: every ancestor of D was seen; null: ask git. */
  isAncestor(ancestor: string, descendant: string): Promise<boolean | null>;
  /** Starts `git cat-file` now, so that it is up by the first question. */
  warm(): void;
  close(): void;
}

/**
 * A walker over the commit graph through one `git cat-file --batch` (a process per question costs
 * more than the question). It only answers when sure: `true` when it reached `ancestor` from
 * `descendant`, `false` when it saw every ancestor of `descendant` without skipping any, and
 * `null` (the caller asks `git merge-base`) when it hit its bounds or met something other than a
 * commit.
 */
export function createCommitWalker(cwd: string, env: Record<string, string>): CommitWalker {
  const reader = createBatchReader(cwd, env);
  const cache = new Map<string, Promise<ObjectAnswer>>();
  const get = (sha: string): Promise<ObjectAnswer> => {
    let p = cache.get(sha);
    if (!p) {
      p = reader.read(sha);
      cache.set(sha, p);
    }
    return p;
  };
  return {
    async isAncestor(ancestor, descendant) {
      if (ancestor === descendant) return true;
      const target = await get(ancestor);
      if (target.kind !== 'commit') return null;
      const cutoff = target.info.time - CLOCK_SKEW_SLOP_SECONDS;
      const seen = new Set<string>([descendant]);
      let frontier = [descendant];
      let read = 0;
      let complete = true;
      while (frontier.length > 0) {
        const next: string[] = [];
        for (const sha of frontier) {
          if (++read > MAX_WALK_COMMITS) return null;
          const obj = await get(sha);
          if (obj.kind !== 'commit') return null;
          if (obj.info.time < cutoff) {
            complete = false;
            continue;
          }
          for (const p of obj.info.parents) {
            if (p === ancestor) return true;
            if (!seen.has(p)) {
              seen.add(p);
              next.push(p);
            }
          }
        }
        frontier = next;
      }
      return complete ? false : null;
    },
    warm: () => reader.start(),
    close: () => reader.close(),
  };
}
