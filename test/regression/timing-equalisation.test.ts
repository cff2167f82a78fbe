/**
 * Regression: an unknown user costs what a wrong password costs. Checked structurally, not by the
 * clock: spies on the verifiers (bcryptjs, and htpasswd-auth for apr1, {SHA} and crypt) show that
 * an unknown user runs exactly one check, of the hash kind and cost the file's users have — in a
 * file of mixed kinds or costs, of one of the file's classes, as often as the users have it — and
 * that both cases end in the same `rejected` outcome, the same 401 and the same log reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mock, test, type TestContext } from 'node:test';
import bcrypt from 'bcryptjs';
import htpasswdAuth = require('htpasswd-auth');
import { loadConfigText } from '../../app/config/load.js';
import { createBruteForceLimiter } from '../../app/identity/brute-force.js';
import { createAuthChain } from '../../app/identity/chain.js';
import { hashKindOf } from '../../app/identity/htpasswd-file.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { createHtpasswdPlugin } from '../../plugins/auth/htpasswd.js';
import type { AuthInput, AuthPlugin } from '../../app/types.js';
import { tempDir } from '../helpers/tmp.js';
import { basic, send, startGuarded } from './harness.js';

/** A cost other than the plugin's default (10) and the test helper's (4), so a match means "the users' cost". */
const USER_COST = 6;

function input(user: string, password: string): AuthInput {
  return {
    basic: { user, password },
    headers: { authorization: basic(user, password) },
    peer: { kind: 'ip', address: '127.0.0.1' },
    clientAddress: '127.0.0.1',
  };
}

/** One password check as the spies saw it: which verifier ran, on which stored hash, for which password. */
interface Check {
  readonly verifier: 'bcrypt' | 'htpasswd-auth';
  /** `bcrypt:COST`, `apr1`, `sha1` or `crypt`: what fixes the check's cost. */
  readonly work: string;
  readonly hash: string;
  readonly password: string;
}

/**
 * Records every password check of both verifiers, in order, until the test ends. `stubBcrypt`
 * answers bcrypt comparisons `false` without running them (for tests that make hundreds of them,
 * where only the cost chosen matters).
 */
function spyOnChecks(t: TestContext, opts: { stubBcrypt?: boolean } = {}): Check[] {
  const seen: Check[] = [];
  const realCompare = bcrypt.compare.bind(bcrypt) as (password: string, hash: string) => Promise<boolean>;
  const realAuthenticate = htpasswdAuth.authenticate;
  const compare = mock.method(bcrypt, 'compare', ((password: string, hash: string) => {
    seen.push({ verifier: 'bcrypt', work: `bcrypt:${bcrypt.getRounds(hash)}`, hash, password });
    return opts.stubBcrypt ? Promise.resolve(false) : realCompare(password, hash);
  }) as typeof bcrypt.compare);
  const other = mock.method(htpasswdAuth, 'authenticate', (user: string, password: string, line: string) => {
    const hash = line.slice(user.length + 1);
    seen.push({ verifier: 'htpasswd-auth', work: hashKindOf(hash) ?? `unknown kind: ${hash}`, hash, password });
    return realAuthenticate(user, password, line);
  });
  t.after(() => {
    compare.mock.restore();
    other.mock.restore();
  });
  return seen;
}

/** The checks `run` made, from the record of spyOnChecks. */
async function checksOf(seen: Check[], run: () => Promise<unknown>): Promise<Check[]> {
  const from = seen.length;
  await run();
  return seen.slice(from);
}

/** Lines made by Apache's htpasswd for the password "pw" (-m, -s, -d); shared by several users. */
const APACHE_LINES = {
  apr1: '$apr1$dxlPvgkr$Cvk4riyBM2nDHiwXahzvl0',
  sha1: '{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=',
  crypt: 'h0YDK.dgJlRGY',
} as const;

async function pluginFor(t: TestContext, dir: string): Promise<AuthPlugin> {
  const plugin = await createHtpasswdPlugin(
    { file: 'users.htpasswd' },
    { logger: createMemoryLogger(), configDir: dir },
  );
  t.after(() => plugin.close?.());
  return plugin;
}

