import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { diagnose, negotiationCheck, pushChecks, receivePackPosts, redactUrl, type GitRun } from '../../app/cli/commands/doctor.js';
import { startFcgiwrap } from '../helpers/fcgiwrap.js';
import { git } from '../helpers/git.js';
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
  // The answer had started when nginx's read timeout cut it.
  assert.match(diagnose('error: RPC failed; curl 18 transfer closed with outstanding read data remaining\nsend-pack: unexpected disconnect while reading sideband packet') ?? '', /^timeouts: the answer was cut off/);
  assert.equal(diagnose('fatal: something else'), null);
  // Trace lines of GIT_TRACE_CURL mention SSL on every request; they are not the error.
  assert.match(diagnose("12:00:00.000000 http.c:700 == Info: SSL connection using TLSv1.3\nfatal: Authentication failed for 'https://x/'") ?? '', /authentication failed/);
  assert.equal(redactUrl('https://ann:secret@h/x.git'), 'https://ann:***@h/x.git');
});


/** A trace line of GIT_TRACE_CURL, as git 2.39 writes it. */
const tr = (dir: '=> Send header' | '<= Recv header', text: string): string => `12:00:00.000000 http.c:703              ${dir}: ${text}`;

/** The trace of a push: the small probe POST with a length, then the pack chunked, each with gitward's answer header. */
function pushTrace(arrived: string | null): string {
  const post = (te: string, got: string | null) => [
    tr('=> Send header', 'POST /open.git/git-receive-pack HTTP/1.1'),
    tr('=> Send header', te),
    tr('<= Recv header', 'HTTP/1.1 200 OK'),
    ...(got === null ? [] : [tr('<= Recv header', `X-Gitward-Body: ${got}`)]),
  ];
  return [tr('=> Send header', 'GET /open.git/info/refs?service=git-receive-pack HTTP/1.1'), ...post('Content-Length: 4', arrived === null ? null : 'length'), ...post('Transfer-Encoding: chunked', arrived)].join('\n');
}

const run = (stderr: string, code = 0): GitRun => ({ code, stderr, stdout: '', timedOut: false });

test('doctor reads from the push trace whether nginx streamed or buffered the chunked push', () => {
  assert.deepEqual(receivePackPosts(pushTrace('chunked')), [
    { chunked: false, arrived: 'length' },
    { chunked: true, arrived: 'chunked' },
  ]);
  const levels = (trace: string) => pushChecks(run(trace), 'gitward-doctor-x').map((c) => `${c.level} ${c.name}`);
  assert.deepEqual(levels(pushTrace('chunked')), ['ok push over 1 MiB (chunked)', 'ok push body streamed (request buffering off)']);
  assert.deepEqual(levels(pushTrace('length')), ['ok push over 1 MiB (chunked)', 'fail push body streamed (request buffering off)']);
  assert.match(pushChecks(run(pushTrace('length')), 'b')[1]?.cause ?? '', /^request buffering: set `proxy_request_buffering off;`/);
  // Sidecar mode: git-http-backend answers through fcgiwrap, without gitward's header.
  assert.deepEqual(levels(pushTrace(null)), ['ok push over 1 MiB (chunked)', 'warn push body streamed (request buffering off)']);
  assert.match(pushChecks(run(pushTrace(null)), 'b')[1]?.detail ?? '', /^could not check/);
  // A push that went through but not chunked checked nothing about large pushes: a failure, not ok.
  const unchunked = [tr('=> Send header', 'POST /open.git/git-receive-pack HTTP/1.1'), tr('=> Send header', 'Content-Length: 2097152')].join('\n');
  assert.deepEqual(levels(unchunked), ['fail push over 1 MiB (chunked)']);
  // No trace at all (GIT_TRACE_CURL not honoured): nothing was checked.
  assert.deepEqual(levels(''), ['fail push over 1 MiB (chunked)']);
  assert.deepEqual(pushChecks(run('error: RPC failed; HTTP 413 curl 22 The requested URL returned error: 413', 1), 'b').map((c) => c.level), ['fail', 'warn']);
});

test("doctor fails a negotiation that git did not gzip: Content-Encoding was not checked", () => {
  assert.equal(negotiationCheck(run(tr('=> Send header', 'Content-Encoding: gzip'))).level, 'ok');
  const plain = negotiationCheck(run(tr('=> Send header', 'Content-Type: application/x-git-upload-pack-request')));
  assert.equal(plain.level, 'fail');
  assert.match(plain.cause ?? '', /not checked/);
});

/** Seconds the slow repo's pre-receive hook takes for a push that adds commits. */
const SLOW_HOOK_SECONDS = 4;

/**
 * slow.git's pre-receive hook: a check that takes a while (a CI gate, a linter) on every push that
 * adds commits; deletes pass at once. git-http-backend is silent meanwhile (receive.keepAlive, 5 s,
 * only speaks up after that), which the shipped hour-long read timeouts allow for.
 */
