import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { runCli } from '../../app/cli/main.js';
import { dispatcherPath } from '../../app/cli/repo-admin.js';
import { gitEnv } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';
import { gitwardLines, runGit, runGitOk } from './push-fixture.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A config folder with repo_root, and a way to run the CLI against it. */
function setup(
  t: TestContext,
  extraYaml = '',
): { dir: string; root: string; env: Record<string, string>; cli: (...argv: string[]) => Promise<Run> } {
  const dir = tempDir(t, 'gitward-repo-cli-');
  const root = path.join(dir, 'repos');
  fs.mkdirSync(root);
  fs.writeFileSync(
    path.join(dir, 'gitward.yaml'),
    `repo_root: ./repos\nrepos:\n  web:\n    .hooks:\n      branch-protect: {branches: {main: {push: [ann]}}}\n${extraYaml}`,
  );
  const env = gitEnv(path.join(dir, 'home'));
  const cli = async (...argv: string[]): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const sink = (add: (s: string) => void) =>
      new Writable({ write: (c: Buffer, _e, cb) => (add(c.toString()), cb()) });
    const code = await runCli(argv, {
      stdout: sink((s) => (stdout += s)),
      stderr: sink((s) => (stderr += s)),
      stdin: Readable.from([]),
      env,
      cwd: dir,
      isTTY: false,
      onSignal: () => undefined,
    });
    return { code, stdout, stderr };
  };
  return { dir, root, env, cli };
}

const hookTarget = (repo: string, hook: string) => fs.readlinkSync(path.join(repo, 'hooks', hook));

describe('gitward repo create', () => {
  it('creates a bare repo with folders, initial branch, receive.fsckObjects, no force/delete locks of its own, gitward.config and hooks', async (t) => {
    const s = setup(t);
    const r = await s.cli('repo', 'create', 'web/tools/site');
    assert.equal(r.code, 0, r.stderr);
    const bare = path.join(s.root, 'web', 'tools', 'site.git');
    assert.match(r.stdout, /^created web\/tools\/site at .*site\.git \(initial branch main, hooks installed\)\n$/);
    const cfg = async (key: string) => (await runGitOk(['config', '--get', key], bare, s.env)).trim();
    assert.equal(await cfg('core.bare'), 'true');
    assert.equal(await cfg('receive.fsckObjects'), 'true');
    assert.equal(await cfg('core.useReplaceRefs'), 'false');
    // The branch rules decide force and delete; gitward sets git's locks per push where no rule grants them.
    for (const key of ['receive.denyNonFastforwards', 'receive.denyDeletes']) {
      assert.equal((await runGit(['config', '--get', key], bare, s.env)).code, 1, `${key} is not in the repo's config`);
    }
    assert.equal(await cfg('gitward.config'), path.join(s.dir, 'gitward.yaml'));
    assert.equal((await runGitOk(['symbolic-ref', 'HEAD'], bare, s.env)).trim(), 'refs/heads/main');
    for (const h of ['pre-receive', 'post-receive']) assert.equal(hookTarget(bare, h), dispatcherPath());
  });

  it('follows repo_defaults', async (t) => {
    const s = setup(
      t,
      'repo_defaults: {initial_branch: trunk, deny_non_fast_forwards: false, deny_deletes: false, install_hooks: false}\n',
    );
    const r = await s.cli('repo', 'create', 'plain');
    assert.equal(r.code, 0, r.stderr);
    const bare = path.join(s.root, 'plain.git');
    assert.equal((await runGitOk(['symbolic-ref', 'HEAD'], bare, s.env)).trim(), 'refs/heads/trunk');
    assert.equal((await runGit(['config', '--get', 'receive.denyDeletes'], bare, s.env)).code, 1);
    assert.equal(fs.existsSync(path.join(bare, 'hooks', 'pre-receive')), false);
    assert.match(r.stdout, /hooks not installed/);
  });

  it('refuses an existing repo (exit 1) and leaves it alone', async (t) => {
    const s = setup(t);
    assert.equal((await s.cli('repo', 'create', 'web/site')).code, 0);
    fs.writeFileSync(path.join(s.root, 'web', 'site.git', 'marker'), 'x');
    const r = await s.cli('repo', 'create', 'web/site.git');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /web\/site already exists/);
    assert.ok(fs.existsSync(path.join(s.root, 'web', 'site.git', 'marker')));
  });

  const badNames = ['../escape', 'web/../x', '.hidden', 'a//b', 'a.git/b', 'web/-x', 'sp ace', ''];
  for (const name of badNames) {
    it(`refuses the name ${JSON.stringify(name)} as URL parsing does (exit 2), creating nothing`, async (t) => {
      const s = setup(t);
      const r = await s.cli('repo', 'create', name);
      assert.equal(r.code, 2, r.stderr);
      assert.deepEqual(fs.readdirSync(s.root), []);
    });
  }

  it('refuses a project-group folder that is a symlink out of repo_root', async (t) => {
    const s = setup(t);
    const outside = path.join(s.dir, 'outside');
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(s.root, 'web'));
    const r = await s.cli('repo', 'create', 'web/site');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /outside repo_root/);
    assert.deepEqual(fs.readdirSync(outside), []);
  });

  it('a bad config exits 78', async (t) => {
    const s = setup(t, 'bogus_key: 1\n');
    assert.equal((await s.cli('repo', 'create', 'x')).code, 78);
  });

  it('a created repo is guarded: a local push finds the config through gitward.config and runs the plugins', async (t) => {
    const s = setup(t);
    assert.equal((await s.cli('repo', 'create', 'web/site')).code, 0);
    const work = path.join(s.dir, 'work');
    fs.mkdirSync(work);
    const env = s.env;
    await runGitOk(['init', '--quiet', '--initial-branch=main', work], work, env);
    fs.writeFileSync(path.join(work, 'a.txt'), 'a\n');
    await runGitOk(['add', '.'], work, env);
    await runGitOk(['commit', '--quiet', '-m', 'a'], work, env);
    const bare = path.join(s.root, 'web', 'site.git');
    const main = await runGit(['push', bare, 'HEAD:refs/heads/main'], work, env);
    assert.notEqual(main.code, 0);
    assert.match(
      gitwardLines(main.stderr)[0] ?? '',
      /^gitward: refs\/heads\/main rejected by branch-protect \(rule branches\."main"\.create/,
    );
    const topic = await runGit(['push', bare, 'HEAD:refs/heads/topic'], work, env);
    assert.equal(topic.code, 0, topic.stderr);
  });
});

