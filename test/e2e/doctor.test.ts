import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import {
  diagnose,
  fetchTarget,
  negotiationCheck,
  pushChecks,
  receivePackPosts,
  redactUrl,
  type GitRun,
} from '../../app/cli/commands/doctor.js';
import { runCli } from '../../app/cli/main.js';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { DOCTOR_PROBE_PREFIX, doctorProbeLine } from '../../protocol/doctor-probe.js';
import { startFcgiwrap } from '../helpers/fcgiwrap.js';
import { git } from '../helpers/git.js';
import { installSnippets, makeCert, readShippedSite, renderSite, requireBinary, startNginx } from '../helpers/nginx.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';
import { spawnGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { E2E_USERS, e2eConfig } from './stack.js';

test('diagnose names the setting behind each HTTP failure', () => {
  const table: ReadonlyArray<[string, RegExp]> = [
    ['error: RPC failed; HTTP 413 curl 22 The requested URL returned error: 413', /client_max_body_size 0/],
    ['error: RPC failed; HTTP 504 curl 22 The requested URL returned error: 504', /proxy_read_timeout/],
    ["fatal: unable to access 'https://x/': The requested URL returned error: 502", /not running|socket/],
    ['error: RPC failed; HTTP 411 curl 22 The requested URL returned error: 411', /proxy_http_version 1\.1/],
    ['error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500', /proxy_request_buffering off/],
    ["fatal: unable to access 'https://x/': SSL certificate problem: self-signed certificate", /GIT_SSL_CAINFO/],
  ];
  for (const [stderr, cause] of table) assert.match(diagnose(stderr) ?? '', cause, stderr);
  assert.match(diagnose('', true) ?? '', /timeouts/);
  // The answer had started when nginx's read timeout cut it.
  assert.match(
    diagnose(
      'error: RPC failed; curl 18 transfer closed with outstanding read data remaining\nsend-pack: unexpected disconnect while reading sideband packet',
    ) ?? '',
    /^timeouts: the answer was cut off/,
  );
  assert.equal(diagnose('fatal: something else'), null);
  // Trace lines of GIT_TRACE_CURL mention SSL on every request; they are not the error.
  assert.match(
    diagnose(
      "12:00:00.000000 http.c:700 == Info: SSL connection using TLSv1.3\nfatal: Authentication failed for 'https://x/'",
    ) ?? '',
    /authentication failed/,
  );
  assert.equal(redactUrl('https://ann:secret@h/x.git'), 'https://ann:***@h/x.git');
});

/** A trace line of GIT_TRACE_CURL, as git 2.39 writes it. */
const tr = (dir: '=> Send header' | '<= Recv header', text: string): string =>
  `12:00:00.000000 http.c:703              ${dir}: ${text}`;

/** The trace of a push: the small probe POST with a length, then the pack chunked, each with gitward's answer header. */
function pushTrace(arrived: string | null): string {
  const post = (te: string, got: string | null) => [
    tr('=> Send header', 'POST /open.git/git-receive-pack HTTP/1.1'),
    tr('=> Send header', te),
    tr('<= Recv header', 'HTTP/1.1 200 OK'),
    ...(got === null ? [] : [tr('<= Recv header', `X-Gitward-Body: ${got}`)]),
  ];
  return [
    tr('=> Send header', 'GET /open.git/info/refs?service=git-receive-pack HTTP/1.1'),
    ...post('Content-Length: 4', arrived === null ? null : 'length'),
    ...post('Transfer-Encoding: chunked', arrived),
  ].join('\n');
}

const run = (stderr: string, code = 0): GitRun => ({ code, stderr, stdout: '', timedOut: false });

/** The probe ref of the unit tests, and the line gitward's hook prints for it. */
const PROBE = 'refs/gitward/doctor/0123abcd';
const REFUSED = `remote: ${doctorProbeLine(PROBE, 'ann', 'open')}\nTo https://x/open.git\n ! [remote rejected] HEAD -> ${PROBE} (pre-receive hook declined)`;

test('doctor reads from the push trace whether nginx streamed or buffered the chunked push, and who refused the probe', () => {
  assert.deepEqual(receivePackPosts(pushTrace('chunked')), [
    { chunked: false, arrived: 'length' },
    { chunked: true, arrived: 'chunked' },
  ]);
  const HOOK = "refused by gitward's hook (nothing written)";
  const levels = (trace: string, code = 1) => pushChecks(run(trace, code), PROBE).map((c) => `${c.level} ${c.name}`);
  assert.deepEqual(levels(`${pushTrace('chunked')}\n${REFUSED}`), [
    'ok push over 1 MiB (chunked)',
    'ok push body streamed (request buffering off)',
    `ok ${HOOK}`,
  ]);
  assert.deepEqual(levels(`${pushTrace('length')}\n${REFUSED}`), [
    'ok push over 1 MiB (chunked)',
    'fail push body streamed (request buffering off)',
    `ok ${HOOK}`,
  ]);
  assert.match(
    pushChecks(run(`${pushTrace('length')}\n${REFUSED}`, 1), PROBE)[1]?.cause ?? '',
    /^request buffering: set `proxy_request_buffering off;`/,
  );
  // Sidecar mode: git-http-backend answers through fcgiwrap, without gitward's header.
  assert.deepEqual(levels(`${pushTrace(null)}\n${REFUSED}`), [
    'ok push over 1 MiB (chunked)',
    'warn push body streamed (request buffering off)',
    `ok ${HOOK}`,
  ]);
  // Accepted: no gitward hook ran, and the probe ref now exists.
  assert.deepEqual(levels(pushTrace('chunked'), 0), [
    'ok push over 1 MiB (chunked)',
    'ok push body streamed (request buffering off)',
    `fail ${HOOK}`,
  ]);
  assert.match(pushChecks(run(pushTrace('chunked'), 0), PROBE)[2]?.cause ?? '', /gitward hooks install/);
  // Refused by some other hook, or by gitward's for another probe ref: not gitward's refusal of this one.
  const other = `${pushTrace('chunked')}\nremote: no.\n ! [remote rejected] HEAD -> ${PROBE} (pre-receive hook declined)`;
  assert.deepEqual(levels(other), [
    'ok push over 1 MiB (chunked)',
    'ok push body streamed (request buffering off)',
    `fail ${HOOK}`,
  ]);
  assert.equal(
    pushChecks(
      run(`${pushTrace('chunked')}\nremote: ${doctorProbeLine('refs/gitward/doctor/ffffffff', 'ann', 'open')}`, 1),
      PROBE,
    )[2]?.level,
    'warn',
  );
  // A push that went through but not chunked checked nothing about large pushes: a failure, not ok.
  const unchunked = [
    tr('=> Send header', 'POST /open.git/git-receive-pack HTTP/1.1'),
    tr('=> Send header', 'Content-Length: 2097152'),
    REFUSED,
  ].join('\n');
  assert.deepEqual(levels(unchunked), ['fail push over 1 MiB (chunked)', `ok ${HOOK}`]);
  // No trace at all (GIT_TRACE_CURL not honoured): nothing was checked.
  assert.deepEqual(levels(REFUSED), ['fail push over 1 MiB (chunked)', `ok ${HOOK}`]);
  assert.deepEqual(
    pushChecks(run('error: RPC failed; HTTP 413 curl 22 The requested URL returned error: 413', 1), PROBE).map(
      (c) => c.level,
    ),
    ['fail', 'warn', 'warn'],
  );
});

test('doctor fetches HEAD for the negotiation check, else the first ref, and nothing from an empty repo', () => {
  const sha = 'a'.repeat(40);
  assert.equal(fetchTarget(`${sha}\tHEAD\n${sha}\trefs/heads/main\n`), 'HEAD');
  assert.equal(
    fetchTarget(`${sha}\trefs/heads/dev\n${sha}\trefs/tags/v1\n${sha}\trefs/tags/v1^{}\n`),
    'refs/heads/dev',
  );
  assert.equal(fetchTarget(''), null);
});

test('doctor fails a negotiation that git did not gzip: Content-Encoding was not checked', () => {
  assert.equal(negotiationCheck(run(tr('=> Send header', 'Content-Encoding: gzip'))).level, 'ok');
  const plain = negotiationCheck(run(tr('=> Send header', 'Content-Type: application/x-git-upload-pack-request')));
  assert.equal(plain.level, 'fail');
  assert.match(plain.cause ?? '', /not checked/);
});

/** Seconds the slow repo's pre-receive hook takes for a push that adds commits. */
const SLOW_HOOK_SECONDS = 4;

/**
 * slow.git's pre-receive hook: a check that takes a while (a CI gate, a linter) before gitward's
 * dispatcher. git-http-backend is silent meanwhile (receive.keepAlive, 5 s, only speaks up after
 * that), which the shipped hour-long read timeouts allow for. Where a variant's read timeout is
 * tight, `gate` names that nginx's error log, and the hook goes on only once nginx has logged the
 * upstream time-out: the hook outlasts the timeout by construction, whatever the machine's load.
 * `tail -f` follows the log (inotify) and ends once grep has seen the line and gone (coreutils
 * notices its closed output), so nothing polls; `timeout` is only a safety net (--foreground: it
 * stays in the hook's process group, which gitward kills when the client has gone). Each run
 * appends `start PID` and `done PID` to `marks`, so that the test can wait for every run to end (or
 * be killed: gitward stops the backend of a client that went away).
 */
const slowHook = (dispatcher: string, marks: string, gate: string): string => `#!/bin/sh
echo "start $$" >>'${marks}'
input=$(cat)
if [ -s '${gate}' ]; then
  timeout --foreground ${SAFETY_NET_MS / 1000} tail -n +1 -f "$(cat '${gate}')" | grep -q 'upstream timed out'
else
  sleep ${SLOW_HOOK_SECONDS}
fi
printf '%s\\n' "$input" | '${dispatcher}' pre-receive
rc=$?
echo "done $$" >>'${marks}'
exit $rc
`;

/** A read timeout below the slow hook's duration: what an admin who keeps a tight proxy default gets. */
const TIGHT_READ_TIMEOUT = '2s';

/** A deliberately broken variant of a shipped config, and what doctor must say. */
interface Variant {
  readonly name: string;
  readonly mode: 'proxy' | 'sidecar';
  /** The repo doctor checks: slow.git has the slow hook, bare.git no gitward hooks at all. */
  readonly repo: 'open' | 'slow' | 'bare';
  /** How the URL carries the password: in it (default), or not, with or without GIT_ASKPASS. */
  readonly password?: 'url' | 'askpass' | 'none';
  readonly site?: (text: string) => string;
  readonly snippet?: (text: string) => string;
  /** The read timeout is tight: slow.git's hook waits for nginx's time-out (see slowHook). */
  readonly tight?: boolean;
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
const failWith = (name: string, cause: string): RegExp =>
  new RegExp(`^FAIL ${name}: [^\\n]*\\n\\s+likely cause: ${cause}`, 'm');
const PUSH = 'push over 1 MiB \\(chunked\\)';
const STREAMED = 'push body streamed \\(request buffering off\\)';
const HOOKED =
  /^ok {3}refused by gitward's hook \(nothing written\): refs\/gitward\/doctor\/[0-9a-f]+ refused by design$/m;
const LEFT = /^ok {3}no probe ref left behind: ls-remote does not list refs\/gitward\/doctor\/[0-9a-f]+$/m;

const VARIANTS: readonly Variant[] = [
  {
    name: 'the shipped proxy config',
    mode: 'proxy',
    repo: 'slow',
    code: 0,
    expect: [
      ok('401 challenge'),
      ok('ls-remote \\(protocol v2\\)'),
      ok('clone'),
      ok(PUSH),
      ok(STREAMED),
      HOOKED,
      ok("gzip'd negotiation"),
      LEFT,
      /^all checks passed$/m,
    ],
  },
  {
    // No password in the URL: git's own ways of asking (here GIT_ASKPASS) give it.
    name: 'a URL without a password, GIT_ASKPASS answering',
    mode: 'proxy',
    repo: 'open',
    password: 'askpass',
    code: 0,
    expect: [ok(PUSH), HOOKED, LEFT, /^all checks passed$/m],
  },
  {
    name: 'a URL without a password, and nobody to ask',
    mode: 'proxy',
    repo: 'open',
    password: 'none',
    code: 1,
    expect: [
      /^FAIL credentials: no password for https:\/\/ann@127\.0\.0\.1:\d+\/open\.git: put it in the URL, store it in a git credential helper, or run doctor on a terminal/m,
    ],
  },
  {
    // A repo without gitward's hooks: the probe is accepted, and doctor says so and what to do.
    name: 'a repo without gitward hooks',
    mode: 'proxy',
    repo: 'bare',
    code: 1,
    expect: [
      ok(PUSH),
      failWith("refused by gitward's hook \\(nothing written\\)", '[^\\n]*gitward hooks install'),
      failWith('no probe ref left behind', '[^\\n]*update-ref -d refs/gitward/doctor/'),
    ],
  },
  {
    name: 'a body size limit',
    mode: 'proxy',
    repo: 'open',
    code: 1,
    snippet: (s) => replaceOnce(s, 'client_max_body_size 0;', 'client_max_body_size 1m;'),
    expect: [failWith(PUSH, 'body size limit')],
  },
  {
    // Just buffering, with a working temp path: the push succeeds, only slower and via disk.
    name: 'request buffering on',
    mode: 'proxy',
    repo: 'open',
    code: 1,
    site: (s) => replaceOnce(s, 'proxy_request_buffering off;', 'proxy_request_buffering on;'),
    expect: [ok(PUSH), failWith(STREAMED, 'request buffering: set `proxy_request_buffering off;`'), HOOKED, LEFT],
  },
  {
    name: 'Git-Protocol not passed',
    mode: 'proxy',
    repo: 'open',
    code: 1,
    site: (s) =>
      replaceOnce(s, 'proxy_set_header Git-Protocol $http_git_protocol;', 'proxy_set_header Git-Protocol "";'),
    expect: [failWith('ls-remote \\(protocol v2\\)', 'Git-Protocol not passed')],
  },
  {
    name: 'a read timeout shorter than a slow pre-receive hook',
    mode: 'proxy',
    repo: 'slow',
    code: 1,
    site: (s) => replaceOnce(s, 'proxy_read_timeout 3600s;', `proxy_read_timeout ${TIGHT_READ_TIMEOUT};`),
    tight: true,
    // Reads are quick; only the push waits on the hook, so the push is what gets blamed.
    expect: [
      ok('ls-remote \\(protocol v2\\)'),
      ok('clone'),
      failWith(PUSH, 'timeouts: [^\\n]*proxy_read_timeout'),
      LEFT,
    ],
  },
  {
    name: 'the challenge header hidden',
    mode: 'proxy',
    repo: 'open',
    code: 1,
    site: (s) =>
      replaceOnce(
        s,
        'proxy_pass http://gitward;',
        'proxy_pass http://gitward;\n        proxy_hide_header WWW-Authenticate;',
      ),
    expect: [failWith('401 challenge', 'missing challenge header'), /likely cause: authentication failed/],
  },
  {
    name: 'the shipped sidecar config',
    mode: 'sidecar',
    repo: 'slow',
    code: 0,
    // The body goes to fcgiwrap, not gitward: doctor cannot see how it arrived, and says so.
    expect: [
      ok(PUSH),
      /^WARN push body streamed \(request buffering off\): could not check[^\n]*\n\s+check by hand: [^\n]*fastcgi_request_buffering off/m,
      HOOKED,
      ok("gzip'd negotiation"),
      LEFT,
      /^no check failed; 1 could not be checked/m,
    ],
  },
  {
    name: 'sidecar without the request headers',
    mode: 'sidecar',
    repo: 'open',
    code: 1,
    site: (s) =>
      replaceOnce(
        s,
        'fastcgi_request_buffering off;',
        'fastcgi_request_buffering off;\n        fastcgi_pass_request_headers off;',
      ),
    expect: [
      failWith('ls-remote \\(protocol v2\\)', 'Git-Protocol not passed'),
      failWith("gzip'd negotiation", 'Content-Encoding not passed'),
      HOOKED,
      LEFT,
    ],
  },
  {
    name: 'sidecar with a read timeout shorter than a slow pre-receive hook',
    mode: 'sidecar',
    repo: 'slow',
    code: 1,
    site: (s) => replaceOnce(s, 'fastcgi_read_timeout 3600s;', `fastcgi_read_timeout ${TIGHT_READ_TIMEOUT};`),
    tight: true,
    // fcgiwrap lets the cut-off push run on, and gitward's hook refuses it when its turn comes.
    expect: [
      ok('ls-remote \\(protocol v2\\)'),
      ok('clone'),
      failWith(PUSH, 'timeouts: [^\\n]*fastcgi_read_timeout'),
      LEFT,
    ],
  },
];

/**
 * Runs `gitward doctor URL` in this process: the runCli that main.js calls, with `env` as the
 * process environment and no terminal, as the child process of runDoctorCli gets them. Doctor's
 * checks are what the variants test; one real process (the first variant) covers main.js.
 */
async function runDoctor(url: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const out: Buffer[] = [];
  const sink = new PassThrough().on('data', (b: Buffer) => out.push(b));
  const stdin = new PassThrough();
  stdin.end();
  const code = await runCli(['doctor', url], {
    stdin,
    stdout: sink,
    stderr: sink,
    env,
    cwd: process.cwd(),
    isTTY: false,
    onSignal: () => undefined,
  });
  return { code, out: Buffer.concat(out).toString() };
}

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

/** Resolves once `probe` holds, looking every 100 ms; an outer time-out is only a safety net. */
async function until(probe: () => boolean, what: string, limitMs = SAFETY_NET_MS): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('gitward doctor passes the shipped configs, leaves no ref behind under receive.denyDeletes, and names the cause of each deliberate breakage', async (t) => {
  const nginxBin = requireBinary(t, 'nginx');
  if (nginxBin === null) return;
  const fcgiwrapBin = requireBinary(t, 'fcgiwrap');
  if (fcgiwrapBin === null) return;
  const dir = tempDir(t, 'gitward-doctor-');
  const socket = path.join(dir, 'gitward.sock');
  const config = e2eConfig({ socket });
  const access = { '.read': ['ann'], '.write': ['ann'] };
  const repos = { ...(config.repos as Record<string, unknown>), 'slow.git': access, 'bare.git': access };
  const gw = await spawnGitward(t, {
    users: { ...E2E_USERS },
    repos: ['open', 'slow', 'bare'],
    config: { ...config, repos },
  });
  const marks = path.join(dir, 'slow-hook.marks');
  const gate = path.join(dir, 'slow-hook.gate');
  // One commit on main in each repo (before any hook), so that there is something to fetch.
  const seed = path.join(dir, 'seed');
  const ident = {
    GIT_AUTHOR_NAME: 'a',
    GIT_AUTHOR_EMAIL: 'a@example.org',
    GIT_COMMITTER_NAME: 'a',
    GIT_COMMITTER_EMAIL: 'a@example.org',
  };
  for (const args of [
    ['init', '--quiet', '--initial-branch=main', seed],
    ['-C', seed, 'commit', '--quiet', '--allow-empty', '-m', 'first'],
  ]) {
    const r = await git(args, { cwd: dir, env: { ...gw.gitEnv, ...ident } });
    assert.equal(r.code, 0, r.stderr);
  }
  for (const repo of ['open', 'slow', 'bare']) {
    const gitDir = path.join(gw.repoRoot, `${repo}.git`);
    const pushed = await git(['-C', seed, 'push', '--quiet', gitDir, 'main'], { cwd: dir, env: gw.gitEnv });
    assert.equal(pushed.code, 0, pushed.stderr);
    // What `gitward repo create` sets: a design that deletes its scratch ref could not clean up here.
    for (const key of ['receive.denyDeletes', 'receive.denyNonFastForwards']) {
      const r = await git(['--git-dir', gitDir, 'config', key, 'true'], { cwd: gw.dir, env: gw.gitEnv });
      assert.equal(r.code, 0, r.stderr);
    }
    if (repo === 'open') installHooks(gitDir, dispatcherPath(), { force: false, now: Date.now() });
  }
  fs.writeFileSync(
    path.join(gw.repoRoot, 'slow.git', 'hooks', 'pre-receive'),
    slowHook(dispatcherPath(), marks, gate),
    { mode: 0o755 },
  );
  const fcgi = await startFcgiwrap({ socket: path.join(dir, 'fcgiwrap.sock'), children: 2, fcgiwrapPath: fcgiwrapBin });
  t.after(() => fcgi.stop());
  const cert = await makeCert(dir);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: path.join(dir, 'home'),
    GIT_SSL_CAINFO: cert.cert,
    GIT_CONFIG_NOSYSTEM: '1',
  };
  fs.mkdirSync(env.HOME);
  const askpass = path.join(dir, 'askpass');
  fs.writeFileSync(askpass, `#!/bin/sh\necho '${E2E_USERS.ann as string}'\n`, { mode: 0o755 });
  const probeRefs = async (repo: string): Promise<string> => {
    const r = await git(
      [
        '--git-dir',
        path.join(gw.repoRoot, `${repo}.git`),
        'for-each-ref',
        '--format=%(refname)',
        DOCTOR_PROBE_PREFIX,
        'refs/heads/gitward-doctor-*',
      ],
      { cwd: gw.dir, env: gw.gitEnv },
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  for (const v of VARIANTS) {
    const ndir = path.join(dir, v.name.replace(/[^a-z0-9]+/gi, '-'));
    fs.mkdirSync(ndir);
    installSnippets(ndir);
    if (v.snippet)
      fs.writeFileSync(
        path.join(ndir, 'gitward-common.conf'),
        v.snippet(fs.readFileSync(path.join(ndir, 'gitward-common.conf'), 'utf8')),
      );
    const site = (port: number): string => {
      const text =
        v.mode === 'proxy'
          ? renderSite(readShippedSite('gitward-proxy.conf'), { port, cert, snippetsDir: ndir, gitwardSocket: socket })
          : renderSite(readShippedSite('gitward-sidecar.conf'), {
              port,
              cert,
              snippetsDir: ndir,
              gitwardSocket: socket,
              fcgiwrapSocket: fcgi.socket,
              repoRoot: gw.repoRoot,
              gitwardConfig: gw.configFile,
            });
      return v.site ? v.site(text) : text;
    };
    const nginx = await startNginx({ dir: ndir, site, nginxPath: nginxBin });
    const port = nginx.port;
    fs.writeFileSync(gate, v.tight === true ? path.join(ndir, 'error.log') : '');
    try {
      const password = v.password ?? 'url';
      const userinfo = password === 'url' ? `ann:${E2E_USERS.ann as string}` : 'ann';
      const r = await (v === VARIANTS[0] ? runDoctorCli : runDoctor)(
        `https://${userinfo}@127.0.0.1:${port}/${v.repo}.git`,
        password === 'askpass' ? { ...env, GIT_ASKPASS: askpass } : env,
      );
      t.diagnostic(`${v.name}:\n${r.out}`);
      assert.doesNotMatch(r.out, new RegExp(E2E_USERS.ann as string), 'doctor must not print the password');
      assert.equal(r.code, v.code, `${v.name}:\n${r.out}`);
      for (const re of v.expect) assert.match(r.out, re, `${v.name}:\n${r.out}`);
      if (v.code === 0) assert.doesNotMatch(r.out, /^FAIL /m, `${v.name}:\n${r.out}`);
      // Nobody to ask is not blamed on nginx.
      if (password === 'none') assert.doesNotMatch(r.out, /nginx/);
    } finally {
      await nginx.stop();
    }
    // Whatever happened, doctor leaves no ref behind where gitward's hooks run.
    if (v.repo !== 'bare') assert.equal(await probeRefs(v.repo), '', `${v.name}: a probe ref is left in ${v.repo}.git`);
  }
  // Not even one that a push cut off by a timeout would write later, once its slow hook is done.
  const marked = (what: string): string[] =>
    fs.existsSync(marks)
      ? fs
          .readFileSync(marks, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith(`${what} `))
          .map((l) => l.slice(what.length + 1))
      : [];
  const running = (): string[] =>
    marked('start').filter((pid) => !marked('done').includes(pid) && fs.existsSync(`/proc/${pid}`));
  await until(() => running().length === 0, 'the slow hooks to finish');
  assert.ok(marked('start').length >= 3, 'the slow repo was pushed to');
  for (const repo of ['open', 'slow'])
    assert.equal(await probeRefs(repo), '', `a probe ref turned up in ${repo}.git later`);
  // Where no gitward hook runs, doctor said so, and the ref it reported is really there.
  assert.match(await probeRefs('bare'), /^refs\/gitward\/doctor\/[0-9a-f]+$/);
});
