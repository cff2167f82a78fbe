// The shipped deploy/nginx/gitward-http.conf (port 80): certbot's HTTP-01 tokens are served from
// the webroot, everything else is redirected to https.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { readShippedSite, renderHttpSite, requireBinary, startNginx } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';

function get(
  port: number,
  urlPath: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { Host: 'git.example.org' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
  });
}

test('port 80 answers the ACME HTTP-01 challenge from the webroot and redirects git to https', async (t) => {
  const nginxBin = requireBinary(t, 'nginx');
  if (nginxBin === null) return;
  const dir = tempDir(t, 'gitward-http-port-');
  const webroot = path.join(dir, 'letsencrypt');
  // What certbot --webroot writes: the token file under .well-known/acme-challenge/.
  fs.mkdirSync(path.join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
  fs.writeFileSync(path.join(webroot, '.well-known', 'acme-challenge', 'tok3n'), 'tok3n.key-authorization');
  const ndir = path.join(dir, 'nginx');
  fs.mkdirSync(ndir);
  const nginx = await startNginx({
    dir: ndir,
    site: (port) => renderHttpSite(readShippedSite('gitward-http.conf'), { port, webroot }),
    nginxPath: nginxBin,
  });
  t.after(() => nginx.stop());
  const port = nginx.port;

  const token = await get(port, '/.well-known/acme-challenge/tok3n');
  assert.equal(token.status, 200);
  assert.equal(token.body, 'tok3n.key-authorization');
  assert.match(token.headers['content-type'] ?? '', /^text\/plain/);
  assert.equal(token.headers.server, 'nginx', 'no version in the Server header');
  assert.equal((await get(port, '/.well-known/acme-challenge/missing')).status, 404);

  const git = await get(port, '/web/site.git/info/refs?service=git-upload-pack');
  assert.equal(git.status, 301);
  assert.equal(git.headers.location, 'https://git.example.org/web/site.git/info/refs?service=git-upload-pack');
  assert.equal((await get(port, '/')).headers.location, 'https://git.example.org/');
});
