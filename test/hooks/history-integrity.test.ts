import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { adminGitEnv, dispatcherPath } from '../../app/cli/repo-admin.js';
import { applyRepoSafety, createRepo } from '../../app/repo/repo-lifecycle.js';
import { loadConfig } from '../../app/config/load.js';
import { SERVER_GIT_ENV } from '../../app/git/server-git-env.js';
import {
  asUser,
  createPushFixture,
  gitwardLines,
  runGitOk,
  seed,
  TRANSPORTS,
  USERS_YAML,
  type PushFixture,
} from './push-fixture.js';

// A writer who may push to a repo tries to make the server see a history the objects do not have:
// replace refs, grafts, a commit a hand parser reads differently, refs outside heads and tags.
// Each case runs over a real push to a real bare repo, made on the server (local) and through
// gitward (http); test/e2e/history-integrity.test.ts repeats them through nginx in both modes.

/** main: eng may fast-forward, only admin force or delete; notes granted to eng. */
const GRANTED = `${USERS_YAML}repos:
  .read: [$authenticated]
  web:
    .write: ["@eng", admin]
    .hooks:
      branch-protect:
        branches:
          main: {push: ["@eng"], force: [admin], delete: [admin]}
        refs:
          "refs/notes/*": {push: ["@eng"]}
    site.git: {}
`;

/** No hook settings at all: only the dispatcher's own rules apply. */
const BARE = `${USERS_YAML}repos:
  .read: [$authenticated]
  web:
    .write: ["@eng", admin]
    site.git: {}
`;

