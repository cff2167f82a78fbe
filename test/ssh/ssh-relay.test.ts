import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createMemoryAuditSink } from '../../app/audit/audit-log.js';
import { forcedCommandTarget } from '../../app/cli/commands/key.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { createReloadingRuntime } from '../../app/reload.js';
import { startSshBroker, SshSocketError } from '../../app/ssh/ssh-broker.js';
import { fingerprintOf } from '../../app/ssh/ssh-keys.js';
import { gitHttpBackendPath } from '../helpers/git.js';
import { requireBinary } from '../helpers/nginx.js';
import { startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

/** An ed25519 key blob made in-process. */
function ed25519Blob(): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const name = Buffer.from('ssh-ed25519');
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([u32(name.length), name, u32(raw.length), raw]).toString('base64');
}

/** A config with SSH on, the keys of ann and ben on file; returns the paths and fingerprints. */
function setup(dir: string): { cfg: string; socket: string; ann: string; ben: string } {
  const annBlob = ed25519Blob();
  const benBlob = ed25519Blob();
  fs.writeFileSync(path.join(dir, 'ssh-keys'), `ann ssh-ed25519 ${annBlob}\nben ssh-ed25519 ${benBlob}\n`);
  fs.mkdirSync(path.join(dir, 'repos'));
  fs.mkdirSync(path.join(dir, 'run'), { mode: 0o750 });
  const socket = path.join(dir, 'run', 'gitward.sock');
  const cfg = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(
    cfg,
    `repo_root: ./repos\nlog: {audit: ./audit.log}\nusers: {ann: {}, ben: {}}\nrepos: {web: {.read: [ann, ben]}}\n` +
      `ssh: {keys_file: ./ssh-keys, socket: ${socket}}\n`,
  );
  return { cfg, socket, ann: fingerprintOf(annBlob), ben: fingerprintOf(benBlob) };
}

/** Runs the forced command as sshd would (argv from authorized_keys, the client's command in the env). */
function relay(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const target = forcedCommandTarget('/unused');
  return new Promise((resolve, reject) => {
    const child = spawn(target.relay, [...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** gitward in-process (serve's composition root) on `cfg`; stopped after the test, before its folder goes. */
async function startServer(t: { after(fn: () => Promise<void>): void }, dir: string, cfg: string): Promise<void> {
  const { runtime, server } = await startTestServer(
    { configFile: cfg, dir },
    { logger: createMemoryLogger(), audit: createMemoryAuditSink(), backendPath: await gitHttpBackendPath() },
  );
  t.after(async () => {
    runtime.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

test('forged key id: a key id the user does not own, an unknown user, a malformed id are refused with one line', async (t) => {
  const dir = tempDir(t, 'gitward-relay-');
  const { cfg, socket, ann, ben } = setup(dir);
  await startServer(t, dir, cfg);
  const command = { SSH_ORIGINAL_COMMAND: "git-upload-pack 'web.git'" };
  for (const [user, key] of [
    ['ann', ben],
    ['carl', ann],
    ['ann', 'SHA256:x'],
    ['ann;id', ann],
    ['', ann],
  ] as const) {
    const r = await relay([socket, user, key], command);
    assert.equal(r.code, 1, `${user} ${key}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'gitward: this key is not (or no longer) accepted\n', `${user} ${key}`);
  }
  // The right pair reaches the decision (web.git does not exist yet: the not-found line).
  const ok = await relay([socket, 'ann', ann], command);
  assert.equal(ok.stderr, 'gitward: repository web not found\n');
  const audit = fs
    .readFileSync(path.join(dir, 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(audit.length, 6, 'one audit line per session');
  assert.deepEqual(
    audit.slice(0, 5).map((r) => [r.user, r.decision]),
    Array(5).fill([null, 'denied']),
  );
});

test('server down: the forced command fails closed with one line and exit 1', async (t) => {
  if (requireBinary(t, 'python3') === null) return;
  const dir = tempDir(t, 'gitward-relay-');
  const { socket, ann } = setup(dir);
  const command = { SSH_ORIGINAL_COMMAND: "git-upload-pack 'web.git'" };
  // No socket at all, then a stale socket file nobody listens on.
  const missing = await relay([socket, 'ann', ann], command);
  assert.equal(missing.code, 1);
  assert.equal(missing.stdout, '');
  assert.equal(missing.stderr, 'gitward: the git service is not available right now; try again later\n');
  // A socket file left behind by a server that is gone (bound, nobody listening).
  const bind = spawn('python3', [
    '-I',
    '-S',
    '-c',
    'import sys, _socket; _socket.socket(_socket.AF_UNIX).bind(sys.argv[1])',
    socket,
  ]);
  assert.equal(await new Promise((resolve) => bind.on('close', resolve)), 0);
  assert.ok(fs.statSync(socket).isSocket());
  const dead = await relay([socket, 'ann', ann], command);
  assert.equal(dead.code, 1);
  assert.equal(dead.stderr, 'gitward: the git service is not available right now; try again later\n');
  // A forced command not as gitward key writes it: refused, never run with fewer checks.
  const short = await relay([socket, 'ann'], command);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /^gitward: the forced command is not as gitward key writes it/);
});

test('socket permissions: a socket folder other users may enter is refused; the socket is 0660', async (t) => {
  const dir = tempDir(t, 'gitward-relay-');
  const { cfg, socket } = setup(dir);
  const runtime = await createReloadingRuntime(cfg, { logger: createMemoryLogger(), now: Date.now });
  t.after(() => runtime.close());
  const deps = { runtime, logger: createMemoryLogger(), now: Date.now };
  fs.chmodSync(path.dirname(socket), 0o755);
  await assert.rejects(
    startSshBroker(socket, deps),
    (err: unknown) => err instanceof SshSocketError && /mode 755 lets every local user/.test(err.message),
  );
  assert.equal(fs.existsSync(socket), false);
  fs.chmodSync(path.dirname(socket), 0o750);
  const broker = await startSshBroker(socket, deps);
  assert.equal(fs.statSync(socket).mode & 0o777, 0o660);
  // A second server on the same socket is refused, not silently taking it over.
  await assert.rejects(startSshBroker(socket, deps), /another server is listening/);
  await broker.close();
  // A symlinked folder is not a folder.
  const link = path.join(dir, 'link');
  fs.symlinkSync(path.dirname(socket), link);
  await assert.rejects(startSshBroker(path.join(link, 'gitward.sock'), deps), /is not a folder/);
});
