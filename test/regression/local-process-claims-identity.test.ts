/**
 * Regression (issue 11 §2): loopback is not a trust boundary. Any local user can connect to
 * 127.0.0.1; the remote-user plugin used to believe its header from 127.0.0.1/32, so a local process
 * could push as anyone. Now the header is believed by default over the unix socket only, or from a
 * request carrying the secret of `secret_file` (what nginx adds); a TCP trust list must be written
 * out, and `gitward check` warns about it. Real pushes with the git CLI through gitward over TCP.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { check } from '../../app/cli/commands/check.js';
import { runGit, send, startGuarded, workTree } from './harness.js';

const SECRET = 'b5f1c0a4e0d24f5c9a7e3d1b8c6f2a90d4e7b1c3a5f8e2d6';

function config(plugin: Record<string, unknown>): Record<string, unknown> {
  return {
    authentication: [
      { plugin: 'remote-user', ...plugin },
      { plugin: 'htpasswd', file: 'users.htpasswd' },
    ],
    users: { admin: { groups: ['ops'] }, ann: {} },
    repos: { '.read': ['@ops'], '.write': ['@ops'] },
  };
}

/** A push to x.git over 127.0.0.1 that sends `headers` as a proxy would (http.extraHeader). */
async function pushWith(
  gw: Awaited<ReturnType<typeof startGuarded>>,
  headers: string[],
): Promise<{ code: number | null; stderr: string }> {
  const work = fs.mkdtempSync(path.join(gw.dir, 'work-'));
  await workTree(work, gw.gitEnv);
  const extra = headers.flatMap((h) => ['-c', `http.extraHeader=${h}`]);
  return runGit([...extra, 'push', gw.url('x'), 'HEAD:refs/heads/main'], { cwd: work, env: gw.gitEnv });
}

test('a local process that sends X-Remote-User over 127.0.0.1 is nobody: the default trusts the unix socket only', async (t) => {
  const gw = await startGuarded(t, { users: { ann: 'ann-pw' }, config: config({}), repos: ['x'] });
  const r = await pushWith(gw, ['X-Remote-User: admin']);
  assert.notEqual(r.code, 0, 'the push must fail');
  assert.deepEqual(gw.runs(), [], 'git never ran');
  assert.ok(
    gw.audit.records.every((a) => a.user === null),
    JSON.stringify(gw.audit.records),
  );
  assert.ok(gw.logs.lines.some((l) => l.event === 'auth.remote_user_untrusted' && l.peer === '127.0.0.1'));
});

test('with secret_file the header is believed only with the secret, which never reaches git', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'ann-pw' },
    config: config({}),
    repos: ['x'],
    files: { 'proxy.secret': `${SECRET}\n` },
  });
  fs.chmodSync(path.join(gw.dir, 'proxy.secret'), 0o600);
  gw.writeConfig(config({ secret_file: 'proxy.secret' }));
  assert.equal(await gw.runtime.reload('test'), true, JSON.stringify(gw.runtime.lastFailure()));

  const wrong = await pushWith(gw, ['X-Remote-User: admin', `X-Gitward-Proxy-Secret: ${SECRET.slice(0, -1)}x`]);
  assert.notEqual(wrong.code, 0, 'a wrong secret believes nobody');
  assert.deepEqual(gw.runs(), []);

  const right = await pushWith(gw, ['X-Remote-User: admin', `X-Gitward-Proxy-Secret: ${SECRET}`]);
  assert.equal(right.code, 0, right.stderr);
  const runs = gw.runs();
  assert.ok(runs.length > 0);
  for (const env of runs) {
    assert.equal(env.REMOTE_USER, 'admin');
    assert.equal(env.HTTP_X_REMOTE_USER, undefined);
    assert.equal(env.HTTP_X_GITWARD_PROXY_SECRET, undefined);
    assert.ok(!Object.values(env).some((v) => v.includes(SECRET)), 'the secret reached git');
  }
  // That the secret never reaches a log line is checked through the production logger, in
  // secrets-in-logs.test.ts.
  assert.ok(!JSON.stringify(gw.audit.records).includes(SECRET));
});

test('a world-readable or short secret_file stops the load', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'ann-pw' },
    config: config({}),
    repos: ['x'],
    files: { 'open.secret': `${SECRET}\n`, 'short.secret': 'abc\n' },
  });
  fs.chmodSync(path.join(gw.dir, 'open.secret'), 0o644);
  fs.chmodSync(path.join(gw.dir, 'short.secret'), 0o600);
  const io = (): { err: string[]; io: Parameters<typeof check>[1] } => {
    const err: string[] = [];
    return {
      err,
      io: {
        stdout: { write: () => true },
        stderr: { write: (s: string) => err.push(s) },
        env: {},
        cwd: gw.dir,
      } as unknown as Parameters<typeof check>[1],
    };
  };
  for (const [file, why] of [
    ['open.secret', /readable by every user/],
    ['short.secret', /at least 32 printable characters/],
  ] as const) {
    gw.writeConfig(config({ secret_file: file }));
    const c = io();
    assert.equal(await check(['--config', gw.configFile], c.io), 78);
    assert.match(c.err.join(''), why);
  }
});

test('gitward check warns about a TCP trust list (server.trusted_proxies and remote-user), and not about [unix]', async (t) => {
  const gw = await startGuarded(t, { users: { ann: 'ann-pw' }, config: config({}), repos: ['x'] });
  const run = async (): Promise<string> => {
    const err: string[] = [];
    const io = {
      stdout: { write: () => true },
      stderr: { write: (s: string) => err.push(s) },
      env: {},
      cwd: gw.dir,
    } as unknown as Parameters<typeof check>[1];
    assert.equal(await check(['--config', gw.configFile], io), 0, err.join(''));
    return err.join('');
  };
  assert.doesNotMatch(await run(), /warning/);
  gw.writeConfig({
    ...config({ trusted_proxies: ['127.0.0.1/32'] }),
    server: { trusted_proxies: ['unix', '127.0.0.1'] },
  });
  const out = await run();
  assert.match(out, /gitward\.yaml:\d+: warning: server\.trusted_proxies: trusts TCP peers \(127\.0\.0\.1\)/);
  assert.match(
    out,
    /gitward\.yaml:\d+: warning: authentication\[0\]\.trusted_proxies: trusts TCP peers \(127\.0\.0\.1\/32\)/,
  );
  // An explicit TCP list still works: it is the admin's written choice, warned about.
  assert.equal(await gw.runtime.reload('test'), true);
  const r = await send(gw, { path: '/x.git/info/refs?service=git-upload-pack', headers: { 'X-Remote-User': 'admin' } });
  assert.equal(r.status, 200, r.body.toString());
});
