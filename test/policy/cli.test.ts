import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { runCli } from '../../app/cli/main.js';
import type { CliIO } from '../../app/cli/io.js';
import { tempDir } from '../helpers/tmp.js';

async function run(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const io: CliIO = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd, isTTY: false, onSignal: () => {} };
  const code = await runCli(argv, io);
  return { code, stdout: out, stderr: err };
}

const CONFIG = `repo_root: ./repos
authentication:
  - {plugin: htpasswd, file: users.htpasswd}
users:
  ann: {groups: [eng]}
  ben: {groups: [qa]}
groups:
  staff: ["@eng", "@qa"]
repos:
  .read: ["@staff"]
  web:
    .write: ["@eng"]
    site.git: {.write: [ben]}
    secret.git: {.inherit: false, .read: [ann]}
  pub.git: {.read: [$anonymous, demo]}
tests:
  - {user: ben, repo: web/site, can: write}
  - {user: ann, repo: web/secret, cannot: write}
  - {user: $anonymous, repo: pub, can: read}
`;

function setup(t: { after: (fn: () => void) => void }, text = CONFIG): string {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'users.htpasswd'), 'demo:$apr1$abc$def\n');
  fs.writeFileSync(path.join(dir, 'gitward.yaml'), text);
  fs.mkdirSync(path.join(dir, 'repos', 'web', 'ondisk.git'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'repos', 'lone.git'), { recursive: true });
  return dir;
}

test('check: a good config runs its tests and prints a one-line summary (exit 0)', async (t) => {
  const dir = setup(t);
  const r = await run(['check'], dir);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(dir, 'gitward.yaml');
  assert.equal(
    r.stdout,
    [
      `PASS ${file}:17: ben can write web/site`,
      `PASS ${file}:18: ann cannot write web/secret`,
      `PASS ${file}:19: $anonymous can read pub`,
      'refs outside refs/heads/ and refs/tags/ (refs/replace/*, refs/notes/*, …): refused on every push (no branch-protect refs rule grants any)',
      `${file}: OK — 3 users, 3 groups, 3 repos named in the tree, 2 on disk under repo_root, 6 grants, 3 tests passed`,
      '',
    ].join('\n'),
  );
});

test('check: the summary counts the repos on disk too, so the shipped example does not say "0 repos"', async (t) => {
  const dir = tempDir(t);
  const examples = path.join(__dirname, '..', '..', '..', 'examples');
  for (const f of ['gitward.yaml', 'users.htpasswd']) fs.copyFileSync(path.join(examples, f), path.join(dir, f));
  const before = await run(['check'], dir);
  assert.equal(before.code, 0, before.stderr);
  assert.match(
    before.stdout,
    new RegExp(
      ` — 1 users, 1 groups, 0 repos named in the tree, repo_root ${path.join(dir, 'repos')} does not exist, 2 grants, 1 tests passed\n$`,
    ),
  );
  fs.mkdirSync(path.join(dir, 'repos', 'demo', 'hello.git'), { recursive: true });
  const after = await run(['check'], dir);
  assert.match(
    after.stdout,
    / — 1 users, 1 groups, 0 repos named in the tree, 1 on disk under repo_root, 2 grants, 1 tests passed\n$/,
  );
});

test('check: a failing expectation exits 1 and shows the trace', async (t) => {
  const dir = setup(t, CONFIG + '  - {user: ann, repo: web/site, cannot: read}\n');
  const r = await run(['check', '--config', 'gitward.yaml'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL .*gitward\.yaml:20: ann cannot read web\/site — but ann may read web\/site\n/);
  assert.match(r.stdout, /gitward\.yaml:12: repos\.web: grants write to @eng \(ann is a member\)/);
  assert.match(r.stdout, /FAILED — .* 1 of 4 tests FAILED\n$/);
});

test('check: a bad config prints every problem and exits 78', async (t) => {
  const dir = setup(
    t,
    CONFIG.replace('.write: [ben]', '.write: ben').replace('  .read: ["@staff"]', '  .read: ["@staf"]'),
  );
  const r = await run(['check'], dir);
  assert.equal(r.code, 78);
  const file = path.join(dir, 'gitward.yaml');
  assert.equal(
    r.stderr,
    [
      `${file}:10: repos.read[0]: unknown group "@staf" (did you mean "@staff"?)`,
      `${file}:13: repos.web.site.git.write: expected a list, got a string ("ben") (write a list: ["ben"])`,
      `gitward check: 2 problems in ${file}`,
      '',
    ].join('\n'),
  );
  assert.equal(r.stdout, '');
});

test('access: allowed exits 0 and prints the decision, the level and the trace', async (t) => {
  const dir = setup(t);
  const r = await run(['access', 'ben', 'web/site.git', 'write'], dir);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(dir, 'gitward.yaml');
  assert.equal(
    r.stdout,
    [
      'ALLOWED: ben may write web/site',
      'level: write  (status 200)',
      'groups: @qa @staff',
      'grants in force: write: @eng ben; read: @staff',
      'trace:',
      `  ${file}:10: repos: grants read to @staff (ben is a member)`,
      `  ${file}:13: repos.web.site.git: grants write to ben`,
      '',
    ].join('\n'),
  );
});

test('access: denied exits 1; the cut is in the trace; $anonymous works', async (t) => {
  const dir = setup(t);
  const r = await run(['access', 'ben', 'web/secret'], dir);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /^DENIED: repository web\/secret not found, or ben may not read it\nlevel: none {2}\(status 404\)/,
  );
  assert.match(r.stdout, /gitward\.yaml:14: repos\.web\.secret\.git: inherit: false/);
  const a = await run(['access', '$anonymous', 'pub', 'write'], dir);
  assert.equal(a.code, 1);
  assert.match(a.stdout, /^DENIED: authentication is required to write pub\nlevel: read {2}\(status 401\)/);
  const b = await run(['access', '$anonymous', 'pub'], dir);
  assert.equal(b.code, 0);
});