const SLOW_HOOK = `#!/bin/sh
while read old new ref; do
  [ "$new" = 0000000000000000000000000000000000000000 ] || sleep ${SLOW_HOOK_SECONDS}
done
exit 0
`;

/** A read timeout below the slow hook's duration: what an admin who keeps a tight proxy default gets. */
const TIGHT_READ_TIMEOUT = '2s';

/** A deliberately broken variant of a shipped config, and what doctor must say. */
interface Variant {
  readonly name: string;
  readonly mode: 'proxy' | 'sidecar';
  /** The repo doctor checks: slow.git has the slow hook. */
  readonly repo: 'open' | 'slow';
  readonly site?: (text: string) => string;
  readonly snippet?: (text: string) => string;
  /** Exit code doctor must return. */
  readonly code: 0 | 1;
  /** Every pattern must match the output. */
  readonly expect: readonly RegExp[];
}

function replaceOnce(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `shipped file lost ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/** Lines doctor prints for a check that passed, warned or failed, with the cause line of a failure. */
const ok = (name: string): RegExp => new RegExp(`^ok   ${name}: `, 'm');
const failWith = (name: string, cause: string): RegExp => new RegExp(`^FAIL ${name}: [^\\n]*\\n\\s+likely cause: ${cause}`, 'm');
const PUSH = 'push over 1 MiB \\(chunked\\)';
const STREAMED = 'push body streamed \\(request buffering off\\)';
const DELETED = /^ok   delete scratch branch: gitward-doctor-[0-9a-f]+ deleted \(ls-remote no longer lists it\)$/m;

const VARIANTS: readonly Variant[] = [
  {
    name: 'the shipped proxy config',
    mode: 'proxy',
    repo: 'slow',
    code: 0,
    expect: [ok('401 challenge'), ok('ls-remote \\(protocol v2\\)'), ok('clone'), ok(PUSH), ok(STREAMED), ok("gzip'd negotiation"), DELETED, /^all checks passed$/m],
  },
  { name: 'a body size limit', mode: 'proxy', repo: 'open', code: 1, snippet: (s) => replaceOnce(s, 'client_max_body_size 0;', 'client_max_body_size 1m;'), expect: [failWith(PUSH, 'body size limit')] },
  {
    // Just buffering, with a working temp path: the push succeeds, only slower and via disk.
    name: 'request buffering on',
    mode: 'proxy',
    repo: 'open',
    code: 1,
    site: (s) => replaceOnce(s, 'proxy_request_buffering off;', 'proxy_request_buffering on;'),
    expect: [ok(PUSH), failWith(STREAMED, 'request buffering: set `proxy_request_buffering off;`'), DELETED],
  },
  { name: 'Git-Protocol not passed', mode: 'proxy', repo: 'open', code: 1, site: (s) => replaceOnce(s, 'proxy_set_header Git-Protocol $http_git_protocol;', 'proxy_set_header Git-Protocol "";'), expect: [failWith('ls-remote \\(protocol v2\\)', 'Git-Protocol not passed')] },
  {
    name: 'a read timeout shorter than a slow pre-receive hook',
    mode: 'proxy',
    repo: 'slow',
    code: 1,
    site: (s) => replaceOnce(s, 'proxy_read_timeout 3600s;', `proxy_read_timeout ${TIGHT_READ_TIMEOUT};`),
    // Reads are quick; only the push waits on the hook, so the push is what gets blamed.
    expect: [ok('ls-remote \\(protocol v2\\)'), ok('clone'), failWith(PUSH, 'timeouts: [^\\n]*proxy_read_timeout'), /^ok   delete scratch branch: gitward-doctor-[0-9a-f]+ was not created/m],
  },
  { name: 'the challenge header hidden', mode: 'proxy', repo: 'open', code: 1, site: (s) => replaceOnce(s, 'proxy_pass http://gitward;', 'proxy_pass http://gitward;\n        proxy_hide_header WWW-Authenticate;'), expect: [failWith('401 challenge', 'missing challenge header'), /likely cause: authentication failed/] },
  {
    name: 'the shipped sidecar config',
    mode: 'sidecar',
    repo: 'slow',
    code: 0,
    // The body goes to fcgiwrap, not gitward: doctor cannot see how it arrived, and says so.
    expect: [ok(PUSH), /^WARN push body streamed \(request buffering off\): could not check[^\n]*\n\s+check by hand: [^\n]*fastcgi_request_buffering off/m, ok("gzip'd negotiation"), DELETED, /^no check failed; 1 could not be checked/m],
  },
  {
    name: 'sidecar without the request headers',
    mode: 'sidecar',
    repo: 'open',
    code: 1,
    site: (s) => replaceOnce(s, 'fastcgi_request_buffering off;', 'fastcgi_request_buffering off;\n        fastcgi_pass_request_headers off;'),
    expect: [failWith('ls-remote \\(protocol v2\\)', 'Git-Protocol not passed'), failWith("gzip'd negotiation", 'Content-Encoding not passed'), DELETED],
  },
  {
    name: 'sidecar with a read timeout shorter than a slow pre-receive hook',
    mode: 'sidecar',
    repo: 'slow',
    code: 1,
    site: (s) => replaceOnce(s, 'fastcgi_read_timeout 3600s;', `fastcgi_read_timeout ${TIGHT_READ_TIMEOUT};`),
    // fcgiwrap lets the cut-off push run on: doctor waits for the branch and deletes it.
    expect: [
      ok('ls-remote \\(protocol v2\\)'),
      ok('clone'),
      failWith(PUSH, 'timeouts: [^\\n]*fastcgi_read_timeout'),
      /^ok   delete scratch branch: the server completed the failed push after all, \d+ s later [^\n]*; gitward-doctor-[0-9a-f]+ deleted \(ls-remote no longer lists it\)$/m,
    ],
  },
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

test('gitward doctor passes the shipped configs and names the cause of each deliberate breakage', async (t) => {
  const nginxBin = requireBinary(t, 'nginx');
  if (nginxBin === null) return;
  const fcgiwrapBin = requireBinary(t, 'fcgiwrap');
  if (fcgiwrapBin === null) return;
  const dir = tempDir(t, 'gitward-doctor-');
  const socket = path.join(dir, 'gitward.sock');
  const config = e2eConfig({ socket });
  const repos = {
    ...(config.repos as Record<string, unknown>),
    // doctor deletes its scratch branch: without a delete grant, gitward has git refuse every
    // branch delete of the repo (receive.denyDeletes per push, README: repo_defaults).
    '.hooks': { 'branch-protect': { branches: { 'gitward-doctor-*': { delete: ['$authenticated'] } } } },
    'slow.git': { '.read': ['ann'], '.write': ['ann'] },
  };
  const gw = await spawnGitward(t, { users: { ...E2E_USERS }, repos: ['open', 'slow'], config: { ...config, repos } });
  fs.writeFileSync(path.join(gw.repoRoot, 'slow.git', 'hooks', 'pre-receive'), SLOW_HOOK, { mode: 0o755 });
  const fcgi = await startFcgiwrap({ socket: path.join(dir, 'fcgiwrap.sock'), children: 2, fcgiwrapPath: fcgiwrapBin });
  t.after(() => fcgi.stop());
  const cert = await makeCert(dir);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(dir, 'home'), GIT_SSL_CAINFO: cert.cert, GIT_CONFIG_NOSYSTEM: '1' };
  fs.mkdirSync(env.HOME);
  const scratchBranches = async (repo: string): Promise<string> => {
    const r = await git(['--git-dir', path.join(gw.repoRoot, `${repo}.git`), 'for-each-ref', '--format=%(refname)', 'refs/heads/gitward-doctor-*'], { cwd: gw.dir, env: gw.gitEnv });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  for (const v of VARIANTS) {
    const ndir = path.join(dir, v.name.replace(/[^a-z0-9]+/gi, '-'));
    fs.mkdirSync(ndir);
    installSnippets(ndir);
    if (v.snippet) fs.writeFileSync(path.join(ndir, 'gitward-common.conf'), v.snippet(fs.readFileSync(path.join(ndir, 'gitward-common.conf'), 'utf8')));
    const port = await freePort();
    let site =
      v.mode === 'proxy'
        ? renderSite(readShippedSite('gitward-proxy.conf'), { port, cert, snippetsDir: ndir, gitwardSocket: socket })
        : renderSite(readShippedSite('gitward-sidecar.conf'), { port, cert, snippetsDir: ndir, gitwardSocket: socket, fcgiwrapSocket: fcgi.socket, repoRoot: gw.repoRoot, gitwardConfig: gw.configFile });
    if (v.site) site = v.site(site);
    const nginx = await startNginx({ dir: ndir, site, port, nginxPath: nginxBin });
    try {
      const r = await runDoctorCli(`https://ann:${E2E_USERS.ann as string}@127.0.0.1:${port}/${v.repo}.git`, env);
      t.diagnostic(`${v.name}:\n${r.out}`);
      assert.doesNotMatch(r.out, new RegExp(E2E_USERS.ann as string), 'doctor must not print the password');
      assert.equal(r.code, v.code, `${v.name}:\n${r.out}`);
      for (const re of v.expect) assert.match(r.out, re, `${v.name}:\n${r.out}`);
      if (v.code === 0) assert.doesNotMatch(r.out, /^FAIL /m, `${v.name}:\n${r.out}`);
    } finally {
      await nginx.stop();
    }
    // Whatever happened, doctor leaves no scratch branch behind.
    assert.equal(await scratchBranches(v.repo), '', `${v.name}: a scratch branch is left in ${v.repo}.git`);
  }
  // Not even one that a push cut off by a timeout completes later, once its slow hook is done.
  await new Promise((r) => setTimeout(r, (SLOW_HOOK_SECONDS + 1) * 1000));
  for (const repo of ['open', 'slow']) assert.equal(await scratchBranches(repo), '', `a scratch branch turned up in ${repo}.git later`);
});
