/**
 * Regression: no password, hash or Authorization value in any operator log line or audit line,
 * whatever the request did: right and wrong passwords, malformed headers, a real git clone and
 * push with credentials, and an htpasswd file with plaintext, duplicate and broken lines.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { basic, runGit, send, startGuarded, workTree } from './harness.js';

const ANN_PW = 'Ann-S3cret-Passw0rd';
const WRONG_PW = 'Wr0ng-Guess-Passw0rd';
const PLAINTEXT_PW = 'Plaintext-Never-Logged';

test('no password, hash or Authorization value reaches a log or audit line', async (t) => {
  const annHash = bcrypt.hashSync(ANN_PW, 4);
  const dupHash = bcrypt.hashSync('dup-Passw0rd-xyz', 4);
  const htpasswd = [`ann:${annHash}`, `carl:${PLAINTEXT_PW}`, `ann:${dupHash}`, 'broken-line-without-colon', `ev:il:${dupHash}`, ''].join('\n');
  const gw = await startGuarded(t, {
    files: { 'users.htpasswd': htpasswd },
    config: { repos: { 'x.git': { '.read': ['ann'], '.write': ['ann'] } } },
    repos: ['x'],
  });
  const adv = '/x.git/info/refs?service=git-upload-pack';
  const tokens = [basic('ann', ANN_PW), basic('ann', WRONG_PW), basic('nobody', WRONG_PW), `Basic ${Buffer.from(`ann:${WRONG_PW}\n`).toString('base64')}`];
  for (const a of tokens) await send(gw, { path: adv, headers: { Authorization: a } });
  await send(gw, { path: adv, headers: { Authorization: basic('carl', PLAINTEXT_PW) } });

  const work = path.join(gw.dir, 'work');
  await workTree(work, gw.gitEnv);
  const url = gw.url('x', { user: 'ann', password: ANN_PW });
  const push = await runGit(['push', url, 'main'], { cwd: work, env: gw.gitEnv });
  assert.equal(push.code, 0, push.stderr);
  const clone = await runGit(['clone', '--quiet', url, path.join(gw.dir, 'clone')], { cwd: gw.dir, env: gw.gitEnv });
  assert.equal(clone.code, 0, clone.stderr);
  const bad = await runGit(['ls-remote', gw.url('x', { user: 'ann', password: WRONG_PW })], { cwd: gw.dir, env: gw.gitEnv });
  assert.notEqual(bad.code, 0);

  const text = JSON.stringify(gw.logs.lines) + JSON.stringify(gw.audit.records);
  assert.ok(gw.logs.lines.length > 10 && gw.audit.records.length > 8, 'nothing was logged: the test would prove nothing');
  assert.ok(gw.logs.lines.some((l) => l.event === 'htpasswd.line_ignored'), 'the bad htpasswd lines were not even noticed');
  const secrets = [ANN_PW, WRONG_PW, PLAINTEXT_PW, annHash, dupHash, annHash.slice(7), dupHash.slice(7), ...tokens.map((a) => a.slice(6)), Buffer.from(`ann:${ANN_PW}`).toString('base64')];
  for (const secret of secrets) assert.ok(!text.includes(secret), `a log or audit line holds ${secret.slice(0, 12)}…`);
});
