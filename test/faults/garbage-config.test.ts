/**
 * The config file replaced with garbage while clients clone: gitward keeps serving with the last
 * good config, /healthz says the reload failed, and a good file takes effect again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { baseConfig, prepareGitwardFiles } from '../helpers/server.js';
import { httpGet, noise, serveChild } from './fault-kit.js';
import { cloneTraffic, seedRepo } from './traffic.js';

const PASSWORD = 'ann-pw';
/**
 * Clones each traffic phase must see succeed: enough to span the reload attempts. A phase
 * starts once the write's reload has failed, and the state it checks (the last good file in force)
 * holds until the next write; the workers clone all along, also while the test waits for each
 * reload. (It was 6: twice the clones, the same state; each clone costs about ten processes.)
 */
const CLONES_PER_PHASE = 3;

test('a config file replaced with garbage mid-traffic keeps the last good config; a good file takes effect', async (t) => {
  const config = (extraRepo: string | null): Record<string, unknown> => ({
    listen: '127.0.0.1:0',
    log: { level: 'info', format: 'json', audit: null },
    users: { ann: {} },
    repos: {
      '.read': ['ann'],
      '.write': ['ann'],
      ...(extraRepo === null ? {} : { [`${extraRepo}.git`]: { '.read': ['$all'] } }),
    },
  });
  const files = await prepareGitwardFiles(t, { users: { ann: PASSWORD }, repos: ['g', 'open'], config: config(null) });
  const gw = await serveChild(t, files);
  const port = gw.port;
  await seedRepo(files, `http://ann:${PASSWORD}@127.0.0.1:${port}/g.git`);
  const traffic = cloneTraffic(files, `http://ann:${PASSWORD}@127.0.0.1:${port}/g.git`);
  t.after(() => traffic.stop());

  const health = async (): Promise<{ ok: boolean; configHash: string; lastFailure: { problems: string[] } | null }> =>
    JSON.parse((await httpGet(`http://127.0.0.1:${port}/healthz`)).body) as {
      ok: boolean;
      configHash: string;
      lastFailure: { problems: string[] } | null;
    };
  const before = await health();
  assert.equal(before.ok, true);
  await traffic.expectSuccesses(CLONES_PER_PHASE, 'before');

  // Garbage: random bytes, then a YAML that parses but is not a gitward config.
  for (const [label, garbage] of [
    ['random bytes', noise('config-garbage', 4096)],
    ['wrong YAML', Buffer.from('repo_root: [\n  - {{ nope\nlisten: 99999\n')],
    ['unknown key', Buffer.from(yaml.dump({ ...baseConfig(), ...config(null), surprise: true }))],
    ['empty file', Buffer.alloc(0)],
  ] as const) {
    const failuresBefore = gw.logLines.filter((l) => l.event === 'config.reload_failed').length;
    fs.writeFileSync(files.configFile, garbage);
    await gw.waitForLog(
      'config.reload_failed',
      () => gw.logLines.filter((l) => l.event === 'config.reload_failed').length > failuresBefore,
    );
    await traffic.expectSuccesses(CLONES_PER_PHASE, `config = ${label}`);
    const h = await health();
    assert.equal(h.ok, false, `/healthz reports the failed reload (${label})`);
    assert.ok((h.lastFailure?.problems.length ?? 0) > 0, `/healthz lists the problems (${label})`);
    assert.equal(h.configHash, before.configHash, `the last good config is still in force (${label})`);
    // The anonymous-readable repo of the next good config is not readable yet.
    const anon = await httpGet(`http://127.0.0.1:${port}/open.git/info/refs?service=git-upload-pack`);
    assert.notEqual(anon.status, 200, `nothing of a config not yet loaded is in force (${label})`);
  }

  // A good file again, with one change that shows it is in force: open.git readable by anyone.
  const reloadsBefore = gw.logLines.filter((l) => l.event === 'config.reloaded').length;
  fs.writeFileSync(files.configFile, yaml.dump({ ...baseConfig(), ...config('open') }));
  await gw.waitForLog(
    'config.reloaded',
    () => gw.logLines.filter((l) => l.event === 'config.reloaded').length > reloadsBefore,
  );
  const after = await health();
  assert.equal(after.ok, true, '/healthz is ok again');
  assert.equal(after.lastFailure, null);
  assert.notEqual(after.configHash, before.configHash, 'the new config is in force');
  const anon = await httpGet(`http://127.0.0.1:${port}/open.git/info/refs?service=git-upload-pack`);
  assert.equal(anon.status, 200, 'the new config took effect: open.git is readable anonymously');
  await traffic.expectSuccesses(CLONES_PER_PHASE, 'after the good file');
  const report = await traffic.stop();
  assert.deepEqual(report.failures, [], 'no clone failed at any time');
  assert.ok(fs.existsSync(path.join(files.repoRoot, 'g.git')));
});
