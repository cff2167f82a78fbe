/**
 * Hooks link through the stable install path, not the versioned folder behind it: an upgrade that
 * points /opt/gitward at another version moves every repo's hooks along (issue 12).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { dispatcherPath, linkedDispatcherPath } from '../../app/cli/repo-admin.js';
import { git } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';

/** The checkout this test runs from (dist/test/hooks → the worktree). */
const CHECKOUT = path.resolve(__dirname, '..', '..', '..');

function run(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args as string[], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString() }));
  });
}

/** Points the link `link` at `target` in one rename, as an upgrade script would (ln -sfn). */
function swapLink(link: string, target: string): void {
  const tmp = `${link}.new`;
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
}

test('repo create and hooks install link hooks through the stable path; an upgrade that swaps the version folder takes them along', async (t) => {
  const dir = tempDir(t);
  // /opt/gitward → versions/v1 (this checkout); /usr/local/bin/gitward → /opt/gitward/app/gitward.
  const v1 = path.join(dir, 'versions', 'v1');
  fs.mkdirSync(v1, { recursive: true });
  for (const sub of ['app', 'dist', 'hooks']) fs.symlinkSync(path.join(CHECKOUT, sub), path.join(v1, sub));
  const stable = path.join(dir, 'opt-gitward');
  fs.symlinkSync(v1, stable);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(path.join(stable, 'app', 'gitward'), path.join(bin, 'gitward'));
  const stableHook = path.join(stable, 'hooks', 'gitward-hook');
  assert.equal(linkedDispatcherPath(path.join(bin, 'gitward')), stableHook);
  // Invoked some other way (node main.js, a test): the checkout's own resolved path.
  assert.equal(linkedDispatcherPath('/nonexistent/gitward'), dispatcherPath());
  assert.equal(linkedDispatcherPath(path.join(dir, 'elsewhere', 'app', 'gitward')), dispatcherPath());

  const root = path.join(dir, 'git');
  fs.mkdirSync(root);
  const config = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(config, `repo_root: ${root}\nauthentication: []\nusers:\n  ann: {}\nrepos:\n  .read: [ann]\n`);
  const env = {
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: '1',
  };
  const made = await run(path.join(bin, 'gitward'), ['repo', 'create', 'web/site', '--config', config], env);
  assert.equal(made.code, 0, made.out);
  const repo = path.join(root, 'web', 'site.git');
  for (const h of ['pre-receive', 'post-receive'])
    assert.equal(fs.readlinkSync(path.join(repo, 'hooks', h)), stableHook);

  // A repo whose hooks link to the versioned folder (made by an older gitward): relinked.
  const old = path.join(root, 'old.git');
  assert.equal((await git(['init', '--quiet', '--bare', old], { cwd: dir, env })).code, 0);
  assert.equal((await git(['--git-dir', old, 'config', 'gitward.config', config], { cwd: dir, env })).code, 0);
  fs.mkdirSync(path.join(old, 'hooks'), { recursive: true });
  for (const h of ['pre-receive', 'post-receive'])
    fs.symlinkSync(path.join(v1, 'hooks', 'gitward-hook'), path.join(old, 'hooks', h));
  const relinked = await run(path.join(bin, 'gitward'), ['hooks', 'install', 'old', '--config', config], env);
  assert.equal(relinked.code, 0, relinked.out);
  assert.match(relinked.out, /old: hooks\/pre-receive updated/);
  for (const h of ['pre-receive', 'post-receive'])
    assert.equal(fs.readlinkSync(path.join(old, 'hooks', h)), stableHook);
  const again = await run(path.join(bin, 'gitward'), ['hooks', 'install', 'old', '--config', config], env);
  assert.match(again.out, /old: hooks\/pre-receive already installed/);

  // A local push runs v1's dispatcher, which accepts it (no branch rules).
  const work = path.join(dir, 'work');
  const ident = {
    GIT_AUTHOR_NAME: 'a',
    GIT_AUTHOR_EMAIL: 'a@example.org',
    GIT_COMMITTER_NAME: 'a',
    GIT_COMMITTER_EMAIL: 'a@example.org',
  };
  for (const args of [
    ['init', '--quiet', '--initial-branch=main', work],
    ['-C', work, 'commit', '--quiet', '--allow-empty', '-m', 'one'],
  ]) {
    assert.equal((await git(args, { cwd: dir, env: { ...env, ...ident } })).code, 0);
  }
  for (const target of [repo, old]) {
    const before = await git(['-C', work, 'push', target, 'main'], { cwd: dir, env });
    assert.equal(before.code, 0, before.stderr);
  }
  assert.equal(
    (
      await git(['-C', work, 'commit', '--quiet', '--allow-empty', '-m', 'two'], {
        cwd: dir,
        env: { ...env, ...ident },
      })
    ).code,
    0,
  );

  // The upgrade: versions/v2 with its own dispatcher, and /opt/gitward swapped to it.
  const v2 = path.join(dir, 'versions', 'v2');
  fs.mkdirSync(path.join(v2, 'hooks'), { recursive: true });
  fs.writeFileSync(
    path.join(v2, 'hooks', 'gitward-hook'),
    '#!/bin/sh\ncat >/dev/null\necho "version 2 dispatcher: ${1:-${0##*/}}" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  swapLink(stable, v2);
  for (const target of [repo, old]) {
    const after = await git(['-C', work, 'push', target, 'main'], { cwd: dir, env });
    assert.notEqual(after.code, 0);
    assert.match(after.stderr, /remote: version 2 dispatcher: pre-receive/, target);
  }
});
