/**
 * Fuzzing of whole requests through the real server (git route and nginx sidecar endpoint):
 * mutated methods, paths, queries, credentials and identity headers sent as raw bytes. Never a
 * 5xx; git-http-backend runs only for a 200, and then only for what the ACL grants (a write or
 * the secret repo only for ann), with PATH_INFO the canonical name of what was decided.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutated, show } from '../helpers/fuzz.js';
import { basic, sendRaw, startGuarded, type Guarded } from '../regression/harness.js';

/** Requests per endpoint: each costs a connection (and sometimes a backend run), so far fewer than the pure fuzzers. */
const REQUESTS = Math.max(50, Math.ceil(FUZZ_RUNS / 8));

const PATHS = [
  '/x.git/info/refs',
  '/x/git-upload-pack',
  '/x.git/git-receive-pack',
  '/secret.git/info/refs',
  '/secret/git-upload-pack',
  '/secret.git/git-receive-pack',
  '/x.git/HEAD',
  '/nope.git/info/refs',
];
const QUERIES = [
  '?service=git-upload-pack',
  '?service=git-receive-pack',
  '',
  '?service=git-upload-pack&service=git-receive-pack',
];
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'OPTIONS', 'get'];
const AUTH = [
  basic('ann', 'pw'),
  basic('ben', 'pw'),
  basic('ann', 'wrong'),
  basic('nobody', 'pw'),
  'Basic !!',
  'Bearer x',
  '',
];
/** Bytes a request line may carry without Node answering 400 itself (those are tested too). */
const URL_TOKENS = [
  '/',
  '//',
  '.',
  '..',
  '%2e',
  '%2f',
  '%00',
  '%20',
  '%',
  '%c0%ae',
  '.git',
  '.GIT',
  '?',
  '&',
  '=',
  ';',
  '#',
  'service=git-receive-pack',
  '%252e',
];

interface Sent {
  readonly method: string;
  readonly target: string;
  readonly auth: string;
  readonly remoteUser: string;
}

/** A request: six in ten targets mutated (without the bytes a request line cannot carry), one in ten methods. */
const requestArb: fc.Arbitrary<Sent> = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constantFrom(...METHODS), weight: 9 },
    { arbitrary: mutated(fc.constant('POST')), weight: 1 },
  ),
  target: fc
    .oneof(
      {
        arbitrary: fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...QUERIES)).map(([p, q]) => `${p}${q}`),
        weight: 4,
      },
      {
        arbitrary: mutated(
          fc.tuple(fc.constantFrom(...PATHS), fc.constantFrom(...QUERIES)).map(([p, q]) => `${p}${q}`),
          URL_TOKENS,
        ).map((t) => t.replace(/[\s\u0080-\uffff]/g, '')),
        weight: 6,
      },
    )
    .map((t) => (t.startsWith('/') ? t : `/${t}`)),
  auth: fc.constantFrom(...AUTH),
  remoteUser: fc.oneof(
    { arbitrary: fc.constant(''), weight: 8 },
    { arbitrary: fc.constantFrom('ann', 'root', 'ann\u0001'), weight: 2 },
  ),
});

/**
 * Fixed requests sent before the random ones (fast-check's examples), through the same oracle, so
 * that each outcome the tests expect to see at least once (granted, refused, malformed) is there
 * whatever the seed.
 */
const CONTROLS: readonly Sent[] = [
  { method: 'GET', target: '/x.git/info/refs?service=git-upload-pack', auth: '', remoteUser: '' },
  { method: 'GET', target: '/secret.git/info/refs?service=git-upload-pack', auth: basic('ben', 'pw'), remoteUser: '' },
  { method: 'GET', target: '/x/../secret.git/info/refs?service=git-upload-pack', auth: '', remoteUser: '' },
];

