import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { asUser, CONFIG, createPushFixture, gitwardLines, promote, USERS_YAML } from './push-fixture.js';

describe('hooks through real local pushes', () => {
  it('accepts a commit promoted dev → staging → main by a release member', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    const refs = await f.refs();
    assert.equal(refs.get('refs/heads/main'), c1);
    assert.equal(refs.get('refs/heads/staging'), c1);
  });

  it('refuses main for a user outside the push list, with one line naming ref, plugin, rule and node', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    const c2 = await f.commit('two');
    for (const b of ['dev', 'staging']) await f.gitOk(['push', '--quiet', 'origin', `${c2}:refs/heads/${b}`], asUser(f, 'ann'));
    const r = await f.git(['push', 'origin', `${c2}:refs/heads/main`], asUser(f, 'ann'));
    assert.notEqual(r.code, 0);
    const lines = gitwardLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] as string, /^gitward: refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.push, gitward\.yaml:\d+\): you may not push to branch main$/);
    assert.equal((await f.refs()).get('refs/heads/main'), c1);
  });

  it('checks against the refs as they were before the push: dev + staging + main at once is refused', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    const c2 = await f.commit('two');
    const r = await f.git(['push', 'origin', `${c2}:refs/heads/dev`, `${c2}:refs/heads/staging`, `${c2}:refs/heads/main`], asUser(f, 'rita'));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr).map((l) => l.split(' ')[1]).sort(), ['refs/heads/main', 'refs/heads/staging'], r.stderr);
  });

  it('refuses a force-push to main unless the user is listed for force', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    const c2 = await f.commit('two');
    await promote(f, c2);
    const r = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'rita'));
    assert.notEqual(r.code, 0);
    assert.match(gitwardLines(r.stderr)[0] ?? '', /rule branches\."main"\.force/);
    const ok = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'admin'));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await f.refs()).get('refs/heads/main'), c1);
  });

  it('refuses deleting main unless listed; deleting an unprotected branch is free', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    await f.gitOk(['push', '--quiet', 'origin', `${c1}:refs/heads/topic`], asUser(f, 'ann'));
    const r = await f.git(['push', 'origin', ':refs/heads/main', ':refs/heads/topic'], asUser(f, 'rita'));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr).map((l) => /rule (\S+),/.exec(l)?.[1]), ['branches."main".delete']);
    assert.ok((await f.refs()).has('refs/heads/topic'), 'nothing applied');
    const ok = await f.git(['push', 'origin', ':refs/heads/topic'], asUser(f, 'ann'));
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a push on the server without gitward env runs as $local; local_user: null refuses it', async (t) => {
    const f = await createPushFixture(t, CONFIG.replace('hooks: {order: [branch-protect, branch-flow]}', 'hooks: {order: [branch-protect, branch-flow], local_user: null}'));
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], { GITWARD_CONFIG: f.configFile });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /gitward: push refused: pushes made on the server without gitward's environment are not allowed here \(hooks\.local_user is null\)/);
    assert.equal((await f.refs()).size, 0);
  });

  it('an anonymous HTTP push (CGI variables, no user) is anonymous, never $local', async (t) => {
    const f = await createPushFixture(t, CONFIG.replace('main: {push: ["@release"], force: [admin], delete: [admin]}', 'main: {push: ["@release"], force: [admin], delete: [admin]}\n          "ops/*": {push: [$local]}').replace('hooks: {order: [branch-protect, branch-flow]}', 'hooks: {order: [branch-protect, branch-flow], local_user: null}'));
    const c1 = await f.commit('one');
    const cgi = { GITWARD_CONFIG: f.configFile, GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'POST' };
    const topic = await f.git(['push', 'origin', `${c1}:refs/heads/topic`], cgi);
    assert.equal(topic.code, 0, topic.stderr);
    const ops = await f.git(['push', 'origin', `${c1}:refs/heads/ops/x`], cgi);
    assert.notEqual(ops.code, 0);
    assert.match(gitwardLines(ops.stderr)[0] ?? '', /rule branches\."ops\/\*"\.create/);
  });

  it('a local push finds the config through the repo\'s gitward.config and is checked as $local', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    await f.gitOk(['--git-dir', f.bare, 'config', 'gitward.config', f.configFile]);
    const c1 = await f.commit('one');
    const dev = await f.git(['push', 'origin', `${c1}:refs/heads/dev`]);
    assert.equal(dev.code, 0, dev.stderr);
    const main = await f.git(['push', 'origin', `${c1}:refs/heads/main`]);
    assert.notEqual(main.code, 0);
    assert.deepEqual(gitwardLines(main.stderr).map((l) => /rejected by (\S+)/.exec(l)?.[1]), ['branch-protect']);
  });

  it('writes log lines (checks and one audit line per applied ref) into GITWARD_LOG_DIR', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const logDir = path.join(f.dir, 'hooklog');
    fs.mkdirSync(logDir);
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`, `${c1}:refs/heads/topic`], asUser(f, 'ann', { GITWARD_LOG_DIR: logDir }));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('{'), 'no log line reaches the client');
    const lines = fs
      .readdirSync(logDir)
      .flatMap((n) => fs.readFileSync(path.join(logDir, n), 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const applied = lines.filter((l) => l.event === 'hook.ref-updated');
    assert.deepEqual(applied.map((l) => [l.ref, l.user, l.verdict, l.repo, l.requestId]).sort(), [
      ['refs/heads/dev', 'ann', 'applied', 'web/site', 'test-ann'],
      ['refs/heads/topic', 'ann', 'applied', 'web/site', 'test-ann'],
    ]);
    assert.equal(applied[0]?.new, c1);
    assert.equal(lines.filter((l) => l.event === 'hook.check' && l.verdict === 'accepted').length, 2);
  });

  it('a bad plugin setting refuses the push with one line naming the node, not the options', async (t) => {
    const f = await createPushFixture(t, CONFIG.replace('branch-flow: {flow: [dev, staging, main]}', 'branch-flow: {flow: [dev, staging, main], flwo: 1}'));
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], asUser(f, 'ann'));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /gitward: push refused: a hook plugin is misconfigured \(gitward\.yaml:\d+\)/);
    assert.equal((await f.refs()).size, 0);
  });
});

describe('a hook plugin that throws', () => {
  it('refuses the push with one clear line; the stack goes to the log only', async (t) => {
    const yaml = `${USERS_YAML}repos:
  .write: [$authenticated]
  .hooks:
    thrower: {}
hooks: {plugins: {thrower: ./thrower.js}}
`;
    const f = await createPushFixture(t, yaml);
    fs.writeFileSync(
      path.join(f.dir, 'thrower.js'),
      `exports.createHookPlugin = (options, ctx) => ({ name: ctx.name, check(u) { if (u.ref.endsWith('/boom')) throw new Error('kaboom internal detail'); return { kind: 'accept' }; } });\n`,
    );
    const logDir = path.join(f.dir, 'hooklog');
    fs.mkdirSync(logDir);
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/ok`, `${c1}:refs/heads/boom`], asUser(f, 'ann', { GITWARD_LOG_DIR: logDir }));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr), ['gitward: push refused: hook plugin thrower failed on 1 ref update(s); the details are in the server log']);
    assert.doesNotMatch(r.stderr, /kaboom|at .*\.js/);
    const log = fs.readdirSync(logDir).map((n) => fs.readFileSync(path.join(logDir, n), 'utf8')).join('');
    assert.match(log, /"event":"hook\.plugin-failed".*kaboom internal detail/);
    assert.match(log, /thrower\.js/, 'the stack is logged');
    assert.equal((await f.refs()).size, 0);
  });
});
