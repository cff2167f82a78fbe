import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../app/config/load.js';
import { checkHookSettings } from '../../hooks/check-hook-settings.js';
import { tempDir } from '../helpers/tmp.js';
import type { Identity } from '../../app/types.js';
import type { HookCheckContext, HookUpdate, HookVerdict, RepoReader } from '../../hooks/hook-plugin.js';
import { HookOptionsError } from '../../hooks/hook-plugin.js';
import { describeUpdate } from '../../hooks/receive-input.js';
import { createBranchProtectPlugin } from '../../plugins/hooks/branch-protect.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);
const logger = { log: () => undefined };
const pctx = { name: 'branch-protect', where: 'gitward.yaml:7', configDir: '/tmp', logger };

function who(user: string | null, groups: string[] = [], source = 'gitward'): Identity {
  return { user, groups, source, info: {} };
}

/** A reader whose fast-forward answer is fixed by the case; refs are not consulted by branch-protect. */
function reader(ff: boolean): RepoReader {
  return {
    refBefore: async () => null,
    isAncestor: async () => ff,
    isFastForward: async () => ff,
  };
}

function ctx(identity: Identity, ff: boolean, updates: HookUpdate[]): HookCheckContext {
  return { repo: 'web/site', identity, git: reader(ff), updates };
}

const OPTIONS = {
  branches: {
    main: { push: ['@release'], force: ['admin'], delete: ['admin'] },
    'release/**': { push: ['@release'] },
    'wip/*': { push: ['$authenticated'], force: ['$authenticated'], delete: ['$authenticated'] },
    'ops/*': { create: ['$local'], push: ['$local'] },
  },
  tags: {
    'v*': { create: ['@release'], delete: ['admin'] },
    '**': {},
  },
};