test('access: usage errors exit 2', async (t) => {
  const dir = setup(t);
  const usage = [
    ['access'],
    ['access', 'ann'],
    ['access', 'ann', '../etc'],
    ['access', 'ann', 'web/site', 'owner'],
    ['access', '@nosuch', 'web/site'],
    ['access', '$all', 'web/site'],
    ['access', 'ann', 'web/site', '--ref', 'a..b'],
    ['access', 'ann', 'web/site', 'read', '--ref', 'main'],
    ['access', 'ann', 'web/site', '--nosuch'],
    ['access', 'ann', 'web/site', '--ref'],
  ];
  for (const argv of usage) {
    const r = await run(argv, dir);
    assert.equal(r.code, 2, argv.join(' '));
  }
});

test('access --matrix: every known user and $anonymous against repos in the tree and on disk', async (t) => {
  const dir = setup(t);
  const r = await run(['access', '--matrix'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      'repo        ann  ben  demo  $anonymous',
      'lone        r    r    -     -',
      'pub         r    r    r     r',
      'web/ondisk  w    r    -     -',
      'web/secret  r    -    -     -',
      'web/site    w    w    -     -',
      '',
      'w = read and write, r = read, - = no access',
      '',
    ].join('\n'),
  );
});

test('access --matrix PREFIX matches whole path segments: web is web/…, not website/…', async (t) => {
  const dir = setup(t);
  for (const r of ['website/home.git', 'web.git', 'webby.git'])
    fs.mkdirSync(path.join(dir, 'repos', r), { recursive: true });
  const reposOf = async (...args: string[]) => {
    const r = await run(['access', '--matrix', ...args], dir);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    return lines.slice(1, lines.indexOf('')).map((l) => l.split(/\s+/)[0]);
  };
  assert.deepEqual(await reposOf('web'), ['web', 'web/ondisk', 'web/secret', 'web/site']);
  assert.deepEqual(await reposOf('web/'), ['web', 'web/ondisk', 'web/secret', 'web/site']);
  assert.deepEqual(await reposOf('web/site'), ['web/site']);
  assert.deepEqual(await reposOf('web.git'), ['web']);
  assert.deepEqual(await reposOf('website'), ['website/home']);
  assert.deepEqual(await reposOf('we'), []);
  assert.deepEqual(await reposOf('web/s'), []);
  assert.equal((await reposOf()).length, 8);
  const bad = await run(['access', '--matrix', '../etc'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad REPO-PREFIX "\.\.\/etc"/);
});

test('import-git4nginx prints a config that check accepts', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(
    path.join(dir, 'old.yaml'),
    'repo_root: /srv/git\nauthentication: {plugin: lookup_groups, plugin_config: {users: {ann: {groups: [eng]}}}}\nauthorisation:\n  web: {.read_groups: [eng]}\n',
  );
  const r = await run(['import-git4nginx', 'old.yaml'], dir);
  assert.equal(r.code, 0, r.stderr);
  fs.writeFileSync(
    path.join(dir, 'gitward.yaml'),
    r.stdout + 'tests: [{user: ann, repo: web/x, can: read}, {user: ann, repo: web/x, cannot: write}]\n',
  );
  const c = await run(['check'], dir);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  const missing = await run(['import-git4nginx', 'nope.yaml'], dir);
  assert.equal(missing.code, 1);
});

