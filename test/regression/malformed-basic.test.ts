/**
 * Regression: malformed Basic credentials are rejected credentials — 401 with the Basic challenge,
 * never 500, never silently anonymous (anonymous may read here, so a fall-through would be 200),
 * never a backend run (that their bytes never reach a log line is checked through the production
 * logger in secrets-in-logs.test.ts). Each is a failed login:
 * one `auth.failed` line (empty user) and one count towards the brute-force limit, so garbling
 * the header is no way around the limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoBackend, basic, send, sendRaw, startGuarded, type RawResponse } from './harness.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';
const b64 = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64');

/** [what, Authorization header value as latin1 bytes] */
const CASES: ReadonlyArray<readonly [string, string]> = [
  ['scheme alone', 'Basic'],
  ['scheme and spaces', 'Basic    '],
  ['bad base64 characters', 'Basic !!!!'],
  ['base64 with inner space', 'Basic YW5u OnB3'],
  ['base64 of the wrong length', 'Basic YW5uOnB3Zg'],
  ['padding only', 'Basic ===='],
  ['padding in the middle', 'Basic YW==OnB3'],
  ['url-safe alphabet', `Basic ${b64('ann:p>?w').replace(/\+/g, '-').replace(/\//g, '_')}_-`],
  ['no colon', `Basic ${b64('annpw')}`],
  ['empty user', `Basic ${b64(':pw')}`],
  ['10 KB long token', `Basic ${b64(`ann:${'x'.repeat(7600)}`)}`],
  ['10 KB of A', `Basic ${'A'.repeat(10240)}`],
  ['10 KB scheme', 'B'.repeat(10240)],
  ['non-UTF-8 user', `Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0x70, 0x77]))}`],
  ['non-UTF-8 password', `Basic ${b64(Buffer.concat([Buffer.from('ann:'), Buffer.from([0xc3, 0x28])]))}`],
  ['overlong UTF-8 colon', `Basic ${b64(Buffer.from([0x61, 0xc0, 0xba, 0x62]))}`],
  ['lone surrogate (CESU-8)', `Basic ${b64(Buffer.concat([Buffer.from('ann:'), Buffer.from([0xed, 0xa0, 0x80])]))}`],
  ['raw latin-1 bytes in the header', 'Basic \u00e9\u00e9\u00e9\u00e9'],
  ['newline in the password', `Basic ${b64('ann:p\nw')}`],
  ['NUL in the user', `Basic ${b64('an\0n:pw')}`],
  ['ESC in the user', `Basic ${b64('\u001b[2Jann:pw')}`],
  ['lower-case scheme, bad token', 'basic %%%%'],
];

function assertChallenge(r: RawResponse): void {
  assert.equal(r.status, 401, r.body.toString());
  assert.match(String(r.headers['www-authenticate']), /^Basic realm="[^"]+"/);
  assert.equal(r.body.toString().trimEnd().split('\n').length, 1);
}

/** Enough failed logins for every case below without reaching the limit (tested on its own). */
const MANY_FAILURES = 1_000;

test('malformed Basic headers get 401 with a challenge, never 500, never anonymous', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: {
      brute_force: { max_failures: MANY_FAILURES, window_seconds: 300 },
      repos: { '.read': ['$all'], 'x.git': {} },
    },
    repos: ['x'],
  });
  let n = 0;
  for (const [what, value] of CASES) {
    await t.test(what, async () => {
      const r = await sendRaw(
        gw,
        Buffer.from(
          `GET ${ADV} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${value}\r\nConnection: close\r\n\r\n`,
          'latin1',
        ),
      );
      n++;
      assertChallenge(r);
      await assertNoBackend(gw, n);
    });
  }

  await t.test('a malformed header first and a good one second: Node keeps the first, still 401', async () => {
    const r = await sendRaw(
      gw,
      `GET ${ADV} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!!\r\nAuthorization: ${basic('ann', 'pw')}\r\nConnection: close\r\n\r\n`,
    );
    n++;
    assertChallenge(r);
    await assertNoBackend(gw, n);
  });

  await t.test(
    'each malformed header was logged as one failed login with an empty user, and the server still serves',
    async () => {
      const failed = gw.logs.lines.filter((l) => l.event === 'auth.failed');
      assert.equal(failed.length, n);
      for (const l of failed) assert.deepEqual([l.client, l.user, l.source], ['127.0.0.1', '', 'basic-auth']);
      const anon = await send(gw, { path: ADV });
      assert.equal(anon.status, 200);
      const ann = await send(gw, { path: ADV, headers: { Authorization: basic('ann', 'pw') } });
      assert.equal(ann.status, 200);
      assert.equal(gw.runs().length, 2);
      assert.ok(!gw.logs.lines.some((l) => l.event === 'request.internal_error'));
    },
  );
});

test('malformed Basic headers count towards the brute-force limit: then 429, even for good credentials', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: { brute_force: { max_failures: 3, window_seconds: 300 }, repos: { '.read': ['$all'], 'x.git': {} } },
    repos: ['x'],
  });
  for (let i = 0; i < 3; i++)
    assert.equal((await send(gw, { path: ADV, headers: { Authorization: 'Basic !!!!' } })).status, 401);
  const good = await send(gw, { path: ADV, headers: { Authorization: basic('ann', 'pw') } });
  assert.equal(good.status, 429);
  assert.match(String(good.headers['retry-after']), /^[1-9]\d*$/);
  assert.equal((await send(gw, { path: ADV, headers: { Authorization: 'Basic !!!!' } })).status, 429);
  assert.equal(gw.logs.lines.filter((l) => l.event === 'auth.failed').length, 3);
  await assertNoBackend(gw, 5);
});
