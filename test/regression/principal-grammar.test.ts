/**
 * Regression (issue 11 §3): one grammar for principals. A user whose name the ACL accepts (`zoë`,
 * non-ASCII) must also be nameable in a branch-protect rule — before, such a rule failed the whole
 * config — and a branch-protect rule naming a user or group that does not exist is a config error
 * with file:line and key path, as in a grant. Real pushes through gitward with the git CLI.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { startGitward } from '../helpers/server.js';
import { commitFile, runGit, runGitOk } from '../hooks/push-fixture.js';

const PASSWORDS: Record<string, string> = { zoë: 'zoë-pw', ann: 'ann-pw' };

function config(protectPush: string[]): Record<string, unknown> {
  return {
    users: { zoë: { groups: ['eng'] }, ann: { groups: ['eng'] } },
    repos: {
      '.read': ['@eng'],
      '.write': ['zoë', '@eng'],
      '.hooks': { 'branch-protect': { branches: { main: { push: protectPush } } } },
    },
  };
}

test('a user named zoë can be granted a repo and named in a branch-protect rule, which holds on a real push', async (t) => {
  const gw = await startGitward(t, { users: PASSWORDS, repos: ['site'], config: config(['zoë']) });
  installHooks(path.join(gw.repoRoot, 'site.git'), dispatcherPath(), { force: false, now: Date.now() });
  const work = path.join(gw.dir, 'work');
  fs.mkdirSync(work);
  await runGitOk(['init', '--quiet', '--initial-branch=main', work], work, gw.gitEnv);
  const push = (user: string, spec: string) =>
    runGit(['push', gw.url('site', { user, password: PASSWORDS[user] as string }), spec], work, gw.gitEnv);

  const c1 = await commitFile(work, gw.gitEnv, 1, 'one');
  const byZoe = await push('zoë', `${c1}:refs/heads/main`);
  assert.equal(byZoe.code, 0, byZoe.stderr);
  const c2 = await commitFile(work, gw.gitEnv, 2, 'two');
  const byAnn = await push('ann', `${c2}:refs/heads/main`);
  assert.notEqual(byAnn.code, 0, 'ann may write the repo but not push to main');
  assert.match(byAnn.stderr, /branch-protect/);
  const byAnnElsewhere = await push('ann', `${c2}:refs/heads/topic`);
  assert.equal(byAnnElsewhere.code, 0, byAnnElsewhere.stderr);
  const zoeAgain = await push('zoë', `${c2}:refs/heads/main`);
  assert.equal(zoeAgain.code, 0, zoeAgain.stderr);
  const audit = gw.audit.records.filter((r) => r.service === 'git-receive-pack' && r.user === 'zoë');
  assert.ok(audit.length > 0 && audit.every((r) => r.decision === 'allowed'), JSON.stringify(audit));
});

test('a branch-protect rule naming an unknown user or group is a config error with file:line and key path', async (t) => {
  const gw = await startGitward(t, { users: PASSWORDS, repos: ['site'], config: config(['zoë']) });
  for (const [who, problem] of [
    ['zoe', /gitward\.yaml:\d+: repos\.hooks\.branch-protect\.branches\."main"\.push\[0\]: unknown user "zoe"/],
    [
      '@nobody',
      /gitward\.yaml:\d+: repos\.hooks\.branch-protect\.branches\."main"\.push\[0\]: unknown group "@nobody"/,
    ],
    [
      'bad name',
      /gitward\.yaml:\d+: repos\.hooks\.branch-protect\.branches\."main"\.push\[0\]: bad principal: bad user name "bad name": cannot contain spaces/,
    ],
  ] as const) {
    gw.writeConfig(config([who]));
    assert.equal(await gw.reload(), false, `a rule naming ${who} is refused`);
    const failure = gw.runtime.lastFailure();
    assert.ok(failure !== null && failure.problems.some((p) => problem.test(p)), JSON.stringify(failure));
  }
  gw.writeConfig(config(['zoë', '@eng', '$authenticated', '$local']));
  assert.equal(await gw.reload(), true, JSON.stringify(gw.runtime.lastFailure()));
});
