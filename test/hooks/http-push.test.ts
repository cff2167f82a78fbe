import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { startGitward, type TestGitward } from '../helpers/server.js';
import { commitFile, eventually, gitwardLines, HOOKLESS_RECEIVE_PACK, runGit, runGitOk } from './push-fixture.js';

const PASSWORDS = { ann: 'ann-pw', rita: 'rita-pw' };

/** gitward over HTTP with web/site guarded by both plugins, hooks installed, and a work tree. */
async function setup(t: TestContext): Promise<{
  gw: TestGitward;
  work: string;
  push: (user: 'ann' | 'rita', ...specs: string[]) => Promise<{ code: number | null; stderr: string }>;
  commit: (label: string) => Promise<string>;
  /** Puts `sha:ref` specs into the bare repo with plain git, no hook run: the refs a case starts from. */
  seed: (...specs: string[]) => Promise<void>;
  refs: () => Promise<Map<string, string>>;
}> {
  const gw = await startGitward(t, {
    users: PASSWORDS,
    repos: ['web/site'],
    config: {
      users: { ann: { groups: ['eng'] }, rita: { groups: ['eng', 'release'] } },
      repos: {
        web: {
          '.read': ['@eng'],
          '.write': ['@eng'],
          '.hooks': {
            'branch-flow': { flow: ['dev', 'staging', 'main'] },
            'branch-protect': { branches: { main: { push: ['@release'] } }, tags: { 'v*': { create: ['@release'] } } },
          },
          'site.git': {},
        },
      },
      hooks: { order: ['branch-protect', 'branch-flow'] },
    },
  });
  const bare = path.join(gw.repoRoot, 'web', 'site.git');
  installHooks(bare, dispatcherPath(), { force: false, now: Date.now() });
  const work = path.join(gw.dir, 'work');
  fs.mkdirSync(work);
  await runGitOk(['init', '--quiet', '--initial-branch=main', work], work, gw.gitEnv);
  let n = 0;
  return {
    gw,
    work,
    push: (user, ...specs) =>
      runGit(['push', gw.url('web/site', { user, password: PASSWORDS[user] }), ...specs], work, gw.gitEnv),
    commit: (label) => commitFile(work, gw.gitEnv, ++n, label),
    async seed(...specs) {
      // Straight to the repo's path, not through gitward: no Node dispatcher for setup (see HOOKLESS_RECEIVE_PACK).
      await runGitOk(['push', '--quiet', HOOKLESS_RECEIVE_PACK, bare, ...specs], work, gw.gitEnv);
    },
    async refs() {
      const out = await runGitOk(['for-each-ref', '--format=%(refname) %(objectname)'], bare, gw.gitEnv);
      return new Map(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ') as [string, string]),
      );
    },
  };
}

describe('hooks through gitward over HTTP (git → gitward → git-http-backend → hook)', () => {
  it('a promotion push is accepted and the hook log comes home with the request id', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    for (const b of ['dev', 'staging', 'main']) {
      const r = await s.push('rita', `${c1}:refs/heads/${b}`);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await s.refs()).get('refs/heads/main'), c1);
    const hookLines = () => s.gw.logs.lines.filter((l) => l.event === 'hook.log' && l.hookEvent === 'hook.ref-updated');
    await eventually(
      () => hookLines().length === 3,
      () => JSON.stringify(s.gw.logs.lines.filter((l) => String(l.event).startsWith('hook'))),
    );
    const ids = new Set(hookLines().map((l) => l.requestId));
    assert.equal(ids.size, 3, 'one request id per push');
    for (const l of hookLines()) {
      assert.equal(l.user, 'rita');
      assert.equal(l.repo, 'web/site');
      assert.equal(typeof l.requestId, 'string');
    }
  });

  it('a refusal reaches the client as one remote: line, without groups or config, and nothing is applied', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    await s.seed(`${c1}:refs/heads/dev`, `${c1}:refs/heads/staging`, `${c1}:refs/heads/main`);
    const c2 = await s.commit('two');
    await s.seed(`${c2}:refs/heads/dev`, `${c2}:refs/heads/staging`);
    const r = await s.push('ann', `${c2}:refs/heads/main`, `${c2}:refs/heads/topic`);
    assert.notEqual(r.code, 0);
    const remote = r.stderr.split('\n').filter((l) => l.startsWith('remote:'));
    assert.deepEqual(gitwardLines(r.stderr), [
      `gitward: refs/heads/main rejected by branch-protect (rule branches."main".push, gitward.yaml:${/gitward\.yaml:(\d+)/.exec(r.stderr)?.[1] ?? '?'}): you may not push to branch main`,
    ]);
    assert.ok(!remote.join('\n').includes('@release') && !remote.join('\n').includes('eng'), remote.join('\n'));
    assert.match(r.stderr, /! \[remote rejected\].*main \(pre-receive hook declined\)/);
    const refs = await s.refs();
    assert.equal(refs.get('refs/heads/main'), c1);
    assert.equal(refs.has('refs/heads/topic'), false);
    await eventually(
      () =>
        s.gw.logs.lines.some(
          (l) =>
            l.event === 'hook.log' &&
            l.hookEvent === 'hook.check' &&
            l.verdict === 'rejected' &&
            l.ref === 'refs/heads/main',
        ),
      () => 'a hook.check line for the rejected ref',
    );
  });

  it('regression (git4nginx early-return bypass) over HTTP: `push X:dev X:main` applies nothing', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    await s.seed(`${c1}:refs/heads/dev`, `${c1}:refs/heads/staging`, `${c1}:refs/heads/main`);
    const c2 = await s.commit('two');
    const r = await s.push('rita', `${c2}:refs/heads/dev`, `${c2}:refs/heads/main`);
    assert.notEqual(r.code, 0);
    assert.deepEqual(
      gitwardLines(r.stderr).map((l) => l.split(' ')[1]),
      ['refs/heads/main'],
    );
    assert.equal((await s.refs()).get('refs/heads/dev'), c1);
  });

  it('regression (git4nginx rejected every tag) over HTTP: a free tag is accepted, a protected one refused with a line', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    await runGitOk(['tag', '-a', '-m', 'build', 'build-1', c1], s.work, s.gw.gitEnv);
    await runGitOk(['tag', 'v1.0', c1], s.work, s.gw.gitEnv);
    const ok = await s.push('ann', 'refs/tags/build-1');
    assert.equal(ok.code, 0, ok.stderr);
    const no = await s.push('ann', 'refs/tags/v1.0');
    assert.notEqual(no.code, 0);
    assert.match(
      gitwardLines(no.stderr)[0] ?? '',
      /^gitward: refs\/tags\/v1\.0 rejected by branch-protect \(rule tags\."v\*"\.create/,
    );
  });

  it('a mirror-style push of 100 refs over HTTP with one refused applies none', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    const specs = Array.from({ length: 99 }, (_, i) => `${c1}:refs/heads/topic/${String(i).padStart(3, '0')}`);
    specs.splice(31, 0, `${c1}:refs/heads/main`);
    const r = await s.push('ann', ...specs);
    assert.notEqual(r.code, 0);
    assert.deepEqual(
      gitwardLines(r.stderr).map((l) => l.split(' ')[1]),
      ['refs/heads/main'],
    );
    assert.equal((await s.refs()).size, 0, 'no ref was applied');
  });
});
