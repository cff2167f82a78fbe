import fs from 'node:fs';
import type { CompiledPolicy } from '../config/types.js';
import type { Identity } from '../types.js';
import { decide } from './decide.js';
import { listReposOnDisk } from './list-repos.js';

/** Identities whose readable set is remembered per policy: a busy site's active users, bounded. */
export const MAX_REMEMBERED_VIEWS = 1024;

/** A readable set, and the disk listing it was computed from. */
interface RememberedView {
  readonly repos: readonly string[];
  readonly from: readonly string[];
}

/** The repos on disk, with the folders whose modification times vouch for the list still holding. */
interface DiskListing {
  readonly repos: readonly string[];
  readonly folders: ReadonlyMap<string, number>;
}

/**
 * Which repos an identity may read, for the web view's index: the repos under repo_root that
 * `decide` lets it read, sorted. The disk listing is reused while no folder above the repos changed
 * (one stat per folder instead of a walk); the readable set is reused per policy and identity.
 */
export interface WebViews {
  readable(policy: CompiledPolicy, repoRoot: string, identity: Identity): Promise<readonly string[]>;
}

/** Creates the view cache of one web route (no module state: two apps never share it). */
export function createWebViews(): WebViews {
  let listing: { readonly root: string; readonly value: DiskListing } | null = null;
  const views = new WeakMap<CompiledPolicy, Map<string, RememberedView>>();

  const disk = async (repoRoot: string): Promise<readonly string[]> => {
    if (listing !== null && listing.root === repoRoot && stillHolds(listing.value)) return listing.value.repos;
    const value = await listWithFolders(repoRoot);
    listing = { root: repoRoot, value };
    return value.repos;
  };

  return {
    async readable(policy, repoRoot, identity) {
      const onDisk = await disk(repoRoot);
      let perPolicy = views.get(policy);
      if (!perPolicy) views.set(policy, (perPolicy = new Map()));
      const key = `${identity.user ?? ''}\0${identity.source}\0${[...identity.groups].sort().join('\0')}`;
      const known = perPolicy.get(key);
      if (known && known.from === onDisk) return known.repos;
      const repos = onDisk.filter((repo) => decide(policy, identity, repo, 'read').allowed);
      if (perPolicy.size >= MAX_REMEMBERED_VIEWS) perPolicy.clear();
      perPolicy.set(key, { repos, from: onDisk });
      return repos;
    },
  };
}

/** The repos on disk and the modification time of every folder walked, taken before it was read. */
async function listWithFolders(repoRoot: string): Promise<DiskListing> {
  const folders = new Map<string, number>();
  const repos = await listReposOnDisk(repoRoot, (dir) => {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    folders.set(dir, stat ? stat.mtimeMs : -1);
  });
  return { repos, folders };
}

function stillHolds(listing: DiskListing): boolean {
  for (const [dir, mtime] of listing.folders) {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if ((stat ? stat.mtimeMs : -1) !== mtime) return false;
  }
  return true;
}
