/**
 * hooks.log_file: where the dispatcher's log lines go when git does not run under gitward (no
 * GITWARD_LOG_DIR): sidecar mode (nginx → fcgiwrap → git-http-backend, simulated here with the CGI
 * environment the sidecar config gives git) and pushes made on the server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG, createPushFixture, gitwardLines, type PushFixture } from '../hooks/push-fixture.js';

/** The environment deploy/nginx/gitward-sidecar.conf gives git-http-backend for a push by `user`. */
function sidecarEnv(f: PushFixture, user: string, groups: string[]): Record<string, string> {
  return {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: 'POST',
    REMOTE_USER: user,
    GITWARD_USER: user,
    GITWARD_GROUPS: JSON.stringify(groups),
    GITWARD_INFO: '{}',
    GITWARD_REPO: 'web/site',
    GITWARD_REQUEST_ID: `sidecar-${user}`,
    GITWARD_CONFIG: f.configFile,
  };
}

function withLogFile(file: string): string {
  return CONFIG.replace(
    'hooks: {order: [branch-protect, branch-flow]}',
    `hooks: {order: [branch-protect, branch-flow], log_file: ${file}}`,
  );
}

function jsonLines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('hooks.log_file (no GITWARD_LOG_DIR: sidecar mode and pushes made on the server)', () => {
  it('a sidecar push appends its checks and one audit line per updated ref, created 0640, nothing shown to the pusher', async (t) => {
    const f = await createPushFixture(t, withLogFile('logs/hooks.jsonl'));
    fs.mkdirSync(path.join(f.dir, 'logs'));
    const file = path.join(f.dir, 'logs', 'hooks.jsonl');
    const c1 = await f.commit('one');
    const r = await f.git(
      ['push', 'origin', `${c1}:refs/heads/dev`, `${c1}:refs/heads/topic`],
      sidecarEnv(f, 'ann', ['eng']),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('{'), `no log line reaches the pusher: ${r.stderr}`);
    const umask = process.umask();
    assert.equal(fs.statSync(file).mode & 0o777, 0o640 & ~umask);
    const lines = jsonLines(file);
    const checks = lines.filter((l) => l.event === 'hook.check');
    assert.deepEqual(checks.map((l) => [l.ref, l.verdict, l.user, l.repo, l.requestId]).sort(), [
      ['refs/heads/dev', 'accepted', 'ann', 'web/site', 'sidecar-ann'],
      ['refs/heads/topic', 'accepted', 'ann', 'web/site', 'sidecar-ann'],
    ]);
    const applied = lines.filter((l) => l.event === 'hook.ref-updated');
    assert.deepEqual(applied.map((l) => [l.ref, l.user, l.repo, l.verdict, l.new, l.hook]).sort(), [
      ['refs/heads/dev', 'ann', 'web/site', 'applied', c1, 'post-receive'],
      ['refs/heads/topic', 'ann', 'web/site', 'applied', c1, 'post-receive'],
    ]);
    for (const l of lines) assert.equal(typeof l.pid, 'number');
  });

  it('a refused sidecar push logs the refusal there; the pusher sees only the refusal line', async (t) => {
    const f = await createPushFixture(t, withLogFile('hooks.jsonl'));
    const file = path.join(f.dir, 'hooks.jsonl');
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/main`], sidecarEnv(f, 'ann', ['eng']));
    assert.notEqual(r.code, 0);
    assert.equal(gitwardLines(r.stderr).length, 1, r.stderr);
    assert.ok(!r.stderr.includes('{'), r.stderr);
    const rejected = jsonLines(file).filter((l) => l.event === 'hook.check' && l.verdict === 'rejected');
    assert.deepEqual(
      rejected.map((l) => l.ref),
      ['refs/heads/main'],
    );
    assert.equal(jsonLines(file).filter((l) => l.event === 'hook.ref-updated').length, 0, 'nothing was applied');
  });

  it('concurrent pushes append whole lines: every line of the file is one JSON object', async (t) => {
    const f = await createPushFixture(t, withLogFile('hooks.jsonl'));
    const file = path.join(f.dir, 'hooks.jsonl');
    const c1 = await f.commit('one');
    const PUSHES = 6;
    const REFS = 20;
    const results = await Promise.all(
      Array.from({ length: PUSHES }, (_, p) =>
        f.git(
          ['push', 'origin', ...Array.from({ length: REFS }, (_, i) => `${c1}:refs/heads/p${p}/r${i}`)],
          sidecarEnv(f, 'ann', ['eng']),
        ),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(file);
    assert.equal(lines.filter((l) => l.event === 'hook.check').length, PUSHES * REFS);
    assert.equal(lines.filter((l) => l.event === 'hook.ref-updated').length, PUSHES * REFS);
  });

  it("a push made on the server writes to the file instead of the admin's terminal", async (t) => {
    const f = await createPushFixture(t, withLogFile('hooks.jsonl'));
    const file = path.join(f.dir, 'hooks.jsonl');
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], { GITWARD_CONFIG: f.configFile });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('"event"'), r.stderr);
    const applied = jsonLines(file).filter((l) => l.event === 'hook.ref-updated');
    assert.deepEqual(
      applied.map((l) => [l.ref, l.user, l.repo]),
      [['refs/heads/dev', '$local', 'web/site']],
    );
  });

  it('a log file that cannot be written never breaks the push (a local push shows the lines instead)', async (t) => {
    const f = await createPushFixture(t, withLogFile('not-a-file'));
    fs.mkdirSync(path.join(f.dir, 'not-a-file'));
    const c1 = await f.commit('one');
    const local = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], { GITWARD_CONFIG: f.configFile });
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stderr, /"event":"hook\.log-file-failed".*"error":"EISDIR"/);
    assert.match(local.stderr, /"event":"hook\.ref-updated"/);
    const http = await f.git(['push', 'origin', `${c1}:refs/heads/topic`], sidecarEnv(f, 'ann', ['eng']));
    assert.equal(http.code, 0, http.stderr);
    assert.ok(!http.stderr.includes('{'), `an HTTP pusher never sees log lines: ${http.stderr}`);
  });

  it('without log_file, a sidecar push logs nothing to the pusher and still works', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], sidecarEnv(f, 'ann', ['eng']));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('{'), r.stderr);
    assert.deepEqual(
      fs.readdirSync(f.dir).filter((n) => n.endsWith('.jsonl')),
      [],
    );
  });
});
