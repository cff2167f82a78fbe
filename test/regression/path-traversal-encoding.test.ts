/**
 * Regression: path traversal and encoding tricks beyond the bridge's parser table, through the real
 * server. Anonymous may read everything but `secret` (ann only). Every trick must end in 400, 401
 * or 404 — never the secret's refs — and git-http-backend must never be started for it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { initBare } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';
import { assertNoBackend, auditLines, send, startGuarded } from './harness.js';
import { ADV, PATH_TRICKS } from './hostile-paths.js';

test('path traversal and encoding tricks are refused before git-http-backend starts', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: { repos: { '.read': ['$all'], 'x.git': {}, 'secret.git': { '.inherit': false, '.read': ['ann'] } } },
    repos: ['x', 'secret'],
  });
  let n = 0;
  for (const [what, p, want] of PATH_TRICKS) {
    await t.test(`${what}: ${p} → ${want}`, async () => {
      const r = await send(gw, { path: p });
      n++;
      assert.equal(r.status, want, r.body.toString());
      assert.doesNotMatch(r.body.toString(), /refs\/heads|service=git-upload-pack\n/);
      await assertNoBackend(gw, n);
    });
  }

  await t.test('a symlink in repo_root pointing outside it is 404, backend not started', async (t2) => {
    const outside = tempDir(t2, 'gitward-outside-');
    await initBare(path.join(outside, 'loot.git'), gw.gitEnv);
    fs.symlinkSync(path.join(outside, 'loot.git'), path.join(gw.repoRoot, 'loot.git'));
    const r = await send(gw, { path: `/loot.git/${ADV}` });
    n++;
    assert.equal(r.status, 404);
    await assertNoBackend(gw, n);
  });

  await t.test('control: the recording backend does see an allowed request', async () => {
    const r = await send(gw, { path: `/x.git/${ADV}` });
    n++;
    assert.equal(r.status, 200);
    const records = await auditLines(gw, n);
    assert.equal(gw.runs().length, 1);
    assert.equal(records[n - 1]?.exitCode, 0);
  });
});

test('with dumb HTTP on, the static-file routes refuse the same tricks', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: {
      dumb_http: true,
      repos: { '.read': ['$all'], 'x.git': {}, 'secret.git': { '.inherit': false, '.read': ['ann'] } },
    },
    repos: ['x', 'secret'],
  });
  const oid = 'ab' + 'c'.repeat(38);
  const cases: Array<[string, number]> = [
    ['/secret.git/HEAD', 401],
    ['/secret.git/info/refs', 401],
    ['/secret.git/objects/info/packs', 401],
    [`/secret.git/objects/ab/${'c'.repeat(38)}`, 401],
    ['/%73ecret.git/HEAD', 401],
    ['/x.git/objects/../../secret.git/HEAD', 400],
    ['/x.git/objects/%2e%2e/%2e%2e/secret.git/HEAD', 400],
    ['/x.git/objects/info/../../config', 400],
    ['/x.git/objects/info/alternates/../../../secret.git/HEAD', 400],
    [`/x.git/objects/${oid.slice(0, 2)}/${oid.slice(2)}.lock`, 400],
    [`/x.git/objects/pack/pack-${'a'.repeat(40)}.keep`, 400],
    [`/x.git/objects/pack/pack-${'A'.repeat(40)}.pack`, 400],
    ['/x.git/refs/heads/main', 400],
    ['/x.git/packed-refs', 400],
    ['/x.git/config', 400],
    ['/secret.GIT/HEAD', 404],
  ];
  let n = 0;
  for (const [p, want] of cases) {
    await t.test(`${p} → ${want}`, async () => {
      const r = await send(gw, { path: p });
      n++;
      assert.equal(r.status, want, r.body.toString());
      await assertNoBackend(gw, n);
    });
  }
  await t.test('control: the dumb HEAD of x is served', async () => {
    const r = await send(gw, { path: '/x.git/HEAD' });
    // 200 from git-http-backend itself (an unborn HEAD has an empty body there).
    assert.equal(r.status, 200);
    assert.equal(gw.runs().length, 1);
    assert.equal(gw.runs()[0]?.PATH_INFO, '/x.git/HEAD');
  });
});
