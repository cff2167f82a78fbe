import fs from 'node:fs';
import path from 'node:path';
import type { CompiledPolicy, GitwardConfig, HookPluginSetting, HooksSettings } from '../app/config/types.js';
import { hookSettingsInTree } from '../app/policy/hook-settings.js';
import { parseRepoName } from '../app/request/repo-name.js';
import type { Identity } from '../app/types.js';
import type { DispatchIO } from './dispatch.js';
import type { HookLog } from './hook-log.js';
import { parseHookPlan } from './hook-plan.js';
import type { HookUpdate } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';
import { isHttpPush } from './push-origin.js';
import { Refusal } from './refusal.js';
import { createRepoReader, runGit } from './repo-reader.js';
import { clientLines, runChecks } from './run-checks.js';

// Start-up time matters (git waits for the hook on every push): the config loader (js-yaml), the
// policy compiler and crypto are required only on the paths that use them.
function configCache(): typeof import('./config-cache.js') {
  return require('./config-cache.js') as typeof import('./config-cache.js');
}

/** The config at `file`, validated completely (through the dispatcher's cache of good loads). */
function loadHookConfig(file: string, log: HookLog): GitwardConfig {
  const { defaultCacheDir, loadConfigCached } = configCache();
  return loadConfigCached(file, defaultCacheDir(), (event, fields) => log.log('warn', event, fields)).config;
}

/** The config file: GITWARD_CONFIG, else the repo's `gitward.config` git setting. */
async function configPath(io: DispatchIO, gitEnv: Record<string, string>): Promise<string> {
  if (io.env.GITWARD_CONFIG) return path.resolve(io.cwd, io.env.GITWARD_CONFIG);
  const r = await runGit(['config', '--get', 'gitward.config'], io.cwd, gitEnv);
  const value = r.stdout.trim();
  if (r.code !== 0 || value === '') {
    throw new Refusal('gitward: push refused: no gitward config for this repo (set GITWARD_CONFIG, or `git config gitward.config FILE` in the repo)');
  }
  return path.resolve(io.cwd, value);
}

/**
 * The repo's canonical name: its directory relative to `repo_root` (both resolved with realpath),
 * without `.git`, valid as in URLs (`parseRepoName`). Null for a repo outside `repo_root` or with
 * a name gitward would not serve: its policy cannot be known, so the push is refused.
 */
export function repoNameFrom(cwd: string, repoRoot: string): string | null {
  const rel = path.relative(fs.realpathSync(repoRoot), fs.realpathSync(cwd));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || !rel.endsWith('.git')) return null;
  try {
    return parseRepoName(rel.split(path.sep).join('/'));
  } catch {
    return null;
  }
}

function jsonEnv(value: string | undefined, name: string, check: (v: unknown) => boolean): unknown {
  if (value === undefined || value === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Refusal(`gitward: push refused: ${name} is not valid JSON`);
  }
  if (!check(parsed)) throw new Refusal(`gitward: push refused: ${name} has the wrong shape`);
  return parsed;
}

const ANONYMOUS: Identity = Object.freeze({ user: null, source: 'anonymous', groups: Object.freeze([]), info: Object.freeze({}) });

/** `GITWARD_USER` / `REMOTE_USER`, with `GITWARD_GROUPS` / `GITWARD_INFO` when set (checked). */
function pusherFromEnv(env: DispatchIO['env']): { user: string | null; groups: string[] | undefined; info: Record<string, unknown> | undefined } {
  const user = env.GITWARD_USER || env.REMOTE_USER || null;
  if (user === null) return { user, groups: undefined, info: undefined };
  const groups = jsonEnv(env.GITWARD_GROUPS, 'GITWARD_GROUPS', (v) => Array.isArray(v) && v.every((g) => typeof g === 'string')) as string[] | undefined;
  const info = jsonEnv(env.GITWARD_INFO, 'GITWARD_INFO', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)) as Record<string, unknown> | undefined;
  return { user, groups, info };
}

/**
 * The pusher when the environment names it whole: a user with groups and info, or anonymous for an
 * HTTP push without a user. Null when the config is needed (groups or info to recompute, or a push
 * made on the server).
 */
function identityFromEnvAlone(env: DispatchIO['env']): Identity | null {
  const { user, groups, info } = pusherFromEnv(env);
  if (user === null) return isHttpPush(env) ? ANONYMOUS : null;
  return groups !== undefined && info !== undefined ? { user, source: 'gitward', groups, info } : null;
}

/**
 * The pusher: `GITWARD_USER` / `REMOTE_USER` with `GITWARD_GROUPS` / `GITWARD_INFO` (recomputed from
 * the config when absent); anonymous for an HTTP push without a user; and for a push made on the
 * server without gitward's environment, `hooks.local_user` (null refuses such pushes).
 */
export function identityFromEnv(env: DispatchIO['env'], config: GitwardConfig): Identity {
  const known = identityFromEnvAlone(env);
  if (known !== null) return known;
  const policy = (): CompiledPolicy => (require('../app/policy/compile.js') as typeof import('../app/policy/compile.js')).compilePolicy(config);
  const { resolveIdentity } = require('../app/policy/identity.js') as typeof import('../app/policy/identity.js');
  const { user, groups, info } = pusherFromEnv(env);
  if (user !== null) {
    const resolved = resolveIdentity(policy(), user, 'gitward');
    return { user, source: 'gitward', groups: groups ?? resolved.groups, info: info ?? resolved.info };
  }
  const local = config.hooks.localUser;
  if (local === null) throw new Refusal("gitward: push refused: pushes made on the server without gitward's environment are not allowed here (hooks.local_user is null)");
  if (local === '$local') return { user: '$local', source: 'local', groups: [], info: {} };
  return { ...resolveIdentity(policy(), local, 'local'), source: 'local' };
}