describe('branch-protect', () => {
  const ann = who('ann', ['eng']);
  const rel = who('rita', ['release']);
  const admin = who('admin', ['ops']);
  const local = who('$local', [], 'local');
  const cases: Array<{
    name: string;
    id: Identity;
    old: string;
    new: string;
    ref: string;
    ff?: boolean;
    want: string | null;
  }> = [
    {
      name: 'a release member fast-forwards main',
      id: rel,
      old: A,
      new: B,
      ref: 'refs/heads/main',
      ff: true,
      want: null,
    },
    {
      name: 'an engineer may not push to main',
      id: ann,
      old: A,
      new: B,
      ref: 'refs/heads/main',
      ff: true,
      want: 'branches."main".push',
    },
    {
      name: 'a release member may not force main',
      id: rel,
      old: A,
      new: B,
      ref: 'refs/heads/main',
      ff: false,
      want: 'branches."main".force',
    },
    {
      name: 'the listed admin may force main',
      id: admin,
      old: A,
      new: B,
      ref: 'refs/heads/main',
      ff: false,
      want: null,
    },
    {
      name: 'a force-pusher may also fast-forward',
      id: admin,
      old: A,
      new: B,
      ref: 'refs/heads/main',
      ff: true,
      want: null,
    },
    {
      name: 'creating main follows the push list',
      id: ann,
      old: Z,
      new: B,
      ref: 'refs/heads/main',
      want: 'branches."main".create',
    },
    { name: 'a release member may create main', id: rel, old: Z, new: B, ref: 'refs/heads/main', want: null },
    {
      name: 'deleting main is for the listed admin only',
      id: rel,
      old: A,
      new: Z,
      ref: 'refs/heads/main',
      want: 'branches."main".delete',
    },
    { name: 'the admin may delete main', id: admin, old: A, new: Z, ref: 'refs/heads/main', want: null },
    {
      name: 'feature/main is not main (git4nginx last-segment bug)',
      id: ann,
      old: A,
      new: B,
      ref: 'refs/heads/feature/main',
      ff: false,
      want: null,
    },
    {
      name: 'release/** reaches nested branches',
      id: ann,
      old: A,
      new: B,
      ref: 'refs/heads/release/1/fix',
      ff: true,
      want: 'branches."release/**".push',
    },
    {
      name: 'unlisted force is refused on a protected pattern',
      id: rel,
      old: A,
      new: B,
      ref: 'refs/heads/release/1.0',
      ff: false,
      want: 'branches."release/**".force',
    },
    {
      name: 'unlisted delete is refused on a protected pattern',
      id: rel,
      old: A,
      new: Z,
      ref: 'refs/heads/release/1.0',
      want: 'branches."release/**".delete',
    },
    {
      name: '$authenticated may force wip branches',
      id: ann,
      old: A,
      new: B,
      ref: 'refs/heads/wip/x',
      ff: false,
      want: null,
    },
    {
      name: '$authenticated does not include the $local stand-in',
      id: local,
      old: A,
      new: B,
      ref: 'refs/heads/wip/x',
      ff: false,
      want: 'branches."wip/*".force',
    },
    {
      name: '$anonymous is not $authenticated',
      id: who(null, [], 'anonymous'),
      old: A,
      new: B,
      ref: 'refs/heads/wip/x',
      ff: true,
      want: 'branches."wip/*".push',
    },
    { name: '$local matches a local push', id: local, old: Z, new: B, ref: 'refs/heads/ops/deploy', want: null },
    {
      name: '$local does not match a gitward user',
      id: admin,
      old: Z,
      new: B,
      ref: 'refs/heads/ops/deploy',
      want: 'branches."ops/*".create',
    },
    { name: 'unprotected branches are free', id: ann, old: A, new: B, ref: 'refs/heads/topic', ff: false, want: null },
    { name: 'a release member creates a v tag', id: rel, old: Z, new: B, ref: 'refs/tags/v1.0', want: null },
    {
      name: 'an engineer may not create a v tag',
      id: ann,
      old: Z,
      new: B,
      ref: 'refs/tags/v1.0',
      want: 'tags."v*".create',
    },
    {
      name: 'other tags may be created by anyone (tags are not always rejected)',
      id: ann,
      old: Z,
      new: B,
      ref: 'refs/tags/build-7',
      want: null,
    },
    {
      name: 'moving a tag is refused unless listed',
      id: rel,
      old: A,
      new: B,
      ref: 'refs/tags/v1.0',
      want: 'tags."v*".move',
    },
    {
      name: 'moving another tag is refused by the ** rule',
      id: ann,
      old: A,
      new: B,
      ref: 'refs/tags/build-7',
      want: 'tags."**".move',
    },
    {
      name: 'the admin may delete a v tag: "v*" decides for it, the later "**" is not consulted',
      id: admin,
      old: A,
      new: Z,
      ref: 'refs/tags/v1.0',
      want: null,
    },
    {
      name: 'a release member may not delete a v tag',
      id: rel,
      old: A,
      new: Z,
      ref: 'refs/tags/v1.0',
      want: 'tags."v*".delete',
    },
    {
      name: 'deleting another tag is refused by the ** rule, even for the admin',
      id: admin,
      old: A,
      new: Z,
      ref: 'refs/tags/build-7',
      want: 'tags."**".delete',
    },
    { name: 'other refs are not its business', id: ann, old: A, new: Z, ref: 'refs/notes/commits', want: null },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const plugin = await createBranchProtectPlugin(OPTIONS, pctx);
      const u = describeUpdate(c.old, c.new, c.ref);
      const v: HookVerdict = await plugin.check(u, ctx(c.id, c.ff ?? true, [u]));
      assert.equal(v.kind === 'reject' ? v.rule : null, c.want);
      if (v.kind === 'reject') {
        assert.doesNotMatch(
          v.message.replace(u.name, 'NAME'),
          /@|\$|release|eng|ops|admin/,
          'the message names neither groups nor who is allowed',
        );
      }
    });
  }

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown top-level key', { branch: {} }, /gitward\.yaml:7: branch-protect: unknown key "branch"/],
    ['an unknown action', { branches: { main: { write: ['ann'] } } }, /branches\."main": unknown key "write"/],
    ['a tag action on a branch', { branches: { main: { move: [] } } }, /unknown key "move"/],
    [
      'a string where a list belongs',
      { branches: { main: { push: 'ann' } } },
      /main"\.push: a list of principals is required/,
    ],
    ['a bad principal', { branches: { main: { push: ['$nobody'] } } }, /unknown pseudo-principal "\$nobody"/],
    ['a principal that is not a string', { branches: { main: { push: [7] } } }, /is not a principal/],
    ['a ref-prefixed pattern', { branches: { 'refs/heads/main': {} } }, /without refs\/heads/],
    ['a non-mapping rule', { tags: { 'v*': ['ann'] } }, /tags\."v\*": a mapping/],
    [
      'a refs pattern that is not a full ref name',
      { refs: { 'notes/*': {} } },
      /refs\."notes\/\*": a full ref name pattern starting with refs\//,
    ],
    [
      'a refs pattern for branches',
      { refs: { 'refs/heads/*': {} } },
      /refs\."refs\/heads\/\*": branches and tags have sections of their own/,
    ],
    ['a tag action in refs', { refs: { 'refs/notes/*': { move: [] } } }, /unknown key "move"/],
  ];
  for (const [name, options, re] of bad) {
    it(`refuses options with ${name}`, () => {
      assert.throws(
        () => createBranchProtectPlugin(options, pctx),
        (err: unknown) => err instanceof HookOptionsError && re.test(err.message),
      );
    });
  }
});

