import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { CliIO } from '../../app/cli/io.js';
import { runCli } from '../../app/cli/main.js';
import { loadConfigText } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { decide, decideCreate } from '../../app/policy/decide.js';
import { resolveIdentity } from '../../app/policy/identity.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG = `repo_root: ./repos
users:
  ann: {groups: [ops]}
  ben: {}
  carl: {}
  dot: {}
groups:
  ops: []
repos:
  .read: [carl]
  team:
    .admin: ["@ops"]
    site.git: {.write: [ben]}
    locked.git: {.inherit: false, .read: [ann]}
  ci:
    .create: [ben, $authenticated]
    .write: [ben]
    inner:
      .inherit: false
tests:
  - {user: ann, repo: team/new, can: admin}
  - {user: ben, repo: team/site, cannot: admin}
`;

const policy = compilePolicy(loadConfigText(CONFIG, '/etc/gitward/gitward.yaml'));
const who = (user: string | null) =>
  user === null ? resolveIdentity(policy, null, 'anonymous') : resolveIdentity(policy, user, 'test');

// [user, repo, need, allowed, status, level]
const DECISIONS: [string | null, string, 'read' | 'write' | 'admin', boolean, number, string][] = [
  ['ann', 'team/site', 'admin', true, 200, 'admin'],
  ['ann', 'team/site', 'write', true, 200, 'admin'],
  ['ann', 'team/site', 'read', true, 200, 'admin'],
  ['ann', 'team/anything/deep', 'admin', true, 200, 'admin'],
  // .inherit: false cuts admin like any grant.
  ['ann', 'team/locked', 'admin', false, 403, 'read'],
  ['ben', 'team/site', 'admin', false, 403, 'write'],
  ['carl', 'team/site', 'admin', false, 403, 'read'],
  ['dot', 'team/site', 'admin', false, 404, 'none'],
  [null, 'team/site', 'admin', false, 401, 'none'],
  // .create adds no level: ben writes to ci/ by .write, dot has nothing there to read.
  ['ben', 'ci/x', 'write', true, 200, 'write'],
  ['dot', 'ci/x', 'read', false, 404, 'none'],
];

for (const [user, repo, need, allowed, status, level] of DECISIONS) {
  test(`decide: ${user ?? '$anonymous'} ${need} ${repo} → ${allowed ? 'allowed' : 'denied'} ${status}, level ${level}`, () => {
    const d = decide(policy, who(user), repo, need);
    assert.deepEqual([d.allowed, d.status, d.level], [allowed, status, level], d.reason);
  });
}

// [user, repo, allowed, status]
const CREATES: [string | null, string, boolean, number][] = [
  ['ann', 'team/new', true, 200],
  ['ben', 'ci/new', true, 200],
  ['dot', 'ci/new', true, 200],
  ['dot', 'ci/deep/new', true, 200],
  // inherit: false cuts .create too.
  ['dot', 'ci/inner/new', false, 403],
  ['ben', 'team/new', false, 403],
  ['carl', 'new', false, 403],
  [null, 'ci/new', false, 401],
];

for (const [user, repo, allowed, status] of CREATES) {
  test(`decideCreate: ${user ?? '$anonymous'} creates ${repo} → ${allowed ? 'allowed' : 'denied'} ${status}`, () => {
    const d = decideCreate(policy, who(user), repo);
    assert.deepEqual([d.allowed, d.status], [allowed, status], d.reason);
    if (allowed)
      assert.ok(
        d.trace.some((s) => /grants (create|admin)/.test(s.what)),
        JSON.stringify(d.trace),
      );
  });
}

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

test('gitward access shows admin and create, with the granting node; --matrix marks a and c', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'gitward.yaml'), CONFIG);
  fs.mkdirSync(path.join(dir, 'repos', 'ci', 'tool.git'), { recursive: true });
  let r = await run(['access', 'ann', 'team/site', 'admin'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ALLOWED: ann may administer team\/site\nlevel: admin/);
  assert.match(r.stdout, /gitward\.yaml:12: repos\.team: grants admin to @ops \(ann is a member\)/);
  assert.match(r.stdout, /repo administration: admin: @ops; create: \(nobody else\)/);
  r = await run(['access', 'dot', 'ci/new', 'create'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ALLOWED: dot may create ci\/new/);
  r = await run(['access', 'ben', 'team/new', 'create'], dir);
  assert.equal(r.code, 1);
  r = await run(['access', '--matrix'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      'repo         ann  ben  carl  dot  $anonymous',
      'ci/tool      -c   wc   rc    -c   -',
      'team/locked  r    -    -     -    -',
      'team/site    a    w    r     -    -',
      '',
      'a = admin (create, rename, delete; read and write), w = read and write, r = read, - = no access, c = may create repos there',
      '',
    ].join('\n'),
  );
  r = await run(['check'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS .*ann can admin team\/new/);
});
