import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gitChildEnv } from '../../hooks/git-child-env.js';
import { HookOptionsError } from '../../hooks/hook-plugin.js';
import { describeUpdate } from '../../hooks/receive-input.js';
import { createRepoReader } from '../../hooks/repo-reader.js';
import { createBranchFlowPlugin } from '../../plugins/hooks/branch-flow.js';
import { gitEnv } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';
import { runGitOk } from './push-fixture.js';

const pctx = { name: 'branch-flow', where: 'gitward.yaml:3', configDir: '/tmp', logger: { log: () => undefined } };
const Z = '0'.repeat(40);

describe('branch-flow options', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no flow', {}, /branch-flow\.flow: a list of at least two branch names is required/],
    ['one branch', { flow: ['main'] }, /at least two/],
    ['a string flow', { flow: 'dev,main' }, /at least two/],
    ['a glob', { flow: ['dev', 'rel/*'] }, /flow\[1\]: "rel\/\*" is not a branch name/],
    ['a full ref', { flow: ['refs/heads/dev', 'main'] }, /flow\[0\]/],
    ['a duplicate', { flow: ['dev', 'main', 'dev'] }, /flow\[2\]: "dev" appears twice/],
    [
      'an unknown key',
      { flow: ['dev', 'main'], forward_only: true },
      /gitward\.yaml:3: branch-flow: unknown key "forward_only"/,
    ],
  ];
  for (const [name, options, re] of bad) {
    it(`refuses ${name}`, () =>
      assert.throws(
        () => createBranchFlowPlugin(options, pctx),
        (e: unknown) => e instanceof HookOptionsError && re.test(e.message),
      ));
  }
});

describe('branch-flow decisions against a real repository', () => {
  it('follows reachability from the previous branch as it is now', async (t) => {
    const dir = tempDir(t);
    const env = gitEnv(path.join(dir, 'home'));
    const repo = path.join(dir, 'r');
    fs.mkdirSync(repo);
    const g = (...args: string[]) => runGitOk(args, repo, env);
    await g('init', '--quiet', '--initial-branch=dev', repo);
    const commit = async (n: string) => {
      fs.writeFileSync(path.join(repo, n), n);
      await g('add', n);
      await g('commit', '--quiet', '-m', n);
      return (await g('rev-parse', 'HEAD')).trim();
    };
    const root = await commit('root');
    const c2 = await commit('c2');
    await g('branch', 'staging', root);
    await g('checkout', '--quiet', '--orphan', 'other');
    const unrelated = await commit('unrelated');
    const plugin = await createBranchFlowPlugin({ flow: ['dev', 'staging', 'main'] }, pctx);
    const git = createRepoReader(repo, gitChildEnv(env));
    const identity = { user: 'ann', source: 'test', groups: [], info: {} };
    const cases: Array<[string, string, string, string, string | null]> = [
      ['staging may take what dev has', root, c2, 'refs/heads/staging', null],
      ['main may take what staging has, even a root commit', Z, root, 'refs/heads/main', null],
      ['main may not take what only dev has', Z, c2, 'refs/heads/main', 'flow staging -> main'],
      ['staging may not take an unrelated commit', root, unrelated, 'refs/heads/staging', 'flow dev -> staging'],
      ['dev (first in the flow) is free', c2, unrelated, 'refs/heads/dev', null],
      ['a branch outside the flow is free', Z, unrelated, 'refs/heads/hotfix', null],
      ['feature/main is not main', Z, c2, 'refs/heads/feature/main', null],
      ['a tag named main is not the branch', Z, c2, 'refs/tags/main', null],
      ['deleting a flow branch is not its business', root, Z, 'refs/heads/staging', null],
    ];
    for (const [name, oldSha, newSha, ref, want] of cases) {
      const u = describeUpdate(oldSha, newSha, ref);
      const v = await plugin.check(u, { repo: 'r', identity, git, updates: [u] });
      assert.equal(v.kind === 'reject' ? v.rule : null, want, name);
    }
  });
});

describe('the commit walker', () => {
  it('never keeps a process alive when its reader is not closed', async (t) => {
    const dir = tempDir(t);
    const env = gitEnv(path.join(dir, 'home'));
    const repo = path.join(dir, 'r');
    fs.mkdirSync(repo);
    await runGitOk(['init', '--quiet', '--initial-branch=dev', repo], repo, env);
    fs.writeFileSync(path.join(repo, 'a'), 'a');
    await runGitOk(['add', 'a'], repo, env);
    await runGitOk(['commit', '--quiet', '-m', 'a'], repo, env);
    const first = (await runGitOk(['rev-parse', 'HEAD'], repo, env)).trim();
    fs.writeFileSync(path.join(repo, 'b'), 'b');
    await runGitOk(['add', 'b'], repo, env);
    await runGitOk(['commit', '--quiet', '-m', 'b'], repo, env);
    const head = (await runGitOk(['rev-parse', 'HEAD'], repo, env)).trim();
    const script = `const { createRepoReader } = require(${JSON.stringify(require.resolve('../../hooks/repo-reader.js'))});
      const r = createRepoReader(${JSON.stringify(repo)}, ${JSON.stringify(gitChildEnv(env))});
      r.isAncestor(${JSON.stringify(first)}, ${JSON.stringify(head)}).then((a) => r.isAncestor(${JSON.stringify(head)}, ${JSON.stringify(first)}).then((b) => console.log('answers', a, b)));`;
    // A hang would be killed here and fail the test; the walker must let node exit on its own.
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.match(out, /^answers true false$/m);
  });
});