describe('branch-protect: for each ref, the first matching rule in file order decides', () => {
  const ann = who('ann', ['eng']);
  const rel = who('rita', ['release']);
  const admin = who('admin', ['ops']);
  const branchesNarrowFirst = {
    branches: { 'release/1.x': { push: ['admin'] }, 'release/**': { push: ['@release'] } },
  };
  const branchesBroadFirst = { branches: { 'release/**': { push: ['@release'] }, 'release/1.x': { push: ['admin'] } } };
  const tagsNarrowFirst = { tags: { 'v*': { create: ['@release'], delete: ['admin'] }, '**': {} } };
  const tagsBroadFirst = { tags: { '**': {}, 'v*': { create: ['@release'], delete: ['admin'] } } };
  const overlapping = {
    tags: { 'v*': { create: ['@release'] }, '*-rc': { create: ['$authenticated'], delete: ['$authenticated'] } },
  };
  const cases: Array<{
    name: string;
    options: Record<string, unknown>;
    id: Identity;
    old: string;
    new: string;
    ref: string;
    want: string | null;
  }> = [
    {
      name: 'narrow branch rule first: it decides for its branch, where the broad one would allow',
      options: branchesNarrowFirst,
      id: rel,
      old: A,
      new: B,
      ref: 'refs/heads/release/1.x',
      want: 'branches."release/1.x".push',
    },
    {
      name: 'narrow branch rule first: it decides for its branch, where the broad one would refuse',
      options: branchesNarrowFirst,
      id: admin,
      old: A,
      new: B,
      ref: 'refs/heads/release/1.x',
      want: null,
    },
    {
      name: 'narrow branch rule first: the broad rule decides for the other branches',
      options: branchesNarrowFirst,
      id: admin,
      old: A,
      new: B,
      ref: 'refs/heads/release/2.0',
      want: 'branches."release/**".push',
    },
    {
      name: 'broad branch rule first: it decides for every branch it matches, the narrow one never applies',
      options: branchesBroadFirst,
      id: admin,
      old: A,
      new: B,
      ref: 'refs/heads/release/1.x',
      want: 'branches."release/**".push',
    },
    {
      name: 'broad branch rule first: its own list is what counts',
      options: branchesBroadFirst,
      id: rel,
      old: A,
      new: B,
      ref: 'refs/heads/release/1.x',
      want: null,
    },
    {
      name: 'narrow tag rule first: the admin deletes a v tag',
      options: tagsNarrowFirst,
      id: admin,
      old: A,
      new: Z,
      ref: 'refs/tags/v1.0',
      want: null,
    },
    {
      name: 'narrow tag rule first: an engineer may not create a v tag',
      options: tagsNarrowFirst,
      id: ann,
      old: Z,
      new: B,
      ref: 'refs/tags/v1.0',
      want: 'tags."v*".create',
    },
    {
      name: 'narrow tag rule first: other tags fall to "**": created by anyone, never deleted',
      options: tagsNarrowFirst,
      id: admin,
      old: A,
      new: Z,
      ref: 'refs/tags/build-7',
      want: 'tags."**".delete',
    },
    {
      name: 'broad tag rule first: an engineer creates a v tag ("**" decides, "v*" never applies)',
      options: tagsBroadFirst,
      id: ann,
      old: Z,
      new: B,
      ref: 'refs/tags/v1.0',
      want: null,
    },
    {
      name: 'broad tag rule first: not even the admin deletes a v tag',
      options: tagsBroadFirst,
      id: admin,
      old: A,
      new: Z,
      ref: 'refs/tags/v1.0',
      want: 'tags."**".delete',
    },
    {
      name: 'overlapping rules: a name both match goes to the earlier one',
      options: overlapping,
      id: ann,
      old: Z,
      new: B,
      ref: 'refs/tags/v2-rc',
      want: 'tags."v*".create',
    },
    {
      name: 'overlapping rules: a name only the later one matches goes to it',
      options: overlapping,
      id: ann,
      old: A,
      new: Z,
      ref: 'refs/tags/x-rc',
      want: null,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const plugin = await createBranchProtectPlugin(c.options, pctx);
      const u = describeUpdate(c.old, c.new, c.ref);
      const v = await plugin.check(u, ctx(c.id, true, [u]));
      assert.equal(v.kind === 'reject' ? v.rule : null, c.want);
    });
  }

  const orders: Array<[string, Record<string, unknown>, string[]]> = [
    ['narrow rules before broad ones', { ...branchesNarrowFirst, ...tagsNarrowFirst }, []],
    ['rules that only overlap', overlapping, []],
    [
      'a branch rule after a broader one',
      branchesBroadFirst,
      [
        'gitward.yaml:7: branch-protect.branches."release/1.x": never applies: every branch it matches is matched first by "release/**" (the first matching rule decides; put the narrower rule above the broader one)',
      ],
    ],
    [
      'a tag rule after a broader one',
      tagsBroadFirst,
      [
        'gitward.yaml:7: branch-protect.tags."v*": never applies: every tag it matches is matched first by "**" (the first matching rule decides; put the narrower rule above the broader one)',
      ],
    ],
    [
      'a repeated pattern spelled differently',
      { branches: { 'a/**/b': {}, 'a/*/b': { push: [] }, 'a/b': {} } },
      ['branches."a/*/b": never applies', 'branches."a/b": never applies'],
    ],
  ];
  for (const [name, options, want] of orders) {
    it(`warns ${want.length === 0 ? 'about nothing for' : 'about'} ${name}`, async () => {
      const plugin = await createBranchProtectPlugin(options, pctx);
      const warnings = plugin.warnings?.() ?? [];
      assert.equal(warnings.length, want.length, warnings.join('\n'));
      want.forEach((w, i) => assert.ok((warnings[i] as string).includes(w), `${warnings[i]} should contain ${w}`));
    });
  }

  it('governs only the refs its refs rules match; those rules take the branch actions', async () => {
    const plugin = await createBranchProtectPlugin(
      { refs: { 'refs/notes/*': { push: ['@eng'] }, 'refs/for/**': { delete: ['$authenticated'] } } },
      pctx,
    );
    assert.equal(plugin.governsRef?.('refs/notes/commits'), true);
    assert.equal(plugin.governsRef?.('refs/notes/a/b'), false);
    assert.equal(plugin.governsRef?.('refs/for/main/1'), true);
    assert.equal(plugin.governsRef?.('refs/replace/0000'), false);
    const rule = async (id: Identity, oldSha: string, newSha: string, ref: string, ff: boolean) => {
      const u = describeUpdate(oldSha, newSha, ref);
      const v = await plugin.check(u, ctx(id, ff, [u]));
      return v.kind === 'reject' ? v.rule : null;
    };
    const ann = who('ann', ['eng']);
    const ben = who('ben', ['qa']);
    assert.equal(await rule(ann, Z, B, 'refs/notes/commits', true), null);
    assert.equal(await rule(ann, A, B, 'refs/notes/commits', true), null);
    assert.equal(await rule(ann, A, B, 'refs/notes/commits', false), 'refs."refs/notes/*".force');
    assert.equal(await rule(ann, A, Z, 'refs/notes/commits', true), 'refs."refs/notes/*".delete');
    assert.equal(await rule(ben, Z, B, 'refs/notes/commits', true), 'refs."refs/notes/*".create');
    assert.equal(await rule(ben, A, Z, 'refs/for/main/1', true), null);
  });

  it('refuses a digits-only pattern that another rule also matches: its place in the file is lost on the way', () => {
    assert.throws(
      () => createBranchProtectPlugin({ branches: { '**': { push: ['@release'] }, '1234': { push: ['ann'] } } }, pctx),
      (err: unknown) =>
        err instanceof HookOptionsError &&
        /gitward\.yaml:7: branch-protect\.branches\."1234": a digits-only pattern loses its place in the file .* "\*\*" also matches branch 1234/.test(
          err.message,
        ),
    );
  });

  it('accepts a digits-only pattern no other rule matches', async () => {
    const plugin = await createBranchProtectPlugin({ tags: { 'v*': {}, '2024': { create: ['admin'] } } }, pctx);
    const u = describeUpdate(Z, B, 'refs/tags/2024');
    assert.deepEqual(await plugin.check(u, ctx(ann, true, [u])), {
      kind: 'reject',
      rule: 'tags."2024".create',
      message: 'you may not create tag 2024',
    });
  });
});

