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
  ['cy', 'tools', 'write', false, 'a user named in a grant but not under users: was refused by git4nginx'],
  ['cy', 'tools', 'read', false, 'nor may cy read: lookup_groups knows only users:'],
  ['ann', 'other/x', 'read', false, 'an unlisted project group denies everyone'],
  ['ann', 'stray', 'read', false, 'an unlisted top-level repo denies everyone'],
  [null, 'web/site', 'read', false, 'anonymous gets nothing'],
  // Narrowed on purpose (each has a NOTE in the output):
  ['dave', 'web/docs', 'read', false, 'a string is not a substring match (and dave is not under users:)'],
  ['davexyz', 'web/docs', 'read', false, 'the string names davexyz, who is not under users:'],
  ['yes', 'ops/deploy', 'read', false, 'git4nginx read yes as a boolean and never matched it'],
  ['123', 'ops/deploy', 'read', false, 'git4nginx read 123 as a number and never matched it'],
  ['yes', 'web/site', 'read', false, 'the user key yes was a boolean: git4nginx never let "yes" in'],
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
  assert.deepEqual(hookSettingsFor(policy, 'ops/deploy').get('branch-protect')?.options, {
    branches: { main: { push: ['sydney', '@release'] } },
  });
  assert.deepEqual(hookSettingsFor(policy, 'web/x').get('branch-flow')?.options, { flow: ['dev', 'staging', 'main'] });
});