/** For a post-receive run by the dispatcher: the repo name, `hooks.local_user` and `hooks.log_file`. */
export async function hookFacts(io: DispatchIO, gitEnv: Record<string, string>, log: HookLog): Promise<{ repo: string | null; localUser: string | null; logFile: string | null }> {
  const config = loadHookConfig(await configPath(io, gitEnv), log);
  return { repo: repoNameFrom(io.cwd, config.repoRoot), localUser: config.hooks.localUser, logFile: config.hooks.logFile };
}

/** What the checks of one push need: from gitward's plan, or from the config file. */
interface CheckSetup {
  readonly repo: string;
  readonly identity: Identity;
  readonly settings: ReadonlyMap<string, HookPluginSetting>;
  readonly hooks: Pick<HooksSettings, 'order' | 'plugins'>;
  readonly configDir: string;
}

/**
 * The setup from `GITWARD_HOOK_PLAN` (hooks/hook-plan.ts), when gitward passed one and it still
 * holds: for this repo, for the config file's current text (sha256), with the pusher's groups and
 * info in the environment. Null otherwise (with the reason logged when a plan was passed): the
 * caller reads the config file, exactly as without a plan.
 */
async function setupFromPlan(io: DispatchIO, log: HookLog): Promise<CheckSetup | null> {
  const raw = io.env.GITWARD_HOOK_PLAN;
  if (!raw) return null;
  const unused = (reason: string): null => {
    log.log('info', 'hook.plan-unused', { reason });
    return null;
  };
  const plan = parseHookPlan(raw);
  if (plan === null) return unused('GITWARD_HOOK_PLAN is not a plan of this version');
  if (!io.env.GITWARD_CONFIG || !isHttpPush(io.env) || plan.repo !== io.env.GITWARD_REPO) return unused('not a push through gitward for this repo');
  const identity = identityFromEnvAlone(io.env);
  if (identity === null) return unused('the environment does not name the groups and info of the pusher');
  let text: string;
  try {
    text = await fs.promises.readFile(path.resolve(io.cwd, io.env.GITWARD_CONFIG), 'utf8');
  } catch {
    return unused('the config file cannot be read');
  }
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  if (createHash('sha256').update(text).digest('hex') !== plan.configSha256) return unused('the config file changed since gitward loaded it');
  if (repoNameFrom(io.cwd, plan.repoRoot) !== plan.repo) return unused('the repository is not the one the plan is for');
  log.useFile(plan.logFile);
  return { repo: plan.repo, identity, settings: plan.settings, hooks: plan, configDir: plan.configDir };
}

/** The setup from the config file (GITWARD_CONFIG or `gitward.config`), validated completely. */
async function setupFromConfig(io: DispatchIO, gitEnv: Record<string, string>, log: HookLog): Promise<CheckSetup> {
  const config = loadHookConfig(await configPath(io, gitEnv), log);
  log.useFile(config.hooks.logFile);
  const repo = repoNameFrom(io.cwd, config.repoRoot);
  if (repo === null) throw new Refusal('gitward: push refused: this repository is not <name>.git under the configured repo_root');
  // Only this repo's nodes of the tree: the hook needs nothing else the compiled policy holds.
  return { repo, identity: identityFromEnv(io.env, config), settings: hookSettingsInTree(config.repos, repo), hooks: config.hooks, configDir: config.dir };
}

/**
 * pre-receive: every enabled plugin (in `hooks.order`) on every update, no early exit; prints one
 * line per rejected ref and returns 1 (git then refuses the whole push) when anything was rejected.
 */
export async function preReceive(io: DispatchIO, updates: readonly HookUpdate[], gitEnv: Record<string, string>, log: HookLog): Promise<number> {
  const { repo, identity, settings, hooks, configDir } = (await setupFromPlan(io, log)) ?? (await setupFromConfig(io, gitEnv, log));
  const rlog = log.with({ repo, user: identity.user, source: identity.source });
  const plugins = await loadHookPlugins(settings, hooks, configDir, rlog);
  const git = createRepoReader(io.cwd, gitEnv);
  let outcomes;
  try {
    outcomes = await runChecks(plugins, { repo, identity, git, updates }, rlog);
  } finally {
    git.close();
  }
  const refused = outcomes.some((o) => o.rejections.length > 0 || o.failures.length > 0);
  for (const o of outcomes) {
    const verdict = o.rejections.length > 0 || o.failures.length > 0 ? 'rejected' : refused ? 'declined' : 'accepted';
    rlog.log(verdict === 'accepted' ? 'info' : 'warn', 'hook.check', {
      ref: o.update.ref,
      old: o.update.oldSha,
      new: o.update.newSha,
      kind: o.update.kind,
      verdict,
      plugins: plugins.map((p) => p.plugin.name),
      rejections: o.rejections,
      failures: o.failures,
    });
  }
  for (const line of clientLines(outcomes)) io.stderr.write(`${line}\n`);
  return refused ? 1 : 0;
}

