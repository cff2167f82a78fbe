/**
 * Regression (issue 11 §2): `sidecar.enabled` defaulted to true, and the shipped proxy site
 * forwards `/`, so /_gitward/auth answered the internet: a password oracle that also told a user's
 * groups and info in X-Gitward-* headers. The endpoint now exists only when sidecar mode is
 * configured; without it the path is an ordinary (invalid) git URL, and a right password and a
 * wrong one get the same answer. Over real requests through gitward.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoBackend, basic, send, startGuarded } from './harness.js';

const SUBREQUEST = { 'X-Original-URI': '/x.git/info/refs?service=git-upload-pack', 'X-Original-Method': 'GET' };

function options(sidecar: Record<string, unknown> | null) {
  return {
    users: { ann: 'ann-pw' },
    config: {
      ...(sidecar === null ? {} : { sidecar }),
      brute_force: { max_failures: 100, window_seconds: 300 },
      users: { ann: { groups: ['eng'], info: { email: 'ann@example.org' } } },
      repos: { 'x.git': { '.read': ['@eng'] } },
    },
    repos: ['x'],
  };
}

test('password oracle: without sidecar mode configured, /_gitward/auth answers a right and a wrong password alike, with no identity headers', async (t) => {
  const gw = await startGuarded(t, { backend: 'dump', ...options(null) });
  const right = await send(gw, {
    path: '/_gitward/auth',
    headers: { ...SUBREQUEST, Authorization: basic('ann', 'ann-pw') },
  });
  const wrong = await send(gw, {
    path: '/_gitward/auth',
    headers: { ...SUBREQUEST, Authorization: basic('ann', 'nope') },
  });
  assert.equal(right.status, wrong.status);
  assert.ok(right.status >= 400 && right.status < 500, `got ${right.status}`);
  assert.notEqual(right.status, 204);
  assert.equal(right.body.toString(), wrong.body.toString());
  for (const r of [right, wrong]) {
    assert.ok(!Object.keys(r.headers).some((h) => h.startsWith('x-gitward-')), JSON.stringify(r.headers));
  }
  await assertNoBackend(gw, 2);
  assert.ok(!gw.logs.lines.some((l) => String(l.event).startsWith('sidecar.')), 'the sidecar handler ran');
  assert.ok(gw.audit.records.every((r) => r.mode === 'proxy'));
});

test('with sidecar.enabled: true the endpoint answers (the control: the oracle test above can fail)', async (t) => {
  const gw = await startGuarded(t, { backend: 'dump', ...options({ enabled: true }) });
  const right = await send(gw, {
    path: '/_gitward/auth',
    headers: { ...SUBREQUEST, Authorization: basic('ann', 'ann-pw') },
  });
  assert.equal(right.status, 204);
  assert.equal(right.headers['x-gitward-user'], 'ann');
  const wrong = await send(gw, {
    path: '/_gitward/auth',
    headers: { ...SUBREQUEST, Authorization: basic('ann', 'nope') },
  });
  assert.equal(wrong.status, 401);
});
