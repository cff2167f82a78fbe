import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../app/config/load.js';
import type { CompiledPolicy, GitwardConfig } from '../app/config/types.js';
import { compilePolicy } from '../app/policy/compile.js';
import { hookSettingsFor } from '../app/policy/hook-settings.js';
import { resolveIdentity } from '../app/policy/identity.js';
import { parseRepoName } from '../app/request/repo-name.js';
import type { Identity } from '../app/types.js';
import type { DispatchIO } from './dispatch.js';
import type { HookLog } from './hook-log.js';
import type { HookUpdate } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';
import { isHttpPush } from './push-origin.js';
import { Refusal } from './refusal.js';
import { createRepoReader, runGit } from './repo-reader.js';
import { clientLines, runChecks } from './run-checks.js';

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

/**
 * The pusher: `GITWARD_USER` / `REMOTE_USER` with `GITWARD_GROUPS` / `GITWARD_INFO` (recomputed from
 * the config when absent); anonymous for an HTTP push without a user; and for a push made on the
 * server without gitward's environment, `hooks.local_user` (null refuses such pushes).
 */
export function identityFromEnv(env: DispatchIO['env'], config: GitwardConfig, policy: CompiledPolicy): Identity {
  const user = env.GITWARD_USER || env.REMOTE_USER || null;
  if (user !== null) {
    const groups = jsonEnv(env.GITWARD_GROUPS, 'GITWARD_GROUPS', (v) => Array.isArray(v) && v.every((g) => typeof g === 'string')) as string[] | undefined;
    const info = jsonEnv(env.GITWARD_INFO, 'GITWARD_INFO', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)) as Record<string, unknown> | undefined;
    const resolved = groups === undefined || info === undefined ? resolveIdentity(policy, user, 'gitward') : null;
    return { user, source: 'gitward', groups: groups ?? resolved?.groups ?? [], info: info ?? resolved?.info ?? {} };
  }
  if (isHttpPush(env)) return { user: null, source: 'anonymous', groups: [], info: {} };
  const local = config.hooks.localUser;
  if (local === null) throw new Refusal("gitward: push refused: pushes made on the server without gitward's environment are not allowed here (hooks.local_user is null)");
  if (local === '$local') return { user: '$local', source: 'local', groups: [], info: {} };
  return { ...resolveIdentity(policy, local, 'local'), source: 'local' };
}

/** For post-receive of a local push: the repo name and `hooks.local_user`, from the config. */
export async function localPushFacts(io: DispatchIO, gitEnv: Record<string, string>): Promise<{ repo: string | null; localUser: string | null }> {
  const config = await loadConfig(await configPath(io, gitEnv));
  return { repo: repoNameFrom(io.cwd, config.repoRoot), localUser: config.hooks.localUser };
}

/**
 * pre-receive: every enabled plugin (in `hooks.order`) on every update, no early exit; prints one
 * line per rejected ref and returns 1 (git then refuses the whole push) when anything was rejected.
 */
export async function preReceive(io: DispatchIO, updates: readonly HookUpdate[], gitEnv: Record<string, string>, log: HookLog): Promise<number> {
  const config = await loadConfig(await configPath(io, gitEnv));
  const policy = compilePolicy(config);
  const repo = repoNameFrom(io.cwd, config.repoRoot);
  if (repo === null) throw new Refusal('gitward: push refused: this repository is not <name>.git under the configured repo_root');
  const identity = identityFromEnv(io.env, config, policy);
  const rlog = log.with({ repo, user: identity.user, source: identity.source });
  const plugins = await loadHookPlugins(hookSettingsFor(policy, repo), config.hooks, config.dir, rlog);
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

