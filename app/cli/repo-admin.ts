import { execFileSync, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import { parseRepoName } from '../request/repo-name.js';

/** The hooks the dispatcher serves; both are symlinks to `hooks/gitward-hook`. */
export const DISPATCHED_HOOKS = ['pre-receive', 'post-receive'] as const;
export type DispatchedHook = (typeof DISPATCHED_HOOKS)[number];

/** Depth of project-group folders walked by `repo list`: far beyond any real tree, bounds a loop. */
const MAX_WALK_DEPTH = 32;

/** `git config` on a local repo takes milliseconds; a hang must not hang the command. */
const GIT_TIMEOUT_MS = 30_000;

/** File name of the dispatcher launcher; a link to a file of this name is gitward's. */
const DISPATCHER_NAME = 'gitward-hook';

/**
 * Absolute path of the dispatcher launcher of this checkout (dist/app/cli → hooks/gitward-hook),
 * symlinks resolved.
 */
export function dispatcherPath(): string {
  return path.resolve(__dirname, '..', '..', '..', 'hooks', 'gitward-hook');
}

/** How many links `linkedDispatcherPath` follows from the launcher before giving up (a loop). */
const MAX_LAUNCHER_LINKS = 40;

/**
 * The dispatcher path that repos' hooks link to: through the checkout path the `gitward` launcher
 * was invoked by (`invokedAs`, process.argv[1]), following only links to the launcher file itself
 * (/usr/local/bin/gitward → /opt/gitward/app/gitward), never links of the folders on the way. So an
 * install at /opt/gitward → /opt/gitward-1.4 links hooks to /opt/gitward/hooks/gitward-hook, and an
 * upgrade that points /opt/gitward at another version moves every repo's hooks with it. Falls back
 * to `dispatcherPath()` when the invocation is not this checkout's launcher (tests, `node main.js`).
 */
export function linkedDispatcherPath(invokedAs: string | undefined = process.argv[1]): string {
  const resolved = dispatcherPath();
  if (invokedAs === undefined || invokedAs === '') return resolved;
  let launcher = path.resolve(invokedAs);
  try {
    for (let i = 0; fs.lstatSync(launcher).isSymbolicLink(); i++) {
      if (i >= MAX_LAUNCHER_LINKS) return resolved;
      launcher = path.resolve(path.dirname(launcher), fs.readlinkSync(launcher));
    }
  } catch {
    return resolved;
  }
  if (path.basename(launcher) !== 'gitward' || path.basename(path.dirname(launcher)) !== 'app') return resolved;
  const candidate = path.join(path.dirname(path.dirname(launcher)), 'hooks', DISPATCHER_NAME);
  // Only a path that leads to this very checkout's dispatcher.
  return realOrNull(candidate) !== null && realOrNull(candidate) === realOrNull(resolved) ? candidate : resolved;
}

/**
 * The state of one hook of a repo: ours, a link to the dispatcher of another gitward checkout
 * (`stale`: replaced by `hooks install` without --force), someone else's, or absent.
 */
export type HookFileState = 'installed' | 'stale' | 'foreign' | 'missing';

/** The hooks state of a repo as `repo list` prints it. */
export type RepoHooksState = 'installed' | 'stale' | 'foreign' | 'missing' | 'partial';

function realOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/** The state of `hooks/<hook>` of the bare repo `repoDir` against the dispatcher `dispatcher`. */
export function hookFileState(repoDir: string, hook: DispatchedHook, dispatcher: string): HookFileState {
  const file = path.join(repoDir, 'hooks', hook);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return 'missing';
  }
  if (!st.isSymbolicLink()) return 'foreign';
  if (realOrNull(file) === realOrNull(dispatcher)) return 'installed';
  return path.basename(fs.readlinkSync(file)) === DISPATCHER_NAME ? 'stale' : 'foreign';
}

/** Summary of both hooks: installed, foreign (any hook not ours), missing (none), or partial. */
export function repoHooksState(repoDir: string, dispatcher: string): RepoHooksState {
  const states = DISPATCHED_HOOKS.map((h) => hookFileState(repoDir, h, dispatcher));
  if (states.includes('foreign')) return 'foreign';
  if (states.every((s) => s === 'installed')) return 'installed';
  if (states.includes('stale') && states.every((s) => s === 'installed' || s === 'stale')) return 'stale';
  if (states.every((s) => s === 'missing')) return 'missing';
  return 'partial';
}

/** What `installHooks` did to one hook. */
export interface HookInstallResult {
  readonly hook: DispatchedHook;
  readonly action: 'installed' | 'unchanged' | 'updated' | 'kept-foreign' | 'replaced';
  /** Where a foreign hook was moved with `force`. */
  readonly backup?: string;
}

