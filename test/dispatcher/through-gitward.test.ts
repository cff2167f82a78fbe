/**
 * The dispatcher on the path of a real push through gitward (git → gitward over HTTP →
 * git-http-backend → hooks): pre-receive takes gitward's GITWARD_HOOK_PLAN, the policy gitward runs
 * (whatever the file holds now), and post-receive's audit lines are written by gitward from the ref
 * lines the sh launcher kept.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import yaml from 'js-yaml';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { baseConfig, startGitward, type TestGitward } from '../helpers/server.js';
import { commitFile, gitwardLines, runGit, runGitOk } from '../hooks/push-fixture.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

const PASSWORDS = { ann: 'ann-pw', rita: 'rita-pw' };
/** Safety net: gitward re-logs hook lines after the backend exits, which may be just after git returns. */
const RELOG_WAIT_MS = SAFETY_NET_MS;

const REPOS = (mainPushers: string[]) => ({
  web: {
    '.read': ['@eng'],
    '.write': ['@eng'],
    '.hooks': { 'branch-protect': { branches: { main: { push: mainPushers } } } },
    'site.git': {},
  },
});
const CONFIG = {
  users: { ann: { groups: ['eng'] }, rita: { groups: ['eng', 'release'] } },
  repos: REPOS(['@release']),
};