describe('gitward repo list and hooks install', () => {
  it('lists repos with their hooks state; install is idempotent; foreign hooks are kept or moved aside', async (t) => {
    const s = setup(t, 'repo_defaults: {install_hooks: false}\n');
    for (const n of ['web/site', 'web/docs', 'tools']) assert.equal((await s.cli('repo', 'create', n)).code, 0);
    const docs = path.join(s.root, 'web', 'docs.git');
    fs.writeFileSync(path.join(docs, 'hooks', 'pre-receive'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });

    let r = await s.cli('repo', 'list');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/).join(' ')),
      ['tools hooks: missing', 'web/docs hooks: foreign', 'web/site hooks: missing'],
    );

    r = await s.cli('hooks', 'install', 'web/site');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'web/site: hooks/pre-receive installed\nweb/site: hooks/post-receive installed\n');
    r = await s.cli('hooks', 'install', 'web/site');
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      'web/site: hooks/pre-receive already installed\nweb/site: hooks/post-receive already installed\n',
    );

    r = await s.cli('hooks', 'install', '--all');
    assert.equal(r.code, 1, 'a foreign hook was kept');
    assert.match(
      r.stderr,
      /^web\/docs: hooks\/pre-receive is not gitward's; kept it \(use --force to move it aside\)$/m,
    );
    assert.equal(fs.readFileSync(path.join(docs, 'hooks', 'pre-receive'), 'utf8'), '#!/bin/sh\nexit 0\n');
    assert.equal(hookTarget(docs, 'post-receive'), dispatcherPath());

    r = await s.cli('hooks', 'install', 'web/docs', '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hookTarget(docs, 'pre-receive'), dispatcherPath());
    const backups = fs.readdirSync(path.join(docs, 'hooks')).filter((n) => n.startsWith('pre-receive.gitward-backup-'));
    assert.equal(backups.length, 1);
    assert.match(backups[0] as string, /^pre-receive\.gitward-backup-\d{8}T\d{6}Z$/);
    assert.equal(fs.readFileSync(path.join(docs, 'hooks', backups[0] as string), 'utf8'), '#!/bin/sh\nexit 0\n');

    // A link to another checkout's dispatcher is gitward's: listed as stale, updated without --force.
    const tools = path.join(s.root, 'tools.git');
    const oldCheckout = path.join(s.dir, 'old-checkout', 'hooks', 'gitward-hook');
    fs.mkdirSync(path.dirname(oldCheckout), { recursive: true });
    fs.writeFileSync(oldCheckout, '#!/bin/sh\n');
    for (const h of ['pre-receive', 'post-receive']) {
      fs.rmSync(path.join(tools, 'hooks', h), { force: true });
      fs.symlinkSync(oldCheckout, path.join(tools, 'hooks', h));
    }
    r = await s.cli('repo', 'list');
    assert.deepEqual(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/).join(' ')),
      ['tools hooks: stale', 'web/docs hooks: installed', 'web/site hooks: installed'],
    );
    r = await s.cli('hooks', 'install', 'tools');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tools: hooks\/pre-receive updated/m);
    assert.equal(hookTarget(tools, 'pre-receive'), dispatcherPath());

    r = await s.cli('repo', 'list');
    assert.deepEqual(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/).join(' ')),
      ['tools hooks: installed', 'web/docs hooks: installed', 'web/site hooks: installed'],
    );
  });

  it('hooks install notes a repo without receive.fsckObjects, and --fsck-objects sets it', async (t) => {
    const s = setup(t);
    const bare = path.join(s.root, 'old.git');
    await runGitOk(['init', '--quiet', '--bare', bare], s.root, s.env);
    let r = await s.cli('hooks', 'install', 'old');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^old: note: receive\.fsckObjects=true, core\.useReplaceRefs=false not set .*--fsck-objects sets it$/m,
    );
    assert.equal(
      (await runGit(['config', '--get', 'receive.fsckObjects'], bare, s.env)).code,
      1,
      'a note changes nothing',
    );
    r = await s.cli('hooks', 'install', 'old', '--fsck-objects');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^old: set receive\.fsckObjects=true, core\.useReplaceRefs=false$/m);
    assert.equal((await runGitOk(['config', '--get', 'receive.fsckObjects'], bare, s.env)).trim(), 'true');
    r = await s.cli('hooks', 'install', 'old');
    assert.doesNotMatch(r.stdout, /note|set /);
  });

  it('usage errors exit 2; a missing repo exits 1', async (t) => {
    const s = setup(t);
    assert.equal((await s.cli('hooks', 'install')).code, 2);
    assert.equal((await s.cli('hooks', 'install', 'x', '--all')).code, 2);
    assert.equal((await s.cli('hooks', 'frobnicate')).code, 2);
    assert.equal((await s.cli('hooks', 'install', '../x')).code, 2);
    assert.equal((await s.cli('repo', 'create')).code, 2);
    assert.equal((await s.cli('repo', 'list', 'extra')).code, 2);
    const r = await s.cli('hooks', 'install', 'nope');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope: no such repo/);
  });
});

