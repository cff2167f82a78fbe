import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { loadConfig } from '../app/config/load.js';
import type { CompiledPolicy, GitwardConfig } from '../app/config/types.js';
import { compilePolicy } from '../app/policy/compile.js';
import { hookSettingsFor } from '../app/policy/hook-settings.js';
import { resolveIdentity } from '../app/policy/identity.js';
import type { Identity } from '../app/types.js';
import { ConfigError } from '../app/errors.js';
import { gitChildEnv } from './git-child-env.js';
import { createHookLog, type HookLog } from './hook-log.js';
import { HookOptionsError, type HookUpdate } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';
import { parseReceiveInput } from './receive-input.js';
import { createRepoReader, runGit } from './repo-reader.js';
import { clientLines, runChecks, shortWhere } from './run-checks.js';

/** What git writes to a receive hook: one line per ref; a mirror push of 100k refs fits. */
const MAX_INPUT_BYTES = 32 * 1024 * 1024;

/** The outside world of one dispatcher run; only `main` builds the real one. */
export interface DispatchIO {
  /** `pre-receive` or `post-receive` (the name the dispatcher was invoked as). */
  readonly hookName: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The repository git runs the hook in (the bare repo's directory). */
  readonly cwd: string;
  readonly stdin: Readable;
  /** Lines for the pusher (git relays a hook's stderr as `remote:` lines). */
  readonly stderr: Writable;
  readonly pid: number;
  readonly now: () => number;
}

/** Thrown for a refusal that is not a plugin's: the message goes to the pusher as is. */
class Refusal extends Error {}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_INPUT_BYTES) throw new Refusal(`gitward: push refused: more than ${MAX_INPUT_BYTES} bytes of ref updates`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** True when the push came through gitward (or a sidecar deployment that passes the user on). */
function viaGitward(env: DispatchIO['env']): boolean {
  return Boolean(env.GITWARD_REQUEST_ID || env.GITWARD_USER || env.REMOTE_USER);
}

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
 * without `.git`. A repo outside `repo_root` is refused: its policy cannot be known.
 */
export function repoNameFrom(cwd: string, repoRoot: string): string | null {
  const rel = path.relative(fs.realpathSync(repoRoot), fs.realpathSync(cwd));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/').replace(/\.git$/, '');
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
 * the config when absent); anonymous for a gitward push without a user; and for a push made on the
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
  if (env.GITWARD_REQUEST_ID) return { user: null, source: 'anonymous', groups: [], info: {} };
  const local = config.hooks.localUser;
  if (local === null) throw new Refusal("gitward: push refused: pushes made on the server without gitward's environment are not allowed here (hooks.local_user is null)");
  if (local === '$local') return { user: '$local', source: 'local', groups: [], info: {} };
  return { ...resolveIdentity(policy, local, 'local'), source: 'local' };
}

function describeError(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { message: String(err) };
}

async function preReceive(io: DispatchIO, updates: readonly HookUpdate[], gitEnv: Record<string, string>, log: HookLog): Promise<number> {
  const config = await loadConfig(await configPath(io, gitEnv));
  const policy = compilePolicy(config);
  const repo = repoNameFrom(io.cwd, config.repoRoot);
  if (repo === null) throw new Refusal('gitward: push refused: this repository is not under the configured repo_root');
  const identity = identityFromEnv(io.env, config, policy);
  const rlog = log.with({ repo, user: identity.user, source: identity.source });
  const plugins = await loadHookPlugins(hookSettingsFor(policy, repo), config.hooks, config.dir, rlog);
  const outcomes = await runChecks(plugins, { repo, identity, git: createRepoReader(io.cwd, gitEnv), updates }, rlog);
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

async function postReceive(io: DispatchIO, updates: readonly HookUpdate[], gitEnv: Record<string, string>, log: HookLog): Promise<number> {
  let user: string | null = io.env.GITWARD_USER || io.env.REMOTE_USER || null;
  let repo: string | null = null;
  try {
    const config = await loadConfig(await configPath(io, gitEnv));
    repo = repoNameFrom(io.cwd, config.repoRoot);
    if (!viaGitward(io.env)) user = config.hooks.localUser;
  } catch (err) {
    log.log('warn', 'hook.post-receive-config', { error: describeError(err) });
  }
  for (const u of updates) {
    log.log('info', 'hook.ref-updated', { repo, user, ref: u.ref, old: u.oldSha, new: u.newSha, kind: u.kind, verdict: 'applied' });
  }
  return 0;
}

/**
 * Runs the dispatcher as `io.hookName`. pre-receive: every enabled plugin on every update; exit 1
 * (git refuses the whole push) when any update is rejected or anything fails. post-receive: one
 * audit line per applied update. Returns the exit code.
 */
export async function dispatch(io: DispatchIO): Promise<number> {
  const local = !viaGitward(io.env);
  const log = createHookLog({
    dir: io.env.GITWARD_LOG_DIR || null,
    // A hook's stderr reaches the pusher: only an admin's push on the server may see log lines.
    stderr: local ? io.stderr : null,
    hookName: io.hookName,
    pid: io.pid,
    now: io.now,
    fields: io.env.GITWARD_REQUEST_ID ? { requestId: io.env.GITWARD_REQUEST_ID } : {},
  });
  const gitEnv = gitChildEnv(io.env);
  try {
    const updates = parseReceiveInput(await readAll(io.stdin));
    if (io.hookName === 'post-receive') return await postReceive(io, updates, gitEnv, log);
    if (io.hookName !== 'pre-receive') throw new Refusal(`gitward: push refused: the dispatcher runs as pre-receive or post-receive, not "${io.hookName}"`);
    return await preReceive(io, updates, gitEnv, log);
  } catch (err) {
    log.log('error', 'hook.failed', { error: describeError(err) });
    if (io.hookName === 'post-receive') return 0;
    let line = 'gitward: push refused: the hook failed; the details are in the server log';
    if (err instanceof Refusal) line = err.message;
    else if (err instanceof ConfigError) line = 'gitward: push refused: the gitward config has errors (an admin can run `gitward check`)';
    else if (err instanceof HookOptionsError) line = `gitward: push refused: a hook plugin is misconfigured (${shortWhere(err.message.split(': ')[0] ?? '')}); the details are in the server log`;
    io.stderr.write(`${line}\n`);
    return 1;
  }
}

/** Process entry point of `hooks/gitward-hook`: the hook name is the name it was invoked as. */
export function main(): void {
  const hookName = process.argv[2] ?? path.basename(process.argv[1] ?? '');
  dispatch({ hookName, env: process.env, cwd: process.cwd(), stdin: process.stdin, stderr: process.stderr, pid: process.pid, now: Date.now })
    .then((code) => {
      process.exitCode = code;
    })
    .catch(() => {
      process.exitCode = 1;
    });
}
