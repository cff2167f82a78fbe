import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createEnvironment } from 'cgi-env';
import { buildBackendEnv } from '../../app/backend/backend-env.js';
import { buildCgiEnv } from '../../app/backend/cgi-env.js';
import { createCgiHeadParser, CGI_HEADER_MAX_BYTES } from '../../app/backend/cgi-head.js';
import { runBackend, type BackendStats } from '../../app/backend/run-backend.js';
import { startCgiSpawner } from '../../app/backend/cgi-spawner.js';
import { HttpError } from '../../app/errors.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { parseRepoName } from '../../app/request/repo-name.js';
import type { GitRequest, Identity } from '../../app/types.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

const FAKE_BACKEND = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'cgi', 'fake-backend.js');
/** PATH for the fixture's `#!/usr/bin/env node` and `sleep`. */
const TEST_PATH = `${path.dirname(process.execPath)}:/usr/bin:/bin`;

function fakeRequest(url: string, headers: Record<string, string>, method = 'GET'): IncomingMessage {
  return { url, method, headers, httpVersionMajor: 1, httpVersionMinor: 1 } as unknown as IncomingMessage;
}

function gitRequest(url: string): GitRequest {
  const m = /^\/(.+?\.git)(\/[^?]*)/.exec(url) as RegExpExecArray;
  const suffix = m[2] as string;
  const write = suffix.endsWith('receive-pack');
  return {
    repo: parseRepoName(m[1] as string),
    service: write ? 'git-receive-pack' : 'git-upload-pack',
    need: write ? 'write' : 'read',
    kind: 'rpc',
    suffix,
  };
}

describe('the cgi-env adapter repairs what cgi-env gets wrong', () => {
  const headers = {
    'git-protocol': 'version=2',
    'content-encoding': 'gzip',
    authorization: 'Basic ZGVtbzpkZW1v',
    'proxy-authorization': 'Basic eDp5',
    cookie: 'session=1',
    proxy: 'http://evil.example:3128',
    'x-remote-user': 'root',
    x_remote_user: 'root',
    'content-type': 'application/x-git-upload-pack-request',
    'content-length': '42',
    'user-agent': 'git/2.39.5',
  };
  const url = '/d%65mo/hello.git/git-upload-pack';
  const raw = createEnvironment(fakeRequest(url, headers, 'POST'));
  const env = buildCgiEnv(fakeRequest(url, headers, 'POST'), {
    git: gitRequest('/demo/hello.git/git-upload-pack'),
    remoteAddr: '192.0.2.1',
    remoteUser: 'ann',
    dropHeaders: ['X-Remote-User'],
  });

  it('cgi-env itself still has the defects this adapter exists for', () => {
    assert.equal(raw['HTTP_GIT-PROTOCOL'], 'version=2');
    assert.equal(raw.HTTP_GIT_PROTOCOL, undefined);
    assert.equal(raw.HTTP_PROXY, 'http://evil.example:3128');
    assert.equal(raw.PATH_INFO, url);
  });
  it('Git-Protocol arrives as HTTP_GIT_PROTOCOL (protocol v2)', () => assert.equal(env.HTTP_GIT_PROTOCOL, 'version=2'));
  it('Content-Encoding arrives as HTTP_CONTENT_ENCODING (gzip bodies)', () =>
    assert.equal(env.HTTP_CONTENT_ENCODING, 'gzip'));
  it('no HTTP_PROXY (httpoxy)', () => assert.equal(env.HTTP_PROXY, undefined));
  it('no HTTP_AUTHORIZATION, HTTP_PROXY_AUTHORIZATION, HTTP_COOKIE', () => {
    assert.equal(env.HTTP_AUTHORIZATION, undefined);
    assert.equal(env.HTTP_PROXY_AUTHORIZATION, undefined);
    assert.equal(env.HTTP_COOKIE, undefined);
    assert.equal(env.AUTH_TYPE, undefined);
  });
  it('the trusted identity header is dropped, also when spelt with underscores', () =>
    assert.equal(env.HTTP_X_REMOTE_USER, undefined));
  it('PATH_INFO is the parsed repo name, not the encoded URL', () =>
    assert.equal(env.PATH_INFO, '/demo/hello.git/git-upload-pack'));
  it('no dashed names at all', () =>
    assert.deepEqual(
      Object.keys(env).filter((k) => k.includes('-')),
      [],
    ));
  it('CONTENT_LENGTH and CONTENT_TYPE as CGI variables, not HTTP_*', () => {
    assert.equal(env.CONTENT_LENGTH, '42');
    assert.equal(env.CONTENT_TYPE, 'application/x-git-upload-pack-request');
    assert.equal(env.HTTP_CONTENT_LENGTH, undefined);
    assert.equal(env.HTTP_CONTENT_TYPE, undefined);
  });
  it('no CONTENT_LENGTH when the request has none (chunked)', () => {
    const chunked = buildCgiEnv(fakeRequest(url, { 'transfer-encoding': 'chunked' }, 'POST'), {
      git: gitRequest('/demo/hello.git/git-upload-pack'),
      remoteAddr: '::1',
      remoteUser: null,
      dropHeaders: [],
    });
    assert.equal(chunked.CONTENT_LENGTH, undefined);
    assert.equal(chunked.REMOTE_USER, undefined);
  });
});

