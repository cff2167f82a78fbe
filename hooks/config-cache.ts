import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_CONFIG_BYTES, readConfigTextSync } from '../app/config/config-file.js';
import { deepFreeze } from '../app/config/deep-freeze.js';
import type { GitwardConfig, HookPluginSetting, HooksSettings, RepoNode, UserEntry } from '../app/config/types.js';
import { hookSettingsAlong, hookSettingsInTree, nodesOnPath } from '../app/policy/hook-settings.js';

/*
 * The hook dispatcher runs once per push, cold: parsing and validating the YAML config is most of
 * its time when gitward has not handed it a plan (local and sidecar pushes): about 100 ms for a
 * config of a few hundred repos. So it keeps the result of a successful load, and reuses it only
 * when every input of that load is byte for byte the same: the config text, the files the config
 * made the loader read (htpasswd files), and the loader's own code. A config that fails to load is
 * never kept: it is parsed again, and refused again, on every push.
 */

/** Bumped when the entry format changes. */
const CACHE_FORMAT = 1;
/** Entries kept in the folder (one per config file used); the oldest go first beyond this. */
const MAX_ENTRIES = 256;
/** Largest entry read back: its JSON is a few times the YAML, which is capped by the loader. */
const MAX_ENTRY_BYTES = 4 * MAX_CONFIG_BYTES;
/** The compiled loader, relative to this file: a change to any of them changes what a load yields. */
const LOADER_FILES = ['../app/config/build-config.js', '../app/config/yaml-tree.js', '../app/config/names.js', '../app/config/deep-freeze.js', '../app/request/repo-name.js', './config-cache.js'];

/** Where a hook keeps its entries: a private folder of this user under the temp folder (null: none). */
export function defaultCacheDir(): string | null {
  const uid = process.getuid?.();
  return uid === undefined ? null : path.join(os.tmpdir(), `gitward-hook-cache-${uid}`);
}

/**
 * What a hook reads of the config: what every run uses, the settings of one repo, and the whole
 * config only on demand (to recompute a pusher's groups). From the cache, only what is asked for
 * is built: reviving a config of a few hundred repos whole costs more than the rest of the run.
 */
export interface HookConfig {
  readonly file: string;
  readonly dir: string;
  readonly repoRoot: string;
  readonly hooks: HooksSettings;
  /** The plugin settings in force for `repo`, as `hookSettingsFor` (frozen). */
  settingsFor(repo: string): ReadonlyMap<string, HookPluginSetting>;
  /** The whole config, as `loadConfig` returns it (frozen). */
  full(): GitwardConfig;
}

/** A loaded config and where it came from, for tests and logs. */
export interface CachedLoad {
  readonly config: HookConfig;
  readonly from: 'cache' | 'file';
}

/**
 * Loads the config at `file` as `loadConfig` does (same result, same ConfigError), reusing the
 * entry kept in `cacheDir` when it was made from exactly the same inputs, and keeping a new one
 * after a successful load. `cacheDir` null, or a folder that is not this user's alone, disables the
 * cache (`warn` says why). Never fails because of the cache.
 */
export function loadConfigCached(file: string, cacheDir: string | null, warn: (event: string, fields: Record<string, unknown>) => void = () => undefined): CachedLoad {
  const abs = path.resolve(file);
  const text = readConfigTextSync(abs);
  const textSha256 = sha256(text);
  const dir = cacheDir !== null && privateDir(cacheDir, warn) ? cacheDir : null;
  const entryFile = dir === null ? null : path.join(dir, `${sha256(abs).slice(0, 32)}.json`);
  const code = loaderFingerprint();
  if (entryFile !== null) {
    const json = readEntry(entryFile, { abs, textSha256, code });
    if (json !== null) return { config: viewOfJson(json), from: 'cache' };
  }
  const deps: Array<[string, string]> = [];
  const { buildConfig } = require('../app/config/build-config.js') as typeof import('../app/config/build-config.js');
  const config = buildConfig(text, abs, {
    readFile(f) {
      const t = fs.readFileSync(f, 'utf8');
      deps.push([f, sha256(t)]);
      return t;
    },
  });
  if (entryFile !== null && config.hash === textSha256) writeEntry(entryFile, { format: CACHE_FORMAT, code, file: abs, textSha256, deps, config: toJson(config) });
  return { config: viewOf(config), from: 'file' };
}

function viewOf(config: GitwardConfig): HookConfig {
  return { file: config.file, dir: config.dir, repoRoot: config.repoRoot, hooks: config.hooks, settingsFor: (repo) => hookSettingsInTree(config.repos, repo), full: () => config };
}

