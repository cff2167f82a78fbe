import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asUser, CONFIG, createPushFixture, gitwardLines, TRANSPORTS } from './push-fixture.js';

for (const transport of TRANSPORTS)
  describe(`settings and order through real ${transport} pushes`, () => {
    it('runs plugins in hooks.order: the first refusal in that order is the one shown', async (t) => {
      for (const [order, first] of [
        ['[branch-protect, branch-flow]', 'branch-protect'],
        ['[branch-flow, branch-protect]', 'branch-flow'],
      ] as const) {
        const f = await createPushFixture(
          t,
          CONFIG.replace('hooks: {order: [branch-protect, branch-flow]}', `hooks: {order: ${order}}`),
          { transport },
        );
        const c1 = await f.commit('one');
        const r = await f.git(['push', 'origin', `${c1}:refs/heads/main`], asUser(f, 'ann'));
        assert.notEqual(r.code, 0);
        assert.deepEqual(
          gitwardLines(r.stderr).map((l) => /rejected by (\S+)/.exec(l)?.[1]),
          [first],
          r.stderr,
        );
      }
    });

    it('enable: false below a node turns a plugin off for that repo only', async (t) => {
      const f = await createPushFixture(
        t,
        CONFIG.replace('    site.git: {}', '    site.git:\n      .hooks:\n        branch-flow: {enable: false}'),
        { transport },
      );
      const c1 = await f.commit('one');
      const r = await f.git(['push', 'origin', `${c1}:refs/heads/main`], asUser(f, 'rita'));
      assert.equal(r.code, 0, r.stderr);
      const ann = await f.git(
        ['push', 'origin', `${c1}:refs/heads/main2`, `${await f.commit('two')}:refs/heads/main`],
        asUser(f, 'ann'),
      );
      assert.match(gitwardLines(ann.stderr)[0] ?? '', /rejected by branch-protect/, 'branch-protect still runs');
    });
  });

// gitward always sends well-formed values; a hook run by something else (or a hand-made env) may not.
describe('settings from the environment of a local push', () => {
  it('a malformed GITWARD_GROUPS refuses the push rather than guessing', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    const r = await f.git(
      ['push', 'origin', `${c1}:refs/heads/dev`],
      asUser(f, 'ann', { GITWARD_GROUPS: '{"not":"a list"}' }),
    );
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr), ['gitward: push refused: GITWARD_GROUPS has the wrong shape']);
  });
});
