import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { git, gitEnv, type GitResult } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';

/** A config file, a bare repo with the dispatcher installed, and a work tree to push from. */
export interface PushFixture {
  readonly dir: string;
  readonly configFile: string;
  readonly repoRoot: string;
  /** The bare repo `web/site.git`. */
  readonly bare: string;
  /** A work tree whose `origin` is the bare repo (a local path: git passes the env to hooks). */
  readonly work: string;
  /** The isolated git env, plus `extra` (GITWARD_* of the simulated request). */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Runs git in the work tree. */
  git(args: readonly string[], extra?: Record<string, string>): Promise<GitResult>;
  gitOk(args: readonly string[], extra?: Record<string, string>): Promise<string>;
  /** Commits a new file in the work tree on the current branch; returns the sha. */
  commit(label: string): Promise<string>;
  /** The bare repo's refs as `ref → sha`. */
  refs(): Promise<Map<string, string>>;
}

/** A hung git in a test must fail that test, not the suite. */
const GIT_TEST_TIMEOUT_MS = 60_000;

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
export const USERS_YAML = `users:
  ann: {groups: [eng]}
  rita: {groups: [eng, release]}
  admin: {groups: [ops]}
`;

/**
 * Builds a fixture from `yaml` (written as `gitward.yaml`; `repo_root: ./repos` is added) with the
 * bare repo `repos/web/site.git`, hooks installed through `installHooks`.
 */
export async function createPushFixture(t: TestContext, yaml: string, options: { hooks?: boolean } = {}): Promise<PushFixture> {
  const dir = tempDir(t, 'gitward-hooks-');
  const home = path.join(dir, 'home');
  const configFile = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(configFile, `repo_root: ./repos\n${yaml}`);
  const repoRoot = path.join(dir, 'repos');
  const bare = path.join(repoRoot, 'web', 'site.git');
  const baseEnv = gitEnv(home);
  fs.mkdirSync(path.dirname(bare), { recursive: true });
  await runGitOk(['init', '--quiet', '--bare', '--initial-branch=main', bare], dir, baseEnv);
  if (options.hooks !== false) installHooks(bare, dispatcherPath(), { force: false, now: Date.now() });
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  await runGitOk(['init', '--quiet', '--initial-branch=main', work], work, baseEnv);
  await runGitOk(['remote', 'add', 'origin', bare], work, baseEnv);
  const env = (extra: Record<string, string> = {}) => ({ ...baseEnv, ...extra });
  let n = 0;
  const f: PushFixture = {
    dir,
    configFile,
    repoRoot,
    bare,
    work,
    env,
    git: (args, extra) => runGit(args, work, env(extra)),
    gitOk: (args, extra) => runGitOk(args, work, env(extra)),
    async commit(label) {
      n++;
      fs.writeFileSync(path.join(work, `f${n}.txt`), `${label}\n`);
      await runGitOk(['add', '.'], work, env());
      await runGitOk(['commit', '--quiet', '-m', label], work, env());
      return (await runGitOk(['rev-parse', 'HEAD'], work, env())).trim();
    },
    async refs() {
      const out = await runGitOk(['for-each-ref', '--format=%(refname) %(objectname)'], bare, env());
      return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
    },
  };
  return f;
}

/** The env of a push that came through gitward as `user` (groups recomputed from the config). */
export function asUser(f: PushFixture, user: string, extra: Record<string, string> = {}): Record<string, string> {
  return { GITWARD_CONFIG: f.configFile, GITWARD_USER: user, GITWARD_REQUEST_ID: `test-${user}`, ...extra };
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
    .write: ["@eng"]
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
  for (const b of ['dev', 'staging', 'main']) await f.gitOk(['push', '--quiet', 'origin', `${sha}:refs/heads/${b}`], asUser(f, user));
}