function viewOfJson(j: ConfigJson): HookConfig {
  let full: GitwardConfig | null = null;
  return {
    file: j.file,
    dir: j.dir,
    repoRoot: j.repoRoot,
    hooks: deepFreeze({ ...j.hooks, plugins: new Map(j.hooks.plugins) }),
    settingsFor: (repo) => deepFreeze(hookSettingsAlong(nodesOnPath(j.repos, repo, (n, key) => n.children.find(([k]) => k === key)?.[1]))),
    full: () => (full ??= fromJson(j)),
  };
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

function loaderFingerprint(): string {
  const h = crypto.createHash('sha256');
  for (const f of LOADER_FILES) h.update(fs.readFileSync(path.join(__dirname, f))).update('\0');
  // The YAML parser's version: the same text may parse differently with another one. Where this
  // checkout installs it, else wherever Node finds it (resolving costs a few ms of a cold start).
  let yamlPackage: Buffer;
  try {
    yamlPackage = fs.readFileSync(path.join(__dirname, '..', '..', 'node_modules', 'js-yaml', 'package.json'));
  } catch {
    yamlPackage = fs.readFileSync(require.resolve('js-yaml/package.json'));
  }
  h.update(yamlPackage);
  return h.digest('hex');
}

/** True when `dir` exists (creating it 0700 if not) as a real folder of this user that nobody else may use. */
function privateDir(dir: string, warn: (event: string, fields: Record<string, unknown>) => void): boolean {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  }
  try {
    const st = fs.lstatSync(dir);
    if (st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0) return true;
    warn('hook.config-cache-unsafe', { dir, reason: 'not a folder of this user alone (0700); the config is parsed on every push' });
  } catch {
    // Gone again: no cache this time.
  }
  return false;
}

interface Entry {
  readonly format: number;
  readonly code: string;
  readonly file: string;
  readonly textSha256: string;
  /** Files the loader read (htpasswd files) with the sha256 of their text. */
  readonly deps: ReadonlyArray<readonly [string, string]>;
  readonly config: ConfigJson;
}

/** The entry's config when it was made from these inputs (and its dependencies are unchanged); else null. */
function readEntry(entryFile: string, want: { abs: string; textSha256: string; code: string }): ConfigJson | null {
  let raw: string;
  try {
    const fd = fs.openSync(entryFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.uid !== process.getuid?.() || st.size > MAX_ENTRY_BYTES) return null;
      raw = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    const e = JSON.parse(raw) as Entry;
    if (e.format !== CACHE_FORMAT || e.code !== want.code || e.file !== want.abs || e.textSha256 !== want.textSha256) return null;
    for (const [f, h] of e.deps) if (sha256(fs.readFileSync(f, 'utf8')) !== h) return null;
    return e.config;
  } catch {
    return null;
  }
}

function writeEntry(entryFile: string, entry: Entry): void {
  let exact = true;
  const text = JSON.stringify(entry, (_k, v: unknown) => {
    // JSON keeps every value a config holds except non-finite numbers and -0 (YAML's `.inf`).
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) exact = false;
    return v;
  });
  if (!exact) return;
  const tmp = `${entryFile}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, entryFile);
    prune(path.dirname(entryFile));
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** Keeps the MAX_ENTRIES most recently written entries (each test, checkout or config adds one). */
function prune(dir: string): void {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const byAge = names.map((n) => ({ n, t: fs.statSync(path.join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - MAX_ENTRIES)) fs.rmSync(path.join(dir, n), { force: true });
}

// ---------------------------------------------------------------------------------------------
// GitwardConfig <-> JSON: the Maps become arrays of pairs; everything else is JSON already.

type NodeJson = Omit<RepoNode, 'hooks' | 'children'> & { hooks: Array<[string, HookPluginSetting]>; children: Array<[string, NodeJson]> };
type ConfigJson = Omit<GitwardConfig, 'users' | 'groups' | 'hooks' | 'repos'> & {
  users: Array<[string, UserEntry]>;
  groups: Array<[string, readonly string[]]>;
  hooks: Omit<GitwardConfig['hooks'], 'plugins'> & { plugins: Array<[string, string]> };
  repos: NodeJson;
};

/** The config as JSON-safe data (exported for the round-trip test). */
export function toJson(c: GitwardConfig): ConfigJson {
  const node = (n: RepoNode): NodeJson => ({ ...n, hooks: [...n.hooks], children: [...n.children].map(([k, v]) => [k, node(v)]) });
  return { ...c, users: [...c.users], groups: [...c.groups], hooks: { ...c.hooks, plugins: [...c.hooks.plugins] }, repos: node(c.repos) };
}

/** The frozen config back from `toJson`'s data. */
export function fromJson(j: ConfigJson): GitwardConfig {
  const node = (n: NodeJson): RepoNode => ({ ...n, hooks: new Map(n.hooks), children: new Map(n.children.map(([k, v]) => [k, node(v)])) });
  return deepFreeze({ ...j, users: new Map(j.users), groups: new Map(j.groups), hooks: { ...j.hooks, plugins: new Map(j.hooks.plugins) }, repos: node(j.repos) });
}
