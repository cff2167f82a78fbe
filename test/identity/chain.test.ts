import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createBruteForceLimiter } from '../../app/identity/brute-force.js';
import { createAuthChain } from '../../app/identity/chain.js';
import { hashPassword } from '../../app/identity/htpasswd-file.js';
import { createMemoryLogger, createNullLogger } from '../../app/log/logger.js';
import { ConfigError } from '../../app/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { authConfig, basic, input, productionLog } from './helpers.js';

/** Cost 4 keeps unit tests fast; the cost does not change what is tested here. */
const COST = 4;

async function htpasswdDir(t: Parameters<typeof tempDir>[0], users: Record<string, string>): Promise<string> {
  const dir = tempDir(t);
  const lines = await Promise.all(Object.entries(users).map(async ([u, p]) => `${u}:${await hashPassword(p, COST)}`));
  fs.writeFileSync(path.join(dir, 'users.htpasswd'), lines.join('\n') + '\n');
  return dir;
}

describe('createAuthChain with the built-in htpasswd plugin', () => {
  it('authenticates a good password, rejects a wrong one, an unknown user and an empty password', async (t) => {
    const dir = await htpasswdDir(t, { ann: 'secret' });
    const chain = await createAuthChain(authConfig(dir, [{ plugin: 'htpasswd', file: 'users.htpasswd' }]), {
      logger: createNullLogger(),
      limiter: createBruteForceLimiter(),
    });
    t.after(() => chain.close());
    assert.deepEqual(await chain.identify(input({ basic: basic('ann', 'secret') })), {
      kind: 'authenticated',
      user: 'ann',
      source: 'htpasswd',
      groups: [],
    });
    assert.equal((await chain.identify(input({ basic: basic('ann', 'wrong') }))).kind, 'rejected');
    assert.equal((await chain.identify(input({ basic: basic('bob', 'secret') }))).kind, 'rejected');
    assert.equal((await chain.identify(input({ basic: basic('ann', '') }))).kind, 'rejected');
    assert.deepEqual(await chain.identify(input()), { kind: 'anonymous' });
  });

  it('logs each failure as one auth.failed line with user and client address, never the password', async (t) => {
    const dir = await htpasswdDir(t, { ann: 'secret' });
    const log = productionLog();
    const chain = await createAuthChain(authConfig(dir, [{ plugin: 'htpasswd', file: 'users.htpasswd' }]), {
      logger: log.logger,
      limiter: createBruteForceLimiter(),
    });
    t.after(() => chain.close());
    await chain.identify(input({ basic: basic('ann', 'hunter2'), client: '203.0.113.7' }));
    const written = await log.written();
    const failed = written
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'auth.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.client, '203.0.113.7');
    assert.equal(failed[0]?.user, 'ann');
    assert.ok(!written.includes('hunter2'));
  });

  it('throttles a client address after max_failures failures in the window, without asking any plugin', async (t) => {
    const dir = await htpasswdDir(t, { ann: 'secret' });
    let clock = 1_000_000;
    const chain = await createAuthChain(
      authConfig(dir, [{ plugin: 'htpasswd', file: 'users.htpasswd' }], {
        bruteForce: { maxFailures: 3, windowSeconds: 60 },
      }),
      {
        logger: createNullLogger(),
        limiter: createBruteForceLimiter(() => clock),
        now: () => clock,
      },
    );
    t.after(() => chain.close());
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await chain.identify(input({ basic: basic('ann', 'bad'), client: '198.51.100.1' }))).kind,
        'rejected',
      );
    const throttled = await chain.identify(input({ basic: basic('ann', 'secret'), client: '198.51.100.1' }));
    assert.deepEqual(throttled, { kind: 'throttled', retryAfterSeconds: 60 });
    // Another address is not affected.
    assert.equal(
      (await chain.identify(input({ basic: basic('ann', 'secret'), client: '198.51.100.2' }))).kind,
      'authenticated',
    );
    clock += 30_000;
    assert.deepEqual(await chain.identify(input({ basic: basic('ann', 'secret'), client: '198.51.100.1' })), {
      kind: 'throttled',
      retryAfterSeconds: 30,
    });
    clock += 30_000;
    assert.equal(
      (await chain.identify(input({ basic: basic('ann', 'secret'), client: '198.51.100.1' }))).kind,
      'authenticated',
    );
  });
});

