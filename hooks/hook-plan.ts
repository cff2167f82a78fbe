import type { CompiledPolicy, HookPluginSetting } from '../app/config/types.js';
import { hookSettingsFor } from '../app/policy/hook-settings.js';
import { isPlainObject } from './hook-plugin.js';

/**
 * What gitward hands the pre-receive of a push through it, in `GITWARD_HOOK_PLAN`: the parts of
 * its validated config that the checks of this repo use, so the hook does not parse and validate
 * the YAML file again on every push (for a config of a few hundred repos, that is most of the
 * hook's time). It is used only while the config file still has the exact text gitward validated
 * (`configSha256`); otherwise the hook reads the file itself, as without a plan.
 */
export interface HookPlan {
  /** sha256 of the config text the plan was made from (GitwardConfig.hash). */
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
  const text = JSON.stringify({
    v: PLAN_VERSION,
    configSha256: config.hash,
    repo,
    repoRoot: config.repoRoot,
    configDir: config.dir,
    order: config.hooks.order,
    plugins: [...config.hooks.plugins],
    settings: [...hookSettingsFor(policy, repo)].map(([name, s]) => [name, s.options, s.where]),
    logFile: config.hooks.logFile,
  }, keepExact);
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
  if (!isString(configSha256) || !/^[0-9a-f]{64}$/.test(configSha256) || !isString(repo) || !isString(repoRoot) || !isString(configDir)) return null;
  if (!Array.isArray(order) || !order.every(isString) || !Array.isArray(plugins) || !plugins.every(isPair) || !Array.isArray(settings) || !settings.every(isSetting)) return null;
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