async function eventually<T>(get: () => T | undefined, what: string): Promise<T> {
  const until = Date.now() + RELOG_WAIT_MS;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Setup {
  readonly gw: TestGitward;
  push(user: 'ann' | 'rita', ...specs: string[]): Promise<{ code: number | null; stderr: string }>;
  commit(label: string): Promise<string>;
  /** The hook.log lines of the last push of `user` (its request id from the audit), once `n` of `event` arrived. */
  linesOfLastPush(user: string, event: string, n: number): Promise<Array<Record<string, unknown>>>;
}

async function setup(t: TestContext): Promise<Setup> {
  const gw = await startGitward(t, { users: PASSWORDS, repos: ['web/site'], config: CONFIG });
  installHooks(path.join(gw.repoRoot, 'web', 'site.git'), dispatcherPath(), { force: false, now: Date.now() });
  const work = path.join(gw.dir, 'work');
  fs.mkdirSync(work);
  await runGitOk(['init', '--quiet', '--initial-branch=main', work], work, gw.gitEnv);
  let n = 0;
  const pushes: Record<string, number> = {};
  return {
    gw,
    push(user, ...specs) {
      pushes[user] = (pushes[user] ?? 0) + 1;
      return runGit(['push', gw.url('web/site', { user, password: PASSWORDS[user] }), ...specs], work, gw.gitEnv);
    },
    commit: (label) => commitFile(work, gw.gitEnv, ++n, label),
    async linesOfLastPush(user, event, count) {
      // The audit line is written when the response closes, which may be just after git returns.
      const nth = pushes[user] ?? 0;
      const id = await eventually(
        () =>
          gw.audit.records.filter((a) => a.user === user && a.service === 'git-receive-pack' && a.bytesIn > 4)[nth - 1]
            ?.requestId,
        `push ${nth} of ${user} in the audit`,
      );
      return eventually(() => {
        const lines = gw.logs.lines.filter((l) => l.event === 'hook.log' && l.requestId === id);
        return lines.filter((l) => l.hookEvent === event).length >= count ? lines : undefined;
      }, `${count} ${event} line(s) of request ${id}`);
    },
  };
}

describe('the hooks of a real push through gitward', () => {
  it('post-receive: gitward writes one audit line per updated ref from the lines the launcher kept', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    const r = await s.push('ann', `${c1}:refs/heads/dev`, `${c1}:refs/heads/topic`);
    assert.equal(r.code, 0, r.stderr);
    const lines = await s.linesOfLastPush('ann', 'hook.ref-updated', 2);
    const applied = lines.filter((l) => l.hookEvent === 'hook.ref-updated');
    assert.deepEqual(applied.map((l) => [l.ref, l.old, l.new, l.kind, l.verdict, l.user, l.repo, l.hook]).sort(), [
      ['refs/heads/dev', '0'.repeat(40), c1, 'create', 'applied', 'ann', 'web/site', 'post-receive'],
      ['refs/heads/topic', '0'.repeat(40), c1, 'create', 'applied', 'ann', 'web/site', 'post-receive'],
    ]);
    for (const l of applied)
      assert.match(String(l.file), /^post-receive\.\d+\.refs$/, "written by gitward from the launcher's file");
    assert.equal(lines.filter((l) => l.hookEvent === 'hook.check' && l.verdict === 'accepted').length, 2);
  });

  it("pre-receive uses gitward's plan (no hook.plan-unused) and still refuses what the rules refuse", async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    const r = await s.push('ann', `${c1}:refs/heads/main`, `${c1}:refs/heads/topic`);
    assert.notEqual(r.code, 0);
    assert.match(
      gitwardLines(r.stderr)[0] ?? '',
      /^gitward: refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.create, gitward\.yaml:\d+\)/,
    );
    const lines = await s.linesOfLastPush('ann', 'hook.check', 2);
    assert.deepEqual(
      lines.filter((l) => l.hookEvent === 'hook.plan-unused'),
      [],
    );
    assert.deepEqual(
      lines.filter((l) => l.hookEvent === 'hook.ref-updated'),
      [],
      'nothing was applied',
    );
  });

  it("an edit on disk changes nothing for pushes until gitward reloads it: the hook runs gitward's policy", async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    // gitward in the tests does not watch the file: it keeps the old config until reload().
    fs.writeFileSync(
      s.gw.configFile,
      yaml.dump({ ...baseConfig(), ...CONFIG, repos: REPOS(['@eng']) }, { lineWidth: -1 }),
    );
    const before = await s.push('ann', `${c1}:refs/heads/main`);
    assert.notEqual(before.code, 0, 'the running policy (main: @release) still judges the push');
    const lines = await s.linesOfLastPush('ann', 'hook.check', 1);
    assert.deepEqual(
      lines.filter((l) => l.hookEvent === 'hook.plan-unused'),
      [],
    );

    assert.equal(await s.gw.reload(), true);
    const after = await s.push('ann', `${c1}:refs/heads/main`);
    assert.equal(after.code, 0, `once reloaded, the edited rule lets @eng push main: ${after.stderr}`);
  });

  it('a broken edit keeps the last good policy for pushes too: the rules still judge, /healthz says last-good', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    fs.writeFileSync(s.gw.configFile, `${fs.readFileSync(s.gw.configFile, 'utf8')}\nnot_a_key: 1\n`);
    assert.equal(await s.gw.reload(), false);
    const health = (await (await fetch(`${s.gw.origin}/healthz`)).json()) as { ok: boolean; configInForce: string };
    assert.deepEqual([health.ok, health.configInForce], [false, 'last-good']);
    // The last good rules: rita (@release) may push main, ann may push dev but not main.
    const dev = await s.push('ann', `${c1}:refs/heads/dev`);
    assert.equal(dev.code, 0, dev.stderr);
    const main = await s.push('ann', `${c1}:refs/heads/main`);
    assert.notEqual(main.code, 0);
    assert.match(gitwardLines(main.stderr)[0] ?? '', /^gitward: refs\/heads\/main rejected by branch-protect /);
    const ok = await s.push('rita', `${c1}:refs/heads/main`);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a mirror-style push of 100 refs gets 100 audit lines', async (t) => {
    const s = await setup(t);
    const c1 = await s.commit('one');
    const specs = Array.from({ length: 100 }, (_, i) => `${c1}:refs/heads/topic/${String(i).padStart(3, '0')}`);
    const r = await s.push('ann', ...specs);
    assert.equal(r.code, 0, r.stderr);
    const lines = await s.linesOfLastPush('ann', 'hook.ref-updated', 100);
    assert.deepEqual(
      lines
        .filter((l) => l.hookEvent === 'hook.ref-updated')
        .map((l) => l.ref)
        .sort(),
      specs.map((x) => x.split(':')[1]).sort(),
    );
  });
});
