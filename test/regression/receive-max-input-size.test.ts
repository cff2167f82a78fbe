/**
 * Regression: `receive.maxInputSize` set in a repo is honoured through gitward: a push with a pack
 * over it is refused with git's own message, leaves no ref, no object and no quarantine behind,
 * and a push under it still works. (gitward's per-request GIT_CONFIG_* must not override it.)
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runGit, runGitOk, startGuarded, workTree } from './harness.js';

/** The repo's limit; the big push carries 64 KiB of random bytes (incompressible). */
const MAX_INPUT_BYTES = 4096;

function listObjects(repo: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(repo, p));
    }
  };
  walk(path.join(repo, 'objects'));
  return out.sort();
}

test("receive.maxInputSize in the repo refuses a bigger push with git's message and leaves nothing", async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: { repos: { 'x.git': { '.write': ['ann'] } } },
    repos: ['x'],
  });
  const repo = path.join(gw.repoRoot, 'x.git');
  await runGitOk(['config', 'receive.maxInputSize', String(MAX_INPUT_BYTES)], { cwd: repo, env: gw.gitEnv });
  const objectsBefore = listObjects(repo);
  const ann = { user: 'ann', password: 'pw' };

  const big = path.join(gw.dir, 'big');
  await workTree(big, gw.gitEnv, { 'random.bin': crypto.randomBytes(64 * 1024) });
  const r = await runGit(['push', gw.url('x', ann), 'main'], { cwd: big, env: gw.gitEnv });
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /pack exceeds maximum allowed size/);
  assert.equal(await runGitOk(['for-each-ref'], { cwd: repo, env: gw.gitEnv }), '');
  // No object, no incoming-* quarantine, no tmp_pack left in the repo.
  assert.deepEqual(listObjects(repo), objectsBefore);
  assert.deepEqual(
    fs.readdirSync(path.join(repo, 'objects')).filter((n) => n.startsWith('incoming-') || n.startsWith('tmp_')),
    [],
  );
  await runGitOk(['fsck', '--strict'], { cwd: repo, env: gw.gitEnv });

  const small = path.join(gw.dir, 'small');
  await workTree(small, gw.gitEnv, { 'a.txt': 'small\n' });
  const ok = await runGit(['push', gw.url('x', ann), 'main'], { cwd: small, env: gw.gitEnv });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(await runGitOk(['for-each-ref'], { cwd: repo, env: gw.gitEnv }), /refs\/heads\/main/);
});
