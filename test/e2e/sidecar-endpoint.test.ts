import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { headerJson, headerUser, identityHeaders, sidecarStatusFor } from '../../app/routes/sidecar.js';
import { startGitward, type TestGitward } from '../helpers/server.js';

test('sidecarStatusFor maps every refusal to what auth_request accepts', () => {
  const table: ReadonlyArray<[number, number]> = [
    [400, 403],
    [401, 401],
    [403, 403],
    [404, 403],
    [405, 403],
    [429, 403],
  ];
  for (const [proxy, sidecar] of table) assert.equal(sidecarStatusFor(proxy), sidecar, `proxy ${proxy}`);
});

test('headerJson is printable ASCII that decodes to the same value', () => {
  const values: unknown[] = [
    ['eng', 'qa'],
    { name: 'Zoë Ünal', email: 'z@example.org' },
    { note: 'line\r\nX-Injected: 1' },
    { nul: 'a\u0000b', del: '\u007f', euro: '€', emoji: '😀' },
    [],
    {},
  ];
  for (const v of values) {
    const h = headerJson(v);
    assert.match(h, /^[\x20-\x7e]*$/, h);
    assert.deepEqual(JSON.parse(h), v);
  }
});

test('headerUser carries UTF-8 bytes and refuses control characters', () => {
  assert.equal(headerUser('ann'), 'ann');
  assert.equal(Buffer.from(headerUser('jörg') as string, 'latin1').toString('utf8'), 'jörg');
  for (const bad of ['', 'a\nb', 'a\rb', 'a\u0000', 'x\u007f'])
    assert.equal(headerUser(bad), null, JSON.stringify(bad));
});

test('identityHeaders omits the user for anonymous and refuses an unsafe name', () => {
  const anon = identityHeaders({ user: null, source: 'anonymous', groups: [], info: {} }, 'open', 'r1');
  assert.ok(anon);
  assert.equal(anon['X-Gitward-User'], undefined);
  assert.equal(anon['X-Gitward-Groups'], '[]');
  assert.equal(identityHeaders({ user: 'a\nb', source: 'remote-user', groups: [], info: {} }, 'open', 'r1'), null);
});

