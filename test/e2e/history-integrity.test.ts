/**
 * History as git sees it, through real nginx over HTTPS in proxy mode (gitward-proxy.conf) and
 * sidecar mode (gitward-sidecar.conf, fcgiwrap + git-http-backend): a writer with the whole ref
 * namespace cannot forge a fast-forward with refs/replace or a graft file, cannot fool the hook
 * with a commit a hand parser reads differently, cannot lock a repo with a replacement of an object
 * by itself, and cannot push refs outside heads and tags that no rule grants. The same cases run
 * over local and in-process pushes in test/hooks/history-integrity.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SERVER_GIT_ENV } from '../../app/git/server-git-env.js';
import { git as runGitInput } from '../helpers/git.js';
import { requireBinary } from '../helpers/nginx.js';
import { HOOKLESS_RECEIVE_PACK } from '../hooks/push-fixture.js';
import { E2E_USERS, startStack, type Stack, type StackMode } from './stack.js';

const ann = { user: 'ann', password: E2E_USERS.ann as string };
const admin = { user: 'admin', password: E2E_USERS.admin as string };

/** main: ann may fast-forward, only admin may force or delete (so git's own force lock is off in proxy mode). */
const PROTECTED = {
  '.read': ['ann'],
  '.write': ['ann'],
  '.hooks': { 'branch-protect': { branches: { main: { push: ['ann'], force: ['admin'], delete: ['admin'] } } } },
};
const REPOS: Record<string, Record<string, unknown>> = {
  'hist-forge': PROTECTED,
  'hist-lock': PROTECTED,
  'hist-parent': PROTECTED,
  'hist-graft': PROTECTED,
  // No hook settings at all: only the dispatcher's own rules (and git's locks) apply.
  'hist-default': { '.read': ['ann'], '.write': ['ann'] },
  'hist-notes': {
    '.read': ['ann'],
    '.write': ['ann'],
    '.hooks': {
      'branch-protect': { branches: { main: { push: ['ann'] } }, refs: { 'refs/notes/*': { push: ['ann'] } } },
    },
  },
};