/** `20261122T034500Z`: sortable and free of characters a shell would mind. */
function stamp(now: number): string {
  return new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Symlinks `hooks/pre-receive` and `hooks/post-receive` of `repoDir` to `dispatcher`. Idempotent;
 * a link to another checkout's dispatcher is updated; a hook that is not ours is kept (and
 * reported), or with `force` renamed to `<hook>.gitward-backup-<timestamp>` first.
 */
export function installHooks(
  repoDir: string,
  dispatcher: string,
  options: { force: boolean; now: number },
): HookInstallResult[] {
  const hooksDir = path.join(repoDir, 'hooks');
  fs.mkdirSync(hooksDir, { recursive: true });
  return DISPATCHED_HOOKS.map((hook): HookInstallResult => {
    const file = path.join(hooksDir, hook);
    const state = hookFileState(repoDir, hook, dispatcher);
    // Ours, but through another path to this checkout (a versioned folder instead of the stable
    // one): relinked, so that the next upgrade takes it along.
    const samePath = state === 'installed' && fs.readlinkSync(file) === dispatcher;
    if (state === 'installed' && samePath) return { hook, action: 'unchanged' };
    if (state === 'stale' || state === 'installed') {
      // Another checkout's dispatcher: swap the link in one rename, never leaving the hook absent.
      const tmp = `${file}.gitward-tmp-${randomBytes(6).toString('hex')}`;
      fs.rmSync(tmp, { force: true });
      fs.symlinkSync(dispatcher, tmp);
      fs.renameSync(tmp, file);
      return { hook, action: 'updated' };
    }
    if (state === 'foreign') {
      if (!options.force) return { hook, action: 'kept-foreign' };
      let backup = `${file}.gitward-backup-${stamp(options.now)}`;
      for (let i = 1; fs.existsSync(backup); i++) backup = `${file}.gitward-backup-${stamp(options.now)}-${i}`;
      fs.renameSync(file, backup);
      fs.symlinkSync(dispatcher, file);
      return { hook, action: 'replaced', backup };
    }
    fs.symlinkSync(dispatcher, file);
    return { hook, action: 'installed' };
  });
}

/** A bare repo found under repo_root. */
export interface RepoEntry {
  /** Canonical name without `.git`. */
  readonly name: string;
  readonly dir: string;
}

/**
 * Every `<name>.git` directory under `repoRoot` (project-group folders walked, repos not entered,
 * symlinks not followed), sorted by name.
 */
export function listRepoDirs(repoRoot: string): RepoEntry[] {
  const out: RepoEntry[] = [];
  const walk = (dir: string, prefix: string, depth: number): void => {
    if (depth > MAX_WALK_DEPTH) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      if (e.name.endsWith('.git')) out.push({ name: prefix + e.name.slice(0, -4), dir: full });
      else walk(full, `${prefix}${e.name}/`, depth + 1);
    }
  };
  walk(repoRoot, '', 0);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The environment of the CLI's git children: an allow-list of the caller's, and SERVER_GIT_ENV. */
export function adminGitEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [
    'PATH',
    'HOME',
    'LANG',
    'LC_ALL',
    'TZ',
    'GIT_CONFIG_NOSYSTEM',
    'GIT_CONFIG_GLOBAL',
    'XDG_CONFIG_HOME',
  ]) {
    const v = env[name];
    if (v !== undefined) out[name] = v;
  }
  out.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return Object.assign(out, SERVER_GIT_ENV);
}

/**
 * Per-repo git settings gitward wants on every repo: git checks every object a push brings
 * (https://git-scm.com/docs/git-config#Documentation/git-config.txt-receivefsckObjects), and a
 * git run on the server without gitward's environment (an admin's local push or gc) ignores
 * replace refs as gitward's own processes do.
 */
export const REPO_SAFETY_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['receive.fsckObjects', 'true'],
  ['core.useReplaceRefs', 'false'],
];

/** The REPO_SAFETY_CONFIG settings that `repoDir` does not have as gitward wants them. */
export function missingRepoSafety(repoDir: string, env: Record<string, string>): Array<readonly [string, string]> {
  return REPO_SAFETY_CONFIG.filter(([key, value]) => {
    try {
      const opts: ExecFileSyncOptionsWithStringEncoding = {
        cwd: repoDir,
        env,
        encoding: 'utf8',
        timeout: GIT_TIMEOUT_MS,
        stdio: 'pipe',
      };
      return execFileSync('git', ['config', '--get', key], opts).trim() !== value;
    } catch {
      return true;
    }
  });
}

/**
 * Resolves `raw` to the directory of a repo name under `repoRoot`. The name is validated exactly
 * as in URLs (`parseRepoName`; BadRequest when invalid); the result is not checked for existence.
 */
export function repoDirFor(repoRoot: string, raw: string): { name: string; dir: string } {
  const name = parseRepoName(raw);
  return { name, dir: path.join(repoRoot, `${name}.git`) };
}