/** One request to the sidecar endpoint of an in-process gitward. */
function ask(
  gw: TestGitward,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: gw.port,
        path: '/_gitward/auth',
        method: body === undefined ? 'GET' : 'POST',
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('the sidecar endpoint answers 204/401/403 for the original request', async (t) => {
  const gw = await startGitward(t, {
    users: { ann: 'pw', ben: 'pw' },
    repos: ['web/site'],
    config: {
      sidecar: { enabled: true, path: '/_gitward/auth' },
      users: { ann: { groups: ['eng'], info: { name: 'Ann Ünal', note: 'a\r\nb' } }, ben: { groups: ['qa'] } },
      repos: {
        web: { 'site.git': { '.read': ['ann', 'ben'], '.write': ['ann'] }, 'secret.git': { '.read': ['ann'] } },
      },
    },
  });
  const orig = (uri: string, method = 'GET') => ({ 'X-Original-URI': uri, 'X-Original-Method': method });
  const push = '/web/site.git/git-receive-pack';
  const adv = '/web/site.git/info/refs?service=git-receive-pack';

  const ok = await ask(gw, { ...orig(push, 'POST'), Authorization: basic('ann', 'pw') });
  assert.equal(ok.status, 204);
  assert.equal(ok.headers['x-gitward-user'], 'ann');
  assert.deepEqual(JSON.parse(ok.headers['x-gitward-groups'] as string), ['eng']);
  assert.deepEqual(JSON.parse(ok.headers['x-gitward-info'] as string), { name: 'Ann Ünal', note: 'a\r\nb' });
  assert.equal(ok.headers['x-gitward-repo'], 'web/site');

  const anon = await ask(gw, orig(adv));
  assert.equal(anon.status, 401);
  assert.match(anon.headers['www-authenticate'] as string, /^Basic realm="gitward"/);

  const wrong = await ask(gw, { ...orig(adv), Authorization: basic('ann', 'nope') });
  assert.equal(wrong.status, 401);

  // Read-only user pushing, a hidden repo, a malformed name, a method git does not use, a
  // missing header, a body: all 403 (never 400/404, which nginx would turn into 500).
  const cases: ReadonlyArray<[string, Record<string, string>, string?]> = [
    ['read-only push', { ...orig(push, 'POST'), Authorization: basic('ben', 'pw') }],
    [
      'hidden repo',
      { ...orig('/web/secret.git/info/refs?service=git-upload-pack'), Authorization: basic('ben', 'pw') },
    ],
    [
      'dot-dot',
      { ...orig('/web/../web/site.git/info/refs?service=git-upload-pack'), Authorization: basic('ann', 'pw') },
    ],
    [
      'encoded slash',
      { ...orig('/web%2fsite.git/info/refs?service=git-upload-pack'), Authorization: basic('ann', 'pw') },
    ],
    ['not git', { ...orig('/index.html'), Authorization: basic('ann', 'pw') }],
    ['DELETE', { ...orig(push, 'DELETE'), Authorization: basic('ann', 'pw') }],
    ['no X-Original-URI', { 'X-Original-Method': 'GET', Authorization: basic('ann', 'pw') }],
    ['no X-Original-Method', { 'X-Original-URI': adv, Authorization: basic('ann', 'pw') }],
    [
      'a body',
      { ...orig(push, 'POST'), Authorization: basic('ann', 'pw'), 'Content-Type': 'text/plain' },
      'x'.repeat(100),
    ],
  ];
  for (const [what, headers, body] of cases) {
    const r = await ask(gw, headers, body);
    assert.equal(r.status, 403, `${what}: ${r.status} ${r.body}`);
    assert.equal(r.headers['x-gitward-user'], undefined, what);
  }

  // Allowed but missing on disk: 204, fcgiwrap answers the 404.
  const missing = await startGitward(t, {
    users: { ann: 'pw' },
    config: { sidecar: { enabled: true, path: '/_gitward/auth' }, repos: { '.read': ['ann'] } },
  });
  const m = await ask(missing, {
    ...orig('/nothere.git/info/refs?service=git-upload-pack'),
    Authorization: basic('ann', 'pw'),
  });
  assert.equal(m.status, 204);

  const modes = gw.audit.records.map((r) => r.mode);
  assert.ok(modes.length > 0 && modes.every((x) => x === 'sidecar'), JSON.stringify(modes));
});

test('the sidecar endpoint refuses an identity too large for nginx header buffers, and logs it', async (t) => {
  const gw = await startGitward(t, {
    users: { ann: 'pw' },
    repos: ['x'],
    config: {
      sidecar: { enabled: true, path: '/_gitward/auth' },
      users: { ann: { groups: ['eng'], info: { bio: 'x'.repeat(5000) } } },
      repos: { '.read': ['ann'] },
    },
  });
  const r = await ask(gw, {
    'X-Original-URI': '/x.git/info/refs?service=git-upload-pack',
    'X-Original-Method': 'GET',
    Authorization: basic('ann', 'pw'),
  });
  assert.equal(r.status, 403);
  assert.ok(gw.logs.lines.some((l) => l.event === 'sidecar.identity_too_large'));
});

test('the sidecar endpoint is off unless enabled', async (t) => {
  const gw = await startGitward(t, {
    users: { ann: 'pw' },
    repos: ['x'],
    config: { sidecar: { enabled: false, path: '/_gitward/auth' }, repos: { '.read': ['ann'] } },
  });
  const r = await ask(gw, {
    'X-Original-URI': '/x.git/info/refs?service=git-upload-pack',
    'X-Original-Method': 'GET',
    Authorization: basic('ann', 'pw'),
  });
  assert.notEqual(r.status, 204);
});
