import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { load as loadYaml } from 'js-yaml';
import { git, gitEnv, type GitResult } from '../helpers/git.js';
import { startGitward, type TestGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

/**
 * How a fixture's pushes reach the bare repo. `local`: git pushes to the repo's path and the test
 * sets the GITWARD_* variables gitward would set (or none, for a push made on the server itself).
 * `http`: git pushes to a real in-process gitward (`startGitward`) over
 * `http://user:password@127.0.0.1:PORT/web/site.git`, so the hook runs under git-http-backend with
 * the environment gitward builds.
 */
export type PushTransport = 'local' | 'http';

/** Both transports, for suites whose cases hold for pushes made on the server and over HTTP. */
export const TRANSPORTS: readonly PushTransport[] = ['local', 'http'];

/** A config file, a bare repo with the dispatcher installed, and a work tree to push from. */
export interface PushFixture {
  readonly transport: PushTransport;
  readonly dir: string;
  readonly configFile: string;
  readonly repoRoot: string;
  /** The bare repo `web/site.git`. */
  readonly bare: string;
  /** A work tree whose `origin` is the bare repo (local) or gitward's URL of it without credentials (http). */
  readonly work: string;
  /** The gitward pushes go through (http fixtures); null for local ones. */
  readonly gitward: TestGitward | null;
  /** The isolated git env, plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  /**
   * The env of a push as `user`. Local: the GITWARD_* variables of a push through gitward (groups
   * recomputed from the config), plus `extra`. HTTP: the user's credentials in origin's URL;
   * `extra` may not set GITWARD_* (gitward sets those, not the client).
   */
  asUser(user: string, extra?: Record<string, string>): Record<string, string>;
  /** Runs git in the work tree. */
  git(args: readonly string[], extra?: Record<string, string>): Promise<GitResult>;
  gitOk(args: readonly string[], extra?: Record<string, string>): Promise<string>;
  /** Commits a new file in the work tree on the current branch; returns the sha. */
  commit(label: string): Promise<string>;
  /** The bare repo's refs as `ref → sha`. */
  refs(): Promise<Map<string, string>>;
  /**
   * The hooks' log lines (each with its own `event`) once `until` holds for them: read from the
   * GITWARD_LOG_DIR `asUser` hands to local pushes, or from what gitward re-logged (`hook.log`),
   * which may land just after git returns. Fails the test when `until` never holds.
   */
  hookLog(until: (lines: Array<Record<string, unknown>>) => boolean): Promise<Array<Record<string, unknown>>>;
}

/** A hung git in a test must fail that test, not the suite. */
const GIT_TEST_TIMEOUT_MS = SAFETY_NET_MS;
/** Safety net: gitward re-logs hook lines after the backend exits, which may be just after git returns. */
const HOOK_LOG_WAIT_MS = SAFETY_NET_MS;

/** Runs git with stdin closed; never throws on a non-zero exit. */
export function runGit(args: readonly string[], cwd: string, env: Record<string, string>): Promise<GitResult> {
  return git(args, { cwd, env, timeoutMs: GIT_TEST_TIMEOUT_MS });
}

/** Runs git and throws with its stderr when it fails. */
export async function runGitOk(args: readonly string[], cwd: string, env: Record<string, string>): Promise<string> {
  const r = await runGit(args, cwd, env);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

/** The users every hook test knows. */
/**
 * Commits a new file `f<n>.txt` holding `label` in the work tree `work`, with `label` as the
 * message; returns the new commit's sha.
 */
export async function commitFile(work: string, env: Record<string, string>, n: number, label: string): Promise<string> {
  fs.writeFileSync(path.join(work, `f${n}.txt`), `${label}\n`);
  await runGitOk(['add', '.'], work, env);
  await runGitOk(['commit', '--quiet', '-m', label], work, env);
  return (await runGitOk(['rev-parse', 'HEAD'], work, env)).trim();
}

export const USERS_YAML = `users:
  ann: {groups: [eng]}
  rita: {groups: [eng, release]}
  admin: {groups: [ops]}
`;

/** The htpasswd password of `user` in http fixtures. */
export function passwordOf(user: string): string {
  return `${user}-pw`;
}

/** Resolves once `cond()` holds (polling); fails the test with `what()` if it never does. */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = HOOK_LOG_WAIT_MS,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) assert.fail(`never happened: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The lines of every file in a hook log folder, parsed. */
function readHookLogDir(dir: string): Array<Record<string, unknown>> {
  return fs
    .readdirSync(dir)
    .sort()
    .flatMap((n) => fs.readFileSync(path.join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Where the pieces of a fixture live, whichever the transport. */
interface FixtureBase {
  readonly dir: string;
  readonly configFile: string;
  readonly repoRoot: string;
  readonly baseEnv: Record<string, string>;
  readonly origin: string;
  readonly gitward: TestGitward | null;
}

/** Local: the config as written (plus repo_root), a bare repo reached by its path. */
async function localBase(t: TestContext, yaml: string, files: Readonly<Record<string, string>>): Promise<FixtureBase> {
  const dir = tempDir(t, 'gitward-hooks-');
  const configFile = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(configFile, `repo_root: ./repos\n${yaml}`);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const repoRoot = path.join(dir, 'repos');
  const baseEnv = gitEnv(path.join(dir, 'home'));
  const bare = path.join(repoRoot, 'web', 'site.git');
  fs.mkdirSync(path.dirname(bare), { recursive: true });
  await runGitOk(['init', '--quiet', '--bare', '--initial-branch=main', bare], dir, baseEnv);
  return { dir, configFile, repoRoot, baseEnv, origin: bare, gitward: null };
}

/**
 * HTTP: a real gitward on the same settings (the YAML's keys over the test server's defaults:
 * listen 127.0.0.1:0, htpasswd authentication), one htpasswd entry per user of `users:`.
 */
async function httpBase(t: TestContext, yaml: string, files: Readonly<Record<string, string>>): Promise<FixtureBase> {
  const config = loadYaml(yaml) as Record<string, unknown>;
  const users = Object.keys((config.users ?? {}) as Record<string, unknown>);
  const gw = await startGitward(t, {
    users: Object.fromEntries(users.map((u) => [u, passwordOf(u)])),
    repos: ['web/site'],
    config,
    files,
  });
  return {
    dir: gw.dir,
    configFile: gw.configFile,
    repoRoot: gw.repoRoot,
    baseEnv: gw.gitEnv,
    origin: gw.url('web/site'),
    gitward: gw,
  };
}

/**
 * Builds a fixture from `yaml` (the config's keys; `repo_root: ./repos` is added) with the bare
 * repo `repos/web/site.git`, hooks installed through `installHooks` unless `hooks: false`.
 * `transport` (default `local`) says how pushes reach it (see PushTransport). `files` (name →
 * text) are written next to the config first: gitward loads the hook plugins they hold at start-up.
 */
export async function createPushFixture(
  t: TestContext,
  yaml: string,
  options: { hooks?: boolean; transport?: PushTransport; files?: Readonly<Record<string, string>> } = {},
): Promise<PushFixture> {
  const transport = options.transport ?? 'local';
  const files = options.files ?? {};
  const base = transport === 'http' ? await httpBase(t, yaml, files) : await localBase(t, yaml, files);
  const { dir, configFile, repoRoot, baseEnv, gitward } = base;
  const bare = path.join(repoRoot, 'web', 'site.git');
  if (options.hooks !== false) installHooks(bare, dispatcherPath(), { force: false, now: Date.now() });
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  await runGitOk(['init', '--quiet', '--initial-branch=main', work], work, baseEnv);
  await runGitOk(['remote', 'add', 'origin', base.origin], work, baseEnv);
  // What gitward would hand a local push's hooks; kept (not removed per push) so tests can read it.
  const localLogDir = path.join(dir, 'hook-log');
  if (transport === 'local') fs.mkdirSync(localLogDir);
  const env = (extra: Record<string, string> = {}) => ({ ...baseEnv, ...extra });
  const asUser = (user: string, extra: Record<string, string> = {}): Record<string, string> => {
    if (gitward === null) {
      return {
        GITWARD_CONFIG: configFile,
        GITWARD_USER: user,
        GITWARD_REQUEST_ID: `test-${user}`,
        GITWARD_LOG_DIR: localLogDir,
        ...extra,
      };
    }
    const setByGitward = Object.keys(extra).filter((k) => k.startsWith('GITWARD_'));
    if (setByGitward.length > 0)
      throw new Error(`${setByGitward.join(', ')}: over HTTP gitward sets these; this case is for local pushes only`);
    // origin's URL gains the user's credentials: git then pushes to http://user:pw@127.0.0.1:PORT/…
    const withCredentials = new URL(gitward.origin);
    withCredentials.username = encodeURIComponent(user);
    withCredentials.password = encodeURIComponent(passwordOf(user));
    return {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `url.${withCredentials.toString()}.insteadOf`,
      GIT_CONFIG_VALUE_0: `${gitward.origin}/`,
      ...extra,
    };
  };
  const hookLines = (): Array<Record<string, unknown>> =>
    gitward === null
      ? readHookLogDir(localLogDir)
      : gitward.logs.lines.filter((l) => l.event === 'hook.log').map((l) => ({ ...l, event: l.hookEvent }));
  let n = 0;
  const f: PushFixture = {
    transport,
    dir,
    configFile,
    repoRoot,
    bare,
    work,
    gitward,
    env,
    asUser,
    git: (args, extra) => runGit(args, work, env(extra)),
    gitOk: (args, extra) => runGitOk(args, work, env(extra)),
    commit: (label) => commitFile(work, env(), ++n, label),
    async refs() {
      const out = await runGitOk(['for-each-ref', '--format=%(refname) %(objectname)'], bare, env());
      return new Map(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ') as [string, string]),
      );
    },
    async hookLog(until) {
      await eventually(
        () => until(hookLines()),
        () => JSON.stringify(hookLines()).slice(0, 4000),
      );
      return hookLines();
    },
  };
  return f;
}

/** The env of a push as `user` (see PushFixture.asUser). */
export function asUser(f: PushFixture, user: string, extra: Record<string, string> = {}): Record<string, string> {
  return f.asUser(user, extra);
}

/** The `remote:` lines gitward printed (prefix removed). */
export function gitwardLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^remote:\s?/, '').trimEnd())
    .filter((l) => l.startsWith('gitward:'));
}

/** Flow dev → staging → main on web/, main and v* tags protected. */
export const CONFIG = `${USERS_YAML}repos:
  .read: [$authenticated]
  web:
    .write: ["@eng", admin]
    .hooks:
      branch-flow: {flow: [dev, staging, main]}
      branch-protect:
        branches:
          main: {push: ["@release"], force: [admin], delete: [admin]}
        tags:
          "v*": {create: ["@release"]}
    site.git: {}
hooks: {order: [branch-protect, branch-flow]}
`;

/** Puts commit `sha` on dev, staging and main, in that order (three pushes, as the flow wants). */
export async function promote(f: PushFixture, sha: string, user = 'rita'): Promise<void> {
  for (const b of ['dev', 'staging', 'main'])
    await f.gitOk(['push', '--quiet', 'origin', `${sha}:refs/heads/${b}`], asUser(f, user));
}

/**
 * `git push` option for a push that seeds a bare repo reached by its path: its receive-pack looks
 * for hooks nowhere (and skips `gc --auto`). For the refs a case starts from, not the pushes it is
 * about: each push through the dispatcher starts Node once or twice (~0.2 s CPU each), and the
 * hooks read only the refs and objects, which end up the same.
 */
export const HOOKLESS_RECEIVE_PACK =
  '--receive-pack=git -c core.hooksPath=/dev/null -c receive.autogc=false receive-pack';

/** Puts `refspecs` (`sha:ref`) into the fixture's bare repo with plain git and no hook run. */
export async function seed(f: PushFixture, refspecs: readonly string[]): Promise<void> {
  await f.gitOk(['push', '--quiet', HOOKLESS_RECEIVE_PACK, f.bare, ...refspecs]);
}

/** What `promote` leaves (commit `sha` on dev, staging and main), seeded in one hook-less push. */
export async function seedPromoted(f: PushFixture, sha: string): Promise<void> {
  await seed(
    f,
    ['dev', 'staging', 'main'].map((b) => `${sha}:refs/heads/${b}`),
  );
}
