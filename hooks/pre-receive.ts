import type { CompiledPolicy, GitwardConfig, HookPluginSetting, HooksSettings } from '../app/config/types.js';
import { hookSettingsInTree } from '../app/policy/hook-settings.js';
import type { Identity } from '../app/types.js';
import type { DispatchIO } from './dispatch-io.js';
import { DOCTOR_PROBE_PREFIX, doctorProbeLine } from '../protocol/doctor-probe.js';
import { loadHookConfig, repoNameFrom } from './hook-config.js';
import type { HookLog } from './hook-log.js';
import { parseHookPlan } from '../protocol/hook-protocol.js';
import type { HookUpdate, RepoReader } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';
import { isHttpPush } from './push-origin.js';
import { refNamespaceCheck } from './ref-namespace.js';
import { Refusal } from './refusal.js';
import { clientLines, runChecks } from './run-checks.js';

// Where tests and tools have always found it.
export { repoNameFrom } from './hook-config.js';

// Start-up time matters (git waits for the hook on every push): the policy compiler and crypto are
// required below only on the paths that use them, the config loader only in hook-config.ts.

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

const ANONYMOUS: Identity = Object.freeze({
  user: null,
  source: 'anonymous',
  groups: Object.freeze([]),
  info: Object.freeze({}),
});

/** `GITWARD_USER` / `REMOTE_USER`, with `GITWARD_GROUPS` / `GITWARD_INFO` when set (checked). */
function pusherFromEnv(env: DispatchIO['env']): {
  user: string | null;
  groups: string[] | undefined;
  info: Record<string, unknown> | undefined;
} {
  const user = env.GITWARD_USER || env.REMOTE_USER || null;
  if (user === null) return { user, groups: undefined, info: undefined };
  const groups = jsonEnv(
    env.GITWARD_GROUPS,
    'GITWARD_GROUPS',
    (v) => Array.isArray(v) && v.every((g) => typeof g === 'string'),
  ) as string[] | undefined;
  const info = jsonEnv(
    env.GITWARD_INFO,
    'GITWARD_INFO',
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  ) as Record<string, unknown> | undefined;
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
  const policy = (): CompiledPolicy =>
    (require('../app/policy/compile.js') as typeof import('../app/policy/compile.js')).compilePolicy(config);
  const { resolveIdentity } = require('../app/policy/identity.js') as typeof import('../app/policy/identity.js');
  const { user, groups, info } = pusherFromEnv(env);
  if (user !== null) {
    const resolved = resolveIdentity(policy(), user, 'gitward');
    return { user, source: 'gitward', groups: groups ?? resolved.groups, info: info ?? resolved.info };
  }
  const local = config.hooks.localUser;
  if (local === null) {
    throw new Refusal(
      "gitward: push refused: pushes made on the server without gitward's environment are not allowed here " +
        '(hooks.local_user is null)',
    );
  }
  if (local === '$local') return { user: '$local', source: 'local', groups: [], info: {} };
  return { ...resolveIdentity(policy(), local, 'local'), source: 'local' };
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
 * The setup from `GITWARD_HOOK_PLAN` (protocol/hook-protocol.ts): the policy gitward is running, which
 * judges the push whatever the config file holds now (a broken edit keeps gitward's last good
 * policy for pushes as for reads; a good edit is gitward's to reload). Used when it is for this
 * repo and the environment names the pusher's groups and info; null otherwise (with the reason
 * logged when a plan was passed): the caller reads the config file, as without a plan.
 */
function setupFromPlan(io: DispatchIO, log: HookLog): CheckSetup | null {
  const raw = io.env.GITWARD_HOOK_PLAN;
  if (!raw) return null;
  const unused = (reason: string): null => {
    log.log('info', 'hook.plan-unused', { reason });
    return null;
  };
  const plan = parseHookPlan(raw);
  if (plan === null) return unused('GITWARD_HOOK_PLAN is not a plan of this version');
  if (!io.env.GITWARD_CONFIG || !isHttpPush(io.env) || plan.repo !== io.env.GITWARD_REPO)
    return unused('not a push through gitward for this repo');
  const identity = identityFromEnvAlone(io.env);
  if (identity === null) return unused('the environment does not name the groups and info of the pusher');
  let here: string | null = null;
  try {
    here = repoNameFrom(io.cwd, plan.repoRoot);
  } catch {
    // repo_root is gone: the config file path reports it.
  }
  if (here !== plan.repo) return unused('the repository is not the one the plan is for');
  log.useFile(plan.logFile);
  return { repo: plan.repo, identity, settings: plan.settings, hooks: plan, configDir: plan.configDir };
}

/** The setup from the config file (GITWARD_CONFIG or `gitward.config`), validated completely. */
async function setupFromConfig(io: DispatchIO, configFile: () => Promise<string>, log: HookLog): Promise<CheckSetup> {
  const config = loadHookConfig(await configFile(), log);
  log.useFile(config.hooks.logFile);
  const repo = repoNameFrom(io.cwd, config.repoRoot);
  if (repo === null)
    throw new Refusal('gitward: push refused: this repository is not <name>.git under the configured repo_root');
  // Only this repo's nodes of the tree: the hook needs nothing else the compiled policy holds.
  return {
    repo,
    identity: identityFromEnv(io.env, config),
    settings: hookSettingsInTree(config.repos, repo),
    hooks: config.hooks,
    configDir: config.dir,
  };
}

/**
 * pre-receive: the dispatcher's ref-namespace check, then every enabled plugin (in `hooks.order`)
 * on every update, no early exit; prints one
 * line per rejected ref and returns 1 (git then refuses the whole push) when anything was rejected.
 * `git` reads the repository as it was before the push; `configFile` names the config (when no
 * plan from gitward serves).
 */
export async function preReceive(
  io: DispatchIO,
  updates: readonly HookUpdate[],
  git: RepoReader,
  configFile: () => Promise<string>,
  log: HookLog,
): Promise<number> {
  const { repo, identity, settings, hooks, configDir } =
    setupFromPlan(io, log) ?? (await setupFromConfig(io, configFile, log));
  const rlog = log.with({ repo, user: identity.user, source: identity.source });
  const probes = updates.filter((u) => u.ref.startsWith(DOCTOR_PROBE_PREFIX));
  if (probes.length > 0) {
    // gitward doctor's write probe: refused whole, before any plugin, and never written.
    for (const u of probes) {
      rlog.log('info', 'hook.doctor-probe', { ref: u.ref });
      io.stderr.write(`${doctorProbeLine(u.ref, identity.user, repo)}\n`);
    }
    return 1;
  }
  // The dispatcher's own check comes first and is never off: refs outside heads and tags need a
  // plugin that governs them, even in a repo with no hook settings at all.
  const loaded = await loadHookPlugins(settings, hooks, configDir, rlog);
  const plugins = [refNamespaceCheck(loaded), ...loaded];
  const outcomes = await runChecks(plugins, { repo, identity, git, updates }, rlog);
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
