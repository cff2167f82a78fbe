/**
 * Regression: no password, hash, Authorization value or proxy secret in any operator log line or
 * audit line, whatever the request did: right and wrong passwords, malformed headers, a real git
 * clone and push with credentials, an htpasswd file with plaintext, duplicate and broken lines, and
 * remote-user requests with the right and a wrong X-Gitward-Proxy-Secret.
 *
 * It drives the production logger: `gitward serve` as a child process, its operator log built from
 * the config's `log.*` settings (debug, so every line is written) on stderr, its audit log in a file,
 * and reads the bytes they wrote.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { prepareGitwardFiles, spawnServe } from '../helpers/server.js';
import { basic, runGit, send, workTree } from './harness.js';

const ANN_PW = 'Ann-S3cret-Passw0rd';
const WRONG_PW = 'Wr0ng-Guess-Passw0rd';
const PLAINTEXT_PW = 'Plaintext-Never-Logged';
const PROXY_SECRET = 'b5f1c0a4e0d24f5c9a7e3d1b8c6f2a90d4e7b1c3a5f8e2d6';
const WRONG_SECRET = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';

test('no password, hash, Authorization value or proxy secret reaches a line of the production log or audit log', async (t) => {
  const annHash = bcrypt.hashSync(ANN_PW, 4);
  const dupHash = bcrypt.hashSync('dup-Passw0rd-xyz', 4);
  const htpasswd = [
    `ann:${annHash}`,
    `carl:${PLAINTEXT_PW}`,
    `ann:${dupHash}`,
    'broken-line-without-colon',
    `ev:il:${dupHash}`,
    '',
  ].join('\n');
  const files = await prepareGitwardFiles(t, { files: { 'proxy.secret': `${PROXY_SECRET}\n` }, repos: ['x'] });
  const auditFile = path.join(files.dir, 'audit.jsonl');
  fs.writeFileSync(path.join(files.dir, 'users.htpasswd'), htpasswd);
  fs.chmodSync(path.join(files.dir, 'proxy.secret'), 0o600);
  files.writeConfig({
    authentication: [
      { plugin: 'remote-user', secret_file: 'proxy.secret' },
      { plugin: 'htpasswd', file: 'users.htpasswd' },
    ],
    users: { admin: {}, ann: {} },
    repos: { 'x.git': { '.read': ['ann', 'admin'], '.write': ['ann'] } },
    log: { level: 'debug', format: 'json', audit: auditFile },
  });
  const gw = await spawnServe(t, files);
  const port = Number(/:(\d+)$/.exec(String((await gw.waitForLog('server.listening')).address))?.[1]);
  const origin = `http://127.0.0.1:${port}`;
  const urlAs = (user: string, password: string): string => {
    const u = new URL(`${origin}/x.git`);
    u.username = user;
    u.password = password;
    return u.toString();
  };

  const adv = '/x.git/info/refs?service=git-upload-pack';
  const b64 = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64');
  const tokens = [
    basic('ann', ANN_PW),
    basic('ann', WRONG_PW),
    basic('nobody', WRONG_PW),
    basic('carl', PLAINTEXT_PW),
    // Malformed credentials (malformed-basic.test.ts): refused, and their bytes never logged either.
    `Basic ${b64(`ann:${WRONG_PW}\n`)}`,
    `Basic ${b64(`ann${WRONG_PW}`)}`,
    `Basic ${b64(`ann:${'x'.repeat(7600)}`)}`,
    `Basic ${b64(Buffer.concat([Buffer.from(`ann:${WRONG_PW}`), Buffer.from([0xc3, 0x28])]))}`,
    `Basic ${b64(`ann:${WRONG_PW}>?`).replace(/\+/g, '-').replace(/\//g, '_')}_-`,
    `Basic ${b64(`ann:${WRONG_PW}`).slice(0, -2)}`,
  ];
  for (const a of tokens) await send({ port }, { path: adv, headers: { Authorization: a } });
  await send({ port }, { path: adv, headers: { Authorization: `Bearer ${PROXY_SECRET}` } });
  const right = await send(
    { port },
    { path: adv, headers: { 'X-Remote-User': 'admin', 'X-Gitward-Proxy-Secret': PROXY_SECRET } },
  );
  assert.equal(right.status, 200, 'the remote-user plugin believes the right secret');
  const wrong = await send(
    { port },
    { path: adv, headers: { 'X-Remote-User': 'admin', 'X-Gitward-Proxy-Secret': WRONG_SECRET } },
  );
  assert.equal(wrong.status, 401, 'and nobody without it');

  const work = path.join(files.dir, 'work');
  await workTree(work, files.gitEnv);
  const push = await runGit(['push', urlAs('ann', ANN_PW), 'main'], { cwd: work, env: files.gitEnv });
  assert.equal(push.code, 0, push.stderr);
  const clone = await runGit(['clone', '--quiet', urlAs('ann', ANN_PW), path.join(files.dir, 'clone')], {
    cwd: files.dir,
    env: files.gitEnv,
  });
  assert.equal(clone.code, 0, clone.stderr);
  const bad = await runGit(['ls-remote', urlAs('ann', WRONG_PW)], { cwd: files.dir, env: files.gitEnv });
  assert.notEqual(bad.code, 0);

  // SIGTERM: gitward logs server.stopped and closes the audit file, so both logs are complete.
  gw.child.kill('SIGTERM');
  assert.equal(await gw.exited, 0);
  const log = gw.rawLogLines.join('\n');
  const audit = fs.readFileSync(auditFile, 'utf8');
  assert.ok(
    gw.logLines.some((l) => l.event === 'server.stopped'),
    'the log was not read to its end',
  );
  assert.ok(
    gw.rawLogLines.length > 10 && audit.split('\n').length > 8,
    'nothing was logged: the test would prove nothing',
  );
  assert.ok(
    gw.logLines.some((l) => l.event === 'htpasswd.line_ignored'),
    'the bad htpasswd lines were not even noticed',
  );
  assert.ok(
    gw.logLines.some((l) => l.event === 'auth.failed' && l.user === 'ann'),
    'the failed logins were not logged',
  );
  const secrets = [
    ANN_PW,
    WRONG_PW,
    PLAINTEXT_PW,
    PROXY_SECRET,
    WRONG_SECRET,
    annHash,
    dupHash,
    annHash.slice(7),
    dupHash.slice(7),
    ...tokens.map((a) => a.slice(6)),
    Buffer.from(`ann:${ANN_PW}`).toString('base64'),
  ];
  for (const secret of secrets) {
    assert.ok(!log.includes(secret), `an operator log line holds ${secret.slice(0, 12)}…`);
    assert.ok(!audit.includes(secret), `an audit line holds ${secret.slice(0, 12)}…`);
  }
});