/** A git run in the work tree that must succeed; its trimmed stdout. */
async function ok(f: PushFixture, args: string[], input?: string): Promise<string> {
  if (input === undefined) return (await f.gitOk(args)).trim();
  const { git } = await import('../helpers/git.js');
  const r = await git(args, { cwd: f.work, env: f.env(), input });
  assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * main at a first commit M; returns M. Seeded with plain git: the cases are about the pushes that
 * follow, and a push through the hooks costs one or two Node start-ups.
 */
async function mainAt(f: PushFixture): Promise<string> {
  const m = await f.commit('base');
  await seed(f, [`${m}:refs/heads/main`]);
  return m;
}

/** Runs git in the bare repo as an admin on the server would, without replace refs in the way. */
function serverGit(f: PushFixture, args: string[]): Promise<string> {
  return runGitOk(args, f.bare, f.env({ ...SERVER_GIT_ENV }));
}

/** The rule each refusal line names, in order. */
const rules = (stderr: string): string[] => gitwardLines(stderr).map((l) => /\(rule (\S+),/.exec(l)?.[1] ?? l);

for (const transport of TRANSPORTS) {
  describe(`history as git sees it, through real ${transport} pushes`, () => {
    it('replace-object fast-forward forgery: refs/replace is refused, and a planted one does not make an unrelated commit a fast-forward', async (t) => {
      const f = await createPushFixture(t, GRANTED, { transport });
      const m = await mainAt(f);
      const tree = await ok(f, ['rev-parse', `${m}^{tree}`]);
      const unrelated = await ok(f, ['commit-tree', tree, '-m', 'unrelated']);
      // The same commit, but with main's tip as its parent: what the replace ref would show instead.
      const disguise = await ok(f, ['commit-tree', tree, '-p', m, '-m', 'unrelated']);

      const r = await f.git(['push', 'origin', `${disguise}:refs/replace/${unrelated}`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0, r.stderr);
      assert.ok(!(await f.refs()).has(`refs/replace/${unrelated}`), r.stderr);
      if (transport === 'local') assert.deepEqual(rules(r.stderr), ['refs'], r.stderr);

      // As if an older gitward had let it in: the objects on the server, the replace ref planted.
      await seed(f, [`${unrelated}:refs/heads/scratch-a`, `${disguise}:refs/heads/scratch-b`]);
      await serverGit(f, ['update-ref', `refs/replace/${unrelated}`, disguise]);
      const forged = await f.git(['push', '--force', 'origin', `${unrelated}:refs/heads/main`], asUser(f, 'ann'));
      assert.notEqual(forged.code, 0, forged.stderr);
      assert.deepEqual(rules(forged.stderr), ['branches."main".force'], forged.stderr);
      assert.equal((await f.refs()).get('refs/heads/main'), m);
    });

    it('replace-object repo lock: a replacement of an object by itself is refused, and a planted one stops no later push', async (t) => {
      const f = await createPushFixture(t, GRANTED, { transport });
      const m = await mainAt(f);
      const r = await f.git(['push', 'origin', `${m}:refs/replace/${m}`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0, r.stderr);
      assert.ok(!(await f.refs()).has(`refs/replace/${m}`));

      await serverGit(f, ['update-ref', `refs/replace/${m}`, m]);
      if (transport === 'local') {
        // A push made on the server runs git's receive-pack in the pusher's environment, not
        // gitward's: what `repo create` (and `hooks install --fsck-objects`) set in the repo protects it.
        await applyRepoSafety(f.bare, f.env());
      }
      const next = await f.commit('after the lock');
      const push = await f.git(
        ['push', 'origin', `${next}:refs/heads/main`, `${next}:refs/heads/topic`],
        asUser(f, 'ann'),
      );
      assert.equal(push.code, 0, push.stderr);
      assert.equal((await f.refs()).get('refs/heads/main'), next);
    });

    it('hand-parsed commit: a parent line after committer does not make a fast-forward (git reads a root commit)', async (t) => {
      const f = await createPushFixture(t, GRANTED, { transport });
      const m = await mainAt(f);
      const tree = await ok(f, ['rev-parse', `${m}^{tree}`]);
      const ident = 'Mallory <m@example.org> 1700000000 +0000';
      const body = `tree ${tree}\nauthor ${ident}\ncommitter ${ident}\nparent ${m}\n\nlooks like a child of main\n`;
      const crafted = await ok(f, ['hash-object', '-t', 'commit', '--literally', '-w', '--stdin'], body);
      assert.equal(await ok(f, ['rev-list', '--parents', '-n', '1', crafted]), crafted, 'git itself sees no parent');

      const r = await f.git(['push', '--force', 'origin', `${crafted}:refs/heads/main`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0, r.stderr);
      assert.deepEqual(rules(r.stderr), ['branches."main".force'], r.stderr);
      assert.equal((await f.refs()).get('refs/heads/main'), m);
      // The force grant still means what it says.
      const admin = await f.git(['push', '--force', 'origin', `${crafted}:refs/heads/main`], asUser(f, 'admin'));
      assert.equal(admin.code, 0, admin.stderr);
    });

    it('grafts ignored: a graft file in the repo does not make an unrelated commit a fast-forward', async (t) => {
      const f = await createPushFixture(t, GRANTED, { transport });
      const m = await mainAt(f);
      const tree = await ok(f, ['rev-parse', `${m}^{tree}`]);
      const unrelated = await ok(f, ['commit-tree', tree, '-m', 'grafted']);
      await seed(f, [`${unrelated}:refs/heads/scratch`]);
      fs.writeFileSync(path.join(f.bare, 'info', 'grafts'), `${unrelated} ${m}\n`);
      // Control: without the server environment git itself would follow the graft.
      const seen = await runGitOk(
        ['rev-list', '--parents', '-n', '1', unrelated],
        f.bare,
        f.env({ GIT_NO_REPLACE_OBJECTS: '1' }),
      );
      assert.equal(seen.trim(), `${unrelated} ${m}`, 'the graft file is in effect for a plain git');

      const r = await f.git(['push', '--force', 'origin', `${unrelated}:refs/heads/main`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0, r.stderr);
      assert.deepEqual(rules(r.stderr), ['branches."main".force'], r.stderr);
      assert.equal((await f.refs()).get('refs/heads/main'), m);
    });

    it('refs outside heads and tags: refs/notes and refs/replace are refused by default, even without any hook settings', async (t) => {
      const f = await createPushFixture(t, BARE, { transport });
      const m = await mainAt(f);
      for (const ref of ['refs/notes/commits', `refs/replace/${m}`, 'refs/pull/1/head', 'refs/x']) {
        const r = await f.git(['push', 'origin', `${m}:${ref}`], asUser(f, 'admin'));
        assert.notEqual(r.code, 0, `${ref}: ${r.stderr}`);
        if (transport === 'local')
          assert.match(
            gitwardLines(r.stderr)[0] ?? '',
            /rejected by gitward \(rule refs, built in\): refs outside refs\/heads\/ and refs\/tags\//,
          );
      }
      assert.deepEqual([...(await f.refs()).keys()], ['refs/heads/main']);
      if (transport === 'local') {
        // A push made on the server without gitward's environment is held to the same rule.
        await serverGit(f, ['config', 'gitward.config', f.configFile]);
        const r = await f.git(['push', 'origin', `${m}:refs/notes/commits`]);
        assert.notEqual(r.code, 0, r.stderr);
        assert.deepEqual(rules(r.stderr), ['refs']);
      }
    });

    it('refs outside heads and tags: a refs rule grants refs/notes (push, no delete) and nothing else', async (t) => {
      const f = await createPushFixture(t, GRANTED, { transport });
      const m = await mainAt(f);
      await f.gitOk(['notes', 'add', '-m', 'reviewed', m]);
      const r = await f.git(['push', 'origin', 'refs/notes/commits:refs/notes/commits'], asUser(f, 'ann'));
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await f.refs()).has('refs/notes/commits'));
      const notEng = await f.git(['push', 'origin', 'refs/notes/commits:refs/notes/other'], asUser(f, 'admin'));
      assert.notEqual(notEng.code, 0, 'admin is not in the push list of refs/notes/*');
      if (transport === 'local') assert.deepEqual(rules(notEng.stderr), ['refs."refs/notes/*".create']);
      const del = await f.git(['push', 'origin', ':refs/notes/commits'], asUser(f, 'ann'));
      assert.notEqual(del.code, 0, 'delete is nobody unless listed');
      assert.ok((await f.refs()).has('refs/notes/commits'));
      const replace = await f.git(['push', 'origin', `${m}:refs/replace/${m}`], asUser(f, 'ann'));
      assert.notEqual(replace.code, 0, 'refs/replace stays refused');
    });
  });
}

/** README's and hooks/README.md's example: main through @release, forced by admin; wip/* free to force and delete. */
const README_EXAMPLE = `${USERS_YAML}repos:
  .read: [$authenticated]
  .hooks:
    branch-protect:
      branches:
        main: {push: ["@release"], force: [admin], delete: [admin]}
        "release/**": {push: ["@release"]}
        "wip/*": {push: [$authenticated], force: [$authenticated], delete: [$authenticated]}
      tags:
        "v*": {create: ["@release"], delete: [admin]}
  web:
    .write: ["@eng", admin]
    site.git: {}
`;

for (const transport of TRANSPORTS) {
  describe(`repo defaults and branch rules agree, through real ${transport} pushes`, () => {
    it('what README grants works on a repo made by repo create: admin forces main, anyone deletes wip/*, nobody else does', async (t) => {
      const f = await createPushFixture(t, README_EXAMPLE, { transport, hooks: false });
      fs.rmSync(f.bare, { recursive: true, force: true });
      await createRepo(await loadConfig(f.configFile), 'web/site', {
        dispatcher: dispatcherPath(),
        env: adminGitEnv(f.env()),
        now: Date.now(),
      });
      const c1 = await f.commit('one');
      await seed(f, [`${c1}:refs/heads/main`]);
      const c2 = await f.commit('two');
      // What README grants @release, in one push: main fast-forwarded, a v tag, a release branch, a wip one.
      // (main itself is HEAD: git refuses to delete the current branch whatever the rules say.)
      await f.gitOk(
        [
          'push',
          '--quiet',
          'origin',
          `${c2}:refs/heads/main`,
          `${c1}:refs/tags/v1`,
          `${c2}:refs/heads/release/1`,
          `${c2}:refs/heads/wip/x`,
        ],
        asUser(f, 'rita'),
      );

      const ritaForce = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'rita'));
      assert.notEqual(ritaForce.code, 0);
      assert.deepEqual(rules(ritaForce.stderr), ['branches."main".force'], ritaForce.stderr);
      const adminForce = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'admin'));
      assert.equal(adminForce.code, 0, adminForce.stderr);
      assert.equal((await f.refs()).get('refs/heads/main'), c1);

      const ritaDelete = await f.git(['push', 'origin', ':refs/heads/release/1', ':refs/tags/v1'], asUser(f, 'rita'));
      assert.notEqual(ritaDelete.code, 0);
      assert.deepEqual(
        rules(ritaDelete.stderr),
        ['branches."release/**".delete', 'tags."v*".delete'],
        ritaDelete.stderr,
      );
      const annWip = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/wip/x`], asUser(f, 'ann'));
      assert.equal(annWip.code, 0, annWip.stderr);
      const annDelete = await f.git(['push', 'origin', ':refs/heads/wip/x'], asUser(f, 'ann'));
      assert.equal(annDelete.code, 0, annDelete.stderr);
      const adminDelete = await f.git(['push', 'origin', ':refs/tags/v1'], asUser(f, 'admin'));
      assert.equal(adminDelete.code, 0, adminDelete.stderr);
      assert.deepEqual([...(await f.refs()).keys()].sort(), ['refs/heads/main', 'refs/heads/release/1']);
    });

    it("without a grant, git's own locks refuse force and delete through gitward; on the server the hook alone decides", async (t) => {
      const f = await createPushFixture(
        t,
        `${USERS_YAML}repos:\n  .read: [$authenticated]\n  web:\n    .write: ["@eng", admin]\n    site.git: {}\n`,
        { transport, hooks: false },
      );
      fs.rmSync(f.bare, { recursive: true, force: true });
      await createRepo(await loadConfig(f.configFile), 'web/site', {
        dispatcher: dispatcherPath(),
        env: adminGitEnv(f.env()),
        now: Date.now(),
      });
      const c1 = await f.commit('one');
      const c2 = await f.commit('two');
      await seed(f, [`${c2}:refs/heads/main`, `${c2}:refs/heads/topic`]);
      const force = await f.git(['push', '--force', 'origin', `${c1}:refs/heads/main`], asUser(f, 'admin'));
      const del = await f.git(['push', 'origin', ':refs/heads/topic'], asUser(f, 'admin'));
      if (transport === 'http') {
        assert.notEqual(force.code, 0, force.stderr);
        assert.match(force.stderr, /denying non-fast-forward/);
        assert.notEqual(del.code, 0, del.stderr);
        assert.match(del.stderr, /denying ref deletion/);
        assert.equal((await f.refs()).get('refs/heads/main'), c2);
      } else {
        // No rule matches main and nothing of gitward's wraps git: the hook alone decides, and main is free.
        assert.equal(force.code, 0, force.stderr);
        assert.equal(del.code, 0, del.stderr);
      }
    });
  });
}
