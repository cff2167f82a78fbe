import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { GitwardConfig } from '../config/types.js';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import { createRepo } from '../repo/repo-lifecycle.js';

/** The demo repo that `npm start` (`serve --embedded`) creates on its first start. */
export const DEMO_REPO = 'demo/hello';
/** The branches the demo repo starts with: examples/gitward.yaml's branch-flow runs dev → main. */
const DEMO_BRANCHES = ['main', 'dev'] as const;
/** A local `git hash-object` or `mktree` takes milliseconds; a hang must not hang start-up. */
const GIT_TIMEOUT_MS = 30_000;

/**
 * Runs git with `input` on its stdin and resolves with its trimmed stdout; rejects when git fails.
 * A git that exits without reading all of its stdin makes the write fail with EPIPE: that is not
 * an error of its own (git's exit status says whether it worked), so it must not crash the process.
 */
export function gitWithInput(
  args: readonly string[],
  input: string,
  env: Record<string, string>,
  cwd: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args as string[], { cwd, env, stdio: 'pipe', timeout: GIT_TIMEOUT_MS });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`git ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim()}`));
    });
    child.stdin.end(input);
  });
}

/**
 * Creates the demo repo with `createRepo` — the code of `gitward repo create`, hooks included — and
 * gives it one commit (a README) on main and dev, with git plumbing so no work tree is needed.
 * Does nothing when the repo exists; removes a half-made one when seeding fails.
 */
export async function seedDemoRepo(
  config: GitwardConfig,
  env: Record<string, string>,
  dispatcher: string,
): Promise<boolean> {
  fs.mkdirSync(config.repoRoot, { recursive: true });
  const dir = `${config.repoRoot}/${DEMO_REPO}.git`;
  if (fs.existsSync(dir)) return false;
  const made = await createRepo(config, DEMO_REPO, { dispatcher, env, now: Date.now() });
  const gitEnv: Record<string, string> = {
    ...env,
    GIT_AUTHOR_NAME: 'gitward',
    GIT_AUTHOR_EMAIL: 'gitward@localhost',
    GIT_COMMITTER_NAME: 'gitward',
    GIT_COMMITTER_EMAIL: 'gitward@localhost',
    // Server-side git: replace objects and grafts never apply (SECURITY.md).
    ...SERVER_GIT_ENV,
  };
  const git = (args: string[], input = ''): Promise<string> =>
    gitWithInput([`--git-dir=${made.dir}`, ...args], input, gitEnv, config.repoRoot);
  try {
    const readme = '# hello\n\nThe gitward demo repository. Push as demo:demo: dev first, then main (branch-flow).\n';
    const blob = await git(['hash-object', '-w', '--stdin'], readme);
    const tree = await git(['mktree'], `100644 blob ${blob}\tREADME.md\n`);
    const commit = await git(['commit-tree', tree, '-m', 'Initial commit']);
    for (const b of DEMO_BRANCHES) await git(['update-ref', `refs/heads/${b}`, commit]);
  } catch (err) {
    fs.rmSync(made.dir, { recursive: true, force: true });
    throw err;
  }
  return true;
}