describe('failed-login counts across chains (a config reload builds a new chain)', () => {
  const settings = { maxFailures: 3, windowSeconds: 60 };

  it('a new chain on the same limiter keeps counting: N-1 failures, a new chain, one more failure → throttled', async (t) => {
    const dir = await htpasswdDir(t, { ann: 'secret' });
    const limiter = createBruteForceLimiter();
    const config = authConfig(dir, [{ plugin: 'htpasswd', file: 'users.htpasswd' }], { bruteForce: settings });
    const before = await createAuthChain(config, { logger: createNullLogger(), limiter });
    t.after(() => before.close());
    for (let i = 0; i < settings.maxFailures - 1; i++)
      assert.equal((await before.identify(input({ basic: basic('ann', `bad-${i}`) }))).kind, 'rejected');
    const after = await createAuthChain(config, { logger: createNullLogger(), limiter });
    t.after(() => after.close());
    assert.equal((await after.identify(input({ basic: basic('ann', 'bad-last') }))).kind, 'rejected');
    assert.equal((await after.identify(input({ basic: basic('ann', 'secret') }))).kind, 'throttled');
  });

  it('the new chain judges the old counts by its own settings', async (t) => {
    const dir = await htpasswdDir(t, { ann: 'secret' });
    const limiter = createBruteForceLimiter();
    const loose = await createAuthChain(
      authConfig(dir, [{ plugin: 'htpasswd', file: 'users.htpasswd' }], {
        bruteForce: { maxFailures: 10, windowSeconds: 60 },
      }),
      { logger: createNullLogger(), limiter },
    );
    t.after(() => loose.close());
    for (let i = 0; i < 3; i++) await loose.identify(input({ basic: basic('ann', `bad-${i}`) }));
    assert.equal((await loose.identify(input({ basic: basic('ann', 'secret') }))).kind, 'authenticated');
    const strict = await createAuthChain(
      authConfig(dir, [{ plugin: 'htpasswd', file: 'users.htpasswd' }], { bruteForce: settings }),
      { logger: createNullLogger(), limiter },
    );
    t.after(() => strict.close());
    assert.equal((await strict.identify(input({ basic: basic('ann', 'secret') }))).kind, 'throttled');
  });
});

describe('createAuthChain: malformed Basic credentials', () => {
  it('are a failed login: one auth.failed line with an empty user, counted, then throttled', async (t) => {
    const dir = tempDir(t);
    const logger = createMemoryLogger();
    const chain = await createAuthChain(
      authConfig(dir, [{ plugin: 'remote-user', trusted_proxies: ['unix'] }], {
        bruteForce: { maxFailures: 2, windowSeconds: 60 },
      }),
      {
        logger,
        limiter: createBruteForceLimiter(),
      },
    );
    assert.deepEqual(chain.rejectMalformedBasic('203.0.113.9'), {
      kind: 'rejected',
      source: 'basic-auth',
      reason: 'malformed Basic credentials',
    });
    assert.deepEqual(chain.rejectMalformedBasic('203.0.113.9').kind, 'rejected');
    assert.equal(chain.rejectMalformedBasic('203.0.113.9').kind, 'throttled');
    assert.equal(chain.rejectMalformedBasic('203.0.113.10').kind, 'rejected', 'another address is not affected');
    const failed = logger.lines.filter((l) => l.event === 'auth.failed');
    assert.deepEqual(
      failed.map((l) => [l.client, l.user, l.source]),
      [
        ['203.0.113.9', '', 'basic-auth'],
        ['203.0.113.9', '', 'basic-auth'],
        ['203.0.113.10', '', 'basic-auth'],
      ],
    );
  });
});

