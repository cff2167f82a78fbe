import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import {
  asUser,
  CONFIG,
  createPushFixture,
  gitwardLines,
  promote,
  seed,
  seedPromoted,
  TRANSPORTS,
  USERS_YAML,
} from './push-fixture.js';

// The dispatcher's cases that hold however the push arrives: made on the server itself (local)
// and through gitward over HTTP. The cases about a push's environment follow, local only.
// Only the first case is about promoting; the others seed the refs they start from (seedPromoted,
// seed) with plain git and push through the hooks only what they check.
for (const transport of TRANSPORTS) {
  describe(`hooks through real ${transport} pushes`, () => {
    it('accepts a commit promoted dev → staging → main by a release member', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      await promote(f, c1);
      const refs = await f.refs();
      assert.equal(refs.get('refs/heads/main'), c1);
      assert.equal(refs.get('refs/heads/staging'), c1);
    });

    it('refuses main for a user outside the push list, with one line naming ref, plugin, rule and node', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      await seedPromoted(f, c1);
      const c2 = await f.commit('two');
      await seed(f, [`${c2}:refs/heads/dev`, `${c2}:refs/heads/staging`]);
      const r = await f.git(['push', 'origin', `${c2}:refs/heads/main`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0);
      const lines = gitwardLines(r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0] as string,
        /^gitward: refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.push, gitward\.yaml:\d+\): you may not push to branch main$/,
      );
      assert.equal((await f.refs()).get('refs/heads/main'), c1);
    });

    it('checks against the refs as they were before the push: dev + staging + main at once is refused', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      await seedPromoted(f, c1);
      const c2 = await f.commit('two');
      const r = await f.git(
        ['push', 'origin', `${c2}:refs/heads/dev`, `${c2}:refs/heads/staging`, `${c2}:refs/heads/main`],
        asUser(f, 'rita'),
      );
      assert.notEqual(r.code, 0);
      assert.deepEqual(
        gitwardLines(r.stderr)
          .map((l) => l.split(' ')[1])
          .sort(),
        ['refs/heads/main', 'refs/heads/staging'],
        r.stderr,
      );
    });

    it('refuses a force-push to main unless the user is listed for force', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      const c2 = await f.commit('two');
      await seedPromoted(f, c2);
      const r = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'rita'));
      assert.notEqual(r.code, 0);
      assert.match(gitwardLines(r.stderr)[0] ?? '', /rule branches\."main"\.force/);
      const ok = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'admin'));
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((await f.refs()).get('refs/heads/main'), c1);
    });

    it('refuses deleting main unless listed; deleting an unprotected branch is free', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      await seed(f, [
        `${c1}:refs/heads/dev`,
        `${c1}:refs/heads/staging`,
        `${c1}:refs/heads/main`,
        `${c1}:refs/heads/topic`,
      ]);
      const r = await f.git(['push', 'origin', ':refs/heads/main', ':refs/heads/topic'], asUser(f, 'rita'));
      assert.notEqual(r.code, 0);
      assert.deepEqual(
        gitwardLines(r.stderr).map((l) => /rule (\S+),/.exec(l)?.[1]),
        ['branches."main".delete'],
      );
      assert.ok((await f.refs()).has('refs/heads/topic'), 'nothing applied');
      const ok = await f.git(['push', 'origin', ':refs/heads/topic'], asUser(f, 'ann'));
      assert.equal(ok.code, 0, ok.stderr);
    });

    it('logs each check and one audit line per applied ref, with the request id, where the server finds them', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`, `${c1}:refs/heads/topic`], asUser(f, 'ann'));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes('{'), 'no log line reaches the client');
      const applied2 = (ls: Array<Record<string, unknown>>) =>
        ls.filter((l) => l.event === 'hook.ref-updated').length === 2;
      const checked2 = (ls: Array<Record<string, unknown>>) => ls.filter((l) => l.event === 'hook.check').length === 2;
      // gitward re-logs post-receive's file and pre-receive's one after the other: wait for both.
      const lines = await f.hookLog((ls) => applied2(ls) && checked2(ls));
      const applied = lines.filter((l) => l.event === 'hook.ref-updated');
      assert.deepEqual(applied.map((l) => [l.ref, l.user, l.verdict, l.repo]).sort(), [
        ['refs/heads/dev', 'ann', 'applied', 'web/site'],
        ['refs/heads/topic', 'ann', 'applied', 'web/site'],
      ]);
      assert.equal(applied[0]?.new, c1);
      const ids = new Set(applied.map((l) => l.requestId));
      assert.equal(ids.size, 1, 'one request id for the push');
      if (transport === 'local') assert.deepEqual([...ids], ['test-ann'], 'the GITWARD_REQUEST_ID the hook was given');
      else assert.match(String([...ids][0]), /\S/);
      assert.equal(lines.filter((l) => l.event === 'hook.check' && l.verdict === 'accepted').length, 2);
    });

    it('a bad plugin setting refuses the push with one line naming the node, not the options (through gitward: its last good policy judges)', async (t) => {
      const bad = CONFIG.replace(
        'branch-flow: {flow: [dev, staging, main]}',
        'branch-flow: {flow: [dev, staging, main], flwo: 1}',
      );
      assert.notEqual(bad, CONFIG);
      // gitward itself refuses to load such a config (start-up and reload keep the last good
      // one); over HTTP the bad edit comes after start, and the hook runs gitward's plan (issue 12).
      const f = await createPushFixture(t, transport === 'http' ? CONFIG : bad, { transport });
      if (transport === 'http') {
        const text = fs.readFileSync(f.configFile, 'utf8');
        const edited = text.replace(/^(\s*)flow:/m, '$1flwo: 1\n$1flow:');
        assert.notEqual(edited, text, 'the served config has a branch-flow flow to spoil');
        fs.writeFileSync(f.configFile, edited);
      }
      const c1 = await f.commit('one');
      const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], asUser(f, 'ann'));
      if (transport === 'http') {
        assert.equal(r.code, 0, `the last good branch-flow lets ann push dev: ${r.stderr}`);
        return;
      }
      assert.notEqual(r.code, 0);
      assert.deepEqual(gitwardLines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /gitward: push refused: a hook plugin is misconfigured \(gitward\.yaml:\d+\)/);
      assert.doesNotMatch(r.stderr, /flwo/);
      assert.equal((await f.refs()).size, 0);
    });

    it('a hook plugin that throws refuses the push with one clear line; the stack goes to the log only', async (t) => {
      const yaml = `${USERS_YAML}repos:
  .write: [$authenticated]
  .hooks:
    thrower: {}
hooks: {plugins: {thrower: ./thrower.js}}
`;
      const thrower = `exports.createHookPlugin = (options, ctx) => ({ name: ctx.name, check(u) { if (u.ref.endsWith('/boom')) throw new Error('kaboom internal detail'); return { kind: 'accept' }; } });\n`;
      const f = await createPushFixture(t, yaml, { transport, files: { 'thrower.js': thrower } });
      const c1 = await f.commit('one');
      const r = await f.git(['push', 'origin', `${c1}:refs/heads/ok`, `${c1}:refs/heads/boom`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0);
      assert.deepEqual(gitwardLines(r.stderr), [
        'gitward: push refused: hook plugin thrower failed on 1 ref update(s); the details are in the server log',
      ]);
      assert.doesNotMatch(r.stderr, /kaboom|at .*\.js/);
      const lines = await f.hookLog((ls) => ls.some((l) => l.event === 'hook.plugin-failed'));
      const failed = JSON.stringify(lines.filter((l) => l.event === 'hook.plugin-failed'));
      assert.match(failed, /kaboom internal detail/);
      assert.match(failed, /thrower\.js/, 'the stack is logged');
      assert.equal((await f.refs()).size, 0);
    });
  });
}

describe("the pusher a hook sees, from the push's environment (local pushes)", () => {
  it('a push on the server without gitward env runs as $local; local_user: null refuses it', async (t) => {
    const f = await createPushFixture(
      t,
      CONFIG.replace(
        'hooks: {order: [branch-protect, branch-flow]}',
        'hooks: {order: [branch-protect, branch-flow], local_user: null}',
      ),
    );
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], { GITWARD_CONFIG: f.configFile });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /gitward: push refused: pushes made on the server without gitward's environment are not allowed here \(hooks\.local_user is null\)/,
    );
    assert.equal((await f.refs()).size, 0);
  });

  it('an anonymous HTTP push (CGI variables, no user) is anonymous, never $local', async (t) => {
    const f = await createPushFixture(
      t,
      CONFIG.replace(
        'main: {push: ["@release"], force: [admin], delete: [admin]}',
        'main: {push: ["@release"], force: [admin], delete: [admin]}\n          "ops/*": {push: [$local]}',
      ).replace(
        'hooks: {order: [branch-protect, branch-flow]}',
        'hooks: {order: [branch-protect, branch-flow], local_user: null}',
      ),
    );
    const c1 = await f.commit('one');
    const cgi = { GITWARD_CONFIG: f.configFile, GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'POST' };
    const topic = await f.git(['push', 'origin', `${c1}:refs/heads/topic`], cgi);
    assert.equal(topic.code, 0, topic.stderr);
    const ops = await f.git(['push', 'origin', `${c1}:refs/heads/ops/x`], cgi);
    assert.notEqual(ops.code, 0);
    assert.match(gitwardLines(ops.stderr)[0] ?? '', /rule branches\."ops\/\*"\.create/);
  });

  it('sidecar mode (fcgiwrap passes REMOTE_USER, no GITWARD_USER): the pusher is REMOTE_USER, groups from the config', async (t) => {
    // What nginx + fcgiwrap hand git-http-backend when the sidecar snippet's GITWARD_* params are
    // left out: the CGI variables and REMOTE_USER. The config comes from the repo's gitward.config.
    const f = await createPushFixture(
      t,
      CONFIG.replace(
        'hooks: {order: [branch-protect, branch-flow]}',
        'hooks: {order: [branch-protect, branch-flow], local_user: null}',
      ),
    );
    await f.gitOk(['--git-dir', f.bare, 'config', 'gitward.config', f.configFile]);
    const sidecar = (user: string) => ({
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'POST',
      SERVER_SOFTWARE: 'nginx',
      REMOTE_USER: user,
    });
    const c1 = await f.commit('one');
    await seedPromoted(f, c1);
    const c2 = await f.commit('two');
    await seed(f, [`${c2}:refs/heads/dev`, `${c2}:refs/heads/staging`]);
    const ann = await f.git(['push', 'origin', `${c2}:refs/heads/main`], sidecar('ann'));
    assert.notEqual(ann.code, 0);
    assert.deepEqual(
      gitwardLines(ann.stderr).map((l) => /rule (\S+),/.exec(l)?.[1]),
      ['branches."main".push'],
      'ann, an engineer: neither anonymous nor $local',
    );
    const rita = await f.git(['push', 'origin', `${c2}:refs/heads/main`], sidecar('rita'));
    assert.equal(rita.code, 0, `rita is in @release by the config's users: ${rita.stderr}`);
    assert.equal((await f.refs()).get('refs/heads/main'), c2);
  });

  it("a local push finds the config through the repo's gitward.config and is checked as $local", async (t) => {
    const f = await createPushFixture(t, CONFIG);
    await f.gitOk(['--git-dir', f.bare, 'config', 'gitward.config', f.configFile]);
    const c1 = await f.commit('one');
    const dev = await f.git(['push', 'origin', `${c1}:refs/heads/dev`]);
    assert.equal(dev.code, 0, dev.stderr);
    const main = await f.git(['push', 'origin', `${c1}:refs/heads/main`]);
    assert.notEqual(main.code, 0);
    assert.deepEqual(
      gitwardLines(main.stderr).map((l) => /rejected by (\S+)/.exec(l)?.[1]),
      ['branch-protect'],
    );
  });
});
