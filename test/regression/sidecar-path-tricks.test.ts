/**
 * Regression: the path tricks and disguised writes, through the real nginx in sidecar mode
 * (deploy/nginx/gitward-sidecar.conf: auth_request to gitward, then fcgiwrap + git-http-backend).
 * Here gitward classifies X-Original-URI ($request_uri) while git gets nginx's decoded $uri as
 * PATH_INFO: a trick that parsed one way in gitward and another in nginx would show as a 2xx.
 * Anonymous may read only `open`; `private` is for ann and ben; ben may not write `open`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import { test } from 'node:test';
import { requireBinary } from '../helpers/nginx.js';
import { E2E_USERS, startStack, type Stack } from '../e2e/stack.js';
import { basic } from './harness.js';
import { PATH_TRICKS } from './hostile-paths.js';

function request(
  s: Stack,
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ca = fs.readFileSync(s.env().GIT_SSL_CAINFO as string);
    // host/port/path, not a URL: the URL parser would normalise what a hostile client sends raw.
    const req = https.request({ host: '127.0.0.1', port: s.nginx.port, method, path: urlPath, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('through nginx in sidecar mode, no path trick reaches a repo the ACL hides, no disguised write passes', async (t) => {
  const nginx = requireBinary(t, 'nginx');
  const fcgiwrap = requireBinary(t, 'fcgiwrap');
  if (nginx === null || fcgiwrap === null) return;
  const s = await startStack(t, 'sidecar', { nginx, fcgiwrap });

  await t.test('control: the open repo is served anonymously, the private one is not', async () => {
    assert.equal((await request(s, 'GET', '/open.git/info/refs?service=git-upload-pack')).status, 200);
    assert.equal((await request(s, 'GET', '/private.git/info/refs?service=git-upload-pack')).status, 401);
    const ann = await request(s, 'GET', '/private.git/info/refs?service=git-upload-pack', {
      Authorization: basic('ann', E2E_USERS.ann as string),
    });
    assert.equal(ann.status, 200);
  });

  for (const [what, p] of PATH_TRICKS) {
    const trick = p.replace(/secret/g, 'private').replace(/^\/x([./])/, '/open$1');
    if (!trick.includes('private')) continue;
    await t.test(`${what}: ${trick} is not served`, async () => {
      const r = await request(s, 'GET', trick);
      assert.ok([400, 401, 403, 404].includes(r.status), `status ${r.status}: ${r.body.slice(0, 200)}`);
      assert.doesNotMatch(r.body, /service=git-upload-pack/);
    });
  }

  const upload = { 'Content-Type': 'application/x-git-upload-pack-request' };
  const receive = { 'Content-Type': 'application/x-git-receive-pack-request' };
  const flush = Buffer.from('0000');
  const ben = { Authorization: basic('ben', E2E_USERS.ben as string) };
  const writes: Array<[string, string, string, Record<string, string>, number]> = [
    [
      'anonymous receive-pack POST claiming upload-pack',
      'POST',
      '/open.git/git-receive-pack?service=git-upload-pack',
      upload,
      401,
    ],
    [
      'read-only ben: receive-pack POST with an upload-pack content type',
      'POST',
      '/open.git/git-receive-pack',
      { ...ben, ...upload },
      403,
    ],
    ['read-only ben: receive-pack advertisement', 'GET', '/open.git/info/refs?service=git-receive-pack', ben, 403],
    ['read-only ben: encoded receive-pack service', 'GET', '/open.git/info/refs?service=git%2Dreceive-pack', ben, 403],
    ['read-only ben: receive-pack POST', 'POST', '/open.git/git-receive-pack', { ...ben, ...receive }, 403],
  ];
  for (const [what, method, p, headers, want] of writes) {
    await t.test(`${what} → ${want}`, async () => {
      const r = await request(s, method, p, headers, method === 'POST' ? flush : undefined);
      assert.equal(r.status, want, r.body.slice(0, 200));
    });
  }
});
