import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asUser, createPushFixture, gitwardLines, seed, TRANSPORTS, USERS_YAML } from './push-fixture.js';

/** branch-protect alone on web/site, with `protect` (YAML, indented for the plugin's mapping). */
function config(protect: string): string {
  return `${USERS_YAML}repos:
  .read: [$authenticated]
  web:
    .write: ["@eng", admin]
    .hooks:
      branch-protect:
${protect}
    site.git: {}
`;
}

/** The refs named in gitward's refusal lines, sorted. */
function refused(stderr: string): string[] {
  return gitwardLines(stderr)
    .map((l) => l.split(' ')[1] as string)
    .sort();
}

/** The rule each refusal line names, in order. */
function rules(stderr: string): string[] {
  return gitwardLines(stderr).map((l) => /\(rule (\S+),/.exec(l)?.[1] ?? l);
}

// branch-protect's globs and tag actions through real pushes (the unit tests use a stub repo).
for (const transport of TRANSPORTS) {
  describe(`branch-protect through real ${transport} pushes`, () => {
    it('"*" matches within one segment, "**" across segments, and both match the whole name', async (t) => {
      const f = await createPushFixture(
        t,
        config('        branches:\n          "team/*": {create: [admin]}\n          "rel/**": {create: [admin]}'),
        { transport },
      );
      const c1 = await f.commit('one');
      const names: Array<[name: string, protectedBy: string | null]> = [
        ['team/a', 'team/*'],
        ['team/b/c', null], // "*" stays within one segment
        ['teams/a', null],
        ['rel/a', 'rel/**'],
        ['rel/b/c/d', 'rel/**'], // "**" crosses segments
        ['x/rel/a', null], // whole name: "rel/**" is not "**/rel/**"
      ];
      const spec = (name: string) => `${c1}:refs/heads/${name}`;
      const all = await f.git(['push', 'origin', ...names.map(([n]) => spec(n))], asUser(f, 'ann'));
      assert.notEqual(all.code, 0);
      const want = names.filter(([, p]) => p !== null);
      assert.deepEqual(refused(all.stderr), want.map(([n]) => `refs/heads/${n}`).sort(), all.stderr);
      for (const [n, p] of want)
        assert.ok(
          all.stderr.includes(`refs/heads/${n} rejected by branch-protect (rule branches."${p}".create,`),
          `${n} by ${p}: ${all.stderr}`,
        );
      assert.equal((await f.refs()).size, 0, 'nothing applied');

      const free = await f.git(
        ['push', 'origin', ...names.filter(([, p]) => p === null).map(([n]) => spec(n))],
        asUser(f, 'ann'),
      );
      assert.equal(free.code, 0, free.stderr);
      const listed = await f.git(['push', 'origin', ...want.map(([n]) => spec(n))], asUser(f, 'admin'));
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal((await f.refs()).size, names.length);
    });

    it('creating, moving and deleting a tag are controlled separately; an unlisted move or delete is nobody', async (t) => {
      const f = await createPushFixture(
        t,
        config('        tags:\n          "v*": {create: [rita], move: [admin], delete: [ann]}\n          "**": {}'),
        { transport },
      );
      const c1 = await f.commit('one');
      const c2 = await f.commit('two');
      const steps: Array<[user: string, what: string, args: string[], refusedBy: string | null]> = [
        ['ann', 'creates v1', [`${c1}:refs/tags/v1`], 'tags."v*".create'],
        ['rita', 'creates v1', [`${c1}:refs/tags/v1`], null],
        ['rita', 'moves v1', ['--force', `${c2}:refs/tags/v1`], 'tags."v*".move'],
        ['admin', 'moves v1', ['--force', `${c2}:refs/tags/v1`], null],
        ['admin', 'deletes v1', [':refs/tags/v1'], 'tags."v*".delete'],
        ['ann', 'deletes v1', [':refs/tags/v1'], null],
        ['ann', 'creates build-1', [`${c1}:refs/tags/build-1`], null],
        ['admin', 'moves build-1', ['--force', `${c2}:refs/tags/build-1`], 'tags."**".move'],
        ['admin', 'deletes build-1', [':refs/tags/build-1'], 'tags."**".delete'],
      ];
      for (const [user, what, args, refusedBy] of steps) {
        const before = await f.refs();
        const r = await f.git(['push', 'origin', ...args], asUser(f, user));
        if (refusedBy === null) {
          assert.equal(r.code, 0, `${user} ${what}: ${r.stderr}`);
          assert.deepEqual(rules(r.stderr), []);
        } else {
          assert.notEqual(r.code, 0, `${user} ${what} should be refused`);
          assert.deepEqual(rules(r.stderr), [refusedBy], `${user} ${what}: ${r.stderr}`);
          assert.deepEqual(await f.refs(), before, `${user} ${what}: nothing applied`);
        }
      }
      const refs = await f.refs();
      assert.equal(refs.has('refs/tags/v1'), false);
      assert.equal(refs.get('refs/tags/build-1'), c1);
    });

    it('the first matching rule decides: with "v*" above "**", v tags follow "v*" alone', async (t) => {
      const f = await createPushFixture(
        t,
        config('        tags:\n          "v*": {create: ["@release"], delete: [admin]}\n          "**": {}'),
        { transport },
      );
      const c1 = await f.commit('one');
      // The tags to delete, seeded with plain git: the case is about the deletes.
      await seed(f, [`${c1}:refs/tags/v1.0`, `${c1}:refs/tags/build-7`]);
      const v = await f.git(['push', 'origin', ':refs/tags/v1.0'], asUser(f, 'admin'));
      assert.equal(v.code, 0, `"**" (delete: nobody) is not consulted for v1.0: ${v.stderr}`);
      const other = await f.git(['push', 'origin', ':refs/tags/build-7'], asUser(f, 'admin'));
      assert.deepEqual(rules(other.stderr), ['tags."**".delete']);
    });

    it('the first matching rule decides: with "**" above "v*", "v*" never applies (gitward check warns about it)', async (t) => {
      const f = await createPushFixture(
        t,
        config('        tags:\n          "**": {}\n          "v*": {create: ["@release"], delete: [admin]}'),
        { transport },
      );
      const c1 = await f.commit('one');
      const create = await f.git(['push', 'origin', `${c1}:refs/tags/v1.0`], asUser(f, 'ann'));
      assert.equal(create.code, 0, `"**" lets anyone create a tag: ${create.stderr}`);
      const del = await f.git(['push', 'origin', ':refs/tags/v1.0'], asUser(f, 'admin'));
      assert.deepEqual(rules(del.stderr), ['tags."**".delete']);
      assert.doesNotMatch(
        del.stderr,
        /never applies/,
        'the warning is for the admin running gitward check, not the pusher',
      );
    });
  });
}
