import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { installHooks, REPO_SAFETY_CONFIG, type HookInstallResult } from '../cli/repo-admin.js';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import { parseRepoPath } from '../config/names.js';
import type { GitwardConfig, RepoNode } from '../config/types.js';
import { BadRequest } from '../errors.js';

/**
 * The lifecycle of a bare repo under repo_root — create, rename, delete to the trash — as one code
 * path for `gitward repo` and the HTTP API. Every change to the tree of repos is one rename(2) of
 * a directory: a new repo is built in a hidden temp folder beside its target and renamed into
 * place, a renamed repo moves in one call, a deleted one moves into the trash folder. Two callers
 * racing for one name cannot both win (rename(2) onto a non-empty directory fails), and a crash
 * leaves either the old state or the new one, never a half-made repo under a servable name.
 */

/** `git init` and `git config` on a local repo take milliseconds; a hang must not hang the caller. */
const GIT_TIMEOUT_MS = 30_000;

/**
 * Folder under repo_root that deleted repos move to. A leading dot: no URL, tree key or listing
 * can name it (repo names start with a letter or digit), and it is on repo_root's file system,
 * so a delete is a rename, never a copy.
 */
export const TRASH_DIR = '.gitward-trash';

/** Prefix of the temp folder a new repo is built in, beside its target; hidden like the trash. */
const NEW_REPO_PREFIX = '.gitward-new-';

/** Longest repo description accepted, in bytes: one line for cgit and gitweb, not a README. */
export const MAX_DESCRIPTION_BYTES = 512;

/** The text `git init` writes to `description`: no description at all. */
const GIT_DEFAULT_DESCRIPTION = /^Unnamed repository; edit this file 'description' to name the repository\.\s*$/;

/** Why a lifecycle operation failed, stable for the API's error codes and the CLI's messages. */
export type RepoAdminCode = 'exists' | 'not_found' | 'configured' | 'outside' | 'no_root' | 'invalid' | 'failed';

/** An admin-facing failure of a repo operation, with a message to print or send as is. */
export class RepoAdminError extends Error {
  readonly code: RepoAdminCode;
  constructor(message: string, code: RepoAdminCode = 'failed') {
    super(message);
    this.name = 'RepoAdminError';
    this.code = code;
  }
}

/**
 * Parses a repo name given to the CLI or the API (with or without `.git`, never percent-decoded)
 * by the rules of the `repos:` tree, so every name made here is one the config can hold. Throws
 * BadRequest naming the rule that failed.
 */
export function parseAdminRepoName(raw: string): string {
  const r = parseRepoPath(raw);
  if (!r.ok) throw new BadRequest(`invalid repository name: ${r.problem}`);
  return r.repo;
}

/** `<repoRoot>/<name>.git` for a name checked by parseAdminRepoName. */
export function repoDirOf(repoRoot: string, name: string): string {
  return path.join(repoRoot, `${name}.git`);
}

/**
 * Where the `repos:` tree names `name` as a repo (`file:line` of its key), or null. A configured
 * repo has grants or branch rules written for it: renaming or deleting it on disk would leave
 * them pointing at nothing, or at whatever is created under the name next.
 */
export function configuredAt(config: GitwardConfig, name: string): string | null {
  const segments = name.split('/');
  let node: RepoNode | undefined = config.repos;
  for (let i = 0; i < segments.length - 1 && node !== undefined; i++) node = node.children.get(segments[i] as string);
  const leaf = node?.children.get(`${segments[segments.length - 1] as string}.git`);
  return leaf !== undefined && leaf.kind === 'repo' ? leaf.where : null;
}

/** The environment of every git the lifecycle runs: the caller's allow-listed one, replace objects off. */
function lifecycleEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return { ...env, ...SERVER_GIT_ENV };
}

