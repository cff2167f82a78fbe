import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createMemoryAuditSink } from '../../app/audit/audit-log.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { git, gitEnv, gitHttpBackendPath, gitOk } from '../helpers/git.js';
import { startTestServer } from '../helpers/server.js';
import { gitSshCommand, makeKey, startSshd, type SshdInstance } from '../helpers/sshd.js';
import { tempDir } from '../helpers/tmp.js';

/** The compiled CLI of this checkout. */
const MAIN = path.resolve(__dirname, '..', '..', 'app', 'main.js');

/** Bytes of the big push: the 100 MB, poorly compressible so the pack is that large too. */
const BIG_PUSH_BYTES = 100 * 1024 * 1024;
/** Safety net for one git command against sshd; the big push gets more. */
const GIT_TIMEOUT_MS = 120_000;

function config(dir: string, withDan: boolean): string {
  return `repo_root: ./repos
log: {audit: ./audit.log}
users:
  ann: {groups: [eng], info: {name: Ann Example, email: ann@example.org}}
  ben: {}
  carl: {}
${withDan ? '  dan: {groups: [eng]}\n' : ''}groups:
  release: [carl]
repos:
  web:
    .read: ["@eng", ben]
    .write: ["@eng"]
    .hooks:
      branch-protect:
        branches:
          "release/**": {push: ["@release"]}
  secret.git:
    .read: [carl]
repo_defaults: {deny_deletes: false}
ssh:
  keys_file: ./ssh-keys
  authorized_keys: ${path.join(dir, 'authorized_keys')}
  socket: ${path.join(dir, 'run', 'gitward.sock')}
`;
}

