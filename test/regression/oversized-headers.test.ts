/**
 * Regression: oversized request headers are refused with 431 by the HTTP parser, before any
 * route, authentication or backend, and the server keeps serving.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, send, sendRaw, startGuarded } from './harness.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';

test('oversized headers get 431, no backend, and the server keeps serving', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: { repos: { '.read': ['$all'], 'x.git': {} } },
    repos: ['x'],
  });
  const cases: Array<[string, string]> = [
    ['one 20 KB header', `X-Big: ${'a'.repeat(20 * 1024)}\r\n`],
    ['a 20 KB Authorization header', `Authorization: Basic ${'A'.repeat(20 * 1024)}\r\n`],
    ['a 20 KB remote-user header', `X-Remote-User: ${'a'.repeat(20 * 1024)}\r\n`],
    ['1000 small headers', Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}\r\n`).join('')],
    ['a 1 MB header', `X-Huge: ${'b'.repeat(1024 * 1024)}\r\n`],
  ];
  for (const [what, headers] of cases) {
    await t.test(`${what} → 431`, async () => {
      const r = await sendRaw(gw, `GET ${ADV} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);
      assert.equal(r.status, 431);
      assert.deepEqual(gw.runs(), []);
    });
  }
  await t.test('a 20 KB URL is refused too (431 or 414), never routed', async () => {
    const r = await sendRaw(
      gw,
      `GET /${'a/'.repeat(10 * 1024)}x.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.ok([414, 431].includes(r.status), String(r.status));
    assert.deepEqual(gw.runs(), []);
  });
  await t.test('none of them reached the app (no audit line), and the server still serves', async () => {
    assert.equal(gw.audit.records.length, 0);
    const r = await send(gw, { path: ADV, headers: { Authorization: basic('ann', 'pw') } });
    assert.equal(r.status, 200);
    assert.equal(gw.runs().length, 1);
  });
});
