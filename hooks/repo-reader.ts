import { execFile } from 'node:child_process';
import { createCommitWalker } from './commit-walker.js';
import type { HookUpdate, RepoReader } from './hook-plugin.js';

/** A git query in a hook should take milliseconds; a stuck one must not hold the push forever. */
const GIT_TIMEOUT_MS = 30_000;
/** for-each-ref of a repo with many refs (mirrors): room for ~100k refs. */
const GIT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

interface GitRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `git args` in `cwd` with exactly `env`; resolves with the exit code (never a shell). */
export function runGit(args: readonly string[], cwd: string, env: Record<string, string>): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    execFile('git', args as string[], { cwd, env, timeout: GIT_TIMEOUT_MS, maxBuffer: GIT_MAX_OUTPUT_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        reject(new Error(`git ${args[0] ?? ''} failed to run: ${err.message}`));
        return;
      }
      resolve({ code: err ? ((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * A RepoReader for the repository in `cwd`. In pre-receive the refs are not updated yet, so every
 * ref read here is the value before the push; the push's new objects are visible through the
 * quarantine variables in `env`. The ref list is read once (one `git for-each-ref`), lazily;
 * ancestry is answered by one `git cat-file --batch` walk where it can, else `git merge-base`.
 * `warm()` starts the cat-file process ahead of the first question; `close()` ends it.
 */
export function createRepoReader(cwd: string, env: Record<string, string>): RepoReader & { warm(): void; close(): void } {
  const walker = createCommitWalker(cwd, env);
  let refs: Promise<Map<string, string>> | null = null;
  const ff = new Map<string, Promise<boolean>>();
  const loadRefs = async (): Promise<Map<string, string>> => {
    const r = await runGit(['for-each-ref', '--format=%(objectname) %(refname)'], cwd, env);
    if (r.code !== 0) throw new Error(`git for-each-ref failed (${r.code}): ${r.stderr.trim()}`);
    const map = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const sp = line.indexOf(' ');
      if (sp > 0) map.set(line.slice(sp + 1), line.slice(0, sp));
    }
    return map;
  };
  const isAncestor = async (ancestor: string, descendant: string): Promise<boolean> => {
    // Only shas reach the command line, never a ref name a pusher chose.
    if (!SHA.test(ancestor) || !SHA.test(descendant)) throw new Error('isAncestor takes full object names');
    // The walker is a shortcut: if it fails, git answers.
    const quick = await walker.isAncestor(ancestor, descendant).catch(() => null);
    if (quick !== null) return quick;
    const r = await runGit(['merge-base', '--is-ancestor', ancestor, descendant], cwd, env);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new Error(`git merge-base --is-ancestor failed (${r.code}): ${r.stderr.trim()}`);
  };
  return {
    async refBefore(ref) {
      refs ??= loadRefs();
      return (await refs).get(ref) ?? null;
    },
    isAncestor,
    isFastForward(update: HookUpdate) {
      if (update.kind !== 'update') return Promise.resolve(false);
      const key = `${update.oldSha} ${update.newSha}`;
      let p = ff.get(key);
      if (!p) {
        p = isAncestor(update.oldSha, update.newSha);
        ff.set(key, p);
      }
      return p;
    },
    warm: () => walker.warm(),
    close: () => walker.close(),
  };
}