describe('createAuthChain with the built-in remote-user plugin', () => {
  const cfg = (dir: string, trusted: string[]) =>
    authConfig(dir, [{ plugin: 'remote-user', header: 'X-Remote-User', trusted_proxies: trusted }]);

  it('trusts the header from a trusted CIDR and from a trusted unix socket', async (t) => {
    const dir = tempDir(t);
    const chain = await createAuthChain(cfg(dir, ['127.0.0.1/32', 'unix']), {
      logger: createNullLogger(),
      limiter: createBruteForceLimiter(),
    });
    assert.deepEqual(await chain.identify(input({ headers: { 'x-remote-user': 'ann' } })), {
      kind: 'authenticated',
      user: 'ann',
      source: 'remote-user',
      groups: [],
    });
    assert.equal(
      (await chain.identify(input({ headers: { 'x-remote-user': 'ann' }, peer: { kind: 'unix' } }))).kind,
      'authenticated',
    );
  });

  it('ignores the header, with a warning, from 127.0.0.1 when only the unix socket is trusted', async (t) => {
    const dir = tempDir(t);
    const logger = createMemoryLogger();
    const chain = await createAuthChain(cfg(dir, ['unix']), { logger, limiter: createBruteForceLimiter() });
    assert.deepEqual(await chain.identify(input({ headers: { 'x-remote-user': 'ann' } })), { kind: 'anonymous' });
    assert.ok(logger.lines.some((l) => l.event === 'auth.remote_user_untrusted' && l.peer === '127.0.0.1'));
  });

  it('treats an empty header as no user, and refuses a repeated header or a bad name', async (t) => {
    const dir = tempDir(t);
    const chain = await createAuthChain(cfg(dir, ['unix']), {
      logger: createNullLogger(),
      limiter: createBruteForceLimiter(),
    });
    const unix = { kind: 'unix' } as const;
    assert.deepEqual(await chain.identify(input({ headers: { 'x-remote-user': '' }, peer: unix })), {
      kind: 'anonymous',
    });
    assert.deepEqual(await chain.identify(input({ headers: { 'x-remote-user': '   ' }, peer: unix })), {
      kind: 'anonymous',
    });
    assert.equal(
      (await chain.identify(input({ headers: { 'x-remote-user': ['ann', 'ben'] }, peer: unix }))).kind,
      'rejected',
    );
    assert.equal((await chain.identify(input({ headers: { 'x-remote-user': 'a:b' }, peer: unix }))).kind, 'rejected');
  });

  it('logs a refused header with the name it claimed as the user (cut to 256 characters), not an empty user', async (t) => {
    const dir = tempDir(t);
    const logger = createMemoryLogger();
    const chain = await createAuthChain(cfg(dir, ['unix']), { logger, limiter: createBruteForceLimiter() });
    const unix = { kind: 'unix' } as const;
    const long = `${'x'.repeat(300)}:y`;
    for (const value of ['a:b', 'ann, ben', ['ann', 'ben'], long])
      await chain.identify(input({ headers: { 'x-remote-user': value }, peer: unix }));
    const failed = logger.lines.filter((l) => l.event === 'auth.failed');
    assert.deepEqual(
      failed.map((l) => [l.user, l.source, l.reason]),
      [
        ['a:b', 'remote-user', 'bad user name in X-Remote-User'],
        ['ann, ben', 'remote-user', 'bad user name in X-Remote-User'],
        ['ann, ben', 'remote-user', 'X-Remote-User sent more than once'],
        [`${'x'.repeat(256)}…`, 'remote-user', 'bad user name in X-Remote-User'],
      ],
    );
  });

  it('falls through to htpasswd when the header is ignored', async (t) => {
    const dir = await htpasswdDir(t, { ben: 'pw' });
    const chain = await createAuthChain(
      authConfig(dir, [
        { plugin: 'remote-user', trusted_proxies: ['unix'] },
        { plugin: 'htpasswd', file: 'users.htpasswd' },
      ]),
      { logger: createNullLogger(), limiter: createBruteForceLimiter() },
    );
    t.after(() => chain.close());
    assert.deepEqual(await chain.identify(input({ headers: { 'x-remote-user': 'ann' }, basic: basic('ben', 'pw') })), {
      kind: 'authenticated',
      user: 'ben',
      source: 'htpasswd',
      groups: [],
    });
  });
});