const bcryptLine = (user: string, cost: number): string =>
  `${user}:${bcrypt.hashSync(`${user}-pw`, cost).replace(/^\$2b\$/, '$2y$')}\n`;

function writeUsers(dir: string): string {
  const file = path.join(dir, 'users.htpasswd');
  const lines = ['ann', 'ben', 'cat'].map(
    (u) => `${u}:${bcrypt.hashSync(`${u}-pw`, USER_COST).replace(/^\$2b\$/, '$2y$')}\n`,
  );
  fs.writeFileSync(file, lines.join(''));
  return file;
}

test("the htpasswd plugin runs one bcrypt of the users' cost for an unknown user, as for a wrong password", async (t) => {
  const dir = tempDir(t);
  writeUsers(dir);
  const plugin = await createHtpasswdPlugin(
    { file: 'users.htpasswd' },
    { logger: createMemoryLogger(), configDir: dir },
  );
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
  assert.notEqual(dummyHash.slice(7), wrongHash.slice(7), "the dummy is not a real user's hash");
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
  const text =
    'repo_root: ./repos\nauthentication: [{plugin: htpasswd, file: users.htpasswd}]\nrepos: {x.git: {.read: [ann]}}\n';
  const config = loadConfigText(text, path.join(dir, 'gitward.yaml'));
  const chain = await createAuthChain(config, { limiter: createBruteForceLimiter(), logger: createMemoryLogger() });
  t.after(() => chain.close());
  const wrong = await chain.identify(input('ann', 'not-it'));
  const unknown = await chain.identify(input('nobody', 'not-it'));
  assert.equal(wrong.kind, 'rejected');
  assert.deepEqual(unknown, wrong);

  const gw = await startGuarded(t, {
    users: { ann: 'ann-pw' },
    config: { repos: { 'x.git': { '.read': ['ann'] } } },
    repos: ['x'],
  });
  const a = await send(gw, {
    path: '/x.git/info/refs?service=git-upload-pack',
    headers: { Authorization: basic('ann', 'not-it') },
  });
  const b = await send(gw, {
    path: '/x.git/info/refs?service=git-upload-pack',
    headers: { Authorization: basic('nobody', 'not-it') },
  });
  assert.equal(a.status, 401);
  assert.equal(b.status, 401);
  assert.equal(a.body.toString(), b.body.toString());
  assert.equal(a.headers['www-authenticate'], b.headers['www-authenticate']);
  const reasons = gw.logs.lines.filter((l) => l.event === 'auth.failed').map((l) => l.reason);
  assert.equal(reasons.length, 2);
  assert.equal(reasons[0], reasons[1]);
  assert.deepEqual(gw.runs(), []);
});

for (const kind of ['apr1', 'sha1', 'crypt'] as const) {
  test(`in a file of ${kind} users an unknown user runs one ${kind} check, as a wrong password does, and no bcrypt`, async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(
      path.join(dir, 'users.htpasswd'),
      ['ann', 'ben', 'cat'].map((u) => `${u}:${APACHE_LINES[kind]}\n`).join(''),
    );
    const plugin = await pluginFor(t, dir);
    const seen = spyOnChecks(t);

    let wrong: unknown;
    let unknown: unknown;
    const wrongChecks = await checksOf(seen, async () => (wrong = await plugin.authenticate(input('ann', 'not-it'))));
    const unknownChecks = await checksOf(
      seen,
      async () => (unknown = await plugin.authenticate(input('nobody', 'not-it'))),
    );
    assert.deepEqual(
      wrongChecks.map((c) => [c.verifier, c.work]),
      [['htpasswd-auth', kind]],
      "a wrong password: one check of the user's kind",
    );
    assert.deepEqual(
      unknownChecks.map((c) => [c.verifier, c.work]),
      [['htpasswd-auth', kind]],
      'an unknown user: the same one check',
    );
    assert.equal(unknownChecks[0]?.password, 'not-it', 'the dummy check hashes the given password');
    assert.notEqual(unknownChecks[0]?.hash, APACHE_LINES[kind], "the dummy is not a real user's hash");
    assert.deepEqual(unknown, wrong);
    assert.equal((wrong as { kind: string }).kind, 'rejected');
    // The right password still works, and a further unknown user costs one check again.
    assert.equal((await plugin.authenticate(input('ben', 'pw'))).kind, 'authenticated');
    const again = await checksOf(seen, () => plugin.authenticate(input('nobody2', 'x')));
    assert.deepEqual(
      again.map((c) => c.work),
      [kind],
    );
  });
}

