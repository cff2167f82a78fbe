import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { git } from '../helpers/git.js';
import { startGitward } from '../helpers/server.js';

/** Runs a program (Apache's `htpasswd` here) with an argv array; rejects on a non-zero exit. */
const run = promisify(execFile);

/** `git ls-remote URL` with the test server's isolated git environment. */
async function lsRemote(gw: { dir: string; gitEnv: Record<string, string> }, url: string, extra: string[] = []) {
  return git([...extra, 'ls-remote', url], { cwd: gw.dir, env: gw.gitEnv });
}

function rawGet(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PRIVATE = { 'x.git': { '.read': ['ann', 'ben'] } };
/** The ACL names users the htpasswd file may not (yet) have; the loader wants them declared. */
const USERS = { ann: {}, ben: {} };

/** git's words for a 401 answered to the credentials it sent. */
const AUTH_FAILED = /Authentication failed/;

describe('identity through the real git CLI', () => {
  it('refuses a user deleted from the htpasswd file on the very next request', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw-a', ben: 'pw-b' },
      config: { users: USERS, repos: PRIVATE },
      repos: ['x'],
    });
    const ann = gw.url('x', { user: 'ann', password: 'pw-a' });
    assert.equal((await lsRemote(gw, ann)).code, 0);
    gw.writeUsers({ ben: 'pw-b' });
    const r = await lsRemote(gw, ann);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Authentication failed|401/);
    assert.equal((await lsRemote(gw, gw.url('x', { user: 'ben', password: 'pw-b' }))).code, 0);
  });

  it("refuses the last user once Apache's `htpasswd -D` deleted them (it leaves an empty file): 401", async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw-a' },
      config: { users: USERS, repos: PRIVATE },
      repos: ['x'],
    });
    const file = path.join(gw.dir, 'users.htpasswd');
    const ann = gw.url('x', { user: 'ann', password: 'pw-a' });
    assert.equal((await lsRemote(gw, ann)).code, 0, 'ann signs in before the delete (and her password is cached)');
    await run('htpasswd', ['-D', file, 'ann']);
    assert.equal(fs.statSync(file).size, 0, 'htpasswd -D of the last user leaves a 0-byte file');
    const r = await lsRemote(gw, ann);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_FAILED);
    assert.ok(gw.logs.lines.some((l) => l.event === 'auth.failed' && l.user === 'ann'));
  });

  it("lets users made with Apache's htpasswd -B, -m and -s sign in through the server; a wrong password fails", async (t) => {
    const made: Array<[flag: string, user: string, password: string, hash: RegExp]> = [
      ['-B', 'bee', 'pw-bcrypt', /^\$2y\$/],
      ['-m', 'emm', 'pw-apr1', /^\$apr1\$/],
      ['-s', 'ess', 'pw-sha1', /^\{SHA\}/],
    ];
    const users = Object.fromEntries(made.map(([, u]) => [u, {}]));
    const gw = await startGitward(t, {
      config: { users, repos: { 'x.git': { '.read': Object.keys(users) } } },
      repos: ['x'],
    });
    const file = path.join(gw.dir, 'users.htpasswd');
    for (const [i, [flag, user, password]] of made.entries())
      await run('htpasswd', [...(i === 0 ? ['-c'] : []), flag, '-b', file, user, password]);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(':')[0]),
      made.map(([, u]) => u),
    );
    for (const [flag, user, password, hash] of made) {
      await t.test(
        `htpasswd ${flag}: ${user} with the right password lists refs, with a wrong one gets 401`,
        async () => {
          assert.match(lines.find((l) => l.startsWith(`${user}:`))?.slice(user.length + 1) ?? '', hash);
          const ok = await lsRemote(gw, gw.url('x', { user, password }));
          assert.equal(ok.code, 0, ok.stderr);
          const wrong = await lsRemote(gw, gw.url('x', { user, password: `${password}-wrong` }));
          assert.notEqual(wrong.code, 0);
          assert.match(wrong.stderr, AUTH_FAILED);
        },
      );
    }
  });

  it('accepts a changed password on the next request and refuses the old one', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'old-pw' },
      config: { users: USERS, repos: PRIVATE },
      repos: ['x'],
    });
    assert.equal((await lsRemote(gw, gw.url('x', { user: 'ann', password: 'old-pw' }))).code, 0);
    gw.writeUsers({ ann: 'new-pw' });
    assert.equal((await lsRemote(gw, gw.url('x', { user: 'ann', password: 'new-pw' }))).code, 0);
    assert.notEqual((await lsRemote(gw, gw.url('x', { user: 'ann', password: 'old-pw' }))).code, 0);
  });

  it('answers 429 with Retry-After after brute_force.max_failures failures, even to the right password, and logs each failure', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw-a' },
      config: { users: USERS, repos: PRIVATE, brute_force: { max_failures: 3, window_seconds: 300 } },
      repos: ['x'],
    });
    for (let i = 0; i < 3; i++) {
      const r = await lsRemote(gw, gw.url('x', { user: 'ann', password: `guess-${i}` }));
      assert.match(r.stderr, /Authentication failed|401/);
    }
    const r = await lsRemote(gw, gw.url('x', { user: 'ann', password: 'pw-a' }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /429/);
    const raw = await rawGet(gw.port, '/x.git/info/refs?service=git-upload-pack', {
      authorization: `Basic ${Buffer.from('ann:pw-a').toString('base64')}`,
    });
    assert.equal(raw.status, 429);
    assert.match(String(raw.headers['retry-after']), /^\d+$/);
    assert.ok(Number(raw.headers['retry-after']) > 0);
    const failed = gw.logs.lines.filter((l) => l.event === 'auth.failed');
    assert.equal(failed.length, 3);
    for (const l of failed) assert.deepEqual([l.client, l.user], ['127.0.0.1', 'ann']);
  });

  it('a URL with a user and no password (git sends `ann:` first, then asks) is no failed login: more commands than max_failures all pass', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw-a' },
      config: { users: USERS, repos: PRIVATE, brute_force: { max_failures: 2, window_seconds: 300 } },
      repos: ['x'],
    });
    // git asks GIT_ASKPASS for the password, as it would a credential helper.
    const askpass = path.join(gw.dir, 'askpass');
    fs.writeFileSync(askpass, `#!${process.execPath}\nprocess.stdout.write('pw-a\\n');\n`, { mode: 0o700 });
    const env = { ...gw.gitEnv, GIT_ASKPASS: askpass, GIT_TERMINAL_PROMPT: '0' };
    const userOnly = gw.url('x', { user: 'ann', password: 'pw-a' }).replace(':pw-a@', '@');
    for (let i = 0; i < 4; i++) {
      const r = await git(['ls-remote', userOnly], { cwd: gw.dir, env });
      assert.equal(r.code, 0, `command ${i + 1}: ${r.stderr}`);
    }
    // Each command: a 401 to the request without credentials, and one to `ann:` (its authSource
    // is "none": credentials that named no one).
    assert.equal(
      gw.audit.records.filter((a) => a.status === 401 && a.authSource === 'none').length,
      4,
      'git sent the empty password once a command',
    );
    assert.deepEqual(
      gw.logs.lines.filter((l) => l.event === 'auth.failed'),
      [],
      'no failed login logged (fail2ban reads them)',
    );
    // A wrong password still counts: two of them, then 429 even with the right one.
    for (let i = 0; i < 2; i++) await lsRemote(gw, gw.url('x', { user: 'ann', password: `guess-${i}` }));
    assert.match((await lsRemote(gw, gw.url('x', { user: 'ann', password: 'pw-a' }))).stderr, /429/);
  });

  it('keeps counting failed logins across a config reload: max_failures - 1 failures, reload, one more → 429', async (t) => {
    const bruteForce = { max_failures: 3, window_seconds: 300 };
    const gw = await startGitward(t, {
      users: { ann: 'pw-a' },
      config: { users: USERS, repos: PRIVATE, brute_force: bruteForce },
      repos: ['x'],
    });
    for (let i = 0; i < bruteForce.max_failures - 1; i++)
      assert.match((await lsRemote(gw, gw.url('x', { user: 'ann', password: `guess-${i}` }))).stderr, AUTH_FAILED);
    const before = gw.runtime.current();
    gw.writeConfig({ users: USERS, repos: PRIVATE, brute_force: bruteForce, realm: 'reloaded' });
    assert.equal(await gw.reload(), true);
    assert.notEqual(gw.runtime.current(), before, 'a new runtime (and auth chain) is in force');
    assert.match((await lsRemote(gw, gw.url('x', { user: 'ann', password: 'guess-last' }))).stderr, AUTH_FAILED);
    const r = await lsRemote(gw, gw.url('x', { user: 'ann', password: 'pw-a' }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /429/);
  });

  it('judges the failures counted before a reload by the brute_force settings of the reloaded config', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw-a' },
      config: { users: USERS, repos: PRIVATE, brute_force: { max_failures: 10, window_seconds: 300 } },
      repos: ['x'],
    });
    for (let i = 0; i < 2; i++)
      assert.match((await lsRemote(gw, gw.url('x', { user: 'ann', password: `guess-${i}` }))).stderr, AUTH_FAILED);
    assert.equal(
      (await lsRemote(gw, gw.url('x', { user: 'ann', password: 'pw-a' }))).code,
      0,
      '2 of 10: not throttled',
    );
    gw.writeConfig({ users: USERS, repos: PRIVATE, brute_force: { max_failures: 2, window_seconds: 300 } });
    assert.equal(await gw.reload(), true);
    const r = await lsRemote(gw, gw.url('x', { user: 'ann', password: 'pw-a' }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /429/, '2 of 2 under the new settings: throttled');
  });

  it('lets a user added by `gitward user add` (a real child process) clone on the next request', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw-a' },
      config: { users: USERS, repos: PRIVATE },
      repos: ['x'],
    });
    assert.notEqual((await lsRemote(gw, gw.url('x', { user: 'ben', password: 'pw-b' }))).code, 0);
    const main = path.join(__dirname, '..', '..', 'app', 'main.js');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [main, 'user', 'add', 'ben', '--file', path.join(gw.dir, 'users.htpasswd'), '--password-stdin', '--cost', '4'],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
          stdio: ['pipe', 'ignore', 'inherit'],
        },
      );
      child.on('error', reject);
      child.on('close', resolve);
      child.stdin.end('pw-b\n');
    });
    assert.equal(code, 0);
    assert.equal((await lsRemote(gw, gw.url('x', { user: 'ben', password: 'pw-b' }))).code, 0);
    assert.equal((await lsRemote(gw, gw.url('x', { user: 'ann', password: 'pw-a' }))).code, 0);
  });

  for (const [trusted, works] of [
    [['unix'], false],
    [['127.0.0.1/32'], true],
  ] as const) {
    it(`${works ? 'trusts' : 'ignores, with a warning,'} X-Remote-User over 127.0.0.1 when trusted_proxies is [${trusted.join(', ')}]`, async (t) => {
      const gw = await startGitward(t, {
        users: { ben: 'pw-b' },
        config: {
          authentication: [
            { plugin: 'remote-user', header: 'X-Remote-User', trusted_proxies: [...trusted] },
            { plugin: 'htpasswd', file: 'users.htpasswd' },
          ],
          users: USERS,
          repos: PRIVATE,
        },
        repos: ['x'],
      });
      const r = await lsRemote(gw, gw.url('x'), ['-c', 'http.extraHeader=X-Remote-User: ann']);
      assert.equal(r.code === 0, works, r.stderr);
      const warned = gw.logs.lines.some((l) => l.event === 'auth.remote_user_untrusted' && l.peer === '127.0.0.1');
      assert.equal(warned, !works);
    });
  }

  it('reads the default header X-Remote-User when the remote-user plugin names no `header:`; a bad name there is a logged failed login', async (t) => {
    const gw = await startGitward(t, {
      config: {
        authentication: [{ plugin: 'remote-user', trusted_proxies: ['127.0.0.1/32'] }],
        users: USERS,
        repos: PRIVATE,
      },
      repos: ['x'],
    });
    const ok = await lsRemote(gw, gw.url('x'), ['-c', 'http.extraHeader=X-Remote-User: ann']);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await lsRemote(gw, gw.url('x'), ['-c', 'http.extraHeader=X-Remote-User: ann:x']);
    assert.notEqual(bad.code, 0);
    const failed = gw.logs.lines.filter((l) => l.event === 'auth.failed');
    assert.ok(failed.length > 0);
    for (const l of failed) assert.deepEqual([l.user, l.source, l.client], ['ann:x', 'remote-user', '127.0.0.1']);
  });
});