function defineHistoryCases(mode: StackMode): void {
  describe(`${mode}: a writer with the whole ref namespace`, () => {
    let stack: Stack | null = null;
    let skipped = false;
    const cleanups: Array<() => unknown> = [];
    before(async () => {
      const skipper = { skip: () => (skipped = true) };
      const nginx = requireBinary(skipper, 'nginx');
      const fcgiwrap = mode === 'sidecar' ? requireBinary(skipper, 'fcgiwrap') : null;
      if (nginx === null || (mode === 'sidecar' && fcgiwrap === null)) return;
      stack = await startStack({ after: (fn) => cleanups.push(fn) }, mode, { nginx, fcgiwrap }, REPOS);
    });
    after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });
    const get = (t: { skip(m?: string): void }): Stack | null => {
      if (stack === null) {
        assert.ok(skipped, 'the stack did not start');
        t.skip('nginx or fcgiwrap is not installed');
        return null;
      }
      return stack;
    };

    /** A work tree for `repo` with main at a first commit, seeded into the bare repo; git helpers on it. */
    const setUp = async (s: Stack, repo: string) => {
      const dir = path.join(s.work, repo);
      fs.mkdirSync(dir);
      const run = (args: string[], input?: string) =>
        runGitInput(args, { cwd: dir, env: s.env(), ...(input === undefined ? {} : { input }), timeoutMs: 60_000 });
      const ok = async (args: string[], input?: string): Promise<string> => {
        const r = await run(args, input);
        assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
        return r.stdout.trim();
      };
      await ok(['init', '--quiet', '--initial-branch=main', '.']);
      fs.writeFileSync(path.join(dir, 'a.txt'), `${repo}\n`);
      await ok(['add', '.']);
      await ok(['commit', '--quiet', '-m', 'base']);
      const m = await ok(['rev-parse', 'HEAD']);
      const bare = path.join(s.gitward.repoRoot, `${repo}.git`);
      // The refs a case starts from go straight into the bare repo with plain git, no hook run
      // (HOOKLESS_RECEIVE_PACK): the cases are about the pushes that follow.
      const seed = (...specs: string[]) => ok(['push', '--quiet', HOOKLESS_RECEIVE_PACK, bare, ...specs]);
      await seed('main');
      const server = (args: string[]) => runGitInput(args, { cwd: bare, env: s.env(SERVER_GIT_ENV) });
      const remoteRef = async (ref: string): Promise<string | null> => {
        const r = await server(['rev-parse', '--verify', '--quiet', ref]);
        return r.code === 0 ? r.stdout.trim() : null;
      };
      return { dir, run, ok, seed, m, tree: await ok(['rev-parse', 'HEAD^{tree}']), bare, server, remoteRef };
    };

    test(`${mode}: replace-object fast-forward forgery is refused, pushed or planted`, async (t) => {
      const s = get(t);
      if (!s) return;
      const w = await setUp(s, 'hist-forge');
      const unrelated = await w.ok(['commit-tree', w.tree, '-m', 'unrelated']);
      const disguise = await w.ok(['commit-tree', w.tree, '-p', w.m, '-m', 'unrelated']);
      const pushed = await w.run(['push', s.url('hist-forge', ann), `${disguise}:refs/replace/${unrelated}`]);
      assert.notEqual(pushed.code, 0, pushed.stderr);
      // Proxy: git itself refuses the hidden ref before any hook; sidecar: the dispatcher does.
      assert.match(
        pushed.stderr,
        mode === 'sidecar' ? /rejected by gitward \(rule refs, built in\)/ : /deny updating a hidden ref/,
      );
      assert.equal(await w.remoteRef(`refs/replace/${unrelated}`), null);

      // As if an older gitward had let it in: the objects on the server, the replace ref planted.
      await w.seed(`${unrelated}:refs/heads/scratch-a`, `${disguise}:refs/heads/scratch-b`);
      assert.equal((await w.server(['update-ref', `refs/replace/${unrelated}`, disguise])).code, 0);
      const forged = await w.run(['push', '--force', s.url('hist-forge', ann), `${unrelated}:refs/heads/main`]);
      assert.notEqual(forged.code, 0, forged.stderr);
      assert.match(forged.stderr, /refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.force/);
      assert.equal(await w.remoteRef('refs/heads/main'), w.m);
    });

    test(`${mode}: replace-object repo lock: refused, and a planted one stops no later push or clone`, async (t) => {
      const s = get(t);
      if (!s) return;
      const w = await setUp(s, 'hist-lock');
      const pushed = await w.run(['push', s.url('hist-lock', ann), `${w.m}:refs/replace/${w.m}`]);
      assert.notEqual(pushed.code, 0, pushed.stderr);
      assert.equal(await w.remoteRef(`refs/replace/${w.m}`), null);

      assert.equal((await w.server(['update-ref', `refs/replace/${w.m}`, w.m])).code, 0);
      fs.writeFileSync(path.join(w.dir, 'b.txt'), 'after\n');
      await w.ok(['add', '.']);
      await w.ok(['commit', '--quiet', '-m', 'after the lock']);
      const next = await w.ok(['rev-parse', 'HEAD']);
      const r = await w.run(['push', s.url('hist-lock', ann), 'main', 'main:topic']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await w.remoteRef('refs/heads/main'), next);
      const clone = await s.git(['clone', '--quiet', s.url('hist-lock', ann), 'hist-lock-clone']);
      assert.equal(clone.code, 0, clone.stderr);
    });

    test(`${mode}: hand-parsed commit: a parent line after committer is judged as git judges it (a force, refused)`, async (t) => {
      const s = get(t);
      if (!s) return;
      const w = await setUp(s, 'hist-parent');
      const ident = 'Mallory <m@example.org> 1700000000 +0000';
      const crafted = await w.ok(
        ['hash-object', '-t', 'commit', '--literally', '-w', '--stdin'],
        `tree ${w.tree}\nauthor ${ident}\ncommitter ${ident}\nparent ${w.m}\n\nlooks like a child of main\n`,
      );
      const r = await w.run(['push', '--force', s.url('hist-parent', ann), `${crafted}:refs/heads/main`]);
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.force/);
      assert.equal(await w.remoteRef('refs/heads/main'), w.m);
    });

    test(`${mode}: grafts ignored: a graft file in the repo does not make a fast-forward`, async (t) => {
      const s = get(t);
      if (!s) return;
      const w = await setUp(s, 'hist-graft');
      const unrelated = await w.ok(['commit-tree', w.tree, '-m', 'grafted']);
      await w.seed(`${unrelated}:refs/heads/scratch`);
      fs.writeFileSync(path.join(w.bare, 'info', 'grafts'), `${unrelated} ${w.m}\n`);
      const r = await w.run(['push', '--force', s.url('hist-graft', ann), `${unrelated}:refs/heads/main`]);
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.force/);
      assert.equal(await w.remoteRef('refs/heads/main'), w.m);
    });

    test(`${mode}: refs outside heads and tags: refs/notes refused by default, allowed where a refs rule grants it`, async (t) => {
      const s = get(t);
      if (!s) return;
      const d = await setUp(s, 'hist-default');
      await d.ok(['notes', 'add', '-m', 'reviewed', d.m]);
      const refused = await d.run(['push', s.url('hist-default', ann), 'refs/notes/commits:refs/notes/commits']);
      assert.notEqual(refused.code, 0, refused.stderr);
      assert.equal(await d.remoteRef('refs/notes/commits'), null);

      const n = await setUp(s, 'hist-notes');
      await n.ok(['notes', 'add', '-m', 'reviewed', n.m]);
      const granted = await n.run(['push', s.url('hist-notes', ann), 'refs/notes/commits:refs/notes/commits']);
      assert.equal(granted.code, 0, granted.stderr);
      assert.notEqual(await n.remoteRef('refs/notes/commits'), null);
      const del = await n.run(['push', s.url('hist-notes', ann), ':refs/notes/commits']);
      assert.notEqual(del.code, 0, 'delete is nobody unless listed');
      assert.notEqual(await n.remoteRef('refs/notes/commits'), null);
      const replace = await n.run(['push', s.url('hist-notes', admin), `${n.m}:refs/replace/${n.m}`]);
      assert.notEqual(replace.code, 0, 'refs/replace stays refused');
    });
  });
}

defineHistoryCases('proxy');
defineHistoryCases('sidecar');
