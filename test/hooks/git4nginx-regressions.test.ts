import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asUser, CONFIG, createPushFixture, gitwardLines, promote } from './push-fixture.js';

// git4nginx's hook bugs (see GIT4NGINX.md), each pinned by a real push. The same cases over HTTP
// through gitward are in http-push.test.ts.
describe('git4nginx hook regressions, through real local pushes', () => {
  it('regression (git4nginx early-return bypass): `push X:dev X:main` checks main too and applies nothing', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    const c2 = await f.commit('two');
    const r = await f.git(['push', 'origin', `${c2}:refs/heads/dev`, `${c2}:refs/heads/main`], asUser(f, 'rita'));
    assert.notEqual(r.code, 0);
    const lines = gitwardLines(r.stderr);
    assert.deepEqual(lines.map((l) => l.split(' ')[1]), ['refs/heads/main'], r.stderr);
    assert.match(lines[0] as string, /rejected by branch-flow \(rule flow staging -> main, gitward\.yaml:\d+\): the new tip of main is not on staging/);
    const refs = await f.refs();
    assert.equal(refs.get('refs/heads/dev'), c1, 'dev was not applied either');
    assert.equal(refs.get('refs/heads/main'), c1);
  });

  it('regression (git4nginx last-segment match): feature/main is neither main nor in the flow', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/feature/main`, `${c1}:refs/heads/feature/staging`], asUser(f, 'ann'));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(gitwardLines(r.stderr), []);
    assert.equal((await f.refs()).get('refs/heads/feature/main'), c1);
  });

  it('regression (git4nginx root-commit branch): branches sitting on a root commit advance', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const root = await f.commit('root');
    await promote(f, root);
    const c2 = await f.commit('child of root');
    await promote(f, c2);
    assert.equal((await f.refs()).get('refs/heads/main'), c2);
  });

  it('regression (git4nginx rejected every tag): tags are accepted unless a tag rule refuses them', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await f.gitOk(['tag', 'build-1', c1]);
    await f.gitOk(['tag', '-a', '-m', 'annotated', 'build-2', c1]);
    await f.gitOk(['tag', 'v1.0', c1]);
    const ok = await f.git(['push', 'origin', 'refs/tags/build-1', 'refs/tags/build-2'], asUser(f, 'ann'));
    assert.equal(ok.code, 0, ok.stderr);
    const no = await f.git(['push', 'origin', 'refs/tags/v1.0'], asUser(f, 'ann'));
    assert.notEqual(no.code, 0);
    assert.deepEqual(gitwardLines(no.stderr), [`gitward: refs/tags/v1.0 rejected by branch-protect (rule tags."v*".create, gitward.yaml:${/gitward\.yaml:(\d+)/.exec(no.stderr)?.[1] ?? '?'}): you may not create tag v1.0`]);
    const yes = await f.git(['push', 'origin', 'refs/tags/v1.0'], asUser(f, 'rita'));
    assert.equal(yes.code, 0, yes.stderr);
  });

  it("regression (git4nginx leaked groups and config): a refusal names no group and no config content", async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    await promote(f, c1);
    const c2 = await f.commit('two');
    for (const b of ['dev', 'staging']) await f.gitOk(['push', '--quiet', 'origin', `${c2}:refs/heads/${b}`], asUser(f, 'rita'));
    const r = await f.git(['push', 'origin', `${c2}:refs/heads/main`], asUser(f, 'ann', { GITWARD_GROUPS: '["eng","secret-team"]' }));
    assert.notEqual(r.code, 0);
    const remote = r.stderr.split('\n').filter((l) => l.startsWith('remote:')).join('\n');
    assert.match(remote, /rejected by branch-protect/);
    for (const secret of ['eng', 'secret-team', '@release', 'release', 'admin', 'repo_root', f.dir]) {
      assert.ok(!remote.replace(/refs\/heads\/main|branch main/g, '').includes(secret), `the hook's output mentions ${secret}: ${remote}`);
    }
  });

  it('a mirror-style push of 100 refs with one refused applies none', async (t) => {
    const f = await createPushFixture(t, CONFIG);
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
