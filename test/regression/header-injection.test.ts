/**
 * Regression: header injection into git-http-backend's environment or the response headers,
 * through a user's `info` in the config, through the trusted remote-user header, and through raw
 * request header bytes (CR, LF, NUL, obs-fold). The backend here dumps its environment, so the
 * test sees exactly what git would see.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertNoBackend, auditLines, send, sendRaw, startGuarded, type Guarded } from './harness.js';
import { SERVER_GIT_ENV } from '../../app/git/server-git-env.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';
/** Variables every run has; anything not in here or HTTP_* is an injected name. */
const BASE_VARS = new Set([
  'GATEWAY_INTERFACE',
  'SERVER_SOFTWARE',
  'REQUEST_METHOD',
  'QUERY_STRING',
  'PATH_INFO',
  'REMOTE_ADDR',
  'REMOTE_USER',
  'CONTENT_TYPE',
  'CONTENT_LENGTH',
  'GIT_PROJECT_ROOT',
  'GIT_HTTP_EXPORT_ALL',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'PATH',
  'HOME',
  'LANG',
  'GIT_CONFIG_COUNT',
  'GIT_CONFIG_KEY_0',
  'GIT_CONFIG_VALUE_0',
  'GIT_CONFIG_KEY_1',
  'GIT_CONFIG_VALUE_1',
  'GIT_HTTP_MAX_REQUEST_BUFFER',
  'GITWARD_CONFIG',
  'GITWARD_USER',
  'GITWARD_GROUPS',
  'GITWARD_INFO',
  'GITWARD_REPO',
  'GITWARD_REQUEST_ID',
  ...Object.keys(SERVER_GIT_ENV),
]);

function envOf(body: Buffer): Record<string, string> {
  return JSON.parse(body.toString()) as Record<string, string>;
}

/** No variable outside the allow-list, no CR/LF/NUL in any name or value. */
function assertCleanEnv(env: Record<string, string>): void {
  for (const [k, v] of Object.entries(env)) {
    assert.ok(BASE_VARS.has(k) || /^HTTP_[A-Z0-9_]+$/.test(k), `unexpected variable ${JSON.stringify(k)}`);
    assert.doesNotMatch(v, /[\r\n\0]/, `${k} carries a control character: ${JSON.stringify(v)}`);
  }
}

async function startWithInfo(t: Parameters<typeof startGuarded>[0], info: Record<string, string>): Promise<Guarded> {
  return startGuarded(t, {
    backend: 'dump',
    config: {
      authentication: [{ plugin: 'remote-user', header: 'X-Remote-User', trusted_proxies: ['127.0.0.1/32'] }],
      users: { ann: { groups: ['eng'], info } },
      repos: { '.read': ['@eng'], 'x.git': {} },
    },
    repos: ['x'],
  });
}

test('user info with a newline reaches git only as JSON, never as a raw line', async (t) => {
  const gw = await startWithInfo(t, { name: 'Ann\nX-Evil: 1', email: 'ann@example.org\r\nSet-Cookie: a=b' });
  const r = await send(gw, { path: ADV, headers: { 'X-Remote-User': 'ann' } });
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(r.headers['set-cookie'], undefined);
  assert.equal(r.headers['x-evil'], undefined);
  const env = envOf(r.body);
  assert.equal(env.GITWARD_USER, 'ann');
  assert.deepEqual(JSON.parse(env.GITWARD_INFO as string), {
    name: 'Ann\nX-Evil: 1',
    email: 'ann@example.org\r\nSet-Cookie: a=b',
  });
  assertCleanEnv(env);
});

test('user info with a NUL is not a 500, and no NUL reaches git', async (t) => {
  const gw = await startWithInfo(t, { name: 'Ann\u0000Evil', email: 'ann@example.org' });
  const r = await send(gw, { path: ADV, headers: { 'X-Remote-User': 'ann' } });
  assert.equal(r.status, 200, r.body.toString());
  assertCleanEnv(envOf(r.body));
});

test('control characters in the trusted remote-user header never reach REMOTE_USER', async (t) => {
  const gw = await startWithInfo(t, { name: 'Ann' });
  const cases: Array<[string, string]> = [
    ['NUL in the value', 'X-Remote-User: ann\u0000root\r\n'],
    ['bare CR in the value', 'X-Remote-User: ann\rroot\r\n'],
    ['bare LF splitting the header', 'X-Remote-User: ann\nX-Evil: 1\r\n'],
    ['obs-fold continuation', 'X-Remote-User: ann\r\n root\r\n'],
    ['DEL in the value', 'X-Remote-User: ann\u007froot\r\n'],
    ['a comma list', 'X-Remote-User: ann, root\r\n'],
    ['sent twice', 'X-Remote-User: ann\r\nX-Remote-User: root\r\n'],
  ];
  let n = 0;
  for (const [what, header] of cases) {
    await t.test(what, async () => {
      const r = await sendRaw(
        gw,
        Buffer.from(`GET ${ADV} HTTP/1.1\r\nHost: 127.0.0.1\r\n${header}Connection: close\r\n\r\n`, 'latin1'),
      );
      assert.ok([400, 401].includes(r.status), `status ${r.status}: ${r.body.toString()}`);
      assert.deepEqual(gw.runs(), []);
      // Node's parser answers 400 itself for bytes HTTP forbids; those never become a request.
      if (r.status === 401) await assertNoBackend(gw, ++n);
    });
  }
});

test('header names cannot forge CGI variables', async (t) => {
  const gw = await startWithInfo(t, { name: 'Ann' });
  const r = await send(gw, {
    path: ADV,
    headers: {
      'X-Remote-User': 'ann',
      // Would become HTTP_X_REMOTE_USER, the trusted header's variable.
      X_Remote_User: 'root',
      // Would collide with CGI variables if a header could name them.
      Remote_User: 'root',
      'Path-Info': '/../../etc',
      Git_Protocol: 'version=1',
    },
  });
  assert.equal(r.status, 200, r.body.toString());
  const env = envOf(r.body);
  assert.equal(env.REMOTE_USER, 'ann');
  assert.equal(env.PATH_INFO, '/x.git/info/refs');
  assert.equal(env.HTTP_X_REMOTE_USER, undefined);
  assert.equal(env.HTTP_REMOTE_USER, undefined);
  assert.equal(env.HTTP_GIT_PROTOCOL, undefined);
  assert.equal(env.HTTP_PATH_INFO, '/../../etc');
  assertCleanEnv(env);
  const [record] = await auditLines(gw, 1);
  assert.equal(record?.user, 'ann');
});
