import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { importGit4nginx } from '../../app/config/git4nginx-import.js';
import { loadConfigText } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { decide } from '../../app/policy/decide.js';
import { hookSettingsFor } from '../../app/policy/hook-settings.js';
import { resolveIdentity } from '../../app/policy/identity.js';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const OLD = path.join(ROOT, 'test', 'fixtures', 'git4nginx', 'old.yaml');

function imported() {
  const text = importGit4nginx(fs.readFileSync(OLD, 'utf8'), 'old.yaml');
  return { text, policy: compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml')) };
}

// git4nginx's intended meaning of test/fixtures/git4nginx/old.yaml, case by case.
const CASES: [user: string | null, repo: string, need: 'read' | 'write', allowed: boolean, why: string][] = [
  ['ann', 'web/site', 'read', true, 'write on the project group implies read'],
  ['ann', 'web/site', 'write', true, '.write_groups [eng] on web'],
  ['ben', 'web/site', 'read', true, '.read_groups [qa] on web'],
  ['ben', 'web/site', 'write', true, 'grants accumulate: repo .write_users [ben]'],
  ['ben', 'web/docs', 'write', false, 'ben may only read docs'],
  ['ben', 'web/unlisted', 'read', true, 'an unlisted repo of a listed group gets the group grants'],
  ['ben', 'web/unlisted', 'write', false, 'no write grant for qa'],
  ['dot', 'web/site', 'read', false, 'dot is in no group of web'],
  ['dot', 'ops/deploy', 'read', true, '.read_users on ops'],
  ['dot', 'ops/deploy', 'write', false, 'read only'],
  ['sydney', 'ops/deploy', 'write', true, '.write_groups [release] on the repo'],
  ['sydney', 'web/site', 'read', false, 'release has nothing on web'],
  ['ann', 'ops/deploy', 'read', false, 'keys directly under authorisation are ignored (no global level)'],
  ['ann', 'tools', 'read', true, 'the null key holds repos directly under repo_root'],
  ['ann', 'tools', 'write', false, 'eng may only read tools'],
  ['cy', 'tools', 'write', true, 'a user named only in a grant'],
  ['ann', 'other/x', 'read', false, 'an unlisted project group denies everyone'],
  ['ann', 'stray', 'read', false, 'an unlisted top-level repo denies everyone'],
  [null, 'web/site', 'read', false, 'anonymous gets nothing'],
  // Differences on purpose (each has a NOTE in the output):
  ['dave', 'web/docs', 'read', false, 'a string is one name, not a substring match (git4nginx let dave in)'],
  ['davexyz', 'web/docs', 'read', true, 'the string names davexyz'],
  ['yes', 'ops/deploy', 'read', true, 'names are strings: git4nginx read yes as a boolean and never matched it'],
  ['123', 'ops/deploy', 'read', true, 'names are strings: git4nginx read 123 as a number'],
];

for (const [user, repo, need, allowed, why] of CASES) {
  test(`import-git4nginx keeps the meaning: ${user ?? '$anonymous'} ${allowed ? 'can' : 'cannot'} ${need} ${repo} (${why})`, () => {
    const { policy } = imported();
    const d = decide(policy, resolveIdentity(policy, user, user === null ? 'anonymous' : 'remote-user'), repo, need);
    assert.equal(d.allowed, allowed, d.reason);
  });
}

test('import-git4nginx: hooks tree → .hooks settings; deepest wins, enable:false turns off', () => {
  const { policy } = imported();
  const names = (repo: string) => [...hookSettingsFor(policy, repo).keys()].sort();
  assert.deepEqual(names('web/site'), ['branch-flow', 'branch-protect']);
  assert.deepEqual(names('web/docs'), ['branch-protect']);
  assert.deepEqual(names('tools'), ['branch-flow', 'branch-protect']);
  assert.deepEqual(hookSettingsFor(policy, 'ops/deploy').get('branch-protect')?.options, { branches: { main: { push: ['sydney', '@release'] } } });
  assert.deepEqual(hookSettingsFor(policy, 'web/x').get('branch-flow')?.options, { flow: ['dev', 'staging', 'main'] });
});

test('import-git4nginx: hooks on the null key reach the top-level repos only, not every repo', () => {
  const { policy } = imported();
  const options = (repo: string, plugin: string) => hookSettingsFor(policy, repo).get(plugin)?.options;
  const ROOT_PROTECT = { branches: { main: { push: ['sydney', '@release'] } } };
  const NULL_PROTECT = { branches: { release: { push: ['cy'] } } };
  // Repos in project groups keep the settings of hooks' root and their group, not the null key's.
  assert.deepEqual(options('web/site', 'branch-protect'), ROOT_PROTECT);
  assert.deepEqual(options('web/site', 'branch-flow'), { flow: ['dev', 'staging', 'main'] });
  assert.deepEqual(options('ops/deploy', 'branch-protect'), ROOT_PROTECT);
  assert.equal(options('ops/deploy', 'branch-flow'), undefined);
  assert.equal(options('web/docs', 'branch-flow'), undefined);
  // The top-level repos get the null key's settings; a repo's own (deeper) setting still wins.
  assert.deepEqual(options('tools', 'branch-flow'), { flow: ['dev', 'main'] });
  assert.deepEqual(options('tools', 'branch-protect'), NULL_PROTECT);
  assert.deepEqual(options('lib', 'branch-protect'), NULL_PROTECT);
  assert.equal(options('lib', 'branch-flow'), undefined);
  // A top-level repo that is not listed cannot get them (gitward has no "top-level only" node): a NOTE says so.
  assert.deepEqual(options('stray', 'branch-protect'), ROOT_PROTECT);
  assert.equal(options('stray', 'branch-flow'), undefined);
});

test('import-git4nginx: a hooks key in the wrong place of the two-level tree is not imported', () => {
  const old = [
    'repo_root: /srv/git',
    'authorisation: {web: {site.git: {.read_users: [ann]}}, null: {tools.git: {.read_users: [ann]}}}',
    'hooks:',
    '  tools.git: {.branch_flow: {flow: [dev, main]}}',
    '  web:',
    '    sub: {.branch_flow: {flow: [dev, main]}}',
    '  null:',
    '    web: {.branch_flow: {flow: [dev, main]}}',
    '',
  ].join('\n');
  const text = importGit4nginx(old, 'x.yaml');
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  for (const repo of ['tools', 'web/site', 'web/sub/x', 'web/x']) assert.equal(hookSettingsFor(policy, repo).size, 0, `${repo}:\n${text}`);
  assert.match(text, /# NOTE: x\.yaml:4: hooks\.tools\.git: a repo key directly under hooks/);
  assert.match(text, /# NOTE: x\.yaml:6: hooks\.web\.sub: not a repo key/);
  assert.match(text, /# NOTE: x\.yaml:8: hooks\.null\.web: not a repo key/);
});

test('import-git4nginx: hooks on the null key with no top-level repo listed are not imported, with a NOTE', () => {
  const old = 'repo_root: /srv/git\nauthorisation: {web: {site.git: {.read_users: [ann]}}}\nhooks:\n  null: {.branch_flow: {flow: [dev, main]}}\n';
  const text = importGit4nginx(old, 'x.yaml');
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  assert.equal(hookSettingsFor(policy, 'web/site').size, 0, text);
  assert.match(text, /# NOTE: x\.yaml:4: hooks\.null\.branch_flow: .*no top-level repo is listed, so it was not imported/);
});

test('import-git4nginx says where it differs on purpose', () => {
  const { text } = imported();
  const notes = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('# NOTE: '));
  const expectNote = (re: RegExp) => assert.ok(notes.some((n) => re.test(n)), `no NOTE matching ${re}:\n${notes.join('\n')}`);
  expectNote(/old\.yaml:21: .*substring of "davexyz"/);
  expectNote(/old\.yaml:14: authorisation\.read_groups: git4nginx ignores keys directly under authorisation/);
  expectNote(/old\.yaml:11: .*"yes" was a YAML 1\.1 boolean/);
  expectNote(/old\.yaml:23: .*"123" was a YAML 1\.1 number/);
  expectNote(/bin_path: not imported/);
  expectNote(/added with no groups: cy, davexyz/);
  expectNote(/old\.yaml:43: hooks\.null\.branch_flow: git4nginx applied this to every repo directly under repo_root; .*copied onto each top-level repo listed \(tools\.git, lib\.git\).*a top-level repo not listed does not get it/);
  expectNote(/old\.yaml:44: hooks\.null\.branch_protect: /);
});

test('import-git4nginx: an empty authorisation imports to a config that denies everything', () => {
  const text = importGit4nginx('repo_root: /srv/git\nauthentication: {plugin: lookup_groups, plugin_config: {users: {ann: {}}}}\nauthorisation: {}\n', 'x.yaml');
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  assert.equal(decide(policy, resolveIdentity(policy, 'ann', 't'), 'any/repo', 'read').allowed, false);
});
