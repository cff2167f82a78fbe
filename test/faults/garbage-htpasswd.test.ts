/**
 * The htpasswd file replaced with garbage while clients clone: users keep signing in with the
 * last good file. An empty file is not garbage: it is what `htpasswd -D` leaves after deleting the
 * last user, so it refuses everyone. A good file (with a changed password) takes effect.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { prepareGitwardFiles } from '../helpers/server.js';
import { noise, runGit, serveChild } from './fault-kit.js';
import { cloneTraffic, seedRepo } from './traffic.js';

/**
 * Clones each traffic phase must see succeed: enough to span several re-reads of the file. A phase
 * starts once the write's reload has failed, and the state it checks (the last good file in force)
 * holds until the next write; the workers clone all along, also while the test waits for each
 * reload. (It was 6: twice the clones, the same state; each clone costs about ten processes.)
 */
const CLONES_PER_PHASE = 3;

test('an htpasswd file replaced with garbage mid-traffic keeps the last good users; an empty file refuses everyone; a good file takes effect', async (t) => {
  const files = await prepareGitwardFiles(t, {
    users: { ann: 'ann-pw' },
    repos: ['h'],
    config: {
      listen: '127.0.0.1:0',
      log: { level: 'info', format: 'json', audit: null },
      users: { ann: {} },
      repos: { '.read': ['ann'], '.write': ['ann'] },
    },
  });
  const gw = await serveChild(t, files);
  const url = (pw: string): string => `http://ann:${pw}@127.0.0.1:${gw.port}/h.git`;
  await seedRepo(files, url('ann-pw'));
  const traffic = cloneTraffic(files, url('ann-pw'));
  t.after(() => traffic.stop());
  await traffic.expectSuccesses(CLONES_PER_PHASE, 'before');

  const htpasswd = path.join(files.dir, 'users.htpasswd');
  for (const [label, garbage] of [
    ['random bytes', noise('htpasswd-garbage', 2048)],
    ['text without a colon', Buffer.from('this is not an htpasswd file\nneither is this\n')],
    ['a truncated line', Buffer.from(fs.readFileSync(htpasswd, 'utf8').slice(0, 12))],
  ] as const) {
    const failuresBefore = gw.logLines.filter((l) => l.event === 'htpasswd.reload_failed').length;
    // Replaced in one step (written beside it, renamed over it): writeFileSync truncates first, and
    // a clone's lookup between the truncation and the write would load an empty file, which is a
    // valid one (no users), as the last good version: the next phase's clones are then refused.
    fs.writeFileSync(`${htpasswd}.new`, garbage);
    fs.renameSync(`${htpasswd}.new`, htpasswd);
    // Refused and said so, once per garbage version.
    await gw.waitForLog(
      'htpasswd.reload_failed',
      (l) =>
        l.file === htpasswd && gw.logLines.filter((x) => x.event === 'htpasswd.reload_failed').length > failuresBefore,
    );
    await traffic.expectSuccesses(CLONES_PER_PHASE, `htpasswd = ${label}`);
  }
  const report = await traffic.stop();
  assert.deepEqual(report.failures, [], 'no clone failed while the file was garbage');

  // An empty file has no users: ann is refused (401), not kept from the last good file.
  fs.writeFileSync(htpasswd, Buffer.alloc(0));
  const refused = await runGit(
    ['clone', '--quiet', url('ann-pw'), path.join(files.dir, 'empty')],
    files.dir,
    files.gitEnv,
  );
  assert.notEqual(refused.code, 0, 'an empty htpasswd file lets nobody in');
  assert.match(refused.stderr, /Authentication failed|401/);
  assert.ok(
    gw.logLines.some((l) => l.event === 'htpasswd.loaded' && l.users === 0),
    'the empty file was loaded as no users',
  );

  // A good file with a new password for ann: the new one works, the old one no longer does.
  files.writeUsers({ ann: 'ann-new-pw' });
  const fresh = await runGit(
    ['clone', '--quiet', url('ann-new-pw'), path.join(files.dir, 'new')],
    files.dir,
    files.gitEnv,
  );
  assert.equal(fresh.code, 0, `the new password works: ${fresh.stderr}`);
  const stale = await runGit(['clone', '--quiet', url('ann-pw'), path.join(files.dir, 'old')], files.dir, files.gitEnv);
  assert.notEqual(stale.code, 0, 'the old password is refused');
});
