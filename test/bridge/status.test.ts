import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMemoryAuditSink } from '../../app/audit/audit-log.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import type { Runtime, RuntimeHolder } from '../../app/runtime.js';
import { createApp } from '../../app/server.js';
import { gitHttpBackendPath } from '../helpers/git.js';
import { startGitward, testSpawner, type TestGitward } from '../helpers/server.js';
import { eventually, git, gitOk } from './git-run.js';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One raw HTTP request; the path is sent exactly as given (no URL normalisation). */
function send(port: number, method: string, rawPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const UPLOAD = '/info/refs?service=git-upload-pack';
const RECEIVE = '/info/refs?service=git-receive-pack';

describe('status codes of DESIGN.md §3 (proxy / standalone)', () => {
  const cleanups: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let gw: TestGitward;
  const ann = basic('ann', 'ann-pw');
  const ben = basic('ben', 'ben-pw');
  const carl = basic('carl', 'carl-pw');

  before(async () => {
    gw = await startGitward(t, {
      users: { ann: 'ann-pw', ben: 'ben-pw', carl: 'carl-pw' },
      config: {
        realm: 'test realm',
        users: { ann: { groups: ['eng'] }, ben: { groups: ['qa'] }, carl: {} },
        repos: {
          'pub.git': { '.read': ['$all'], '.write': ['@eng'] },
          'escape.git': { '.read': ['$all'] },
          team: {
            '.read': ['@eng', '@qa'],
            '.write': ['@eng'],
            'code.git': {},
            'missing.git': {},
            'secret.git': { '.inherit': false, '.read': ['ann'] },
          },
        },
      },
      repos: ['pub', 'team/code', 'team/secret'],
    });
    // A symlink inside repo_root that points outside it.
    const outside = path.join(gw.dir, 'outside', 'escape.git');
    fs.mkdirSync(path.dirname(outside), { recursive: true });
    await gitOk(['init', '-q', '--bare', outside], { cwd: gw.dir, env: gw.gitEnv });
    fs.symlinkSync(outside, path.join(gw.repoRoot, 'escape.git'));
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  const cases: Array<[string, string, string, string | null, number]> = [
    ['anonymous read of a repo that needs a login', 'GET', `/team/code.git${UPLOAD}`, null, 401],
    ['wrong password', 'GET', `/team/code.git${UPLOAD}`, 'bad', 401],
    ['unknown user', 'GET', `/team/code.git${UPLOAD}`, 'nobody', 401],
    ['malformed Basic credentials (never 500)', 'GET', `/team/code.git${UPLOAD}`, 'malformed', 401],
    ['reader reads', 'GET', `/team/code.git${UPLOAD}`, 'ben', 200],
    ['reader asks to push: 403 on the advertisement, before any pack', 'GET', `/team/code.git${RECEIVE}`, 'ben', 403],
    ['writer asks to push', 'GET', `/team/code.git${RECEIVE}`, 'ann', 200],
    ['authenticated, may not read: hidden as 404', 'GET', `/team/code.git${UPLOAD}`, 'carl', 404],
    ['may not read an .inherit:false repo: 404', 'GET', `/team/secret.git${UPLOAD}`, 'ben', 404],
    ['anonymous on a hidden repo: 401 (credentials could help)', 'GET', `/team/secret.git${UPLOAD}`, null, 401],
    ['allowed but missing on disk: 404', 'GET', `/team/missing.git${UPLOAD}`, 'ann', 404],
    ['unknown repo: 404', 'GET', `/nope.git${UPLOAD}`, 'ann', 404],
    ['anonymous read of a $all repo', 'GET', `/pub.git${UPLOAD}`, null, 200],
    ['anonymous push to a $all-read repo: 401', 'GET', `/pub.git${RECEIVE}`, null, 401],
    ['symlink leaving repo_root: 404', 'GET', `/escape.git${UPLOAD}`, null, 404],
    ['wrong method: 405', 'PUT', `/pub.git/git-upload-pack`, null, 405],
    ['OPTIONS is not answered without a route: 405', 'OPTIONS', `/pub.git${UPLOAD}`, null, 405],
    ['dumb HTTP while off: 400', 'GET', '/pub.git/HEAD', null, 400],
    ['unknown service: 400', 'GET', '/pub.git/info/refs?service=git-upload-archive', null, 400],
  ];
  for (const [name, method, p, who, status] of cases) {
    it(`${status}: ${name}`, async () => {
      const headers =
        who === null
          ? {}
          : who === 'bad'
            ? basic('ann', 'wrong')
            : who === 'nobody'
              ? basic('nobody', 'x')
              : who === 'malformed'
                ? { authorization: 'Basic %%%' }
                : { ann, ben, carl }[who as 'ann' | 'ben' | 'carl'];
      const r = await send(gw.port, method, p, headers);
      assert.equal(r.status, status, r.body);
      if (status === 401) assert.equal(r.headers['www-authenticate'], 'Basic realm="test realm", charset="UTF-8"');
      else assert.equal(r.headers['www-authenticate'], undefined);
      if (status === 405) assert.ok(r.headers.allow);
      if (status !== 200) {
        assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
        assert.equal(r.body.split('\n').filter(Boolean).length, 1, 'one plain line');
        assert.doesNotMatch(r.body, /\beng\b|\bqa\b|ben|carl|Error|\n\s+at /, 'no groups, users or stack in the body');
      } else {
        assert.equal(r.headers['x-accel-buffering'], 'no');
      }
    });
  }

  const hostile = [
    '/team/%2e%2e/pub.git',
    '/team/../pub.git',
    '/..%2fpub.git',
    '/team%2fcode.git',
    '/%2e%2e/%2e%2e/etc.git',
    '/pub%00.git',
    '/pub.git%00',
    '/team\\code.git',
    '/.git',
    '/.ssh.git',
    '//pub.git',
    '/team//code.git',
    `/${'a'.repeat(300)}.git`,
    '/%ef%bc%8e%ef%bc%8e/pub.git',
    '/%c0%ae%c0%ae/pub.git',
    '/pub.git.git',
    '/escape.git',
    '/escape',
  ];
  for (const repoPath of hostile) {
    it(`hostile ${JSON.stringify(repoPath)}: 400 or 404 and git never starts`, async () => {
      const starts = gw.logs.lines.filter((l) => l.event === 'backend.start').length;
      const r = await send(gw.port, 'GET', `${repoPath}${UPLOAD}`, ann);
      assert.ok(r.status === 400 || r.status === 404, `${r.status} ${r.body}`);
      assert.equal(gw.logs.lines.filter((l) => l.event === 'backend.start').length, starts);
    });
  }

  it('a read-only user pushing with git gets 403 before any pack is sent', async () => {
    const dir = path.join(gw.dir, 'ro-push');
    await gitOk(['clone', '-q', gw.url('team/code', { user: 'ann', password: 'ann-pw' }), dir], {
      cwd: gw.dir,
      env: gw.gitEnv,
    });
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'x'], { cwd: dir, env: gw.gitEnv });
    const r = await git(['push', gw.url('team/code', { user: 'ben', password: 'ben-pw' }), 'HEAD:refs/heads/ro'], {
      cwd: dir,
      env: gw.gitEnv,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /403/);
    assert.equal(
      gw.audit.records.filter((a) => a.user === 'ben' && a.service === 'git-receive-pack' && a.decision === 'allowed')
        .length,
      0,
    );
    assert.ok(
      !gw.audit.records.some((a) => a.service === 'git-receive-pack' && a.user === 'ben' && a.bytesIn > 0),
      'no pack bytes from ben',
    );
  });

  it('anonymous read, authenticated push: git gets 401 on the advertisement, asks its credential helper, retries', async () => {
    const dir = path.join(gw.dir, 'anon');
    await gitOk(['clone', '-q', gw.url('pub'), dir], { cwd: gw.dir, env: gw.gitEnv });
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'anon then auth'], { cwd: dir, env: gw.gitEnv });
    const helper = '!f() { test "$1" = get && printf \'username=ann\\npassword=ann-pw\\n\'; }; f';
    const r = await git(['-c', `credential.helper=${helper}`, 'push', 'origin', 'HEAD:refs/heads/main'], {
      cwd: dir,
      env: gw.gitEnv,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = await eventually(() => {
      const l = gw.audit.records.filter((a) => a.repo === 'pub' && a.service === 'git-receive-pack');
      return l.some((a) => a.bytesIn > 0 && a.exitCode !== null) ? l : undefined;
    }, 'the push audit lines');
    assert.deepEqual([lines[0]?.status, lines[0]?.user], [401, null]);
    assert.ok(lines.some((a) => a.status === 200 && a.user === 'ann' && a.bytesIn > 0));
  });

  it('an unexpected error is a 500 naming the request id, nothing internal', async (tt) => {
    const real = gw.runtime.current();
    const broken: Runtime = {
      ...real,
      auth: { ...real.auth, identify: () => Promise.reject(new Error('boom: secret detail')) },
    };
    const holder: RuntimeHolder = { current: () => broken, lastFailure: () => null, restartRequired: () => [] };
    const logs = createMemoryLogger();
    const app = createApp(
      { runtime: holder, logger: logs, audit: createMemoryAuditSink(), now: Date.now },
      { backendPath: await gitHttpBackendPath(), spawner: await testSpawner(tt) },
    );
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tt.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const r = await send((server.address() as net.AddressInfo).port, 'GET', `/pub.git${UPLOAD}`);
    assert.equal(r.status, 500);
    assert.equal(r.body, `internal error (request id ${String(r.headers['x-request-id'])})\n`);
    const logged = logs.lines.find((l) => l.event === 'request.internal_error');
    assert.equal(logged?.requestId, r.headers['x-request-id']);
  });
});

describe('429 after too many failed logins', () => {
  it('answers 429 with Retry-After once the limit is reached', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'ann-pw' },
      config: {
        brute_force: { max_failures: 2, window_seconds: 300 },
        users: { ann: {} },
        repos: { 'x.git': { '.read': ['ann'] } },
      },
      repos: ['x'],
    });
    const statuses: number[] = [];
    let last: Reply | null = null;
    for (let i = 0; i < 4; i++) {
      last = await send(gw.port, 'GET', `/x.git${UPLOAD}`, basic('ann', 'wrong'));
      statuses.push(last.status);
    }
    assert.equal(statuses[0], 401);
    assert.equal(statuses[3], 429);
    assert.ok(Number(last?.headers['retry-after']) >= 1);
  });
});