describe('the plugin loader', () => {
  function writePlugin(dir: string, name: string, body: string): void {
    fs.writeFileSync(path.join(dir, name), body);
  }

  it('loads a third-party plugin by path relative to the config folder; it may add groups; the first conclusive answer wins', async (t) => {
    const dir = tempDir(t);
    writePlugin(
      dir,
      'token.js',
      `exports.createAuthPlugin = (options) => ({ name: 'token', async authenticate(input) {
         const h = input.headers['x-token'];
         if (h === undefined) return { kind: 'no-credentials' };
         return h === options.token ? { kind: 'authenticated', user: 'bot', groups: ['robots'] } : { kind: 'rejected', reason: 'bad token' };
       } });`,
    );
    writePlugin(
      dir,
      'never.js',
      `exports.createAuthPlugin = () => ({ name: 'never', async authenticate() { throw new Error('must not be asked'); } });`,
    );
    const chain = await createAuthChain(
      authConfig(dir, [{ plugin: './token.js', token: 't0k' }, { plugin: './never.js' }]),
      { logger: createNullLogger(), limiter: createBruteForceLimiter() },
    );
    assert.deepEqual(await chain.identify(input({ headers: { 'x-token': 't0k' } })), {
      kind: 'authenticated',
      user: 'bot',
      source: 'token',
      groups: ['robots'],
    });
    assert.deepEqual(await chain.identify(input({ headers: { 'x-token': 'nope' } })), {
      kind: 'rejected',
      source: 'token',
      reason: 'bad token',
    });
    // No token: the next plugin is asked; it throws, which is a rejection (fail closed).
    assert.equal((await chain.identify(input())).kind, 'rejected');
  });

  it('loads a plugin by package name from the config folder', async (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'node_modules', 'gitward-auth-demo'), { recursive: true });
    writePlugin(
      path.join(dir, 'node_modules', 'gitward-auth-demo'),
      'index.js',
      `exports.createAuthPlugin = () => ({ name: 'demo', authenticate: async () => ({ kind: 'authenticated', user: 'demo' }) });`,
    );
    const chain = await createAuthChain(authConfig(dir, [{ plugin: 'gitward-auth-demo' }]), {
      logger: createNullLogger(),
      limiter: createBruteForceLimiter(),
    });
    assert.equal((await chain.identify(input())).kind, 'authenticated');
  });

  const broken: Array<[string, string | null, string, RegExp]> = [
    ['a missing module', null, './missing.js', /cannot (find|load)/],
    [
      'a module without createAuthPlugin',
      'exports.other = 1;',
      './p.js',
      /does not export a function "createAuthPlugin"/,
    ],
    [
      'a factory returning no authenticate',
      'exports.createAuthPlugin = () => ({ name: "x" });',
      './p.js',
      /no "authenticate" function/,
    ],
    [
      'a factory returning no name',
      'exports.createAuthPlugin = () => ({ authenticate: async () => ({}) });',
      './p.js',
      /no "name" string/,
    ],
    ['a factory that throws', 'exports.createAuthPlugin = () => { throw new Error("boom"); };', './p.js', /boom/],
    ['a module that does not parse', 'exports.createAuthPlugin = (', './p.js', /cannot load/],
    ['an unknown built-in-looking name', null, 'no-such-plugin-xyz', /cannot find the module/],
    ['an unknown option of a built-in', null, 'htpasswd', /unknown option "flie"|option "file" is required/],
  ];
  for (const [what, body, plugin, message] of broken) {
    it(`rejects createAuthChain with a ConfigError naming the entry for ${what}`, async (t) => {
      const dir = tempDir(t);
      if (body !== null) writePlugin(dir, 'p.js', body);
      const options = plugin === 'htpasswd' ? { flie: 'x' } : {};
      await assert.rejects(
        createAuthChain(authConfig(dir, [{ plugin, ...options }]), {
          logger: createNullLogger(),
          limiter: createBruteForceLimiter(),
        }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.message,
            new RegExp(
              `^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/gitward\\.yaml:10: authentication\\[0\\]: plugin "`,
            ),
          );
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('rejects an htpasswd file that does not exist', async (t) => {
    const dir = tempDir(t);
    await assert.rejects(
      createAuthChain(authConfig(dir, [{ plugin: 'htpasswd', file: 'none.htpasswd' }]), {
        logger: createNullLogger(),
        limiter: createBruteForceLimiter(),
      }),
      /gitward\.yaml:10: .*cannot read htpasswd file/,
    );
  });

  it('trusts only the unix socket when trusted_proxies is not given, and rejects a bad entry', async (t) => {
    const dir = tempDir(t);
    const chain = await createAuthChain(authConfig(dir, [{ plugin: 'remote-user' }]), {
      logger: createNullLogger(),
      limiter: createBruteForceLimiter(),
    });
    t.after(() => chain.close());
    assert.equal(
      (await chain.identify(input({ headers: { 'x-remote-user': 'ann' }, peer: { kind: 'unix' } }))).kind,
      'authenticated',
    );
    assert.equal(
      (await chain.identify(input({ headers: { 'x-remote-user': 'ann' }, peer: { kind: 'ip', address: '127.0.0.1' } })))
        .kind,
      'anonymous',
    );
    assert.deepEqual(chain.warnings(), []);
    await assert.rejects(
      createAuthChain(authConfig(dir, [{ plugin: 'remote-user', trusted_proxies: ['10.0.0.0/33'] }]), {
        logger: createNullLogger(),
        limiter: createBruteForceLimiter(),
      }),
      /"10\.0\.0\.0\/33" is not "unix"/,
    );
  });

  it('turns a plugin answer of the wrong shape into a rejection', async (t) => {
    const dir = tempDir(t);
    writePlugin(
      dir,
      'p.js',
      `exports.createAuthPlugin = () => ({ name: 'odd', authenticate: async () => ({ kind: 'authenticated', user: 'x', groups: 'admins' }) });`,
    );
    const chain = await createAuthChain(authConfig(dir, [{ plugin: './p.js' }]), {
      logger: createNullLogger(),
      limiter: createBruteForceLimiter(),
    });
    assert.equal((await chain.identify(input())).kind, 'rejected');
  });
});
