/**
 * The example HTTP authentication plugin (examples/plugins/http-auth) end to end: a real gitward
 * loads it by module path, asks a small user service on 127.0.0.1, and the real git CLI clones.
 * Right password clones; wrong password 401; a service that hangs or is down refuses (fail
 * closed); the groups the service returns are what grants access.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { git, makeWorkTree } from '../helpers/git.js';
import { startGitward } from '../helpers/server.js';

/** The compiled example plugin, named by absolute path as an admin's config may. */
const PLUGIN = path.join(__dirname, '..', '..', 'examples', 'plugins', 'http-auth.js');
/**
 * The plugin's wait for the service in the hanging case: short, so that case costs little time.
 * It runs on a gitward of its own: on the main one a loaded machine could make an answering
 * service late, and a clock would decide the test.
 */
const SERVICE_TIMEOUT_MS = 300;
/** The main gitward's wait: a safety net only, never reached by an answering service. */
const SAFETY_NET_TIMEOUT_MS = 60_000; // the plugin's maximum
/** git's words for a 401 answered to the credentials it sent. */
const AUTH_FAILED = /Authentication failed/;

/** The user service's users: password and the groups it reports. */
const DIRECTORY: Record<string, { password: string; groups: string[] }> = {
  ann: { password: 'pw-ann', groups: ['eng'] },
  ben: { password: 'pw-ben', groups: [] },
};

/** How the service behaves now: answers, or takes every request and never answers. */
type Mode = 'answer' | 'hang';

/** A user service on 127.0.0.1 speaking the plugin's protocol; `mode` is switched by the test. */
async function userService(
  t: TestContext,
): Promise<{ url: string; setMode(m: Mode): void; stop(): Promise<void>; asked: () => number }> {
  let mode: Mode = 'answer';
  let asked = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      asked++;
      if (mode === 'hang') return;
      const { user, password } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        user: string;
        password: string;
      };
      const entry = Object.hasOwn(DIRECTORY, user) ? DIRECTORY[user] : undefined;
      const ok = entry !== undefined && entry.password === password;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(ok ? { ok: true, groups: entry.groups } : { ok: false }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = (): Promise<void> => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  t.after(() => (server.listening ? stop() : undefined));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/check`,
    setMode: (m) => (mode = m),
    stop,
    asked: () => asked,
  };
}

describe('the example HTTP plugin through the real git CLI', () => {
  it('clones with the right password and the group the service names; refuses a wrong password, a user without the group, and a hanging or stopped service', async (t) => {
    const svc = await userService(t);
    const withTimeout = (timeoutMs: number) =>
      startGitward(t, {
        config: {
          authentication: [{ plugin: PLUGIN, url: svc.url, timeout_ms: timeoutMs }],
          // eng has no members here: only the user service puts anyone in it.
          groups: { eng: [] },
          repos: { 'x.git': { '.read': ['@eng'], '.write': ['@eng'] } },
        },
        repos: ['x'],
      });
    const gw = await withTimeout(SAFETY_NET_TIMEOUT_MS);
    const env = gw.gitEnv;
    const url = (user: string, password: string): string => gw.url('x', { user, password });

    await t.test('ann (group eng from the service) pushes and clones with the right password', async () => {
      const work = path.join(gw.dir, 'work');
      await makeWorkTree(work, env);
      const push = await git(['push', '--quiet', url('ann', 'pw-ann'), 'main'], { cwd: work, env });
      assert.equal(push.code, 0, push.stderr);
      const clone = await git(['clone', '--quiet', url('ann', 'pw-ann'), path.join(gw.dir, 'clone')], {
        cwd: gw.dir,
        env,
      });
      assert.equal(clone.code, 0, clone.stderr);
      assert.ok(fs.existsSync(path.join(gw.dir, 'clone', 'file0.txt')));
      assert.ok(svc.asked() > 0);
    });

    await t.test('a wrong password gets 401', async () => {
      const r = await git(['ls-remote', url('ann', 'not-her-password')], { cwd: gw.dir, env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, AUTH_FAILED);
    });

    await t.test('ben, authenticated but in no group the ACL names, cannot read (hidden: 404)', async () => {
      const r = await git(['ls-remote', url('ben', 'pw-ben')], { cwd: gw.dir, env });
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stderr, AUTH_FAILED, 'his password was right');
      assert.match(r.stderr, /not found|404/);
    });

    await t.test('a service that does not answer within timeout_ms refuses the right password (401)', async () => {
      const hasty = await withTimeout(SERVICE_TIMEOUT_MS);
      svc.setMode('hang');
      const r = await git(['ls-remote', hasty.url('x', { user: 'ann', password: 'pw-ann' })], {
        cwd: hasty.dir,
        env: hasty.gitEnv,
      });
      svc.setMode('answer');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, AUTH_FAILED);
      assert.deepEqual(
        hasty.logs.lines.filter((l) => l.event === 'auth.failed').map((l) => [l.user, l.source, l.reason]),
        [['ann', 'http-auth', 'user service unavailable']],
      );
      assert.ok(
        hasty.logs.lines.some(
          (l) =>
            l.event === 'http_auth.unavailable' && new RegExp(`within ${SERVICE_TIMEOUT_MS} ms`).test(String(l.error)),
        ),
      );
    });

    await t.test('a stopped service refuses the right password (401)', async () => {
      await svc.stop();
      const r = await git(['ls-remote', url('ann', 'pw-ann')], { cwd: gw.dir, env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, AUTH_FAILED);
      assert.ok(gw.logs.lines.some((l) => l.event === 'http_auth.unavailable' && /ECONNREFUSED/.test(String(l.error))));
    });

    await t.test('each refusal was one auth.failed line from the plugin, and no password reached a log', async () => {
      const failed = gw.logs.lines.filter((l) => l.event === 'auth.failed');
      assert.deepEqual(
        failed.map((l) => [l.user, l.source, l.reason]),
        [
          ['ann', 'http-auth', 'user service refused the credentials'],
          ['ann', 'http-auth', 'user service unavailable'],
        ],
      );
      const logged = JSON.stringify(gw.logs.lines);
      for (const secret of ['pw-ann', 'pw-ben', 'not-her-password']) assert.ok(!logged.includes(secret), secret);
    });
  });
});
