import type { CompiledPolicy, HookPluginSetting } from '../app/config/types.js';
import { hookSettingsFor } from '../app/policy/hook-settings.js';

/*
 * The hook protocol: everything gitward hands the hooks of a push and reads back, in one module
 * that app/ and hooks/ both import (the dependency rules in .dependency-cruiser.cjs keep it so).
 *
 * - Environment (set by gitward for a push through it; a push without them is local or sidecar):
 *   the names in HOOK_ENV.
 * - GITWARD_HOOK_PLAN: the policy gitward runs, for one repo (HookPlan below).
 * - GITWARD_LOG_DIR: a folder per push; the dispatcher writes `<hook>.<pid>.jsonl` (one JSON log
 *   line each), the sh launcher of post-receive `post-receive.<pid>.refs` (git's ref update lines,
 *   verbatim); gitward re-logs both after the request and removes the folder.
 * - The last good config text, recorded by both (protocol/last-good.ts).
 */

/** The environment names of the protocol. */
export const HOOK_ENV = Object.freeze({
  /** Absolute path of the config file gitward runs. */
  config: 'GITWARD_CONFIG',
  /** The pusher's user name ('' for anonymous). */
  user: 'GITWARD_USER',
  /** The pusher's groups, a JSON array of strings. */
  groups: 'GITWARD_GROUPS',
  /** The pusher's info, a JSON object. */
  info: 'GITWARD_INFO',
  /** The repo's canonical name. */
  repo: 'GITWARD_REPO',
  requestId: 'GITWARD_REQUEST_ID',
  /** The per-push log folder (see above). */
  logDir: 'GITWARD_LOG_DIR',
  plan: 'GITWARD_HOOK_PLAN',
});

/** The dispatcher's log file in GITWARD_LOG_DIR. */
export function hookLogFileName(hookName: string, pid: number): string {
  return `${hookName}.${pid}.jsonl`;
}

/** Whether a file of GITWARD_LOG_DIR holds ref update lines (the launcher's) rather than log lines. */
export function isRefUpdatesFile(name: string): boolean {
  return name.endsWith('.refs');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What gitward hands the pre-receive of a push through it, in `GITWARD_HOOK_PLAN`: the parts of
 * the config it is running that the checks of this repo use, so the hook neither parses the YAML
 * file again (for a config of a few hundred repos, most of the hook's time) nor judges a push by
 * another policy than the one gitward runs (a broken edit on disk keeps the last good one).
 */
export interface HookPlan {
  /** sha256 of the config text the plan was made from (GitwardConfig.hash), for the logs. */
  readonly configSha256: string;
  /** The repo the plan is for (GITWARD_REPO). */
  readonly repo: string;
  readonly repoRoot: string;
  /** Folder of the config file: third-party plugins resolve against it. */
  readonly configDir: string;
  /** `hooks.order`. */
  readonly order: readonly string[];
  /** `hooks.plugins`: name → module path or package name. */
  readonly plugins: ReadonlyMap<string, string>;
  /** The plugin settings in force for `repo` (`hookSettingsFor`), with their `file:line`. */
  readonly settings: ReadonlyMap<string, HookPluginSetting>;
  /** `hooks.log_file` (used only without GITWARD_LOG_DIR). */
  readonly logFile: string | null;
}

/** Bumped when the format changes: a hook of another version then reads the config itself. */
const PLAN_VERSION = 1;
/**
 * Largest plan passed in the environment. Linux refuses a single variable over 128 KiB
 * (MAX_ARG_STRLEN) and the whole environment counts against ARG_MAX; a repo's hook settings are a
 * few hundred bytes. A larger plan is not passed and the hook reads the config.
 */
export const MAX_HOOK_PLAN_BYTES = 32 * 1024;

/**
 * The plan for a push to `repo` under `policy`, as the `GITWARD_HOOK_PLAN` value; null when there
 * is no config file to check it against (a config built in code) or it would be too large.
 */
export function encodeHookPlan(policy: CompiledPolicy, repo: string): string | null {
  const config = policy.config;
  if (config.file === '') return null;
  // JSON carries every value YAML gives plugin options except non-finite numbers and -0 (`.inf`):
  // a plan that would change an option is not made.
  let exact = true;
  const keepExact = (_key: string, v: unknown): unknown => {
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) exact = false;
    return v;
  };
  const text = JSON.stringify(
    {
      v: PLAN_VERSION,
      configSha256: config.hash,
      repo,
      repoRoot: config.repoRoot,
      configDir: config.dir,
      order: config.hooks.order,
      plugins: [...config.hooks.plugins],
      settings: [...hookSettingsFor(policy, repo)].map(([name, s]) => [name, s.options, s.where]),
      logFile: config.hooks.logFile,
    },
    keepExact,
  );
  return exact && Buffer.byteLength(text) <= MAX_HOOK_PLAN_BYTES ? text : null;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isPair = (v: unknown): v is [string, string] => Array.isArray(v) && v.length === 2 && v.every(isString);
const isSetting = (v: unknown): v is [string, Record<string, unknown>, string] =>
  Array.isArray(v) && v.length === 3 && isString(v[0]) && isPlainObject(v[1]) && isString(v[2]);

/** Parses a `GITWARD_HOOK_PLAN` value; null for anything not of this version and shape. */
export function parseHookPlan(text: string): HookPlan | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isPlainObject(raw) || raw.v !== PLAN_VERSION) return null;
  const { configSha256, repo, repoRoot, configDir, order, plugins, settings, logFile } = raw;
  if (
    !isString(configSha256) ||
    !/^[0-9a-f]{64}$/.test(configSha256) ||
    !isString(repo) ||
    !isString(repoRoot) ||
    !isString(configDir)
  )
    return null;
  if (
    !Array.isArray(order) ||
    !order.every(isString) ||
    !Array.isArray(plugins) ||
    !plugins.every(isPair) ||
    !Array.isArray(settings) ||
    !settings.every(isSetting)
  )
    return null;
  if (logFile !== null && !isString(logFile)) return null;
  return {
    configSha256,
    repo,
    repoRoot,
    configDir,
    order,
    plugins: new Map(plugins),
    settings: new Map(settings.map(([name, options, where]) => [name, { options, where }])),
    logFile,
  };
}