test('check: a branch-protect rule that an earlier rule shadows is a warning with its line, not a failure (exit 0)', async (t) => {
  const dir = setup(
    t,
    CONFIG.replace('  web:\n', '  web:\n    .hooks: {branch-protect: {tags: {"**": {}, "v*": {delete: [ann]}}}}\n'),
  );
  const r = await run(['check'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /^\S*gitward\.yaml:12: warning: branch-protect\.tags\."v\*": never applies: every tag it matches is matched first by "\*\*"/m,
  );
  assert.match(r.stdout, /: OK — /);
});

test('check: hook plugin settings are validated by the plugins themselves (exit 78)', async (t) => {
  const dir = setup(t, CONFIG.replace('  web:\n', '  web:\n    .hooks: {branch-flow: {flow: [main]}}\n'));
  const r = await run(['check'], dir);
  assert.equal(r.code, 78, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /gitward\.yaml:12: repos\.web\.hooks\.branch-flow\.flow: a list of at least two branch names is required\n/,
  );
});

const RULES = `repo_root: ./repos
users:
  ann: {groups: [eng]}
  ben: {groups: [qa]}
  rel: {groups: [release]}
repos:
  web:
    .write: ["@eng", "@qa", "@release"]
    .hooks:
      branch-protect:
        branches:
          "main": {push: ["@release"], delete: [rel]}
          "feature/**": {}
        tags:
          "v*": {create: ["@release"]}
      branch-flow: {flow: [dev, main]}
`;

test('access --ref: the branch rules decide a push of the ref, each naming its rule (as gitolite access -s)', async (t) => {
  const dir = setup(t, RULES);
  const file = path.join(dir, 'gitward.yaml');
  const ann = await run(['access', 'ann', 'web/site', '--ref', 'main'], dir);
  assert.equal(ann.code, 1, ann.stdout + ann.stderr);
  const tail = ann.stdout.slice(ann.stdout.indexOf('ref refs/heads/main'));
  assert.equal(
    tail,
    [
      'ref refs/heads/main: the hook plugins in force for web/site, in the order they run:',
      `  branch-protect (${file}:10): rule branches."main" decides`,
      '    create  REFUSED by branches."main".create: you may not create branch main',
      '    push    REFUSED by branches."main".push: you may not push to branch main',
      '    force   REFUSED by branches."main".force: you may not force-push (non-fast-forward) to branch main',
      '    delete  REFUSED by branches."main".delete: you may not delete branch main',
      `  branch-flow (${file}:16): rule flow dev -> main decides`,
      '    create  allowed if the commits pushed pass flow dev -> main; else REFUSED: the new tip of main is not on dev; push it to dev first (in an earlier push)',
      '    push    allowed if the commits pushed pass flow dev -> main; else REFUSED: the new tip of main is not on dev; push it to dev first (in an earlier push)',
      '    force   allowed if the commits pushed pass flow dev -> main; else REFUSED: the new tip of main is not on dev; push it to dev first (in an earlier push)',
      '    delete  allowed',
      'push refs/heads/main: REFUSED',
      '',
    ].join('\n'),
  );
  // A group is asked about by membership alone: @release may push main, but only rel may delete it.
  const release = await run(['access', '@release', 'web/site', '--ref', 'refs/heads/main'], dir);
  assert.equal(release.code, 0, release.stdout);
  assert.match(release.stdout, /^ALLOWED: a member of @release may write web\/site$/m);
  assert.match(release.stdout, /^ {4}push {4}allowed$/m);
  assert.match(release.stdout, /^ {4}delete {2}REFUSED by branches\."main"\.delete: you may not delete branch main$/m);
  const rel = await run(['access', 'rel', 'web/site', '--ref', 'main'], dir);
  assert.match(rel.stdout, /^ {4}delete {2}allowed$/m);
  // A ref no rule names; a tag; and a principal with no write access at all.
  const feature = await run(['access', 'ben', 'web/site', '--ref', 'feature/x'], dir);
  assert.equal(feature.code, 0);
  assert.match(
    feature.stdout,
    /branch-protect \(.*\): rule branches\."feature\/\*\*" decides\n {4}create {2}allowed\n {4}push {4}allowed\n {4}force {3}REFUSED/,
  );
  assert.match(feature.stdout, /branch-flow \(.*\): no rule applies to this ref/);
  const tag = await run(['access', 'ann', 'web/site', '--ref', 'refs/tags/v1'], dir);
  assert.equal(tag.code, 1);
  assert.match(
    tag.stdout,
    /rule tags\."v\*" decides\n {4}create {2}REFUSED by tags\."v\*"\.create: you may not create tag v1\n {4}move/,
  );
  assert.match(tag.stdout, /^create refs\/tags\/v1: REFUSED$/m);
  const anyone = await run(['access', '$authenticated', 'web/site', '--ref', 'feature/x'], dir);
  assert.equal(anyone.code, 1);
  assert.match(anyone.stdout, /^DENIED: repository web\/site not found, or any authenticated user may not read it$/m);
  assert.match(anyone.stdout, /\(no write access: every push is refused before the hooks run\)/);
  assert.match(anyone.stdout, /^push refs\/heads\/feature\/x: REFUSED$/m);
});

test('check warns about each repo the tree names that is not on disk, with file:line, and still passes', async (t) => {
  const dir = setup(t);
  fs.mkdirSync(path.join(dir, 'repos', 'web', 'site.git'), { recursive: true });
  const r = await run(['check'], dir);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(dir, 'gitward.yaml');
  const repos = path.join(dir, 'repos');
  assert.equal(
    r.stderr,
    [
      `${file}:14: warning: repos.web.secret.git: no repo at ${repos}/web/secret.git (gitward repo create web/secret makes it)`,
      `${file}:15: warning: repos.pub.git: no repo at ${repos}/pub.git (gitward repo create pub makes it)`,
      '',
    ].join('\n'),
  );
});
