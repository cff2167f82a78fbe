/**
 * Regression: a write disguised as a read. gitward classifies by route, never by a claimed query
 * or content type: a read-only user (ben) gets 403 for every receive-pack request, whatever it
 * claims to be, before git-http-backend starts; the repo's refs never change.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import {
  assertNoBackend,
  auditLines,
  basic,
  runGit as git,
  runGitOk as gitOk,
  send,
  startGuarded,
  workTree,
} from './harness.js';

const BEN = basic('ben', 'ben-pw');
const UPLOAD_REQ = 'application/x-git-upload-pack-request';
const RECEIVE_REQ = 'application/x-git-receive-pack-request';
/** A receive-pack command list (one ref create) as git sends it, then a flush packet. */
const PUSH_BODY = Buffer.from(
  `00820000000000000000000000000000000000000000 ${'1'.repeat(40)} refs/heads/main\0 report-status\n0000`,
);

/** [what, method, raw path, headers, expected status] */
const CASES: ReadonlyArray<readonly [string, string, string, Record<string, string>, number]> = [
  [
    'receive-pack POST claiming service=git-upload-pack',
    'POST',
    '/x.git/git-receive-pack?service=git-upload-pack',
    { 'Content-Type': RECEIVE_REQ },
    403,
  ],
  [
    'receive-pack POST with an upload-pack content type',
    'POST',
    '/x.git/git-receive-pack',
    { 'Content-Type': UPLOAD_REQ },
    403,
  ],
  [
    'receive-pack POST with both disguises',
    'POST',
    '/x/git-receive-pack?service=git-upload-pack',
    { 'Content-Type': UPLOAD_REQ },
    403,
  ],
  ['receive-pack advertisement (GET)', 'GET', '/x.git/info/refs?service=git-receive-pack', {}, 403],
  ['receive-pack advertisement (HEAD)', 'HEAD', '/x.git/info/refs?service=git-receive-pack', {}, 403],
  ['percent-encoded receive-pack service', 'GET', '/x.git/info/refs?service=git%2Dreceive%2Dpack', {}, 403],
  [
    'service repeated, upload first',
    'GET',
    '/x.git/info/refs?service=git-upload-pack&service=git-receive-pack',
    {},
    400,
  ],
  [
    'service repeated, receive first',
    'GET',
    '/x.git/info/refs?service=git-receive-pack&service=git-upload-pack',
    {},
    400,
  ],
  ['service in upper case', 'GET', '/x.git/info/refs?service=GIT-RECEIVE-PACK', {}, 400],
  ['service with a NUL', 'GET', '/x.git/info/refs?service=git-receive-pack%00', {}, 400],
  ['service smuggled after ;', 'GET', '/x.git/info/refs?service=git-upload-pack;service=git-receive-pack', {}, 400],
  [
    'route smuggled through ..',
    'POST',
    '/x.git/git-upload-pack/../git-receive-pack',
    { 'Content-Type': RECEIVE_REQ },
    400,
  ],
  ['route with a NUL', 'POST', '/x.git/git-receive-pack%00', { 'Content-Type': RECEIVE_REQ }, 400],
  ['route with a trailing slash', 'POST', '/x.git/git-receive-pack/', { 'Content-Type': RECEIVE_REQ }, 400],
  ['receive-pack by GET', 'GET', '/x.git/git-receive-pack', {}, 405],
];

test('a write disguised as a read is refused before git-http-backend starts', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'ann-pw', ben: 'ben-pw' },
    config: { repos: { 'x.git': { '.read': ['ben'], '.write': ['ann'] } } },
    repos: ['x'],
  });
  let n = 0;
  for (const [what, method, p, headers, want] of CASES) {
    await t.test(`${what} → ${want}`, async () => {
      const r = await send(gw, {
        method,
        path: p,
        headers: { Authorization: BEN, ...headers },
        body: method === 'POST' ? PUSH_BODY : undefined,
      });
      n++;
      assert.equal(r.status, want, r.body.toString());
      await assertNoBackend(gw, n);
      if (want === 403) assert.equal((await auditLines(gw, n))[n - 1]?.need, 'write');
    });
  }

  await t.test('anonymous asking for the receive-pack advertisement gets 401', async () => {
    const r = await send(gw, { path: '/x.git/info/refs?service=git-receive-pack' });
    n++;
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Basic realm=/);
    await assertNoBackend(gw, n);
  });

  const work = path.join(gw.dir, 'work');
  await workTree(work, gw.gitEnv);

  await t.test('the real git CLI: a push by the read-only user fails with 403 and changes nothing', async () => {
    const r = await git(['push', gw.url('x', { user: 'ben', password: 'ben-pw' }), 'main'], {
      cwd: work,
      env: gw.gitEnv,
    });
    // git asks anonymously first, then with the password after the 401: two requests.
    n += 2;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /403/);
    assert.equal(await gitOk(['for-each-ref'], { cwd: path.join(gw.repoRoot, 'x.git'), env: gw.gitEnv }), '');
    await assertNoBackend(gw, n);
  });

  await t.test(
    'an upload-pack POST with a receive-pack body is a read that git refuses (415), refs unchanged',
    async () => {
      const before = gw.runs().length;
      const r = await send(gw, {
        method: 'POST',
        path: '/x.git/git-upload-pack',
        headers: { Authorization: BEN, 'Content-Type': RECEIVE_REQ },
        body: PUSH_BODY,
      });
      n++;
      assert.equal(r.status, 415);
      const records = await auditLines(gw, n);
      assert.equal(records.at(-1)?.need, 'read');
      assert.equal(gw.runs().length, before + 1);
      assert.equal(await gitOk(['for-each-ref'], { cwd: path.join(gw.repoRoot, 'x.git'), env: gw.gitEnv }), '');
    },
  );

  await t.test('control: the writer pushes through the same route', async () => {
    const r = await git(['push', gw.url('x', { user: 'ann', password: 'ann-pw' }), 'main'], {
      cwd: work,
      env: gw.gitEnv,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      await gitOk(['for-each-ref'], { cwd: path.join(gw.repoRoot, 'x.git'), env: gw.gitEnv }),
      /refs\/heads\/main/,
    );
    assert.ok(gw.runs().some((env) => env.PATH_INFO === '/x.git/git-receive-pack' && env.REMOTE_USER === 'ann'));
  });
});
