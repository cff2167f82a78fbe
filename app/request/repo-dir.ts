import fs from 'node:fs/promises';
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
 */
export async function locateRepo(repoRoot: string, name: RepoName): Promise<RepoLocation> {
  let root: string;
  let real: string;
  try {
    root = await fs.realpath(repoRoot);
    real = await fs.realpath(path.join(repoRoot, `${name}.git`));
  } catch {
    return { kind: 'missing' };
  }
  if (!real.startsWith(root + path.sep)) return { kind: 'outside' };
  const stat = await fs.stat(real).catch(() => null);
  return stat?.isDirectory() ? { kind: 'found', dir: real } : { kind: 'missing' };
}