describe('the CGI header parser', () => {
  const cases: Array<[string, string, unknown]> = [
    [
      'default status 200',
      'Content-Type: a/b\r\n\r\nBODY',
      { status: 200, headers: [['Content-Type', 'a/b']], body: 'BODY' },
    ],
    [
      'Status line, reason ignored',
      'Status: 403 Forbidden\nX: y\n\n',
      { status: 403, headers: [['X', 'y']], body: '' },
    ],
    [
      'repeated headers kept',
      'A: 1\r\nA: 2\r\n\r\n',
      {
        status: 200,
        headers: [
          ['A', '1'],
          ['A', '2'],
        ],
        body: '',
      },
    ],
    [
      'hop-by-hop dropped',
      'Connection: close\r\nTransfer-Encoding: chunked\r\nB: 1\r\n\r\n',
      { status: 200, headers: [['B', '1']], body: '' },
    ],
    ['garbage', 'hello world\n\n', 'invalid'],
    ['bad status', 'Status: abc\n\n', 'invalid'],
    ['status out of range', 'Status: 700\n\n', 'invalid'],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const r = createCgiHeadParser().feed(Buffer.from(input, 'latin1'));
      if (want === 'invalid') assert.equal(r.kind, 'invalid');
      else {
        assert.equal(r.kind, 'head');
        if (r.kind === 'head')
          assert.deepEqual({ status: r.head.status, headers: r.head.headers, body: r.body.toString() }, want);
      }
    });
  }
  it('waits for more bytes, across chunk boundaries', () => {
    const p = createCgiHeadParser();
    assert.equal(p.feed(Buffer.from('A: 1\r\n')).kind, 'need-more');
    assert.equal(p.feed(Buffer.from('\r')).kind, 'need-more');
    const r = p.feed(Buffer.from('\nxyz'));
    assert.equal(r.kind, 'head');
  });
  it(`refuses a header block over ${CGI_HEADER_MAX_BYTES} bytes`, () => {
    const p = createCgiHeadParser();
    let r = p.feed(Buffer.alloc(CGI_HEADER_MAX_BYTES, 'a'));
    assert.equal(r.kind, 'need-more');
    r = p.feed(Buffer.from('a'));
    assert.equal(r.kind, 'invalid');
  });
});

interface BackendServer {
  readonly origin: string;
  readonly logs: ReturnType<typeof createMemoryLogger>;
  readonly stats: BackendStats[];
}

const ANN: Identity = {
  user: 'ann',
  source: 'htpasswd',
  groups: ['eng', 'staff'],
  info: { name: 'Ann Example', email: 'ann@example.org' },
};

