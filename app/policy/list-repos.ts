import fs from 'node:fs/promises';
import path from 'node:path';
import { GIT_SUFFIX, parseRepoPath } from '../config/names.js';

/** Deepest folder level searched for repos: deeper than any sane project-group tree. */
export const MAX_REPO_SCAN_DEPTH = 8;
/** Most repos listed from disk: keeps a matrix of a huge or looping tree bounded. */
export const MAX_REPO_SCAN_COUNT = 100000;

/**
 * Repo names (without `.git`) found under `repoRoot` as `<name>.git` directories; names that are
 * not valid repo names are skipped. A missing repo_root gives an empty list. `onFolder` is called
 * with each folder just before it is read (the web view notes their modification times).
 */
export async function listReposOnDisk(repoRoot: string, onFolder?: (dir: string) => void): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > MAX_REPO_SCAN_DEPTH || out.length >= MAX_REPO_SCAN_COUNT) return;
    onFolder?.(dir);
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.name.endsWith(GIT_SUFFIX)) {
        const r = parseRepoPath(name);
        if (r.ok && out.length < MAX_REPO_SCAN_COUNT) out.push(r.repo);
      } else if (!e.name.startsWith('.')) await walk(path.join(dir, e.name), name, depth + 1);
    }
  };
  await walk(repoRoot, '', 0);
  return out.sort();
}