function raw(s: Sent, extra: string): Buffer {
  const head = [`${s.method} ${s.target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  if (s.auth !== '') head.push(`Authorization: ${s.auth}`);
  if (s.remoteUser !== '') head.push(`X-Remote-User: ${s.remoteUser}`);
  const body = s.method === 'POST' ? '0000' : '';
  return Buffer.from(`${head.join('\r\n')}\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
}

/**
 * The oracle, as git-http-backend itself routes: a receive-pack POST, or the info/refs
 * advertisement with a receive-pack service anywhere in the query (git keeps the last value).
 */
function isWrite(path: string, query: string): boolean {
  if (path.endsWith('/git-receive-pack')) return true;
  return path.endsWith('/info/refs') && new URLSearchParams(query).getAll('service').includes('git-receive-pack');
}

async function start(t: Parameters<typeof startGuarded>[0]): Promise<Guarded> {
  return startGuarded(t, {
    backend: 'dump',
    users: { ann: 'pw', ben: 'pw' },
    config: {
      brute_force: { max_failures: 100_000, window_seconds: 1 },
      sidecar: { enabled: true },
      // 127.0.0.1 is not trusted for the header: a forged X-Remote-User must change nothing.
      authentication: [
        { plugin: 'remote-user', header: 'X-Remote-User', trusted_proxies: ['10.9.9.9/32'] },
        { plugin: 'htpasswd', file: 'users.htpasswd' },
      ],
      repos: {
        '.read': ['$all'],
        'x.git': { '.write': ['ann'] },
        'secret.git': { '.inherit': false, '.read': ['ann'], '.write': ['ann'] },
      },
    },
    repos: ['x', 'secret'],
  });
}

/** fast-check parameters of an HTTP fuzzer: REQUESTS random requests after the controls. */
function httpParams(name: string): fc.Parameters<[Sent]> {
  return { ...fuzzParams<[Sent]>(name, REQUESTS + CONTROLS.length), examples: CONTROLS.map((s) => [s]) };
}

test(
  'the git route: never 5xx, and the backend runs only for a 200 the ACL allows',
  { timeout: FUZZ_TIMEOUT_MS },
  async (t) => {
    const gw = await start(t);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (s) => {
        const before = gw.runs().length;
        const r = await sendRaw(gw, raw(s, ''));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const where = `${show(s)} → ${r.status} ${show(r.body.toString().slice(0, 200))}`;
        assert.ok([200, 400, 401, 403, 404, 405].includes(r.status), where);
        const runs = gw.runs();
        if (r.status !== 200 || s.method === 'HEAD') {
          assert.equal(runs.length, before + (r.status === 200 ? 1 : 0), `backend ran for a refusal: ${where}`);
          return;
        }
        assert.equal(runs.length, before + 1, where);
        const env = runs.at(-1) as Record<string, string>;
        const write = isWrite(env.PATH_INFO ?? '', env.QUERY_STRING ?? '');
        if (write || env.GITWARD_REPO === 'secret')
          assert.equal(env.REMOTE_USER, 'ann', `granted to ${env.REMOTE_USER ?? 'anonymous'}: ${where}`);
        assert.match(env.PATH_INFO ?? '', new RegExp(`^/${env.GITWARD_REPO}\\.git/`), where);
      }),
      httpParams('http-git-route'),
    );
    assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, JSON.stringify([...statuses]));
  },
);

test(
  "the sidecar endpoint: only 204, 401 or 403 (or the parser's 400), never a backend run",
  { timeout: FUZZ_TIMEOUT_MS },
  async (t) => {
    const gw = await start(t);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (s) => {
        const extra = `X-Original-URI: ${s.target}\r\nX-Original-Method: ${s.method}\r\n`;
        const r = await sendRaw(gw, raw({ ...s, method: 'GET', target: '/_gitward/auth' }, extra));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const where = `${show(s)} → ${r.status}`;
        // Node's own parser answers 400 for control bytes in a header value, before gitward sees it.
        const bytes = Buffer.from(`${s.target}${s.method}${s.remoteUser}`, 'latin1').toString('latin1');
        // eslint-disable-next-line no-control-regex -- the bytes Node's parser refuses
        const parserRefuses = /[\u0000-\u0008\u000a-\u001f\u007f]/.test(bytes);
        assert.ok([204, 401, 403].includes(r.status) || (r.status === 400 && parserRefuses), where);
        if (r.status === 204) {
          const repo = String(r.headers['x-gitward-repo']);
          const user = r.headers['x-gitward-user'];
          const q = s.target.indexOf('?');
          const write = isWrite(q < 0 ? s.target : s.target.slice(0, q), q < 0 ? '' : s.target.slice(q + 1));
          if (write || repo === 'secret') assert.equal(user, 'ann', `granted to ${String(user)}: ${where}`);
        }
        assert.deepEqual(gw.runs(), []);
      }),
      httpParams('http-sidecar'),
    );
    assert.ok((statuses.get(204) ?? 0) > 0 && (statuses.get(403) ?? 0) > 0, JSON.stringify([...statuses]));
  },
);