test('import-git4nginx: hooks on the null key reach the top-level repos only, not every repo', () => {
  const { policy } = imported();
  const options = (repo: string, plugin: string) => hookSettingsFor(policy, repo).get(plugin)?.options;
  const ROOT_PROTECT = { branches: { main: { push: ['sydney', '@release'] } } };
  // cy is not under users: (git4nginx refused cy), so nobody is left who may push release.
  const NULL_PROTECT = { branches: { release: { push: [] } } };
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
  for (const repo of ['tools', 'web/site', 'web/sub/x', 'web/x'])
    assert.equal(hookSettingsFor(policy, repo).size, 0, `${repo}:\n${text}`);
  assert.match(text, /# NOTE: x\.yaml:4: hooks\.tools\.git: a repo key directly under hooks/);
  assert.match(text, /# NOTE: x\.yaml:6: hooks\.web\.sub: not a repo key/);
  assert.match(text, /# NOTE: x\.yaml:8: hooks\.null\.web: not a repo key/);
});

test('import-git4nginx: hooks on the null key with no top-level repo listed are not imported, with a NOTE', () => {
  const old =
    'repo_root: /srv/git\nauthorisation: {web: {site.git: {.read_users: [ann]}}}\nhooks:\n  null: {.branch_flow: {flow: [dev, main]}}\n';
  const text = importGit4nginx(old, 'x.yaml');
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  assert.equal(hookSettingsFor(policy, 'web/site').size, 0, text);
  assert.match(
    text,
    /# NOTE: x\.yaml:4: hooks\.null\.branch_flow: .*no top-level repo is listed or found on disk, it was not imported/,
  );
});

test('import-git4nginx says where it differs on purpose', () => {
  const { text } = imported();
  const notes = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('# NOTE: '));
  const expectNote = (re: RegExp) =>
    assert.ok(
      notes.some((n) => re.test(n)),
      `no NOTE matching ${re}:\n${notes.join('\n')}`,
    );
  expectNote(
    /old\.yaml:21: .*a string, not a list: git4nginx matched every user whose name is a substring of "davexyz" \(among users: none\); "davexyz" is not a user, so nothing was imported/,
  );
  expectNote(/old\.yaml:14: authorisation\.read_groups: git4nginx ignores keys directly under authorisation/);
  expectNote(/old\.yaml:11: user: "yes" is a YAML 1\.1 boolean for git4nginx .*never matched; not imported/);
  expectNote(/old\.yaml:23: .*"123" is a YAML 1\.1 number for git4nginx .*never matched; not imported/);
  expectNote(
    /old\.yaml:29: authorisation\.null\.tools\.git\.write_users: "cy" is not under authentication\.plugin_config\.users, so git4nginx refused them/,
  );
  expectNote(/bin_path: not imported/);
  expectNote(
    /old\.yaml:43: hooks\.null\.branch_flow: git4nginx applied this to every repo directly under repo_root; .*copied onto each top-level repo listed or found on disk \(tools\.git, lib\.git\).*a top-level repo not listed does not get it/,
  );
  expectNote(/old\.yaml:44: hooks\.null\.branch_protect: /);
});

test('import-git4nginx: an empty authorisation imports to a config that denies everything', () => {
  const text = importGit4nginx(
    'repo_root: /srv/git\nauthentication: {plugin: lookup_groups, plugin_config: {users: {ann: {}}}}\nauthorisation: {}\n',
    'x.yaml',
  );
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  assert.equal(decide(policy, resolveIdentity(policy, 'ann', 't'), 'any/repo', 'read').allowed, false);
});

/** Imports `old` and answers whether `user` may `need` `repo` under the result. */
function importedDecision(old: string, onDisk: readonly string[] = []) {
  const text = importGit4nginx(old, 'x.yaml', onDisk);
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  const may = (user: string, repo: string, need: 'read' | 'write') =>
    decide(policy, resolveIdentity(policy, user, 'remote-user'), repo, need).allowed;
  return { text, may };
}
const USERS_ANN =
  'repo_root: /srv/git\nauthentication: {plugin: lookup_groups, plugin_config: {users: {ann: {groups: [eng]}, ben: {}}}}\n';

test('import-git4nginx: grants on the null key reach every top-level repo on disk, and none in a project group', () => {
  const { text, may } = importedDecision(`${USERS_ANN}authorisation:\n  null:\n    .read_users: [ann]\n  web: {}\n`, [
    'stray',
    'web/site',
  ]);
  assert.equal(may('ann', 'stray', 'read'), true, text);
  assert.equal(may('ann', 'web/site', 'read'), false, text);
  assert.equal(may('ann', 'other', 'read'), false, 'a top-level repo made after the import is not listed');
  assert.match(
    text,
    /# NOTE: x\.yaml:4: authorisation\.null: git4nginx gave the grants on the null key to every repo directly under repo_root; .*found on disk \(stray\.git\)/,
  );
});

test('import-git4nginx: grants on the null key with no top-level repo listed or on disk say that they were not imported', () => {
  const { text } = importedDecision(`${USERS_ANN}authorisation:\n  null:\n    .read_users: [ann]\n`);
  assert.match(
    text,
    /# NOTE: x\.yaml:4: authorisation\.null: .*no top-level repo is listed under null or found on disk, they were not imported/,
  );
});

test('import-git4nginx: "authorization:" (US spelling) imports no grant, since git4nginx answers 500 to everything', () => {
  const { text, may } = importedDecision(`${USERS_ANN}authorization:\n  web:\n    .write_users: [ann]\n`);
  assert.equal(may('ann', 'web/site', 'read'), false, text);
  assert.match(
    text,
    /# NOTE: x\.yaml:3: authorization: this is the US spelling; git4nginx reads only authorisation: and, without it, answers 500 to every request: no user and no grant was imported/,
  );
  assert.doesNotMatch(text, /\.write:/);
});

test('import-git4nginx: a user named in a grant but absent from users: gains nothing', () => {
  const { text, may } = importedDecision(`${USERS_ANN}authorisation:\n  web:\n    .write_users: [ann, zed]\n`);
  assert.equal(may('ann', 'web/site', 'write'), true, text);
  assert.equal(may('zed', 'web/site', 'read'), false, text);
  assert.match(
    text,
    /# NOTE: x\.yaml:5: authorisation\.web\.write_users: "zed" is not under authentication\.plugin_config\.users, so git4nginx refused them/,
  );
  assert.doesNotMatch(text, /^\s+zed:/m);
});

test('import-git4nginx: a repo whose name gitward cannot express gets a NOTE even when its group grants nothing', () => {
  const { text } = importedDecision(
    `${USERS_ANN}authorisation:\n  web:\n    "my repo.git": {.read_users: [ann]}\n  null:\n    "a b.git": {.read_users: [ann]}\n`,
  );
  assert.match(text, /# NOTE: x\.yaml:5: authorisation\.web\.my repo\.git: bad name "my repo".*not imported/);
  assert.match(text, /# NOTE: x\.yaml:7: authorisation\.null\.a b\.git: bad name "a b".*not imported/);
});

test('import-git4nginx: a string where a list belongs is narrowed, with a NOTE that says what git4nginx did', () => {
  const old = `${USERS_ANN}authorisation:\n  web:\n    .read_groups: eng\n    .write_users: annben\n  ops:\n    .read_users: ann\n`;
  const { text, may } = importedDecision(old);
  // git4nginx: set("eng") is {e, n, g}, so group eng never matched; "ann" in "annben" matched ann and ben.
  assert.equal(may('ann', 'web/site', 'read'), false, text);
  assert.equal(may('ben', 'web/site', 'write'), false, text);
  assert.equal(may('ann', 'ops/x', 'read'), true, 'the string names a user: that one name is kept');
  assert.match(
    text,
    /# NOTE: x\.yaml:5: authorisation\.web\.read_groups: a string, not a list: git4nginx compared groups with the set of its characters \(e, n, g\), never with "eng"; not imported/,
  );
  assert.match(
    text,
    /# NOTE: x\.yaml:6: authorisation\.web\.write_users: a string, not a list: git4nginx matched every user whose name is a substring of "annben" \(among users: ann, ben\); "annben" is not a user, so nothing was imported/,
  );
  assert.match(text, /# NOTE: x\.yaml:8: authorisation\.ops\.read_users: .*imported as the one name "ann" only/);
});

test('import-git4nginx: a null list makes git4nginx fail under that group, so nothing of the group is imported', () => {
  const { text, may } = importedDecision(
    `${USERS_ANN}authorisation:\n  web:\n    .write_groups: [eng]\n    site.git:\n      .read_users:\n`,
  );
  assert.equal(may('ann', 'web/docs', 'read'), false, text);
  assert.match(
    text,
    /# NOTE: x\.yaml:4: authorisation\.web: authorisation\.web\.site\.git is not a mapping of lists of names, so git4nginx answers 500 there/,
  );
});

test("import-git4nginx: a folder deeper than group/repo.git on disk is cut off from its group's grants", () => {
  const { text, may } = importedDecision(`${USERS_ANN}authorisation:\n  web:\n    .read_users: [ann]\n`, [
    'web/sub/deep',
    'web/site',
  ]);
  assert.equal(may('ann', 'web/site', 'read'), true, text);
  assert.equal(may('ann', 'web/sub/deep', 'read'), false, text);
});

test("gitward import-git4nginx reads repo_root to find the top-level repos that the null key's grants reach", async (t) => {
  const { PassThrough } = await import('node:stream');
  const { runCli } = await import('../../app/cli/main.js');
  const { tempDir } = await import('../helpers/tmp.js');
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'srv', 'stray.git'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'srv', 'web', 'site.git'), { recursive: true });
  const old = `repo_root: ${path.join(dir, 'srv')}\nauthentication: {plugin: lookup_groups, plugin_config: {users: {ann: {}}}}\nauthorisation:\n  null: {.read_users: [ann]}\n`;
  fs.writeFileSync(path.join(dir, 'old.yaml'), old);
  const stdout = new PassThrough();
  let text = '';
  stdout.setEncoding('utf8').on('data', (c: string) => (text += c));
  const io = {
    stdout,
    stderr: new PassThrough(),
    stdin: new PassThrough(),
    env: {},
    cwd: dir,
    isTTY: false,
    onSignal: () => undefined,
  };
  assert.equal(await runCli(['import-git4nginx', 'old.yaml'], io), 0);
  const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
  assert.equal(decide(policy, resolveIdentity(policy, 'ann', 't'), 'stray', 'read').allowed, true, text);
  assert.equal(decide(policy, resolveIdentity(policy, 'ann', 't'), 'web/site', 'read').allowed, false, text);
});
