/**
 * Regression: httpoxy (CVE-2016-5385 and kin). A `Proxy:` request header must never reach git's
 * environment as HTTP_PROXY, where curl (and git's own http code in hooks) would take it as the
 * outgoing proxy. The backend here dumps its environment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { send, sendRaw, startGuarded } from './harness.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';
const EVIL = 'http://attacker.invalid:3128';

test('a Proxy header never becomes HTTP_PROXY (or any variable) in the CGI environment', async (t) => {
  const gw = await startGuarded(t, {
    backend: 'dump',
    config: { repos: { '.read': ['$all'], 'x.git': {} } },
    repos: ['x'],
  });
  const variants: Array<[string, () => ReturnType<typeof send>]> = [
    ['Proxy', () => send(gw, { path: ADV, headers: { Proxy: EVIL } })],
    [
      'lower-case proxy',
      () => sendRaw(gw, `GET ${ADV} HTTP/1.1\r\nHost: x\r\nproxy: ${EVIL}\r\nConnection: close\r\n\r\n`),
    ],
    [
      'upper-case PROXY',
      () => sendRaw(gw, `GET ${ADV} HTTP/1.1\r\nHost: x\r\nPROXY: ${EVIL}\r\nConnection: close\r\n\r\n`),
    ],
    [
      'Proxy sent twice',
      () =>
        sendRaw(gw, `GET ${ADV} HTTP/1.1\r\nHost: x\r\nProxy: ${EVIL}\r\nProxy: ${EVIL}\r\nConnection: close\r\n\r\n`),
    ],
    [
      'Proxy-Authorization',
      () =>
        send(gw, {
          path: ADV,
          headers: { 'Proxy-Authorization': `Basic ${Buffer.from(EVIL).toString('base64')}`, Proxy: EVIL },
        }),
    ],
    [
      'Proxy on a POST',
      () =>
        send(gw, {
          method: 'POST',
          path: '/x.git/git-upload-pack',
          headers: { Proxy: EVIL, 'Content-Type': 'application/x-git-upload-pack-request' },
          body: '0000',
        }),
    ],
  ];
  for (const [what, go] of variants) {
    await t.test(what, async () => {
      const before = gw.runs().length;
      const r = await go();
      assert.equal(r.status, 200, r.body.toString());
      const env = JSON.parse(r.body.toString()) as Record<string, string>;
      assert.equal(env.HTTP_PROXY, undefined);
      assert.equal(env.HTTP_PROXY_AUTHORIZATION, undefined);
      for (const [k, v] of Object.entries(env))
        assert.ok(!v.includes('attacker.invalid') && !v.includes(Buffer.from(EVIL).toString('base64')), `${k}=${v}`);
      // The environment checked is the one the backend really ran with (recorded by the wrapper).
      const runs = gw.runs();
      assert.equal(runs.length, before + 1);
      assert.equal(runs.at(-1)?.HTTP_PROXY, undefined);
    });
  }
});
