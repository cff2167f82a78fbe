/**
 * Regression: with hide_existence (the default) a repo a user may not read is indistinguishable
 * from one that does not exist — same status, same headers, same body but for the name — for
 * every route, for a signed-in user and for anonymous; the backend never starts for either.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoBackend, basic, send, startGuarded, type RawResponse } from './harness.js';

/** Headers that differ per request whatever the repo. */
const VOLATILE = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

function shape(r: RawResponse, name: string): { status: number; headers: Record<string, unknown>; body: string } {
  const headers = Object.fromEntries(Object.entries(r.headers).filter(([k]) => !VOLATILE.has(k)));
  // Content-Length follows the name's length; compare the body with the name taken out instead.
  delete headers['content-length'];
  return { status: r.status, headers, body: r.body.toString().split(name).join('<repo>') };
}

test('a hidden repo answers exactly like a missing one', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw', ben: 'pw' },
    config: {
      brute_force: { max_failures: 1000, window_seconds: 1 },
      repos: {
        'open.git': { '.read': ['$all'] },
        'hidden.git': { '.read': ['ann'], '.write': ['ann'] },
        'team.git': { '.read': ['ann'] },
      },
    },
    repos: ['open', 'hidden'],
  });
  const routes: Array<[string, string, string]> = [
    ['GET', '/info/refs?service=git-upload-pack', ''],
    ['GET', '/info/refs?service=git-receive-pack', ''],
    ['POST', '/git-upload-pack', '0000'],
    ['POST', '/git-receive-pack', '0000'],
  ];
  const who: Array<[string, Record<string, string>]> = [
    ['ben', { Authorization: basic('ben', 'pw') }],
    ['anonymous', {}],
    ['a wrong password', { Authorization: basic('ann', 'nope') }],
  ];
  let n = 0;
  for (const [whoName, auth] of who) {
    for (const [method, suffix, body] of routes) {
      await t.test(`${whoName}: ${method} ${suffix}`, async () => {
        const headers = { ...auth, ...(body ? { 'Content-Type': 'application/x-git-upload-pack-request' } : {}) };
        // `hidden` exists on disk, `missing` does not; `team` is in the config but not on disk.
        const hidden = await send(gw, { method, path: `/hidden.git${suffix}`, headers, body: body || undefined });
        const missing = await send(gw, { method, path: `/missing.git${suffix}`, headers, body: body || undefined });
        const team = await send(gw, { method, path: `/team.git${suffix}`, headers, body: body || undefined });
        n += 3;
        assert.ok([401, 403, 404].includes(hidden.status), `status ${hidden.status}`);
        assert.deepEqual(shape(hidden, 'hidden'), shape(missing, 'missing'));
        assert.deepEqual(shape(team, 'team'), shape(missing, 'missing'));
        await assertNoBackend(gw, n);
      });
    }
  }
  await t.test('control: ann reads the hidden repo', async () => {
    const r = await send(gw, {
      path: '/hidden.git/info/refs?service=git-upload-pack',
      headers: { Authorization: basic('ann', 'pw') },
    });
    assert.equal(r.status, 200);
  });
});