describe('checkHookSettings (for gitward check)', () => {
  it('reports every bad plugin setting in the tree with its file:line, and nothing for good ones', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'gitward.yaml');
    fs.writeFileSync(
      file,
      [
        'repo_root: ./repos',
        'users: {ann: {}}',
        'repos:',
        '  .hooks:',
        '    branch-protect: {branches: {main: {push: [ann]}}}',
        '  web:',
        '    .hooks:',
        '      branch-flow: {flow: [dev]}',
        '    site.git:',
        '      .hooks:',
        '        branch-protect: {branches: {main: {pussh: [ann]}}}',
        '    docs.git:',
        '      .hooks:',
        '        branch-protect: {tags: {"**": {}, "v*": {delete: [ann]}}}',
        '',
      ].join('\n'),
    );
    const { problems, warnings } = await checkHookSettings(await loadConfig(file));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.equal(
      problems[0],
      `${file}:8: repos.web.hooks.branch-flow.flow: a list of at least two branch names is required`,
    );
    assert.equal(
      problems[1],
      `${file}:11: repos.web.site.git.hooks.branch-protect.branches."main": unknown key "pussh" (allowed: push, force, create, delete)`,
    );
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0] as string,
      /gitward\.yaml:14: branch-protect\.tags\."v\*": never applies: every tag it matches is matched first by "\*\*"/,
    );
  });

  it('reports a third-party hook plugin that cannot be loaded, on one line with the key path', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'gitward.yaml');
    fs.writeFileSync(
      path.join(dir, 'throws.js'),
      "exports.createHookPlugin = () => { throw new TypeError('boom\\nsecond line'); };\n",
    );
    fs.writeFileSync(
      file,
      [
        'repo_root: ./repos',
        'hooks: {plugins: {missing: ./missing.js, throws: ./throws.js}}',
        'repos:',
        '  a.git: {.hooks: {missing: {}}}',
        '  b.git: {.hooks: {throws: {}}}',
        '',
      ].join('\n'),
    );
    const { problems } = await checkHookSettings(await loadConfig(file));
    assert.equal(problems.length, 2, problems.join('\n'));
    const missing = problems[0] as string;
    assert.ok(
      missing.startsWith(`${file}:4: repos.a.git.hooks.missing: the plugin failed to load: Cannot find module `),
      missing,
    );
    assert.equal(missing.includes('\n'), false, missing);
    assert.equal(problems[1], `${file}:5: repos.b.git.hooks.throws: the plugin failed to load: boom`);
  });
});