function git(args: readonly string[], cwd: string, env: Readonly<Record<string, string>>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args as string[],
      { cwd, env: lifecycleEnv(env), timeout: GIT_TIMEOUT_MS },
      (err, stdout, stderr) => {
        if (err) reject(new RepoAdminError(`git ${args[0] ?? ''} failed: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout));
      },
    );
  });
}

/** Sets REPO_SAFETY_CONFIG in the repo `repoDir`'s own config (`repo create`, `hooks install --fsck-objects`). */
export async function applyRepoSafety(repoDir: string, env: Readonly<Record<string, string>>): Promise<void> {
  for (const [key, value] of REPO_SAFETY_CONFIG) await git(['config', key, value], repoDir, env);
}

function realOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

function pathExists(p: string): boolean {
  return fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

/** The real path of repo_root; RepoAdminError when it is missing. */
function realRoot(config: GitwardConfig): string {
  const root = realOrNull(config.repoRoot);
  if (root === null)
    throw new RepoAdminError(`repo_root ${config.repoRoot} does not exist; create it first`, 'no_root');
  return root;
}

/** Makes the project-group folders of `dir` and refuses any whose real path leaves `root`. */
function makeParent(root: string, dir: string, name: string): string {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const realParent = realOrNull(parent);
  if (realParent === null || (realParent !== root && !realParent.startsWith(root + path.sep))) {
    throw new RepoAdminError(
      `${path.dirname(name)} leads outside repo_root (a symlink?); refusing to use it for ${name}`,
      'outside',
    );
  }
  return parent;
}

/** True for the errors rename(2) gives when its target is a directory that is not empty. */
function isTargetTaken(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST';
}

/** Why `branch` cannot be an initial branch, or null; asks `git check-ref-format` (never our own parser). */
async function branchProblem(
  branch: string,
  env: Readonly<Record<string, string>>,
  cwd: string,
): Promise<string | null> {
  if (branch === '' || branch.startsWith('-')) return `bad branch name "${branch}"`;
  try {
    await git(['check-ref-format', `refs/heads/${branch}`], cwd, env);
    return null;
  } catch {
    return `bad branch name "${branch}" (git check-ref-format refuses it)`;
  }
}

/** Why `text` cannot be a repo description, or null. */
export function descriptionProblem(text: string): string | null {
  if (/\p{Cc}/u.test(text)) return 'a description is one line without control characters';
  if (Buffer.byteLength(text, 'utf8') > MAX_DESCRIPTION_BYTES)
    return `a description is at most ${MAX_DESCRIPTION_BYTES} bytes`;
  return null;
}

/** What `createRepo` is told beyond the config and the name. */
export interface CreateRepoOptions {
  /** The hook dispatcher the repo's hooks link to (`dispatcherPath()`). */
  readonly dispatcher: string;
  /** Environment of git (an allow-list: PATH, HOME, LANG…). */
  readonly env: Readonly<Record<string, string>>;
  readonly now: number;
  /** Initial (default) branch; repo_defaults.initial_branch when absent. */
  readonly defaultBranch?: string;
  /** One line written to the repo's `description` file (cgit and gitweb show it). */
  readonly description?: string;
}

/** What `createRepo` made. */
export interface CreatedRepo {
  readonly name: string;
  readonly dir: string;
  readonly defaultBranch: string;
  readonly hooks: readonly HookInstallResult[] | null;
}

/**
 * Creates the bare repo `raw` under the config's repo_root: project-group folders,
 * `git init --bare --initial-branch=…`, REPO_SAFETY_CONFIG, `gitward.config` = the config file, the
 * description, and the hooks when repo_defaults say so. It writes no `receive.denyNonFastforwards`
 * / `receive.denyDeletes`: the branch rules decide force and delete, and gitward sets git's own
 * locks per push where no rule grants them (hooks/ref-namespace.ts `receiveLocks`). All of it
 * in a hidden temp folder beside the target, then renamed into place in one rename(2). An existing
 * name is refused (`exists`), also when another caller wins the race for it while this one builds;
 * the temp folder is removed on any failure.
 */
export async function createRepo(config: GitwardConfig, raw: string, options: CreateRepoOptions): Promise<CreatedRepo> {
  const name = parseAdminRepoName(raw);
  const dir = repoDirOf(config.repoRoot, name);
  const root = realRoot(config);
  const branch = options.defaultBranch ?? config.repoDefaults.initialBranch;
  const badBranch = await branchProblem(branch, options.env, root);
  if (badBranch !== null) throw new RepoAdminError(badBranch, 'invalid');
  const badDescription = options.description === undefined ? null : descriptionProblem(options.description);
  if (badDescription !== null) throw new RepoAdminError(badDescription, 'invalid');
  if (pathExists(dir)) throw new RepoAdminError(`${name} already exists`, 'exists');
  const parent = makeParent(root, dir, name);
  const tmp = path.join(parent, `${NEW_REPO_PREFIX}${path.basename(dir)}-${randomBytes(6).toString('hex')}`);
  const d = config.repoDefaults;
  try {
    await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, tmp], parent, options.env);
    const set = (key: string, value: string): Promise<string> => git(['config', key, value], tmp, options.env);
    await applyRepoSafety(tmp, options.env);
    if (config.file !== '') await set('gitward.config', config.file);
    if (options.description !== undefined) fs.writeFileSync(path.join(tmp, 'description'), `${options.description}\n`);
    // The links are absolute, so they stay right when the folder is renamed into place.
    const hooks = d.installHooks ? installHooks(tmp, options.dispatcher, { force: false, now: options.now }) : null;
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      if (isTargetTaken(err)) throw new RepoAdminError(`${name} already exists`, 'exists');
      throw err;
    }
    return { name, dir, defaultBranch: branch, hooks };
  } catch (err) {
    // Only the temp folder this call made; the target is never touched by a failed create.
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** What `renameRepo` did. */
export interface RenamedRepo {
  readonly from: string;
  readonly to: string;
  readonly dir: string;
}

/**
 * Renames the repo `fromRaw` to `toRaw` in one rename(2). Refused: a source named in the `repos:`
 * tree (`configured`: its grants and rules would stay behind), a missing source (`not_found`), a
 * taken target (`exists`, also when another caller takes it first), a target folder leaving
 * repo_root (`outside`).
 */
export function renameRepo(config: GitwardConfig, fromRaw: string, toRaw: string): RenamedRepo {
  const from = parseAdminRepoName(fromRaw);
  const to = parseAdminRepoName(toRaw);
  const root = realRoot(config);
  const where = configuredAt(config, from);
  if (where !== null)
    throw new RepoAdminError(
      `${from} is named in the config at ${where}; edit the config first, then rename`,
      'configured',
    );
  if (from === to) throw new RepoAdminError(`${from} and the new name are the same`, 'invalid');
  const fromDir = repoDirOf(config.repoRoot, from);
  const toDir = repoDirOf(config.repoRoot, to);
  if (!isRepoDir(root, fromDir)) throw new RepoAdminError(`no repository ${from}`, 'not_found');
  if (pathExists(toDir)) throw new RepoAdminError(`${to} already exists`, 'exists');
  makeParent(root, toDir, to);
  try {
    fs.renameSync(fromDir, toDir);
  } catch (err) {
    if (isTargetTaken(err)) throw new RepoAdminError(`${to} already exists`, 'exists');
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new RepoAdminError(`no repository ${from}`, 'not_found');
    throw new RepoAdminError(`cannot rename ${from} to ${to}: ${(err as Error).message}`);
  }
  return { from, to, dir: toDir };
}

/** What `deleteRepo` did: where the repo now lies, to move back by hand. */
export interface TrashedRepo {
  readonly name: string;
  readonly trashDir: string;
  /** `trashDir` relative to repo_root (`.gitward-trash/<time>-<id>/<name>.git`). */
  readonly trashRelative: string;
}

/** `20261122T034500Z`: sortable and free of characters a shell would mind. */
function stamp(now: number): string {
  return new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Moves the repo `raw` into `<repo_root>/.gitward-trash/<time>-<random>/<name>.git` in one
 * rename(2): recoverable by moving it back, never removed. Refused like renameRepo: a repo named
 * in the `repos:` tree (`configured`) or a missing one (`not_found`).
 */
export function deleteRepo(config: GitwardConfig, raw: string, options: { now: number }): TrashedRepo {
  const name = parseAdminRepoName(raw);
  const root = realRoot(config);
  const where = configuredAt(config, name);
  if (where !== null)
    throw new RepoAdminError(
      `${name} is named in the config at ${where}; edit the config first, then delete`,
      'configured',
    );
  const dir = repoDirOf(config.repoRoot, name);
  if (!isRepoDir(root, dir)) throw new RepoAdminError(`no repository ${name}`, 'not_found');
  const trashDir = path.join(root, TRASH_DIR, `${stamp(options.now)}-${randomBytes(4).toString('hex')}`, `${name}.git`);
  fs.mkdirSync(path.dirname(trashDir), { recursive: true, mode: 0o700 });
  try {
    fs.renameSync(dir, trashDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new RepoAdminError(`no repository ${name}`, 'not_found');
    // EXDEV (a repo folder on another file system) included: a delete never copies and removes.
    throw new RepoAdminError(`cannot move ${name} to the trash: ${(err as Error).message}`);
  }
  return { name, trashDir, trashRelative: path.relative(root, trashDir) };
}

/** True when `dir` is a directory (not a symlink) whose real path stays under `root`. */
function isRepoDir(root: string, dir: string): boolean {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) return false;
  const real = realOrNull(dir);
  return real !== null && real.startsWith(root + path.sep);
}

/** What the API shows of a repo on disk. */
export interface RepoFacts {
  readonly description: string | null;
  /** The branch HEAD names (`git symbolic-ref`), or null for a detached HEAD. */
  readonly defaultBranch: string | null;
  /** Bytes of the files under the repo folder. */
  readonly sizeBytes: number;
  /**
   * Last change of a ref (the newest mtime under `refs/` and of `packed-refs`), ISO 8601, or null
   * when the repo has no ref yet: a push is what moves refs on a served bare repo.
   */
  readonly lastPushAt: string | null;
}

/** Most files visited to size one repo: bounds the walk of a huge or looping folder. */
const MAX_SIZE_WALK_ENTRIES = 200_000;

/** Reads the facts of the repo folder `dir` (asks git for HEAD; sizes and times from the file system). */
export async function repoFacts(dir: string, env: Readonly<Record<string, string>>): Promise<RepoFacts> {
  let description: string | null = null;
  try {
    const text = fs.readFileSync(path.join(dir, 'description'), 'utf8');
    if (!GIT_DEFAULT_DESCRIPTION.test(text) && text.trim() !== '') description = text.trim();
  } catch {
    description = null;
  }
  let defaultBranch: string | null;
  try {
    defaultBranch = (await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], dir, env)).trim() || null;
  } catch {
    defaultBranch = null;
  }
  let sizeBytes = 0;
  let newestRef = 0;
  let visited = 0;
  const walk = (d: string, refs: boolean): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (++visited > MAX_SIZE_WALK_ENTRIES) return;
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full, refs || (d === dir && e.name === 'refs'));
      else if (e.isFile()) {
        const st = fs.statSync(full, { throwIfNoEntry: false });
        if (st === undefined) continue;
        sizeBytes += st.size;
        if (refs || (d === dir && e.name === 'packed-refs')) newestRef = Math.max(newestRef, st.mtimeMs);
      }
    }
  };
  walk(dir, false);
  return {
    description,
    defaultBranch,
    sizeBytes,
    lastPushAt: newestRef > 0 ? new Date(newestRef).toISOString() : null,
  };
}
