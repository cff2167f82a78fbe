/**
 * GITWARD_HOOK_PLAN (protocol/hook-protocol.ts): what gitward hands pre-receive so it does not parse the
 * config again; and hookSettingsInTree, the pre-receive's own way to the same settings without
 * compiling the whole policy.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, loadConfigText } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { hookSettingsFor, hookSettingsInTree } from '../../app/policy/hook-settings.js';
import { encodeHookPlan, MAX_HOOK_PLAN_BYTES, parseHookPlan } from '../../protocol/hook-protocol.js';
import { CONFIG, createPushFixture, gitwardLines, type PushFixture } from '../hooks/push-fixture.js';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'config');

const TREE = `repo_root: /srv/git
users: {ann: {groups: [eng]}}
repos:
  .hooks:
    branch-protect: {branches: {main: {push: [ann]}}}
  web:
    .hooks:
      branch-flow: {flow: [dev, staging, main]}
    docs.git:
      .hooks: {branch-flow: {enable: false}}
    site.git: {.hooks: {branch-protect: {branches: {release: {push: ["@eng"]}}}}}
    site:
      deep.git: {}
    sub:
      .hooks: {branch-flow: {enable: false}}
      again.git: {.hooks: {branch-flow: {flow: [a, b]}}}
  web.git: {}
  tools.git: {.hooks: {branch-flow: {flow: [x, y], n: 1.5}}}
hooks: {order: [branch-flow, branch-protect], log_file: hooks.jsonl}
`;
const PROBES = [
  'tools',
  'web',
  'web/site',
  'web/site/deep',
  'web/docs',
  'web/unlisted',
  'web/sub/again',
  'web/sub/x',
  'web/sub/again/deeper',
  'other/web/site',
  'site',
];

describe('hookSettingsInTree reads the same settings as the compiled policy', () => {
  const configs: Array<[string, string]> = [
    ['TREE', TREE],
    ...fs
      .readdirSync(FIXTURES)
      .filter((f) => f.startsWith('valid-') && f.endsWith('.yaml'))
      .map((f) => [f, fs.readFileSync(path.join(FIXTURES, f), 'utf8')] as [string, string]),
  ];
  for (const [name, text] of configs) {
    it(`${name}: every probed and named repo`, () => {
      const config = loadConfigText(text, path.join(FIXTURES, 'gitward.yaml'));
      const policy = compilePolicy(config);
      for (const repo of [...PROBES, ...policy.repos()]) {
        assert.deepEqual([...hookSettingsInTree(config.repos, repo)], [...hookSettingsFor(policy, repo)], repo);
      }
    });
  }
});

describe('encodeHookPlan / parseHookPlan', () => {
  const policy = compilePolicy(loadConfigText(TREE, '/etc/gitward/gitward.yaml'));

  it('carries exactly what pre-receive would read from the config', () => {
    for (const repo of PROBES) {
      const text = encodeHookPlan(policy, repo);
      assert.ok(text !== null, repo);
      const plan = parseHookPlan(text);
      assert.ok(plan, repo);
      assert.equal(plan.repo, repo);
      assert.equal(plan.configSha256, policy.config.hash);
      assert.equal(plan.repoRoot, '/srv/git');
      assert.equal(plan.configDir, '/etc/gitward');
      assert.equal(plan.logFile, '/etc/gitward/hooks.jsonl');
      assert.deepEqual(plan.order, ['branch-flow', 'branch-protect']);
      assert.deepEqual(
        [...plan.settings],
        [...hookSettingsFor(policy, repo)].map(([n, s]) => [n, { options: s.options, where: s.where }]),
      );
    }
  });

  it('is not made when JSON would change an option (.inf), when it is too large, or without a config file', () => {
    assert.equal(
      encodeHookPlan(
        compilePolicy(loadConfigText(TREE.replace('n: 1.5', 'n: .inf'), '/etc/gitward/gitward.yaml')),
        'tools',
      ),
      null,
    );
    assert.ok(
      encodeHookPlan(
        compilePolicy(loadConfigText(TREE.replace('n: 1.5', 'n: .inf'), '/etc/gitward/gitward.yaml')),
        'web/site',
      ) !== null,
      'other repos are not affected',
    );
    const big = TREE.replace('n: 1.5', `n: "${'x'.repeat(MAX_HOOK_PLAN_BYTES)}"`);
    assert.equal(encodeHookPlan(compilePolicy(loadConfigText(big, '/etc/gitward/gitward.yaml')), 'tools'), null);
    const inCode = { ...policy.config, file: '' };
    assert.equal(encodeHookPlan({ ...policy, config: inCode }, 'tools'), null);
  });

  it('refuses anything not of its version and shape', () => {
    const good = JSON.parse(encodeHookPlan(policy, 'web/site') as string) as Record<string, unknown>;
    const bad: unknown[] = [
      'not json',
      '[]',
      { ...good, v: 2 },
      { ...good, configSha256: 'abc' },
      { ...good, repo: 1 },
      { ...good, order: 'branch-flow' },
      { ...good, plugins: [['x']] },
      { ...good, settings: [['branch-flow', [], 'f:1']] },
      { ...good, settings: [['branch-flow', {}, 1]] },
      { ...good, logFile: 7 },
    ];
    for (const b of bad)
      assert.equal(parseHookPlan(typeof b === 'string' ? b : JSON.stringify(b)), null, JSON.stringify(b));
    assert.ok(parseHookPlan(JSON.stringify(good)));
  });
});

/** A push as gitward makes it (its environment), with `plan` as GITWARD_HOOK_PLAN. */
function throughGitward(f: PushFixture, plan: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GITWARD_CONFIG: f.configFile,
    GITWARD_USER: 'ann',
    GITWARD_GROUPS: '["eng"]',
    GITWARD_INFO: '{}',
    GITWARD_REPO: 'web/site',
    GITWARD_REQUEST_ID: 'plan-test',
    GITWARD_HOOK_PLAN: plan,
    ...extra,
  };
}

