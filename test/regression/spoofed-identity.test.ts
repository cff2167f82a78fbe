/**
 * Regression: spoofed identity headers from peers that are not trusted proxies. The remote-user
 * header (and X-Forwarded-For / X-Real-IP / Forwarded naming a trusted proxy) from 127.0.0.1,
 * which is NOT in trusted_proxies here, must not authenticate anyone, must not reach git, and
 * must not move the client address the brute-force limiter counts against.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoBackend, auditLines, basic, send, startGuarded } from './harness.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';
const PROXY = '10.9.8.7';

function config(trusted: string[]): Record<string, unknown> {
  return {
    authentication: [
      { plugin: 'remote-user', header: 'X-Remote-User', trusted_proxies: trusted },
      { plugin: 'htpasswd', file: 'users.htpasswd' },
    ],
    server: { trusted_proxies: trusted },
    brute_force: { max_failures: 3, window_seconds: 300 },
    users: { ann: { groups: ['eng'] } },
    repos: { 'x.git': { '.read': ['@eng'] } },
  };
}

test('identity headers from an untrusted peer authenticate nobody and never reach git', async (t) => {
  const gw = await startGuarded(t, {
    backend: 'dump',
    users: { ann: 'ann-pw' },
    config: config([`${PROXY}/32`]),
    repos: ['x'],
  });
  const spoofs: Array<[string, Record<string, string>]> = [
    ['the remote-user header alone', { 'X-Remote-User': 'ann' }],
    ['plus X-Forwarded-For naming the trusted proxy', { 'X-Remote-User': 'ann', 'X-Forwarded-For': PROXY }],
    ['plus X-Real-IP naming the trusted proxy', { 'X-Remote-User': 'ann', 'X-Real-IP': PROXY }],
    ['plus Forwarded naming the trusted proxy', { 'X-Remote-User': 'ann', Forwarded: `for=${PROXY}` }],
    ['in lower case', { 'x-remote-user': 'ann' }],
  ];
  let n = 0;
  for (const [what, headers] of spoofs) {
    await t.test(`${what} → 401`, async () => {
      const r = await send(gw, { path: ADV, headers });
      n++;
      assert.equal(r.status, 401, r.body.toString());
      const records = await assertNoBackend(gw, n).then(() => gw.audit.records);
      assert.equal(records[n - 1]?.user, null);
      assert.equal(records[n - 1]?.remoteAddr, '127.0.0.1');
    });
  }
  assert.ok(gw.logs.lines.some((l) => l.event === 'auth.remote_user_untrusted'));

  await t.test('a real password still works next to a spoofed header, and the header never reaches git', async () => {
    const r = await send(gw, {
      path: ADV,
      headers: { 'X-Remote-User': 'root', Authorization: basic('ann', 'ann-pw') },
    });
    n++;
    assert.equal(r.status, 200, r.body.toString());
    const env = JSON.parse(r.body.toString()) as Record<string, string>;
    assert.equal(env.REMOTE_USER, 'ann');
    assert.equal(env.HTTP_X_REMOTE_USER, undefined);
    assert.equal(env.REMOTE_ADDR, '127.0.0.1');
  });

  await t.test('rotating X-Forwarded-For does not escape the failed-login limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await send(gw, {
        path: ADV,
        headers: { Authorization: basic('ann', `wrong-${i}`), 'X-Forwarded-For': `192.0.2.${i + 1}` },
      });
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    const records = await auditLines(gw, n + 5);
    for (const rec of records.slice(n)) assert.equal(rec.remoteAddr, '127.0.0.1');
  });
});

test('control: the same header from a trusted peer authenticates, and still never reaches git', async (t) => {
  const gw = await startGuarded(t, {
    backend: 'dump',
    users: { ann: 'ann-pw' },
    config: config(['127.0.0.1/32']),
    repos: ['x'],
  });
  const r = await send(gw, { path: ADV, headers: { 'X-Remote-User': 'ann' } });
  assert.equal(r.status, 200, r.body.toString());
  const env = JSON.parse(r.body.toString()) as Record<string, string>;
  assert.equal(env.REMOTE_USER, 'ann');
  assert.equal(env.HTTP_X_REMOTE_USER, undefined);
  const [record] = await auditLines(gw, 1);
  assert.equal(record?.user, 'ann');
  assert.equal(record?.authSource, 'remote-user');
});
