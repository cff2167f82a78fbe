/**
 * Regression (issue 11 §3): the headers an authentication plugin reads are declared by the plugin
 * and dropped from git's environment exactly. The git route used to re-derive them from the config
 * and missed the plugin's trimming: `header: " X-User "` authenticated from x-user and still handed
 * HTTP_X_USER to git. Over real requests through gitward to a backend that shows its environment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { send, startGuarded } from './harness.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';

for (const header of [' X-User ', 'x-user', 'X-USER\t']) {
  test(`remote-user with header ${JSON.stringify(header)}: authenticates from X-User, and HTTP_X_USER never reaches git`, async (t) => {
    const gw = await startGuarded(t, {
      backend: 'dump',
      config: {
        // 127.0.0.1 trusted explicitly: the test talks TCP to the header it configures.
        authentication: [{ plugin: 'remote-user', header, trusted_proxies: ['127.0.0.1/32'] }],
        users: { ann: {} },
        repos: { 'x.git': { '.read': ['ann'] } },
      },
      repos: ['x'],
    });
    const r = await send(gw, { path: ADV, headers: { 'X-User': 'ann', 'X-Other': 'kept' } });
    assert.equal(r.status, 200, r.body.toString());
    const env = JSON.parse(r.body.toString()) as Record<string, string>;
    assert.equal(env.REMOTE_USER, 'ann');
    assert.equal(env.HTTP_X_USER, undefined, 'the identity header reached git');
    assert.ok(!Object.keys(env).some((k) => /X_USER/.test(k)), Object.keys(env).join(' '));
    assert.equal(env.HTTP_X_OTHER, 'kept', 'other headers still pass');
  });
}

test("a third-party plugin's declared header is dropped too; an undeclared one is not", async (t) => {
  const plugin = `exports.createAuthPlugin = () => ({
  name: 'token',
  headers: ['X-Token'],
  async authenticate(input) {
    return input.headers['x-token'] === 't0k' ? { kind: 'authenticated', user: 'ann' } : { kind: 'no-credentials' };
  },
});
`;
  const gw = await startGuarded(t, {
    backend: 'dump',
    files: { 'token.js': plugin },
    config: {
      authentication: [{ plugin: './token.js' }],
      users: { ann: {} },
      repos: { 'x.git': { '.read': ['ann'] } },
    },
    repos: ['x'],
  });
  const r = await send(gw, { path: ADV, headers: { 'X-Token': 't0k', 'X-Trace': 'abc' } });
  assert.equal(r.status, 200, r.body.toString());
  const env = JSON.parse(r.body.toString()) as Record<string, string>;
  assert.equal(env.REMOTE_USER, 'ann');
  assert.equal(env.HTTP_X_TOKEN, undefined);
  assert.equal(env.HTTP_X_TRACE, 'abc');
});
