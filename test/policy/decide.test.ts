import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { decide } from '../../app/policy/decide.js';
import { resolveIdentity } from '../../app/policy/identity.js';

const CONFIG = `
repo_root: ./repos
users:
  ann: {groups: [eng], info: {name: Ann Example, email: ann@example.org}}
  ben: {groups: [qa]}
  carl: {}
  dot: {groups: [contractors]}
  eve: {}
  fay: {groups: [ops]}
  gus: {}
  "123": {}
  "yes": {}
groups:
  staff: ["@eng", "@qa", carl]
  everyone: ["@staff", "@ops"]
  release: [gus]
repos:
  .read: ["@staff"]
  web:
    .write: ["@eng"]
    site.git: {.write: [ben]}
    secret.git: {.inherit: false, .read: [ann]}
    public.git: {.read: [$anonymous]}
  open:
    .read: [$all]
    .write: [$authenticated]
    wiki.git:
  docs:
    .read: [$anonymous]
    .write: ["@eng"]
    manual.git: {.write: [eve]}
  deep:
    a:
      b:
        .write: [fay]
        c:
          .read: [dot]
          leaf.git: {.write: ["123"]}
  walled:
    .inherit: false
    .read: ["@everyone"]
    inner:
      x.git: {.inherit: false}
      y.git: {.write: ["@release"]}
  numbers:
    "123.git": {.read: ["yes"]}
`;

function setup(hide = true) {
  const text = hide ? CONFIG : `hide_existence: false\n${CONFIG}`;
  const config = loadConfigText(text, '/srv/gitward/gitward.yaml');
  return compilePolicy(config);
}

type Case = [
  user: string | null,
  repo: string,
  need: 'read' | 'write',
  status: 200 | 401 | 403 | 404,
  level: 'none' | 'read' | 'write',
  rule: string,
];

const CASES: Case[] = [
  // accumulation from the root
  ['carl', 'web/site', 'read', 200, 'read', 'root grant reaches a repo two levels down (group member carl)'],
  ['ben', 'web/site', 'write', 200, 'write', 'a repo adds a writer to what its group grants'],
  ['ben', 'web/other', 'write', 403, 'read', 'unlisted repo under web: only web grants apply; ben reads via @staff'],
  ['ann', 'web/other', 'write', 200, 'write', 'unlisted repo under a granted group gets its grants'],
  ['ann', 'web', 'read', 200, 'read', 'a repo named like a group still gets root grants'],
  ['ann', 'web/site', 'write', 200, 'write', 'group write accumulates to the repo'],
  // write implies read
  ['eve', 'docs/manual', 'read', 200, 'write', 'write implies read'],
  ['eve', 'docs/manual', 'write', 200, 'write', 'repo-level write'],
  ['eve', 'docs/other', 'read', 404, 'none', '$anonymous grants do not extend to an authenticated user (use $all)'],
  // inherit:false
  ['ann', 'web/secret', 'read', 200, 'read', 'inherit:false keeps the node own grant'],
  ['ann', 'web/secret', 'write', 403, 'read', 'inherit:false cuts @eng write from web'],
  ['ben', 'web/secret', 'read', 404, 'none', 'inherit:false cuts the root read of @staff; hidden'],
  ['carl', 'web/secret', 'read', 404, 'none', 'inherit:false cuts group-of-group read'],
  [null, 'web/secret', 'read', 401, 'none', 'anonymous on a cut repo gets 401'],
  ['fay', 'walled/inner/z', 'read', 200, 'read', 'inherit:false on a group, @everyone via groups of groups (@ops)'],
  ['fay', 'walled/inner/x', 'read', 404, 'none', 'second cut at the repo'],
  [
    'ann',
    'walled/inner/y',
    'read',
    200,
    'read',
    'after a cut, grants below accumulate again (@eng ⊂ @staff ⊂ @everyone)',
  ],
  ['gus', 'walled/inner/y', 'write', 200, 'write', 'group write below a cut'],
  ['gus', 'walled/inner/z', 'read', 404, 'none', 'gus is in @release only, not in @everyone'],
  // pseudo-principals
  [null, 'web/public', 'read', 200, 'read', '$anonymous read'],
  [null, 'web/public', 'write', 401, 'read', 'anonymous push gets the 401 challenge'],
  ['eve', 'web/public', 'read', 404, 'none', '$anonymous does not match an authenticated user'],
  [null, 'open/wiki', 'read', 200, 'read', '$all matches anonymous'],
  ['eve', 'open/wiki', 'read', 200, 'write', '$all and $authenticated match a user'],
  ['eve', 'open/wiki', 'write', 200, 'write', '$authenticated write'],
  [null, 'open/wiki', 'write', 401, 'read', '$authenticated does not match anonymous: 401'],
  ['nobody', 'open/wiki', 'write', 200, 'write', 'a user not in users: is still $authenticated'],
  ['nobody', 'web/site', 'read', 404, 'none', 'a user with no groups gets nothing from @staff'],
  [null, 'docs/manual', 'read', 200, 'read', 'anonymous read of docs'],
  [null, 'docs/manual', 'write', 401, 'read', 'anonymous read with authenticated push: 401 asks for credentials'],
  ['ann', 'docs/manual', 'write', 200, 'write', 'authenticated push allowed after the challenge'],
  // groups of groups
  ['ben', 'web/site', 'read', 200, 'write', 'groups of groups: @qa ⊂ @staff'],
  ['dot', 'web/site', 'read', 404, 'none', 'contractors are not staff'],
  // deep project groups
  ['fay', 'deep/a/b/c/leaf', 'write', 200, 'write', 'write granted three levels up reaches a deep repo'],
  ['dot', 'deep/a/b/c/leaf', 'read', 200, 'read', 'deep group read'],
  ['dot', 'deep/a/b/other', 'read', 404, 'none', 'a sibling of the deep group does not get its grants'],
  [
    'dot',
    'deep/a/b/c/x/y/z',
    'read',
    200,
    'read',
    'a repo below an unnamed subgroup gets the grants of the deepest existing node',
  ],
  ['fay', 'deep/a/b', 'write', 404, 'none', 'repo deep/a/b is not inside group deep/a/b (fay has no grant above it)'],
  // names that YAML 1.1 would turn into numbers or booleans
  ['123', 'deep/a/b/c/leaf', 'write', 200, 'write', 'a user named 123 (quoted) is compared as a string'],
  ['yes', 'numbers/123', 'read', 200, 'read', 'a user named yes and a repo named 123'],
  ['yes', 'numbers/124', 'read', 404, 'none', 'no grant = no access'],
  // no grant = no access
  ['eve', 'elsewhere', 'read', 404, 'none', 'no grant at all: hidden'],
  [null, 'elsewhere', 'read', 401, 'none', 'anonymous, no grant: 401'],
  ['gus', 'web/site', 'read', 404, 'none', 'gus is in @release, which nothing grants here'],
];