/** An HTTP server that runs the fake backend for each request, through the real env builders. */
async function startBackendServer(t: TestContext): Promise<BackendServer> {
  const logs = createMemoryLogger();
  const stats: BackendStats[] = [];
  const spawner = await startCgiSpawner();
  t.after(() => spawner.close());
  const server = http.createServer((req, res) => {
    const git = gitRequest(req.url ?? '/');
    const s: BackendStats = { bytesIn: 0, bytesOut: 0, exitCode: null, signal: null };
    stats.push(s);
    const cgi = buildCgiEnv(req, { git, remoteAddr: '127.0.0.1', remoteUser: 'ann', dropHeaders: ['x-remote-user'] });
    const env = buildBackendEnv({
      cgi,
      git,
      identity: ANN,
      repoRoot: '/srv/git',
      configFile: '/etc/gitward.yaml',
      requestId: 'req-1',
      logDir: null,
      processEnv: { PATH: TEST_PATH, HOME: '/home/gitward', LANG: 'C.UTF-8' },
      git4nginxEnv: true,
    });
    runBackend({ req, res, backendPath: FAKE_BACKEND, spawner, env, logger: logs, stats: s }).catch((err: unknown) => {
      res.statusCode = err instanceof HttpError ? err.status : 500;
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, logs, stats };
}

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer; chunked?: boolean } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.body && !opts.chunked) headers['content-length'] = String(opts.body.length);
    const req = http.request(url, { method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body && opts.chunked) {
      req.write(opts.body.subarray(0, 1000));
      req.end(opts.body.subarray(1000));
    } else req.end(opts.body);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone or `deadlineMs` passed; returns whether it is gone. */
async function goneWithin(pid: number, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !alive(pid);
}

describe('runBackend with a fake git-http-backend', () => {
  it('gives the backend exactly the allow-list of DESIGN.md §5 and nothing inherited', async (t) => {
    process.env.GITWARD_TEST_CANARY = 'must not leak';
    t.after(() => delete process.env.GITWARD_TEST_CANARY);
    const srv = await startBackendServer(t);
    const body = Buffer.alloc(5000, 7);
    const r = await request(`${srv.origin}/web/site.git/info/refs?service=git-upload-pack`, {
      method: 'POST',
      body,
      headers: {
        'Git-Protocol': 'version=2',
        'Content-Encoding': 'gzip',
        Authorization: 'Basic YTpi',
        Cookie: 'c=1',
        Proxy: 'http://x',
        'X-Remote-User': 'root',
        'Content-Type': 'application/x-git-upload-pack-request',
      },
    });
    assert.equal(r.status, 200);
    const { env, bytesIn } = JSON.parse(r.body.toString()) as { env: Record<string, string>; bytesIn: number };
    assert.equal(bytesIn, 5000);
    const expected: Record<string, string> = {
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_SOFTWARE: 'gitward',
      REQUEST_METHOD: 'POST',
      QUERY_STRING: 'service=git-upload-pack',
      PATH_INFO: '/web/site.git/info/refs',
      CONTENT_TYPE: 'application/x-git-upload-pack-request',
      CONTENT_LENGTH: '5000',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_USER: 'ann',
      HTTP_GIT_PROTOCOL: 'version=2',
      HTTP_CONTENT_ENCODING: 'gzip',
      HTTP_HOST: new URL(srv.origin).host,
      HTTP_CONNECTION: 'keep-alive',
      GIT_PROJECT_ROOT: '/srv/git',
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_HTTP_MAX_REQUEST_BUFFER: String(10 * 1024 * 1024),
      GIT_COMMITTER_NAME: 'Ann Example',
      GIT_COMMITTER_EMAIL: 'ann@example.org',
      PATH: TEST_PATH,
      HOME: '/home/gitward',
      LANG: 'C.UTF-8',
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: 'uploadpack.allowFilter',
      GIT_CONFIG_VALUE_0: 'true',
      GIT_CONFIG_KEY_1: 'uploadpack.allowReachableSHA1InWant',
      GIT_CONFIG_VALUE_1: 'true',
      GITWARD_CONFIG: '/etc/gitward.yaml',
      GITWARD_USER: 'ann',
      GITWARD_GROUPS: '["eng","staff"]',
      GITWARD_INFO: '{"name":"Ann Example","email":"ann@example.org"}',
      GITWARD_REPO: 'web/site',
      GITWARD_REQUEST_ID: 'req-1',
      GIT4NGINX_CONFIG: '/etc/gitward.yaml',
      GIT4NGINX_GROUPS: '["eng","staff"]',
      GIT4NGINX_INFO: '{"name":"Ann Example","email":"ann@example.org"}',
      // Replace objects off, grafts ignored (app/git/server-git-env.ts).
      GIT_NO_REPLACE_OBJECTS: '1',
      GIT_GRAFT_FILE: '/dev/null/gitward-no-grafts',
    };
    assert.deepEqual(env, expected);
  });

  it('a chunked body reaches stdin whole, with no CONTENT_LENGTH', async (t) => {
    const srv = await startBackendServer(t);
    const body = Buffer.alloc(300_000, 1);
    const r = await request(`${srv.origin}/x.git/info/refs`, { method: 'POST', body, chunked: true });
    const { env, bytesIn } = JSON.parse(r.body.toString()) as { env: Record<string, string>; bytesIn: number };
    assert.equal(bytesIn, body.length);
    assert.equal(env.CONTENT_LENGTH, undefined);
    assert.equal(srv.stats[0]?.bytesIn, body.length);
    assert.equal(srv.stats[0]?.bytesOut, r.body.length);
  });

  it('passes the CGI Status and repeated headers on, adds X-Accel-Buffering: no', async (t) => {
    const srv = await startBackendServer(t);
    const r = await request(`${srv.origin}/x.git/git-upload-pack`, { method: 'POST', body: Buffer.from('x') });
    assert.equal(r.status, 404);
    assert.equal(r.body.toString(), 'not here\n');
    assert.equal(r.headers['x-accel-buffering'], 'no');
    const repeats = r.rawHeaders.filter((_, i) => i % 2 === 1 && r.rawHeaders[i - 1]?.toLowerCase() === 'x-repeat');
    assert.deepEqual(repeats, ['one', 'two']);
  });

  const failures: Array<[string, string, string]> = [
    ['garbage before headers', '/x.git/HEAD', 'invalid CGI header line'],
    ['exit before headers', '/x.git/objects/info/packs', 'before its headers'],
    ['a header block without end', '/x.git/objects/info/alternates', `within ${CGI_HEADER_MAX_BYTES} bytes`],
  ];
  for (const [name, url, reason] of failures) {
    it(`${name}: 502 with one plain line, logged`, async (t) => {
      const srv = await startBackendServer(t);
      const r = await request(`${srv.origin}${url}`);
      assert.equal(r.status, 502);
      assert.equal(r.body.toString().split('\n').filter(Boolean).length, 1);
      const logged = srv.logs.lines.find((l) => l.event === 'backend.bad_gateway');
      assert.ok(logged, JSON.stringify(srv.logs.lines));
      assert.match(String(logged.reason), new RegExp(reason.replace(/[()]/g, '.')));
    });
  }

  it('kills the backend and its children when the client goes away', async (t) => {
    const srv = await startBackendServer(t);
    const pids = await new Promise<{ pid: number; grandchild: number }>((resolve, reject) => {
      const req = http.request(
        `${srv.origin}/x.git/git-receive-pack`,
        { method: 'POST', headers: { 'content-length': '0' } },
        (res) => {
          const ids = { pid: Number(res.headers['x-pid']), grandchild: Number(res.headers['x-grandchild']) };
          res.once('data', () => {
            req.destroy();
            resolve(ids);
          });
        },
      );
      req.on('error', () => undefined);
      req.end();
      setTimeout(() => reject(new Error('no response')), SAFETY_NET_MS).unref();
    });
    assert.equal(await goneWithin(pids.pid, SAFETY_NET_MS), true, 'backend still running');
    assert.equal(await goneWithin(pids.grandchild, SAFETY_NET_MS), true, 'backend child still running');
    assert.ok(srv.logs.lines.some((l) => l.event === 'backend.client_gone'));
  });
});
