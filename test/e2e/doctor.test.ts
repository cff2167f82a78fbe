import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { diagnose, redactUrl } from '../../app/cli/commands/doctor.js';
import { freePort, installSnippets, makeCert, readShippedSite, renderSite, requireBinary, startNginx } from '../helpers/nginx.js';
import { spawnGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { E2E_USERS, e2eConfig } from './stack.js';

test('diagnose names the setting behind each HTTP failure', () => {
  const table: ReadonlyArray<[string, RegExp]> = [
    ['error: RPC failed; HTTP 413 curl 22 The requested URL returned error: 413', /client_max_body_size 0/],
    ['error: RPC failed; HTTP 504 curl 22 The requested URL returned error: 504', /proxy_read_timeout/],
    ['fatal: unable to access \'https://x/\': The requested URL returned error: 502', /not running|socket/],
    ['error: RPC failed; HTTP 411 curl 22 The requested URL returned error: 411', /proxy_http_version 1\.1/],
    ['error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500', /proxy_request_buffering off/],
    ['fatal: unable to access \'https://x/\': SSL certificate problem: self-signed certificate', /GIT_SSL_CAINFO/],
  ];
  for (const [stderr, cause] of table) assert.match(diagnose(stderr) ?? '', cause, stderr);
  assert.match(diagnose('', true) ?? '', /timeouts/);
  assert.equal(diagnose('fatal: something else'), null);
  // Trace lines of GIT_TRACE_CURL mention SSL on every request; they are not the error.
  assert.match(diagnose("12:00:00.000000 http.c:700 == Info: SSL connection using TLSv1.3\nfatal: Authentication failed for 'https://x/'") ?? '', /authentication failed/);
  assert.equal(redactUrl('https://ann:secret@h/x.git'), 'https://ann:***@h/x.git');
});

/** A deliberately broken variant of the shipped proxy config, and what doctor must blame. */
interface Variant {
  readonly name: string;
  readonly site?: (text: string, dir: string) => string;
  readonly snippet?: (text: string) => string;
  readonly expect: RegExp | null;
}

function replaceOnce(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `shipped file lost ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

const VARIANTS: readonly Variant[] = [
  { name: 'the shipped config', expect: null },
  { name: 'a body size limit', snippet: (s) => replaceOnce(s, 'client_max_body_size 0;', 'client_max_body_size 1m;'), expect: /FAIL push over 1 MiB[^\n]*\n\s+likely cause: body size limit/ },
  {
    name: 'request buffering into an unusable temp path',
    site: (s, dir) => {
      const notADir = path.join(dir, 'not-a-dir');
      fs.writeFileSync(notADir, '');
      return replaceOnce(s, 'proxy_request_buffering off;', `proxy_request_buffering on;\n        client_body_temp_path ${notADir};`);
    },
    expect: /FAIL push over 1 MiB[^\n]*\n\s+likely cause: [^\n]*request buffering/,
  },
  { name: 'Git-Protocol not passed', site: (s) => replaceOnce(s, 'proxy_set_header Git-Protocol $http_git_protocol;', 'proxy_set_header Git-Protocol "";'), expect: /FAIL ls-remote \(protocol v2\)[^\n]*\n\s+likely cause: Git-Protocol not passed/ },
  { name: 'a timeout too short', site: (s) => replaceOnce(s, 'proxy_read_timeout 3600s;', 'proxy_read_timeout 1ms;'), expect: /likely cause: timeouts/ },
  { name: 'the challenge header hidden', site: (s) => replaceOnce(s, 'proxy_pass http://gitward;', 'proxy_pass http://gitward;\n        proxy_hide_header WWW-Authenticate;'), expect: /FAIL 401 challenge[^\n]*\n\s+likely cause: missing challenge header(?:.|\n)*likely cause: authentication failed/ },
];

function runDoctorCli(url: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const main = path.join(__dirname, '..', '..', 'app', 'main.js');
    const child = spawn(process.execPath, [main, 'doctor', url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString() }));
  });
}

test('gitward doctor passes the shipped proxy config and names the cause of each deliberate breakage', async (t) => {
  const nginxBin = requireBinary(t, 'nginx');
  if (nginxBin === null) return;
  const dir = tempDir(t, 'gitward-doctor-');
  const socket = path.join(dir, 'gitward.sock');
  const gw = await spawnGitward(t, { users: { ...E2E_USERS }, repos: ['open'], config: e2eConfig({ socket }) });
  const cert = await makeCert(dir);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(dir, 'home'), GIT_SSL_CAINFO: cert.cert, GIT_CONFIG_NOSYSTEM: '1' };
  fs.mkdirSync(env.HOME);
  for (const v of VARIANTS) {
    const ndir = path.join(dir, v.name.replace(/[^a-z0-9]+/gi, '-'));
    fs.mkdirSync(ndir);
    installSnippets(ndir);
    if (v.snippet) fs.writeFileSync(path.join(ndir, 'gitward-common.conf'), v.snippet(fs.readFileSync(path.join(ndir, 'gitward-common.conf'), 'utf8')));
    const port = await freePort();
    let site = renderSite(readShippedSite('gitward-proxy.conf'), { port, cert, snippetsDir: ndir, gitwardSocket: socket });
    if (v.site) site = v.site(site, ndir);
    const nginx = await startNginx({ dir: ndir, site, port, nginxPath: nginxBin });
    try {
      const r = await runDoctorCli(`https://ann:${E2E_USERS.ann as string}@127.0.0.1:${port}/open.git`, env);
      t.diagnostic(`${v.name}:\n${r.out}`);
      assert.doesNotMatch(r.out, new RegExp(E2E_USERS.ann as string), 'doctor must not print the password');
      if (v.expect === null) {
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /sent chunked/);
        assert.match(r.out, /gzip-encoded request body/);
        assert.match(r.out, /protocol v2 negotiated/);
      } else {
        assert.equal(r.code, 1, `${v.name}:\n${r.out}`);
        assert.match(r.out, v.expect, `${v.name}:\n${r.out}`);
      }
    } finally {
      await nginx.stop();
    }
  }
  void gw;
});
