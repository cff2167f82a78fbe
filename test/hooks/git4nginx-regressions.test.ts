import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asUser, CONFIG, createPushFixture, gitwardLines, seed, seedPromoted, TRANSPORTS } from './push-fixture.js';

// git4nginx's hook bugs (see GIT4NGINX.md), each pinned by a real push: made on the server itself
// (local) and through gitward over HTTP (git → gitward → git-http-backend → the hook). The refs a
// case starts from are seeded with plain git (seed, seedPromoted); the hooks judge the pushes it is about.
for (const transport of TRANSPORTS)
  describe(`git4nginx hook regressions, through real ${transport} pushes`, () => {
    it('regression (git4nginx early-return bypass): `push X:dev X:main` checks main too and applies nothing', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      await seedPromoted(f, c1);
      const c2 = await f.commit('two');
      const r = await f.git(['push', 'origin', `${c2}:refs/heads/dev`, `${c2}:refs/heads/main`], asUser(f, 'rita'));
      assert.notEqual(r.code, 0);
      const lines = gitwardLines(r.stderr);
      assert.deepEqual(
        lines.map((l) => l.split(' ')[1]),
        ['refs/heads/main'],
        r.stderr,
      );
      assert.match(
        lines[0] as string,
        /rejected by branch-flow \(rule flow staging -> main, gitward\.yaml:\d+\): the new tip of main is not on staging/,
      );
      const refs = await f.refs();
      assert.equal(refs.get('refs/heads/dev'), c1, 'dev was not applied either');
      assert.equal(refs.get('refs/heads/main'), c1);
    });

    it('regression (git4nginx last-segment match): feature/main is neither main nor in the flow', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      const r = await f.git(
        ['push', 'origin', `${c1}:refs/heads/feature/main`, `${c1}:refs/heads/feature/staging`],
        asUser(f, 'ann'),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(gitwardLines(r.stderr), []);
      assert.equal((await f.refs()).get('refs/heads/feature/main'), c1);
    });

    it('regression (git4nginx root-commit branch): a branch on a root commit advances to a commit found deeper on the previous branch', async (t) => {
      // staging and main sit on the root commit R; dev is R → c2 → c3 → c4. No check below can be
      // answered by "the new tip is the previous branch's tip": each needs a walk through history,
      // two of them end at the root, which has no parent.
      const f = await createPushFixture(t, CONFIG, { transport });
      const root = await f.commit('root');
      const c2 = await f.commit('two');
      await f.commit('three');
      const c4 = await f.commit('four');
      await seed(f, [`${c4}:refs/heads/dev`, `${root}:refs/heads/staging`, `${root}:refs/heads/main`]);
      await f.gitOk(['checkout', '--quiet', '-b', 'side', root]);
      const side = await f.commit('side: on the root, not on dev');

      const stray = await f.git(['push', 'origin', `${side}:refs/heads/staging`], asUser(f, 'rita'));
      assert.notEqual(stray.code, 0, 'descending from the root tip is not enough: the commit must be on dev');
      assert.match(
        gitwardLines(stray.stderr).join('\n'),
        /refs\/heads\/staging rejected by branch-flow \(rule flow dev -> staging/,
        stray.stderr,
      );

      const staging = await f.git(['push', 'origin', `${c2}:refs/heads/staging`], asUser(f, 'rita'));
      assert.equal(
        staging.code,
        0,
        `c2 is on dev (two commits below its tip) and descends from staging's root tip: ${staging.stderr}`,
      );
      // Seeded: c4 is dev's tip, so staging may take it; the check below is main's.
      await seed(f, [`${c4}:refs/heads/staging`]);
      // main: a fast-forward from the root commit (branch-protect) to a commit below staging's tip (branch-flow).
      const main = await f.git(['push', 'origin', `${c2}:refs/heads/main`], asUser(f, 'rita'));
      assert.equal(main.code, 0, main.stderr);
      const refs = await f.refs();
      assert.deepEqual(
        [refs.get('refs/heads/dev'), refs.get('refs/heads/staging'), refs.get('refs/heads/main')],
        [c4, c4, c2],
      );
    });

    it('regression (git4nginx rejected every tag): tags are accepted unless a tag rule refuses them', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      await f.gitOk(['tag', 'build-1', c1]);
      await f.gitOk(['tag', '-a', '-m', 'annotated', 'build-2', c1]);
      await f.gitOk(['tag', 'v1.0', c1]);
      const ok = await f.git(['push', 'origin', 'refs/tags/build-1', 'refs/tags/build-2'], asUser(f, 'ann'));
      assert.equal(ok.code, 0, ok.stderr);
      const no = await f.git(['push', 'origin', 'refs/tags/v1.0'], asUser(f, 'ann'));
      assert.notEqual(no.code, 0);
      assert.deepEqual(gitwardLines(no.stderr), [
        `gitward: refs/tags/v1.0 rejected by branch-protect (rule tags."v*".create, gitward.yaml:${/gitward\.yaml:(\d+)/.exec(no.stderr)?.[1] ?? '?'}): you may not create tag v1.0`,
      ]);
      const yes = await f.git(['push', 'origin', 'refs/tags/v1.0'], asUser(f, 'rita'));
      assert.equal(yes.code, 0, yes.stderr);
    });

    it('regression (git4nginx leaked groups and config): a refusal names no group and no config content', async (t) => {
      const f = await createPushFixture(
        t,
        CONFIG.replace('ann: {groups: [eng]}', 'ann: {groups: [eng, secret-team]}'),
        { transport },
      );
      const c1 = await f.commit('one');
      await seedPromoted(f, c1);
      const c2 = await f.commit('two');
      await seed(f, [`${c2}:refs/heads/dev`, `${c2}:refs/heads/staging`]);
      const r = await f.git(['push', 'origin', `${c2}:refs/heads/main`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0);
      const remote = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('remote:'))
        .join('\n');
      assert.match(remote, /rejected by branch-protect/);
      for (const secret of ['eng', 'secret-team', '@release', 'release', 'admin', 'repo_root', f.dir]) {
        assert.ok(
          !remote.replace(/refs\/heads\/main|branch main/g, '').includes(secret),
          `the hook's output mentions ${secret}: ${remote}`,
        );
      }
    });

    it('a mirror-style push of 100 refs with one refused applies none', async (t) => {
      const f = await createPushFixture(t, CONFIG, { transport });
      const c1 = await f.commit('one');
      const specs = Array.from({ length: 99 }, (_, i) => `${c1}:refs/heads/topic/${String(i).padStart(3, '0')}`);
      specs.splice(57, 0, `${c1}:refs/heads/main`);
      const r = await f.git(['push', 'origin', ...specs], asUser(f, 'ann'));
      assert.notEqual(r.code, 0);
      const lines = gitwardLines(r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] as string, /^gitward: refs\/heads\/main rejected by branch-protect/);
      assert.equal((await f.refs()).size, 0, 'no ref was applied');
    });
  });
