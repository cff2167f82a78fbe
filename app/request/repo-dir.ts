import fs from 'node:fs';
import path from 'node:path';
import type { RepoName } from '../types.js';

/** Where a repo name leads on disk. */
export type RepoLocation =
  | { readonly kind: 'found'; readonly dir: string }
  | { readonly kind: 'missing' }
  /** The directory exists but its real path leaves repo_root (a symlink pointing outside). */
  | { readonly kind: 'outside' };

/**
 * Finds `<repoRoot>/<name>.git` and checks that its real path (symlinks resolved) stays under the
 * real path of `repoRoot`. Only a directory counts as found.
 *
 * Synchronous on purpose: three metadata lookups of a local directory take microseconds, while
 * each asynchronous one is a round trip through libuv's thread pool that added ~0.1 ms of
 * latency to every request (measured with bench/).
 */
export function locateRepo(repoRoot: string, name: RepoName): RepoLocation {
  let root: string;
  let real: string;
  try {
    root = fs.realpathSync.native(repoRoot);
    real = fs.realpathSync.native(path.join(repoRoot, `${name}.git`));
  } catch {
    return { kind: 'missing' };
  }
  if (!real.startsWith(root + path.sep)) return { kind: 'outside' };
  const stat = fs.statSync(real, { throwIfNoEntry: false });
  return stat?.isDirectory() ? { kind: 'found', dir: real } : { kind: 'missing' };
}
