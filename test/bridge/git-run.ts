import { spawn } from 'node:child_process';
import type { GitResult } from '../helpers/git.js';

/**
 * Runs `git args…` like test/helpers/git.ts's `git`, but tolerates git exiting before it read
 * stdin (an EPIPE on the stdin pipe is not a test failure). Never throws on a non-zero exit.
 */
export function git(args: readonly string[], opts: { cwd: string; env: Record<string, string>; input?: string | Buffer; timeoutMs?: number }): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args as string[], { cwd: opts.cwd, env: opts.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    // A hung git in a test must fail the test, not the whole suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Runs git and throws with its stderr when it fails. */
export async function gitOk(args: readonly string[], opts: { cwd: string; env: Record<string, string>; input?: string | Buffer; timeoutMs?: number }): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

/** Polls `check` every 20 ms until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