test("the dummy follows the file: a reload that changes the users' kind and cost changes the check", async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'users.htpasswd');
  fs.writeFileSync(file, `ann:${APACHE_LINES.apr1}\n`);
  const plugin = await pluginFor(t, dir);
  const seen = spyOnChecks(t);
  assert.deepEqual(
    (await checksOf(seen, () => plugin.authenticate(input('nobody', 'x')))).map((c) => c.work),
    ['apr1'],
  );
  fs.writeFileSync(file, bcryptLine('ann', USER_COST) + bcryptLine('ben', USER_COST));
  assert.deepEqual(
    (await checksOf(seen, () => plugin.authenticate(input('nobody', 'x')))).map((c) => c.work),
    [`bcrypt:${USER_COST}`],
  );
  // No users at all: bcrypt at the default cost (what `gitward user add` would write).
  fs.writeFileSync(file, '# nobody yet\n');
  assert.deepEqual(
    (await checksOf(seen, () => plugin.authenticate(input('nobody', 'x')))).map((c) => c.work),
    ['bcrypt:10'],
  );
});

test("in a file of mixed bcrypt costs an unknown name costs one of the users' costs, as often as users have it, the same every time", async (t) => {
  const dir = tempDir(t);
  /** Three users at the cheaper cost, one above it (the one the usual cost would give away). */
  const LOW = 5;
  const HIGH = USER_COST;
  fs.writeFileSync(
    path.join(dir, 'users.htpasswd'),
    bcryptLine('ann', LOW) + bcryptLine('ben', LOW) + bcryptLine('cat', LOW) + bcryptLine('dan', HIGH),
  );
  const plugin = await pluginFor(t, dir);
  const seen = spyOnChecks(t, { stubBcrypt: true });

  for (const [user, cost] of [
    ['ann', LOW],
    ['dan', HIGH],
  ] as const) {
    const wrong = await checksOf(seen, () => plugin.authenticate(input(user, 'not-it')));
    assert.deepEqual(
      wrong.map((c) => c.work),
      [`bcrypt:${cost}`],
      `a wrong password for ${user}`,
    );
  }
  /** Unknown names tried: with a share of 1/4 the high cost is expected 100 times (sd ≈ 9). */
  const NAMES = 400;
  const costOf = new Map<string, string>();
  for (let i = 0; i < NAMES; i++) {
    const checks = await checksOf(seen, () => plugin.authenticate(input(`nobody${i}`, 'not-it')));
    assert.equal(checks.length, 1, 'one check per unknown name');
    assert.equal(checks[0]?.verifier, 'bcrypt');
    costOf.set(`nobody${i}`, checks[0]?.work as string);
  }
  const high = [...costOf.values()].filter((w) => w === `bcrypt:${HIGH}`).length;
  const low = [...costOf.values()].filter((w) => w === `bcrypt:${LOW}`).length;
  assert.equal(high + low, NAMES, "every unknown name costs one of the users' costs");
  assert.ok(high >= 50 && high <= 150, `the high cost for ${high} of ${NAMES} unknown names, expected about a quarter`);
  // The same name costs the same on every try: nothing to average out over repeated tries.
  for (let i = 0; i < 40; i++) {
    const checks = await checksOf(seen, () => plugin.authenticate(input(`nobody${i}`, 'other')));
    assert.deepEqual(
      checks.map((c) => c.work),
      [costOf.get(`nobody${i}`)],
      `nobody${i} tried again`,
    );
  }
  // …and after a restart on the same file (a new plugin): the choice does not depend on the process.
  const restarted = await pluginFor(t, dir);
  for (let i = 0; i < 40; i++) {
    const checks = await checksOf(seen, () => restarted.authenticate(input(`nobody${i}`, 'x')));
    assert.deepEqual(
      checks.map((c) => c.work),
      [costOf.get(`nobody${i}`)],
      `nobody${i} after a restart`,
    );
  }
});
