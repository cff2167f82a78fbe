import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { createBruteForceLimiter } from '../../app/identity/brute-force.js';
import { createAuthChain } from '../../app/identity/chain.js';
import { ConfigError } from '../../app/errors.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { tempDir } from '../helpers/tmp.js';
import { authConfig, basic, input, productionLog } from './helpers.js';

/** The compiled example plugin, loaded by path as an admin's config would. */
const PLUGIN = path.join(__dirname, '..', '..', 'examples', 'plugins', 'http-auth.js');

type Handler = (body: Record<string, unknown>, res: http.ServerResponse) => void;

/** A user service on 127.0.0.1 that answers with `handler`; records what it was sent. */
async function userService(
  t: TestContext,
  handler: Handler,
): Promise<{ url: string; seen: Array<Record<string, unknown>> }> {
  const seen: Array<Record<string, unknown>> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      seen.push({ ...body, method: req.method, contentType: req.headers['content-type'] });
      handler(body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/check`, seen };
}

async function chainFor(t: TestContext, options: Record<string, unknown>) {
  const logger = createMemoryLogger();
  const chain = await createAuthChain(authConfig(tempDir(t), [{ plugin: PLUGIN, ...options }]), {
    limiter: createBruteForceLimiter(),
    logger,
  });
  t.after(() => chain.close());
  return { chain, logger };
}

const json = (res: http.ServerResponse, status: number, value: unknown): void => {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(typeof value === 'string' ? value : JSON.stringify(value));
};

describe('the example HTTP authentication plugin (examples/plugins/http-auth)', () => {
  it('loads by path, posts {user, password} as JSON, and authenticates with the groups the service names', async (t) => {
    const svc = await userService(t, (b, res) =>
      json(res, 200, b.user === 'ann' && b.password === 'pw' ? { ok: true, groups: ['eng', 'ops'] } : { ok: false }),
    );
    // 60 s, the plugin's maximum: a safety net; a loaded machine must not turn an answer into a timeout.
    const { chain } = await chainFor(t, { url: svc.url, timeout_ms: 60_000 });
    assert.deepEqual(await chain.identify(input({ basic: basic('ann', 'pw') })), {
      kind: 'authenticated',
      user: 'ann',
      source: 'http-auth',
      groups: ['eng', 'ops'],
    });
    assert.deepEqual(svc.seen[0], { user: 'ann', password: 'pw', method: 'POST', contentType: 'application/json' });
    assert.equal((await chain.identify(input({ basic: basic('ann', 'nope') }))).kind, 'rejected');
    assert.deepEqual(await chain.identify(input()), { kind: 'anonymous' });
  });

  const failures: Array<[string, Handler]> = [
    ['a 500 answer, even one saying ok', (_b, res) => json(res, 500, { ok: true })],
    ['a 302 redirect', (_b, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end()],
    ['a body that is not JSON', (_b, res) => json(res, 200, '<html>ok</html>')],
    ['ok that is not a boolean', (_b, res) => json(res, 200, { ok: 'true' })],
    ['groups that are not a list of names', (_b, res) => json(res, 200, { ok: true, groups: 'admins' })],
    ['a JSON array', (_b, res) => json(res, 200, [true])],
    [
      'an answer cut short',
      (_b, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"ok": tr');
        res.destroy();
      },
    ],
    ['an answer larger than the cap', (_b, res) => json(res, 200, `{"ok":true,"pad":"${'x'.repeat(100_000)}"}`)],
  ];
  for (const [what, handler] of failures) {
    it(`rejects, never authenticates, on ${what}`, async (t) => {
      const svc = await userService(t, handler);
      const { chain } = await chainFor(t, { url: svc.url });
      const out = await chain.identify(input({ basic: basic('ann', 'pw') }));
      assert.equal(out.kind, 'rejected');
    });
  }

  it('rejects when the service does not answer within timeout_ms', async (t) => {
    const svc = await userService(t, () => undefined);
    const { chain, logger } = await chainFor(t, { url: svc.url, timeout_ms: 150 });
    assert.equal((await chain.identify(input({ basic: basic('ann', 'pw') }))).kind, 'rejected');
    assert.ok(logger.lines.some((l) => l.event === 'http_auth.unavailable' && /within 150 ms/.test(String(l.error))));
  });

  it('rejects when nothing listens at the URL', async (t) => {
    const svc = await userService(t, () => undefined);
    const closed = svc.url.replace(/:\d+\//, ':1/');
    const { chain } = await chainFor(t, { url: closed });
    assert.equal((await chain.identify(input({ basic: basic('ann', 'pw') }))).kind, 'rejected');
  });

  it('never logs the password it sends', async (t) => {
    const svc = await userService(t, (_b, res) => json(res, 500, 'boom'));
    const log = productionLog();
    const chain = await createAuthChain(authConfig(tempDir(t), [{ plugin: PLUGIN, url: svc.url }]), {
      limiter: createBruteForceLimiter(),
      logger: log.logger,
    });
    t.after(() => chain.close());
    await chain.identify(input({ basic: basic('ann', 'pa55-secret') }));
    const written = await log.written();
    assert.match(written, /http_auth\.unavailable|auth\.failed/, 'the failure was logged');
    assert.ok(!written.includes('pa55-secret'));
  });

  const badOptions: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no url', {}, /"url" is required/],
    ['a host that is not loopback nor allowed', { url: 'http://users.example.org/check' }, /not loopback/],
    ['credentials in the url', { url: 'http://u:p@127.0.0.1:9/check' }, /must not carry credentials/],
    ['a ftp url', { url: 'ftp://127.0.0.1/check' }, /http:\/\/ or https:\/\//],
    ['a zero timeout', { url: 'http://127.0.0.1:9/', timeout_ms: 0 }, /timeout_ms/],
    ['an unknown option', { url: 'http://127.0.0.1:9/', tiemout_ms: 5 }, /unknown option "tiemout_ms"/],
  ];
  for (const [what, options, message] of badOptions) {
    it(`stops start-up on ${what}`, async (t) => {
      await assert.rejects(
        chainFor(t, options),
        (err: unknown) =>
          err instanceof ConfigError && message.test(err.message) && /authentication\[0\]/.test(err.message),
      );
    });
  }

  it('accepts a host listed in allowed_hosts', async (t) => {
    const { chain } = await chainFor(t, {
      url: 'https://users.example.org/check',
      allowed_hosts: ['users.example.org'],
    });
    assert.deepEqual(await chain.identify(input()), { kind: 'anonymous' });
  });
});