for (const [user, repo, need, status, level, rule] of CASES) {
  test(`decide: ${user ?? '$anonymous'} ${need} ${repo} → ${status} (${rule})`, () => {
    const policy = setup();
    const d = decide(policy, resolveIdentity(policy, user, user === null ? 'anonymous' : 'test'), repo, need);
    assert.equal(d.status, status, d.reason);
    assert.equal(d.level, level);
    assert.equal(d.allowed, status === 200);
    assert.ok(d.reason.includes(repo), d.reason);
  });
}

test('decide: with hide_existence false, a user who may not read gets 403', () => {
  const policy = setup(false);
  const id = resolveIdentity(policy, 'ben', 'test');
  assert.equal(decide(policy, id, 'web/secret', 'read').status, 403);
  assert.equal(decide(policy, id, 'elsewhere', 'write').status, 403);
  assert.equal(decide(policy, resolveIdentity(policy, null, 'anonymous'), 'elsewhere', 'read').status, 401);
});

test('decide: the trace names the granting nodes and the cut, with file:line', () => {
  const policy = setup();
  const d = decide(policy, resolveIdentity(policy, 'ann', 'test'), 'web/secret', 'read');
  assert.deepEqual(
    d.trace.map((s) => `${s.node} ${s.where} ${s.what}`),
    [
      'repos.web.secret.git /srv/gitward/gitward.yaml:22 inherit: false — grants of the nodes above do not apply here',
      'repos.web.secret.git /srv/gitward/gitward.yaml:22 grants read to ann',
    ],
  );
  const d2 = decide(policy, resolveIdentity(policy, 'ben', 'test'), 'web/site', 'write');
  assert.deepEqual(
    d2.trace.map((s) => `${s.node} ${s.where} ${s.what}`),
    [
      'repos /srv/gitward/gitward.yaml:18 grants read to @staff (ben is a member)',
      'repos.web.site.git /srv/gitward/gitward.yaml:21 grants write to ben',
    ],
  );
});

test('resolveIdentity: groups come from users:, groups: membership, transitively, plus extra groups', () => {
  const policy = setup();
  assert.deepEqual(resolveIdentity(policy, 'ann', 'htpasswd').groups, ['eng', 'everyone', 'staff']);
  assert.deepEqual(resolveIdentity(policy, 'carl', 'htpasswd').groups, ['everyone', 'staff']);
  assert.deepEqual(resolveIdentity(policy, 'gus', 'htpasswd').groups, ['release']);
  assert.deepEqual(resolveIdentity(policy, 'nobody', 'remote-user', ['qa', 'new']).groups, [
    'everyone',
    'new',
    'qa',
    'staff',
  ]);
  assert.deepEqual(resolveIdentity(policy, 'ann', 'htpasswd').info, { name: 'Ann Example', email: 'ann@example.org' });
  assert.deepEqual(resolveIdentity(policy, 'ben', 'htpasswd').info, {});
  const anon = resolveIdentity(policy, null, 'anonymous', ['eng']);
  assert.equal(anon.user, null);
  assert.deepEqual(anon.groups, []);
});
