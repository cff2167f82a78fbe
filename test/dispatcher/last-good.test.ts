/**
 * A broken edit never takes pushes down (issue 12): a push made on the server, whose hook reads the
 * config file itself, is judged by the last good config recorded (hooks/last-good.ts) while the
 * file does not load; with nothing recorded it is refused (fail closed). Through gitward, see
 * through-gitward.test.ts (the hook runs gitward's plan).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createReloadingRuntime } from '../../app/reload.js';
import { readLastGood, sha256 } from '../../protocol/last-good.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { CONFIG, createPushFixture, gitwardLines } from '../hooks/push-fixture.js';

/** A push made on the server (no gitward environment), with its own temp folder for the records. */
function localEnv(configFile: string, tmp: string): Record<string, string> {
  fs.mkdirSync(tmp, { recursive: true });
  return { GITWARD_CONFIG: configFile, TMPDIR: tmp };
}

function lastGoodDirIn(tmp: string): string {
  return path.join(tmp, `gitward-last-good-${process.getuid?.() ?? 0}`);
}

describe('a broken config edit and pushes made on the server', () => {
  it('the last good config a previous hook load recorded still judges the push, and the log says so', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const env = localEnv(f.configFile, path.join(f.dir, 'tmp'));
    const c1 = await f.commit('one');
    const first = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], env);
    assert.equal(first.code, 0, first.stderr);
    const good = fs.readFileSync(f.configFile, 'utf8');
    assert.equal(readLastGood(lastGoodDirIn(path.join(f.dir, 'tmp')), f.configFile)?.sha256, sha256(good));

    fs.appendFileSync(f.configFile, 'not_a_key: 1\n');
    // The last good rules: $local is not in main's push list (branch-protect) but may push dev.
    const main = await f.git(['push', 'origin', `${c1}:refs/heads/main`], env);
    assert.notEqual(main.code, 0);
    assert.match(
      gitwardLines(main.stderr)[0] ?? '',
      /^gitward: refs\/heads\/main rejected by branch-protect /,
      main.stderr,
    );
    const c2 = await f.commit('two');
    const dev = await f.git(['push', 'origin', `${c2}:refs/heads/dev`], env);
    assert.equal(dev.code, 0, dev.stderr);
    const line = dev.stderr
      .split('\n')
      .map((l) => l.replace(/^remote:\s?/, ''))
      .find((l) => l.includes('"hook.config-last-good"'));
    assert.ok(line, dev.stderr);
    const fields = JSON.parse(line) as Record<string, unknown>;
    assert.equal(fields.runningSha256, sha256(good));
    assert.equal(fields.fileSha256, sha256(fs.readFileSync(f.configFile, 'utf8')));
  });

  it('the last good config gitward recorded serves the first push after the edit', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const tmp = path.join(f.dir, 'tmp');
    const env = localEnv(f.configFile, tmp);
    const runtime = await createReloadingRuntime(f.configFile, {
      logger: createMemoryLogger(),
      now: Date.now,
      lastGoodDir: lastGoodDirIn(tmp),
    });
    runtime.close();
    fs.appendFileSync(f.configFile, 'not_a_key: 1\n');
    const c1 = await f.commit('one');
    const dev = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], env);
    assert.equal(dev.code, 0, dev.stderr);
    const main = await f.git(['push', 'origin', `${c1}:refs/heads/main`], env);
    assert.match(
      gitwardLines(main.stderr)[0] ?? '',
      /^gitward: refs\/heads\/main rejected by branch-protect /,
      main.stderr,
    );
  });

  it('with no good config recorded, a broken config refuses the push (fail closed)', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const env = localEnv(f.configFile, path.join(f.dir, 'tmp'));
    fs.appendFileSync(f.configFile, 'not_a_key: 1\n');
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], env);
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr), [
      'gitward: push refused: the gitward config has errors (an admin can run `gitward check`)',
    ]);
  });
});