async function planFor(f: PushFixture, repo = 'web/site'): Promise<Record<string, unknown>> {
  return JSON.parse(encodeHookPlan(compilePolicy(await loadConfig(f.configFile)), repo) as string) as Record<
    string,
    unknown
  >;
}

/** The plan with the branch-protect setting removed: what the pre-receive runs shows which it used. */
function withoutBranchProtect(plan: Record<string, unknown>): string {
  return JSON.stringify({ ...plan, settings: (plan.settings as unknown[][]).filter((s) => s[0] !== 'branch-protect') });
}

function logLines(dir: string): Array<Record<string, unknown>> {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl'))
    .flatMap((n) => fs.readFileSync(path.join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('pre-receive with GITWARD_HOOK_PLAN', () => {
  it('uses the plan while the config file has the text it was made from', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    // A plan without branch-protect (the environment is trusted, as GITWARD_GROUPS is): main is then
    // only branch-flow's business, which refuses it for another reason.
    const r = await f.git(
      ['push', 'origin', `${c1}:refs/heads/main`],
      throughGitward(f, withoutBranchProtect(await planFor(f))),
    );
    assert.notEqual(r.code, 0);
    assert.deepEqual(
      gitwardLines(r.stderr).map((l) => /rejected by (\S+)/.exec(l)?.[1]),
      ['branch-flow'],
    );
  });

  it("keeps using the plan when the config file changes, even to a broken text: it is gitward's running policy", async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const plan = withoutBranchProtect(await planFor(f));
    fs.appendFileSync(f.configFile, 'not_a_key: 1\n');
    const logDir = path.join(f.dir, 'hooklog');
    fs.mkdirSync(logDir);
    const c1 = await f.commit('one');
    const r = await f.git(
      ['push', 'origin', `${c1}:refs/heads/main`],
      throughGitward(f, plan, { GITWARD_LOG_DIR: logDir }),
    );
    assert.notEqual(r.code, 0);
    assert.deepEqual(
      gitwardLines(r.stderr).map((l) => /rejected by (\S+)/.exec(l)?.[1]),
      ['branch-flow'],
    );
    assert.deepEqual(
      logLines(logDir).filter((l) => l.event === 'hook.plan-unused'),
      [],
    );
  });

  it("ignores a plan for another repo, a malformed one, and one without the pusher's groups", async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    const plan = await planFor(f);
    const other = JSON.stringify({ ...JSON.parse(withoutBranchProtect(plan)), repo: 'web/other' });
    const cases: Array<[Record<string, string>, string]> = [
      [throughGitward(f, other, { GITWARD_REPO: 'web/other' }), 'the repository is not the one the plan is for'],
      [throughGitward(f, '{"v":1'), 'GITWARD_HOOK_PLAN is not a plan of this version'],
      [
        throughGitward(f, withoutBranchProtect(plan), { GITWARD_GROUPS: '' }),
        'the environment does not name the groups and info of the pusher',
      ],
    ];
    for (const [env, reason] of cases) {
      const logDir = fs.mkdtempSync(path.join(f.dir, 'hooklog-'));
      const r = await f.git(['push', 'origin', `${c1}:refs/heads/main`], { ...env, GITWARD_LOG_DIR: logDir });
      assert.notEqual(r.code, 0);
      assert.ok(
        gitwardLines(r.stderr).some((l) => /rejected by branch-protect/.test(l)),
        `${reason}: ${r.stderr}`,
      );
      assert.deepEqual(
        logLines(logDir)
          .filter((l) => l.event === 'hook.plan-unused')
          .map((l) => l.reason),
        [reason],
      );
    }
  });
});