describe('gitward repo rename and delete', () => {
  it('rename moves the repo whole, and the renamed repo still answers git', async (t) => {
    const s = setup(t);
    assert.equal((await s.cli('repo', 'create', 'web/old')).code, 0);
    const r = await s.cli('repo', 'rename', 'web/old', 'apps/new');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^renamed web\/old to apps\/new /);
    assert.equal(fs.existsSync(path.join(s.root, 'web', 'old.git')), false);
    const moved = path.join(s.root, 'apps', 'new.git');
    assert.equal((await runGitOk(['rev-parse', '--is-bare-repository'], moved, s.env)).trim(), 'true');
    assert.equal(hookTarget(moved, 'pre-receive'), dispatcherPath());
  });

  it('rename refuses a taken name, a missing source and the same name, leaving both repos as they were', async (t) => {
    const s = setup(t);
    for (const n of ['a', 'b']) assert.equal((await s.cli('repo', 'create', n)).code, 0);
    let r = await s.cli('repo', 'rename', 'a', 'b');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /b already exists/);
    r = await s.cli('repo', 'rename', 'nope', 'c');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no repository nope/);
    r = await s.cli('repo', 'rename', 'a', 'a.git');
    assert.equal(r.code, 1);
    for (const n of ['a', 'b']) assert.ok(fs.statSync(path.join(s.root, `${n}.git`, 'HEAD')).isFile());
  });

  it('delete moves the repo into the trash folder, recoverable by moving it back', async (t) => {
    const s = setup(t);
    assert.equal((await s.cli('repo', 'create', 'web/gone')).code, 0);
    const r = await s.cli('repo', 'delete', 'web/gone');
    assert.equal(r.code, 0, r.stderr);
    const m = /the trash: (\S+) \(move it back/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const trashed = m[1] as string;
    assert.ok(trashed.startsWith(path.join(fs.realpathSync(s.root), '.gitward-trash') + path.sep));
    assert.ok(trashed.endsWith(path.join('web', 'gone.git')));
    assert.equal(fs.existsSync(path.join(s.root, 'web', 'gone.git')), false);
    // Hidden from listings; recovered by one rename.
    assert.doesNotMatch((await s.cli('repo', 'list')).stdout, /gone/);
    fs.renameSync(trashed, path.join(s.root, 'web', 'gone.git'));
    assert.equal(
      (await runGitOk(['rev-parse', '--is-bare-repository'], path.join(s.root, 'web', 'gone.git'), s.env)).trim(),
      'true',
    );
  });

  it('rename and delete refuse a repo the config names, saying where', async (t) => {
    const s = setup(t, '    site.git: {.read: [$all]}\n');
    assert.equal((await s.cli('repo', 'create', 'web/site')).code, 0);
    for (const argv of [
      ['rename', 'web/site', 'web/other'],
      ['delete', 'web/site'],
    ]) {
      const r = await s.cli('repo', ...argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.stderr, /web\/site is named in the config at .*gitward\.yaml:6; edit the config first/);
    }
    assert.ok(fs.statSync(path.join(s.root, 'web', 'site.git', 'HEAD')).isFile());
  });

  it('usage errors exit 2', async (t) => {
    const s = setup(t);
    assert.equal((await s.cli('repo', 'rename', 'a')).code, 2);
    assert.equal((await s.cli('repo', 'delete')).code, 2);
    assert.equal((await s.cli('repo', 'delete', '../etc')).code, 2);
    assert.equal((await s.cli('repo', 'rename', 'a', '.hidden')).code, 2);
  });
});
