import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { asUser, CONFIG, createPushFixture, eventually, gitwardLines, USERS_YAML } from './push-fixture.js';

/** A third-party hook plugin that records its GITWARD_LOG_DIR, logs a line, then does `options.then`. */
const MISCHIEF_PLUGIN = `const fs = require('node:fs');
const path = require('node:path');
exports.createHookPlugin = (options, ctx) => ({
  name: ctx.name,
  check() {
    const dir = process.env.GITWARD_LOG_DIR;
    fs.writeFileSync(path.join(__dirname, 'log-dir-seen'), dir);
    ctx.logger.log('info', 'mischief.before', { then: options.then });
    if (options.then === 'leave-junk-and-exit') {
      fs.mkdirSync(path.join(dir, 'junk', 'deeper'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'junk', 'deeper', 'core'), 'x');
      fs.writeFileSync(path.join(dir, 'not-json.txt'), 'plain text\\n');
      process.exit(3);
    }
    if (options.then === 'sigkill') process.kill(process.pid, 'SIGKILL');
    if (options.then === 'remove-the-folder') fs.rmSync(dir, { recursive: true, force: true });
    return { kind: 'accept' };
  },
});
`;

function mischiefConfig(then: string): string {
  return `${USERS_YAML}repos:
  .write: [$authenticated]
  .hooks:
    mischief: {then: ${then}}
hooks: {plugins: {mischief: ./mischief.js}}
`;
}

describe('the hook log folder (GITWARD_LOG_DIR) over HTTP', () => {
  for (const then of ['sigkill', 'leave-junk-and-exit']) {
    it(`is removed after a hook that crashes (${then}), and what the hook logged first still comes home`, async (t) => {
      const f = await createPushFixture(t, mischiefConfig(then), {
        transport: 'http',
        files: { 'mischief.js': MISCHIEF_PLUGIN },
      });
      const c1 = await f.commit('one');
      const r = await f.git(['push', 'origin', `${c1}:refs/heads/topic`], asUser(f, 'ann'));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\[remote rejected\] .*\(pre-receive hook declined\)/);
      assert.equal((await f.refs()).size, 0);
      const dir = fs.readFileSync(path.join(f.dir, 'log-dir-seen'), 'utf8');
      assert.equal(path.dirname(dir), os.tmpdir(), 'a private folder under the temp dir');
      assert.match(path.basename(dir), /^gitward-hooks-/);
      await eventually(
        () => !fs.existsSync(dir),
        () => `${dir} still exists: ${JSON.stringify(fs.readdirSync(dir, { recursive: true }))}`,
      );
      const lines = await f.hookLog((ls) => ls.some((l) => l.event === 'mischief.before'));
      assert.equal(lines.find((l) => l.event === 'mischief.before')?.user, 'ann');
    });
  }

  it('a folder that vanishes mid-push does not break the push; gitward notes it and goes on', async (t) => {
    const f = await createPushFixture(t, mischiefConfig('remove-the-folder'), {
      transport: 'http',
      files: { 'mischief.js': MISCHIEF_PLUGIN },
    });
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/topic`], asUser(f, 'ann'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await f.refs()).get('refs/heads/topic'), c1);
    const gw = f.gitward;
    assert.ok(gw);
    await eventually(
      () => gw.logs.lines.some((l) => l.event === 'hook.log_unreadable'),
      () => 'a hook.log_unreadable line',
    );
    const after = await f.git(['push', 'origin', `${c1}:refs/heads/topic2`], asUser(f, 'ann'));
    assert.equal(after.code, 0, `the next push is served as usual: ${after.stderr}`);
  });
});

describe('a GITWARD_LOG_DIR the dispatcher cannot write to never breaks the push', () => {
  const bad: Array<[string, (dir: string) => string]> = [
    ['a folder that does not exist', (dir) => path.join(dir, 'no-such-folder')],
    ['a regular file', (dir) => (fs.writeFileSync(path.join(dir, 'a-file'), ''), path.join(dir, 'a-file'))],
    [
      'a path below a regular file',
      (dir) => (fs.writeFileSync(path.join(dir, 'a-file'), ''), path.join(dir, 'a-file', 'sub')),
    ],
  ];
  for (const [name, make] of bad) {
    it(`${name}: an allowed push is applied, a refused one refused with its own line, no log line reaches the client`, async (t) => {
      const f = await createPushFixture(t, CONFIG);
      const logDir = make(f.dir);
      const c1 = await f.commit('one');
      const ok = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], asUser(f, 'ann', { GITWARD_LOG_DIR: logDir }));
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((await f.refs()).get('refs/heads/dev'), c1);
      const no = await f.git(
        ['push', 'origin', `${c1}:refs/heads/main`],
        asUser(f, 'ann', { GITWARD_LOG_DIR: logDir }),
      );
      assert.notEqual(no.code, 0);
      assert.deepEqual(
        gitwardLines(no.stderr).map((l) => /rejected by (\S+) \(rule (\S+),/.exec(l)?.slice(1).join(' ') ?? l),
        ['branch-protect branches."main".create'],
      );
      for (const r of [ok, no]) assert.ok(!r.stderr.includes('{'), `no JSON log line reaches the client: ${r.stderr}`);
    });
  }
});
