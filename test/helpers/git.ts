import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SAFETY_NET_MS } from './procs.js';

/** Result of running git. */
export interface GitResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * An isolated environment for the git CLI: HOME in a temp dir, no system config, no prompts,
 * a fixed identity. Nothing from the developer's own git setup leaks into tests.
 */
export function gitEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  fs.mkdirSync(home, { recursive: true });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Test Author',
    GIT_AUTHOR_EMAIL: 'author@example.org',
    GIT_COMMITTER_NAME: 'Test Author',
    GIT_COMMITTER_EMAIL: 'author@example.org',
    GIT_AUTHOR_DATE: '1700000000 +0000',
    GIT_COMMITTER_DATE: '1700000000 +0000',
    ...extra,
  };
}

/** Runs `git args…` in `cwd` with `env` (stdin closed unless `input` is given); never throws on a non-zero exit. */
export function git(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string>; input?: string | Buffer; timeoutMs?: number },
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args as string[], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    // A hung git in a test must fail the test, not the whole suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? SAFETY_NET_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    // git may exit before reading stdin (most commands never read it): without a listener the
    // resulting EPIPE is an uncaught error that fails whichever test is running.
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Runs git and throws with its stderr when it fails. */
export async function gitOk(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string>; input?: string | Buffer; timeoutMs?: number },
): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

/** Creates a bare repo at `dir` (parents included) with `main` as its initial branch. */
export async function initBare(dir: string, env: Record<string, string>): Promise<void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  await gitOk(['init', '--quiet', '--bare', '--initial-branch=main', dir], { cwd: path.dirname(dir), env });
}

/**
 * Creates a work tree at `dir` with `commits` commits on `main` (one file each), for pushing.
 * Returns the sha of the last commit.
 */
export async function makeWorkTree(dir: string, env: Record<string, string>, commits = 1): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await gitOk(['init', '--quiet', '--initial-branch=main', dir], { cwd: dir, env });
  for (let i = 0; i < commits; i++) {
    fs.writeFileSync(path.join(dir, `file${i}.txt`), `content ${i}\n`);
    await gitOk(['add', '.'], { cwd: dir, env });
    await gitOk(['commit', '--quiet', '-m', `commit ${i}`], { cwd: dir, env });
  }
  return (await gitOk(['rev-parse', 'HEAD'], { cwd: dir, env })).trim();
}

/** Path of git-http-backend on this machine. */
export function gitHttpBackendPath(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['--exec-path'], (err, stdout) => {
      if (err) reject(err);
      else resolve(path.join(stdout.trim(), 'git-http-backend'));
    });
  });
}