describe('dumb HTTP when dumb_http: true', () => {
  it("serves git's dumb protocol: the walker fetches a commit, HEAD and info/refs are files", async (t) => {
    const gw = await startGitward(t, {
      config: { dumb_http: true, repos: { 'd.git': { '.read': ['$all'] } } },
      repos: ['d'],
    });
    const env = gw.gitEnv;
    const src = path.join(gw.dir, 'src');
    await gitOk(['init', '-q', '-b', 'main', src], { cwd: gw.dir, env });
    fs.writeFileSync(path.join(src, 'a.txt'), 'dumb\n');
    await gitOk(['add', '.'], { cwd: src, env });
    await gitOk(['commit', '-qm', 'one'], { cwd: src, env });
    await gitOk(['push', '-q', path.join(gw.repoRoot, 'd.git'), 'main'], { cwd: src, env });
    const sha = (await gitOk(['rev-parse', 'HEAD'], { cwd: src, env })).trim();

    const head = await send(gw.port, 'GET', '/d.git/HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, 'ref: refs/heads/main\n');
    const refs = await send(gw.port, 'GET', '/d.git/info/refs');
    assert.equal(refs.body, `${sha}\trefs/heads/main\n`);

    const dst = path.join(gw.dir, 'dst');
    await gitOk(['init', '-q', '-b', 'main', dst], { cwd: gw.dir, env });
    await gitOk(['http-fetch', '-a', '-w', 'heads/main', sha, `${gw.origin}/d.git/`], { cwd: dst, env });
    await gitOk(['checkout', '-q', 'main'], { cwd: dst, env });
    assert.equal(fs.readFileSync(path.join(dst, 'a.txt'), 'utf8'), 'dumb\n');
    const dumbLines = gw.audit.records.filter((a) => a.service === 'dumb');
    assert.ok(dumbLines.length >= 3 && dumbLines.every((a) => a.need === 'read'));
  });
});

describe('hide_existence: false', () => {
  it('an authenticated user who may not read gets 403, not 404', async (t) => {
    const gw = await startGitward(t, {
      users: { carl: 'carl-pw', dora: 'dora-pw' },
      config: { hide_existence: false, users: { carl: {}, dora: {} }, repos: { 'x.git': { '.read': ['dora'] } } },
      repos: ['x'],
    });
    const r = await send(gw.port, 'GET', `/x.git${UPLOAD}`, basic('carl', 'carl-pw'));
    assert.equal(r.status, 403, r.body);
  });
});
