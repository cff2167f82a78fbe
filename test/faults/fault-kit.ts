/**
 * What the fault tests share: a `gitward serve` child that can be SIGKILLed and started again on
 * the same files, deterministic poorly compressible commits to push, and repo checks (fsck,
 * refs, leftover lock files).
 */
import { createCipheriv, createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { git as runSharedGit, type GitResult } from '../helpers/git.js';
import { spawnServe, type GitwardFiles, type ServeProcess } from '../helpers/server.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

/** A push or clone in a fault test is a few MB on loopback; more than this means it hangs. */
export const FAULT_GIT_TIMEOUT_MS = SAFETY_NET_MS;

/** A `gitward serve` child on existing files (so it can be killed and started again). */
export interface ServeChild extends ServeProcess {
  readonly pid: number;
  /** Parsed JSON lines of its stdout (audit log when `log.audit` is null). */
  readonly auditLines: Array<Record<string, unknown>>;
}

/**
 * Spawns `gitward serve` on `files` (test/helpers/server.ts `spawnServe`), waits for
 * `server.listening`, and SIGKILLs it after the test if still alive.
 */
export async function serveChild(t: Pick<TestContext, 'after'>, files: GitwardFiles): Promise<ServeChild> {
  const served = await spawnServe(t, files);
  return { ...served, pid: served.child.pid as number, auditLines: served.stdoutLines };
}

/**
 * `n` bytes that gzip cannot shrink, the same for the same seed (AES-CTR keystream of the seed):
 * pushes carry their full size on the wire and every run pushes the same bytes.
 */
export function noise(seed: string, n: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(n)), cipher.final()]);
}

/**
 * A fresh work tree at `dir` on branch `branch` with one commit holding `bytes` bytes of noise;
 * returns the commit's sha.
 */
export async function noiseTree(
  dir: string,
  env: Record<string, string>,
  branch: string,
  bytes: number,
): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await gitOk(['init', '--quiet', `--initial-branch=${branch}`, dir], { cwd: dir, env });
  // Noise does not compress: zlib level 0 for its loose object and for the pack a push sends saves
  // the CPU seconds zlib would spend trying, and the pack on the wire is as big as before.
  await gitOk(['config', 'core.compression', '0'], { cwd: dir, env });
  fs.writeFileSync(path.join(dir, 'blob.bin'), noise(`${dir}:${branch}`, bytes));
  await gitOk(['add', '.'], { cwd: dir, env });
  await gitOk(['commit', '--quiet', '-m', `noise for ${branch}`], { cwd: dir, env });
  return (await gitOk(['rev-parse', 'HEAD'], { cwd: dir, env })).trim();
}

/** Adds one small commit to the work tree at `dir`; returns its sha. */
export async function addCommit(dir: string, env: Record<string, string>, label: string): Promise<string> {
  fs.writeFileSync(path.join(dir, `${label}.txt`), `${label}\n`);
  await gitOk(['add', '.'], { cwd: dir, env });
  await gitOk(['commit', '--quiet', '-m', label], { cwd: dir, env });
  return (await gitOk(['rev-parse', 'HEAD'], { cwd: dir, env })).trim();
}

/** Runs git with the fault-test timeout; never throws on a non-zero exit. */
export function git(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<GitResult> {
  return runSharedGit(args, { ...opts, timeoutMs: opts.timeoutMs ?? FAULT_GIT_TIMEOUT_MS });
}

/** Runs git and throws with its stderr when it fails. */
export async function gitOk(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

/** Runs git with the fault-test timeout; never throws on a non-zero exit. */
export function runGit(args: readonly string[], cwd: string, env: Record<string, string>): Promise<GitResult> {
  return git(args, { cwd, env });
}

/**
 * Whether `git push --porcelain` reported `ref` as updated: a line `<flag>\t<src>:<ref>\t…` with
 * flag ` ` (fast-forward), `+` (forced) or `*` (new ref), and exit code 0.
 */
export function pushAccepted(r: GitResult, ref: string): boolean {
  if (r.code !== 0) return false;
  return r.stdout.split('\n').some((l) => /^[ +*]\t/.test(l) && l.split('\t')[1]?.endsWith(`:${ref}`) === true);
}

/** The sha `ref` points at in the bare repo, or null when it does not exist. */
export async function refSha(repoDir: string, ref: string, env: Record<string, string>): Promise<string | null> {
  const r = await git(['--git-dir', repoDir, 'rev-parse', '--verify', '--quiet', ref], { cwd: repoDir, env });
  return r.code === 0 ? r.stdout.trim() : null;
}

/** All refs of a bare repo: name → sha. */
export async function allRefs(repoDir: string, env: Record<string, string>): Promise<Record<string, string>> {
  const out = await gitOk(['--git-dir', repoDir, 'for-each-ref', '--format=%(refname) %(objectname)'], {
    cwd: repoDir,
    env,
  });
  const refs: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const [name, sha] = line.split(' ');
    if (name && sha) refs[name] = sha;
  }
  return refs;
}

/** `git fsck --strict` of a bare repo: exit code and output (both empty-ish when clean). */
export async function fsckStrict(repoDir: string, env: Record<string, string>): Promise<GitResult> {
  return git(['--git-dir', repoDir, 'fsck', '--strict', '--no-progress'], {
    cwd: repoDir,
    env,
    timeoutMs: FAULT_GIT_TIMEOUT_MS,
  });
}

/** GET `url` and return its status and body (for /healthz). */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      })
      .on('error', reject);
  });
}
