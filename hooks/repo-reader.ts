import { execFile } from 'node:child_process';
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
    execFile(
      'git',
      args as string[],
      { cwd, env, timeout: GIT_TIMEOUT_MS, maxBuffer: GIT_MAX_OUTPUT_BYTES, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new Error(`git ${args[0] ?? ''} failed to run: ${err.message}`));
          return;
        }
        resolve({ code: err ? (err as { code: number }).code : 0, stdout, stderr });
      },
    );
  });
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * A Reconst SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * A RepoReader for the repository in `cwd`. In pre-receive the refs are not updated yet, so every
 * ref read here is the value before the push; the push's new objects are visible through the
 * quarantine variables in `env` (gitChildEnv, which also turns replace objects and grafts off).
 * The ref list is read once (one `git for-each-ref`), lazily. Ancestry is git's answer alone
 * (`git merge-base --is-ancestor`), never a parse of commit objects of ours: a second reader of
 * commits is a second history an attacker can write for. `warm(updates)` asks git about every
 * moved ref at once, while the rest of the dispatcher loads.
 */
export function createRepoReader(
  cwd: string,
  env: Record<string, string>,
): RepoReader & { warm(updates: readonly HookUpdate[]): void } {
  let refs: Promise<Map<string, string>> | null = null;
  const answers = new Map<string, Promise<boolean>>();
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
  const ask = async (ancestor: string, descendant: string): Promise<boolean> => {
    const r = await runGit(['merge-base', '--is-ancestor', ancestor, descendant], cwd, env);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw new Error(`git merge-base --is-ancestor failed (${r.code}): ${r.stderr.trim()}`);
  };
  const isAncestor = (ancestor: string, descendant: string): Promise<boolean> => {
    // Only shas reach the command line, never a ref name a pusher chose.
    if (!SHA.test(ancestor) || !SHA.test(descendant)) {
      return Promise.reject(new Error('isAncestor takes full object names'));
    }
    const key = `${ancestor} ${descendant}`;
    let p = answers.get(key);
    if (!p) {
      p = ask(ancestor, descendant);
      // A question asked ahead (warm) that nobody awaits must not be an unhandled rejection.
      p.catch(() => undefined);
      answers.set(key, p);
    }
    return p;
  };
  const isFastForward = (update: HookUpdate): Promise<boolean> =>
    update.kind === 'update' ? isAncestor(update.oldSha, update.newSha) : Promise.resolve(false);
  return {
    async refBefore(ref) {
      refs ??= loadRefs();
      return (await refs).get(ref) ?? null;
    },
    isAncestor,
    isFastForward,
    warm(updates) {
      for (const u of updates) if (u.kind === 'update') void isFastForward(u).catch(() => undefined);
    },
  };
}