/** Runs the gitward CLI; resolves with its exit code and output. */
function cli(
  args: readonly string[],
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Runs ssh against the test sshd with `extra` options and a remote command; never throws on failure. */
function ssh(
  sshd: SshdInstance,
  key: string | null,
  extra: readonly string[],
  command: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [, ...opts] = gitSshCommand(sshd, key).split(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...opts, ...extra, '127.0.0.1', ...command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** gitward in-process (the composition root of `gitward serve`): HTTP on port 0, SSH on ssh.socket. */
async function startGitwardForSsh(dir: string, cfg: string): Promise<{ close(): Promise<void> }> {
  const backendPath = await gitHttpBackendPath();
  const { runtime, server } = await startTestServer(
    { configFile: cfg, dir },
    { logger: createMemoryLogger(), audit: createMemoryAuditSink(), backendPath },
  );
  return {
    close: async () => {
      runtime.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function auditLines(dir: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(path.join(dir, 'audit.log'))) return [];
  return fs
    .readFileSync(path.join(dir, 'audit.log'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.mode === 'ssh' && 'keyFingerprint' in r);
}

test('git over SSH: the same users, ACL, branch rules and audit as HTTP, through Debian sshd', async (t) => {
  const dir = tempDir(t, 'gitward-ssh-');
  const cfg = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(cfg, config(dir, true));
  const sshd = await startSshd(t, dir, path.join(dir, 'authorized_keys'));
  if (sshd === null) return;
  t.after(() => sshd.stop());
  // The running gitward the forced command hands each session to, on a socket in a 0750 folder.
  fs.mkdirSync(path.join(dir, 'run'), { mode: 0o750 });
  const server = await startGitwardForSsh(dir, cfg);
  t.after(() => server.close());

  fs.mkdirSync(path.join(dir, 'repos'));
  for (const repo of ['web/site', 'secret']) {
    const r = await cli(['repo', 'create', repo, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
  }
  const keys = path.join(dir, 'keys');
  fs.mkdirSync(keys);
  const k = (name: string) => path.join(keys, name);
  const annPub = await makeKey(k('ann'), 'ed25519');
  const benPub = await makeKey(k('ben'), 'rsa', 3072);
  const danPub = await makeKey(k('dan'), 'ed25519');
  await makeKey(k('stranger'), 'ed25519');
  for (const [user, pub] of [
    ['ann', annPub],
    ['ben', benPub],
    ['dan', danPub],
  ] as const) {
    const r = await cli(['key', 'add', user, '-', '--config', cfg], pub);
    assert.equal(r.code, 0, r.stderr);
  }
  const home = path.join(dir, 'home');
  const envFor = (key: string | null, extra: Record<string, string> = {}) =>
    gitEnv(home, { GIT_SSH_COMMAND: gitSshCommand(sshd, key), ...extra });
  const url = `ssh://127.0.0.1:${sshd.port}/web/site.git`;
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);

  await t.test('ann pushes, clones and fetches; the audit line names her key', async () => {
    const src = path.join(work, 'src');
    const env = envFor(k('ann'));
    await gitOk(['init', '-q', '-b', 'main', src], { cwd: work, env });
    fs.writeFileSync(path.join(src, 'a.txt'), 'one\n');
    await gitOk(['add', '.'], { cwd: src, env });
    await gitOk(['commit', '-q', '-m', 'one'], { cwd: src, env });
    await gitOk(['push', url, 'main'], { cwd: src, env, timeoutMs: GIT_TIMEOUT_MS });
    await gitOk(['clone', '-q', url, path.join(work, 'clone')], { cwd: work, env, timeoutMs: GIT_TIMEOUT_MS });
    assert.equal(fs.readFileSync(path.join(work, 'clone', 'a.txt'), 'utf8'), 'one\n');
    fs.writeFileSync(path.join(src, 'a.txt'), 'two\n');
    await gitOk(['commit', '-q', '-am', 'two'], { cwd: src, env });
    await gitOk(['push', url, 'main'], { cwd: src, env, timeoutMs: GIT_TIMEOUT_MS });
    await gitOk(['fetch', '-q'], { cwd: path.join(work, 'clone'), env, timeoutMs: GIT_TIMEOUT_MS });
    assert.equal(
      await gitOk(['rev-parse', 'origin/main'], { cwd: path.join(work, 'clone'), env }),
      await gitOk(['rev-parse', 'HEAD'], { cwd: src, env }),
    );
    // scp-like syntax reaches the same repo.
    assert.match(
      await gitOk(['ls-remote', '127.0.0.1:web/site.git'], { cwd: work, env, timeoutMs: GIT_TIMEOUT_MS }),
      /refs\/heads\/main/,
    );
    // git archive --remote runs git-upload-archive, a read.
    const tar = await gitOk(['archive', '--remote', url, '--format=tar', 'main', 'a.txt'], {
      cwd: work,
      env,
      timeoutMs: GIT_TIMEOUT_MS,
    });
    assert.ok(tar.includes('a.txt\0') && tar.includes('two\n'), 'the archive holds a.txt as pushed');
    const pushes = auditLines(dir).filter((r) => r.service === 'git-receive-pack');
    assert.ok(pushes.length >= 2);
    const last = pushes[pushes.length - 1] as Record<string, unknown>;
    assert.equal(last.user, 'ann');
    assert.equal(last.repo, 'web/site');
    assert.equal(last.decision, 'allowed');
    assert.equal(last.exitCode, 0);
    assert.match(String(last.keyFingerprint), /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.ok((last.bytesIn as number) > 0 && (last.bytesOut as number) > 0);
    assert.equal(typeof last.durationMs, 'number');
    assert.equal(last.remoteAddr, '127.0.0.1');
  });

  await t.test(
    'hooks get the HTTP environment: GITWARD_USER, GROUPS, INFO, REPO, REQUEST_ID, CONFIG, LOG_DIR, and replace objects off',
    async () => {
      const hookDir = path.join(dir, 'repos', 'web', 'site.git', 'hooks');
      const dump = path.join(dir, 'hook-env.json');
      fs.writeFileSync(
        path.join(hookDir, 'update'),
        `#!/bin/sh\nnode -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.env))' ${dump}\n`,
        { mode: 0o755 },
      );
      t.after(() => fs.rmSync(path.join(hookDir, 'update'), { force: true }));
      const src = path.join(work, 'src');
      const env = envFor(k('ann'));
      await gitOk(['commit', '-q', '--allow-empty', '-m', 'env'], { cwd: src, env });
      await gitOk(['push', url, 'main'], { cwd: src, env, timeoutMs: GIT_TIMEOUT_MS });
      const seen = JSON.parse(fs.readFileSync(dump, 'utf8')) as Record<string, string>;
      assert.equal(seen.GITWARD_USER, 'ann');
      assert.deepEqual(JSON.parse(seen.GITWARD_GROUPS ?? ''), ['eng']);
      assert.equal((JSON.parse(seen.GITWARD_INFO ?? '{}') as { email?: string }).email, 'ann@example.org');
      assert.equal(seen.GITWARD_REPO, 'web/site');
      assert.equal(seen.GITWARD_CONFIG, cfg);
      assert.match(seen.GITWARD_REQUEST_ID ?? '', /^[0-9a-f]{16}$/);
      assert.ok(seen.GITWARD_LOG_DIR);
      assert.equal(seen.GIT_NO_REPLACE_OBJECTS, '1');
      assert.equal(seen.SSH_ORIGINAL_COMMAND, undefined, "the client's command is not passed on");
      const line = auditLines(dir).find((r) => r.requestId === seen.GITWARD_REQUEST_ID);
      assert.ok(line, 'the audit line carries the request id the hooks saw');
    },
  );

  await t.test('protocol v2 and a shallow clone', async () => {
    const r = await git(['-c', 'protocol.version=2', 'ls-remote', url], {
      cwd: work,
      env: envFor(k('ann'), { GIT_TRACE_PACKET: '1' }),
      timeoutMs: GIT_TIMEOUT_MS,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /packet: +ls-remote< version 2$/m);
    assert.match(r.stdout, /refs\/heads\/main/);
    await gitOk(['clone', '-q', '--depth', '1', url, path.join(work, 'shallow')], {
      cwd: work,
      env: envFor(k('ann')),
      timeoutMs: GIT_TIMEOUT_MS,
    });
    assert.equal(
      (await gitOk(['rev-list', '--count', 'HEAD'], { cwd: path.join(work, 'shallow'), env: envFor(null) })).trim(),
      '1',
    );
  });

  await t.test('a read-only user reads, and her push is refused before any pack is sent', async () => {
    const env = envFor(k('ben'));
    await gitOk(['ls-remote', url], { cwd: work, env, timeoutMs: GIT_TIMEOUT_MS });
    const src = path.join(work, 'src');
    const r = await git(['push', url, 'main:refs/heads/ben'], { cwd: src, env, timeoutMs: GIT_TIMEOUT_MS });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^gitward: you may not push to web\/site$/m);
    const line = auditLines(dir).at(-1) as Record<string, unknown>;
    assert.equal(line.user, 'ben');
    assert.equal(line.decision, 'denied');
    assert.equal(line.bytesIn, 0);
  });

  await t.test('a repo the user may not read and a missing repo give the same message', async () => {
    const env = envFor(k('ann'));
    const hidden = await git(['ls-remote', `ssh://127.0.0.1:${sshd.port}/secret.git`], {
      cwd: work,
      env,
      timeoutMs: GIT_TIMEOUT_MS,
    });
    const missing = await git(['ls-remote', `ssh://127.0.0.1:${sshd.port}/nope.git`], {
      cwd: work,
      env,
      timeoutMs: GIT_TIMEOUT_MS,
    });
    assert.notEqual(hidden.code, 0);
    assert.notEqual(missing.code, 0);
    assert.equal(hidden.stderr.replace('secret', 'X'), missing.stderr.replace('nope', 'X'));
    assert.match(hidden.stderr, /^gitward: repository secret not found$/m);
  });

  await t.test('a branch-protect refusal shows as remote: lines', async () => {
    const env = envFor(k('ann'));
    const r = await git(['push', url, 'main:refs/heads/release/1'], {
      cwd: path.join(work, 'src'),
      env,
      timeoutMs: GIT_TIMEOUT_MS,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^remote: .*refs\/heads\/release\/1.*branch-protect/m);
    assert.match(r.stderr, /\[remote rejected\] main -> release\/1 \(pre-receive hook declined\)/);
  });

  await t.test('a wrong key and no key are refused by sshd', async () => {
    for (const key of [k('stranger'), null]) {
      const r = await git(['ls-remote', url], { cwd: work, env: envFor(key), timeoutMs: GIT_TIMEOUT_MS });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Permission denied \(publickey\)/);
    }
  });

  await t.test('hostile commands are refused with one line and never reach a shell', async () => {
    const canary = path.join(dir, 'pwned');
    const hostile: ReadonlyArray<[string, RegExp]> = [
      ["git-upload-pack '../secret.git'", /invalid repository name/],
      ["git-upload-pack 'web/../secret.git'", /invalid repository name/],
      ["git-upload-pack '/etc/passwd'", /not found/],
      [`git-upload-pack '${path.join(dir, 'repos', 'web', 'site.git')}'`, /not found|invalid repository name/],
      ["git-upload-pack 'web/site.git' 'secret.git'", /exactly one quoted repository argument/],
      ['git-upload-pack web/site.git', /exactly one quoted repository argument/],
      [`git-upload-pack 'web/site.git'; touch ${canary}`, /exactly one quoted repository argument/],
      [`git-upload-pack 'web/site.git' && touch ${canary}`, /exactly one quoted repository argument/],
      [`git-upload-pack '$(touch ${canary})'`, /invalid repository name/],
      [`git-upload-pack '\`touch ${canary}\`'`, /invalid repository name/],
      [`git-upload-pack 'web/site.git'\ntouch ${canary}`, /exactly one quoted repository argument/],
      [`touch ${canary}`, /only git-upload-pack, git-receive-pack and git-upload-archive/],
      ['sh', /only git-upload-pack/],
      ['git-upload-pack --help', /exactly one quoted repository argument/],
      ['git upload-pack web/site.git', /only git-upload-pack/],
      ["git-shell -c 'git-upload-pack web/site.git'", /only git-upload-pack/],
      ['scp -t /tmp', /only git-upload-pack/],
    ];
    for (const [command, why] of hostile) {
      const r = await ssh(sshd, k('ann'), [], [command]);
      assert.equal(r.code, 1, command);
      assert.equal(r.stdout, '', command);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${command}: ${r.stderr}`);
      assert.match(lines[0] as string, /^gitward: /, command);
      assert.match(lines[0] as string, why, command);
    }
    // A shell, with and without a pty: sshd gives no pty (restrict, PermitTTY no), gitward no shell.
    const shell = await ssh(sshd, k('ann'), [], []);
    assert.equal(shell.code, 1, shell.stderr);
    assert.match(shell.stderr, /^gitward: interactive shells are not allowed/m);
    const pty = await ssh(sshd, k('ann'), ['-tt'], []);
    // sshd refuses the pty (PermitTTY no, restrict); ssh -tt gives up on that refusal (255).
    assert.notEqual(pty.code, 0, pty.stderr);
    assert.match(pty.stderr, /PTY allocation request failed/);
    assert.doesNotMatch(pty.stdout, /[$#] $/);
    assert.equal(fs.existsSync(canary), false);
  });

  await t.test('gitward doctor checks an ssh:// URL', async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        GIT_SSH_COMMAND: gitSshCommand(sshd, k('ann')),
      };
      const child = spawn(process.execPath, [MAIN, 'doctor', url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^ok {3}ssh ls-remote \(protocol v2\): protocol v2 negotiated$/m);
    assert.match(r.out, /^all checks passed$/m);
    const wrong = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        GIT_SSH_COMMAND: gitSshCommand(sshd, k('stranger')),
      };
      const child = spawn(process.execPath, [MAIN, 'doctor', url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /likely cause: sshd did not accept the key: add it with `gitward key add USER FILE`/);
  });

  await t.test('a 100 MB push and its clone', async () => {
    const big = path.join(work, 'big');
    const env = envFor(k('ann'));
    await gitOk(['init', '-q', '-b', 'big', big], { cwd: work, env });
    fs.writeFileSync(path.join(big, 'random.bin'), crypto.randomBytes(BIG_PUSH_BYTES));
    // Random bytes do not compress: level 0 skips the CPU seconds zlib would spend trying, and the
    // pack still carries all 100 MB.
    await gitOk(['-c', 'core.compression=0', 'add', '.'], { cwd: big, env });
    await gitOk(['commit', '-q', '-m', 'big'], { cwd: big, env });
    await gitOk(['-c', 'pack.compression=0', 'push', '-q', url, 'big'], {
      cwd: big,
      env,
      timeoutMs: 10 * GIT_TIMEOUT_MS,
    });
    const line = auditLines(dir).at(-1) as Record<string, unknown>;
    assert.equal(line.service, 'git-receive-pack');
    assert.ok((line.bytesIn as number) > BIG_PUSH_BYTES, `bytesIn ${String(line.bytesIn)}`);
    await gitOk(['clone', '-q', '--no-checkout', '-b', 'big', url, path.join(work, 'big-clone')], {
      cwd: work,
      env,
      timeoutMs: 10 * GIT_TIMEOUT_MS,
    });
    const cloned = auditLines(dir).at(-1) as Record<string, unknown>;
    assert.ok((cloned.bytesOut as number) > BIG_PUSH_BYTES);
  });

  await t.test("a deleted user's key stops working at once, and so does a deleted key", async () => {
    const env = envFor(k('dan'));
    await gitOk(['ls-remote', url], { cwd: work, env, timeoutMs: GIT_TIMEOUT_MS });
    fs.writeFileSync(cfg, config(dir, false));
    const r = await git(['ls-remote', url], { cwd: work, env, timeoutMs: GIT_TIMEOUT_MS });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^gitward: this key is not \(or no longer\) accepted$/m);
    // ben's key deleted with gitward key: authorized_keys no longer lists it.
    const fp = (await cli(['key', 'list', 'ben', '--config', cfg])).stdout.split(' ')[1] ?? '';
    assert.equal((await cli(['key', 'delete', 'ben', fp, '--config', cfg])).code, 0);
    const gone = await git(['ls-remote', url], { cwd: work, env: envFor(k('ben')), timeoutMs: GIT_TIMEOUT_MS });
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /Permission denied \(publickey\)/);
  });

  await t.test('every session wrote exactly one audit line', () => {
    const lines = auditLines(dir);
    const ids = new Set(lines.map((l) => l.requestId));
    assert.equal(ids.size, lines.length);
    for (const l of lines)
      for (const f of ['user', 'keyFingerprint', 'repo', 'service', 'bytesIn', 'bytesOut', 'exitCode', 'durationMs'])
        assert.ok(f in l, f);
  });
});
