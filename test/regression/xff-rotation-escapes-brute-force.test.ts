/**
 * Regression (issue 11 §2): in standalone mode a local client rotating X-Forwarded-For (or
 * X-Real-IP) on each failed login escaped the brute-force limit, because 127.0.0.1 was a trusted
 * proxy by default. With no proxy configured, no forwarded-address header is believed: the
 * failures all count against the real peer, which is throttled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditLines, basic, send, startGuarded } from './harness.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';
const MAX_FAILURES = 3;

for (const header of ['X-Forwarded-For', 'X-Real-IP'] as const) {
  test(`rotating ${header} from a local TCP client does not escape the brute-force limit (default server.trusted_proxies)`, async (t) => {
    const gw = await startGuarded(t, {
      backend: 'dump',
      users: { ann: 'ann-pw' },
      // No server.trusted_proxies: the default is in force.
      config: {
        brute_force: { max_failures: MAX_FAILURES, window_seconds: 300 },
        users: { ann: { groups: ['eng'] } },
        repos: { 'x.git': { '.read': ['@eng'] } },
      },
      repos: ['x'],
    });
    const statuses: number[] = [];
    for (let i = 1; i <= MAX_FAILURES + 3; i++) {
      const r = await send(gw, {
        path: ADV,
        headers: { Authorization: basic('ann', `guess-${i}`), [header]: `198.51.100.${i}` },
      });
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [...Array(MAX_FAILURES).fill(401), 429, 429, 429]);
    // The right password from a "new" address is throttled too: the limit is on the peer.
    const right = await send(gw, {
      path: ADV,
      headers: { Authorization: basic('ann', 'ann-pw'), [header]: '203.0.113.77' },
    });
    assert.equal(right.status, 429);
    const records = await auditLines(gw, MAX_FAILURES + 4);
    assert.deepEqual(
      [...new Set(records.map((r) => r.remoteAddr))],
      ['127.0.0.1'],
      'no forwarded address was believed',
    );
    const failed = gw.logs.lines.filter((l) => l.event === 'auth.failed');
    assert.equal(failed.length, MAX_FAILURES);
    assert.ok(
      failed.every((l) => l.client === '127.0.0.1'),
      JSON.stringify(failed),
    );
    assert.deepEqual(gw.runs(), [], 'git never ran');
  });
}
