/**
 * Shared harness of the hostile-input regression tests: a real gitward (test/helpers/server.ts
 * `startGitwardOn`, the one server harness) whose git-http-backend is a recording wrapper, so each
 * test can tell whether the backend was ever started, and raw HTTP clients for exact bytes.
 *
 *   const gw = await startGuarded(t, { backend: 'git', users: { ann: 'pw' }, config: {…}, repos: ['x'] });
 *   const r = await send(gw, { method: 'GET', path: '/x.git/info/refs?service=git-upload-pack' });
 *   assert.equal(r.status, 403);
 *   await assertNoBackend(gw);                   // no run recorded, every audit line exitCode null
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { AuditRecord } from '../../app/types.js';
import { git, gitHttpBackendPath, type GitResult } from '../helpers/git.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';
import { prepareGitwardFiles, startGitwardOn, type GitwardOptions, type TestGitward } from '../helpers/server.js';

/** Safety net on the wait for an audit line after the response ended (it follows the close). */
const AUDIT_WAIT_MS = SAFETY_NET_MS;
/** Longest one raw request may take before the test fails instead of hanging the suite. */
const REQUEST_TIMEOUT_MS = SAFETY_NET_MS;
/** A hung git fails its test instead of the whole suite. */
const GIT_TIMEOUT_MS = SAFETY_NET_MS;

/**
 * What the recording backend does after writing its environment to the runs file:
 * - `git`: execs the real git-http-backend with the same environment and stdio;
 * - `dump`: drains stdin and answers 200 with its environment as a JSON body;
 * - `{ script }`: runs the given Node.js code (it may use `process`, `require`).
 */
export type BackendMode = 'git' | 'dump' | { readonly script: string };

/** Options of `startGuarded`: those of startGitward plus the backend mode. */
export interface GuardedOptions extends GitwardOptions {
  readonly backend?: BackendMode;
}

/** A gitward in this process (startGitwardOn) whose backend records every run. */
export interface Guarded extends TestGitward {
  /** The environment of every backend run so far, in order. */
  runs(): Array<Record<string, string>>;
}

function backendScript(runsFile: string, realBackend: string, mode: BackendMode): string {
  const record = `require('fs').appendFileSync(${JSON.stringify(runsFile)}, JSON.stringify(process.env) + '\\n');`;
  let body: string;
  if (mode === 'git') {
    body = `const r = require('child_process').spawnSync(${JSON.stringify(realBackend)}, [], { stdio: 'inherit', env: process.env });
process.exit(r.status === null ? 1 : r.status);`;
  } else if (mode === 'dump') {
    body = `process.stdin.resume();
process.stdin.on('end', () => process.stdout.write('Status: 200\\r\\nContent-Type: application/json\\r\\n\\r\\n' + JSON.stringify(process.env)));`;
  } else {
    body = mode.script;
  }
  return `#!${process.execPath}\n'use strict';\n${record}\n${body}\n`;
}

/** Starts gitward in-process on 127.0.0.1:0 with a recording backend (default mode `git`). */
export async function startGuarded(t: TestContext, options: GuardedOptions = {}): Promise<Guarded> {
  const files = await prepareGitwardFiles(t, options);
  const runsFile = path.join(files.dir, 'backend-runs.jsonl');
  const backend = path.join(files.dir, 'recording-backend.js');
  fs.writeFileSync(backend, backendScript(runsFile, await gitHttpBackendPath(), options.backend ?? 'git'), {
    mode: 0o755,
  });
  const gw = await startGitwardOn(t, files, { backendPath: backend });
  return {
    ...gw,
    runs() {
      if (!fs.existsSync(runsFile)) return [];
      return fs
        .readFileSync(runsFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, string>);
    },
  };
}

/** A response as the raw clients return it. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** `Basic base64(user:password)` */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * One request through `http.request` to 127.0.0.1 with exactly `path` (not normalised) and the
 * given headers; `body` is sent with a Content-Length unless `chunked`.
 */
export function send(
  gw: { readonly port: number },
  opts: {
    method?: string;
    path: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer | string;
    chunked?: boolean;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { Connection: 'close', ...(opts.headers ?? {}) };
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    if (body && !opts.chunked) headers['Content-Length'] = String(body.length);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: gw.port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (body && opts.chunked) {
      req.write(body.subarray(0, Math.min(1000, body.length)));
      req.end(body.subarray(Math.min(1000, body.length)));
    } else req.end(body);
  });
}

/**
 * Writes `bytes` as they are to a TCP connection (for header bytes `http.request` refuses to send)
 * and parses the answer: status line, headers, and the body up to the connection's end.
 */
export function sendRaw(gw: { readonly port: number }, bytes: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(all.toString('latin1').slice(0, 200))}`));
      const lines = all.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: http.IncomingHttpHeaders = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body: Buffer = all.subarray(end + 4);
      if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) body = dechunk(body);
      resolve({ status, headers, body });
    });
    // write, not end: a half-closed connection counts as a client gone, and gitward kills the
    // backend. The request says `Connection: close`, so the server ends the exchange.
    socket.write(bytes);
  });
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const nl = buf.indexOf('\r\n', i);
    if (nl < 0) break;
    const size = parseInt(buf.subarray(i, nl).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(buf.subarray(nl + 2, nl + 2 + size));
    i = nl + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** Resolves once `count` audit lines exist (they are written after the response closes). */
export async function auditLines(gw: Guarded, count: number): Promise<AuditRecord[]> {
  const end = Date.now() + AUDIT_WAIT_MS;
  while (gw.audit.records.length < count && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(gw.audit.records.length >= count, `expected ${count} audit lines, got ${gw.audit.records.length}`);
  return gw.audit.records;
}

/**
 * Asserts that git-http-backend was never started: the recording wrapper wrote no run, and
 * every audit line so far (waiting for `expectedRequests` of them) has a null exit code.
 */
export async function assertNoBackend(gw: Guarded, expectedRequests: number): Promise<void> {
  const records = await auditLines(gw, expectedRequests);
  assert.deepEqual(gw.runs(), [], 'the backend ran');
  for (const r of records) assert.equal(r.exitCode, null, `audit line with an exit code: ${JSON.stringify(r)}`);
}

/** Runs git with stdin closed; never throws on a non-zero exit. */
export function runGit(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<GitResult> {
  return git(args, { ...opts, timeoutMs: GIT_TIMEOUT_MS });
}

/** runGit that throws with git's stderr on a non-zero exit; resolves with stdout. */
export async function runGitOk(
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<string> {
  const r = await runGit(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

/** A work tree at `dir` on `main` with one commit per entry of `files` (name → content). */
export async function workTree(
  dir: string,
  env: Record<string, string>,
  files: Record<string, string | Buffer> = { 'a.txt': 'a\n' },
): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await runGitOk(['init', '--quiet', '--initial-branch=main', dir], { cwd: dir, env });
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), content);
    await runGitOk(['add', name], { cwd: dir, env });
    await runGitOk(['commit', '--quiet', '-m', `add ${name}`], { cwd: dir, env });
  }
  return (await runGitOk(['rev-parse', 'HEAD'], { cwd: dir, env })).trim();
}
