/**
 * Regression: an unknown user costs what a wrong password costs. Checked structurally, not by the
 * clock: a spy on bcryptjs shows that an unknown user runs exactly one bcrypt comparison, against
 * a dummy hash of the same cost as the file's users, and that both cases end in the same
 * `rejected` outcome, the same 401 and the same log reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mock, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { loadConfigText } from '../../app/config/load.js';
import { createBruteForceLimiter } from '../../app/identity/brute-force.js';
import { createAuthChain } from '../../app/identity/chain.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { createHtpasswdPlugin } from '../../plugins/auth/htpasswd.js';
import type { AuthInput } from '../../app/types.js';
import { tempDir } from '../helpers/tmp.js';
import { basic, send, startGuarded } from './harness.js';

/** A cost other than the plugin's default (10) and the test helper's (4), so a match means "the users' cost". */
const USER_COST = 6;

function input(user: string, password: string): AuthInput {
  return { basic: { user, password }, headers: { authorization: basic(user, password) }, peer: { kind: 'ip', address: '127.0.0.1' }, clientAddress: '127.0.0.1' };
}

function writeUsers(dir: string): string {
  const file = path.join(dir, 'users.htpasswd');
  const lines = ['ann', 'ben', 'cat'].map((u) => `${u}:${bcrypt.hashSync(`${u}-pw`, USER_COST).replace(/^\$2b\$/, '$2y$')}\n`);
  fs.writeFileSync(file, lines.join(''));
  return file;
}

test('the htpasswd plugin runs one bcrypt of the users\' cost for an unknown user, as for a wrong password', async (t) => {
  const dir = tempDir(t);
  writeUsers(dir);
  const plugin = await createHtpasswdPlugin({ file: 'users.htpasswd' }, { logger: createMemoryLogger(), configDir: dir });
  const compare = mock.method(bcrypt, 'compare');
  t.after(() => compare.mock.restore());

  const wrong = await plugin.authenticate(input('ann', 'not-it'));
  assert.equal(compare.mock.callCount(), 1);
  const wrongHash = compare.mock.calls[0]?.arguments[1] as string;
  assert.equal(bcrypt.getRounds(wrongHash), USER_COST);

  const unknown = await plugin.authenticate(input('nobody', 'not-it'));
  assert.equal(compare.mock.callCount(), 2, 'an unknown user must cost one bcrypt comparison');
  const dummyHash = compare.mock.calls[1]?.arguments[1] as string;
  assert.equal(compare.mock.calls[1]?.arguments[0], 'not-it', 'the dummy comparison hashes the given password');
  assert.equal(bcrypt.getRounds(dummyHash), USER_COST, 'the dummy hash has the cost the users have');
  assert.notEqual(dummyHash.slice(7), wrongHash.slice(7), 'the dummy is not a real user\'s hash');
  assert.equal(await compare.mock.calls[1]?.result, false);

  assert.deepEqual(unknown, wrong);
  assert.equal(wrong.kind, 'rejected');

  // Each further unknown user costs one comparison again (no shortcut after the first).
  await plugin.authenticate(input('nobody2', 'x'));
  await plugin.authenticate(input('ann', 'y'));
  assert.equal(compare.mock.callCount(), 4);
  plugin.close?.();
});

test('through the chain and the server: same rejected outcome, same 401, same logged reason', async (t) => {
  const dir = tempDir(t);
  writeUsers(dir);
  const text = 'repo_root: ./repos\nauthentication: [{plugin: htpasswd, file: users.htpasswd}]\nrepos: {x.git: {.read: [ann]}}\n';
  const config = loadConfigText(text, path.join(dir, 'gitward.yaml'));
  const chain = await createAuthChain(config, { limiter: createBruteForceLimiter(), logger: createMemoryLogger() });
  t.after(() => chain.close());
  const wrong = await chain.identify(input('ann', 'not-it'));
  const unknown = await chain.identify(input('nobody', 'not-it'));
  assert.equal(wrong.kind, 'rejected');
  assert.deepEqual(unknown, wrong);

  const gw = await startGuarded(t, { users: { ann: 'ann-pw' }, config: { repos: { 'x.git': { '.read': ['ann'] } } }, repos: ['x'] });
  const a = await send(gw, { path: '/x.git/info/refs?service=git-upload-pack', headers: { Authorization: basic('ann', 'not-it') } });
  const b = await send(gw, { path: '/x.git/info/refs?service=git-upload-pack', headers: { Authorization: basic('nobody', 'not-it') } });
  assert.equal(a.status, 401);
  assert.equal(b.status, 401);
  assert.equal(a.body.toString(), b.body.toString());
  assert.equal(a.headers['www-authenticate'], b.headers['www-authenticate']);
  const reasons = gw.logs.lines.filter((l) => l.event === 'auth.failed').map((l) => l.reason);
  assert.equal(reasons.length, 2);
  assert.equal(reasons[0], reasons[1]);
  assert.deepEqual(gw.runs(), []);
});
