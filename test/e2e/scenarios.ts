/**
 * The end-to-end scenarios, run through real nginx over HTTPS in both modes (proxy.test.ts and
 * sidecar.test.ts register them with their mode). One stack per file; each scenario uses its own
 * repo or branch so they do not disturb one another.
 */
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BUFFERED_REQUEST_LOG, BUFFERED_RESPONSE_LOG, requireBinary, watchTempDir } from '../helpers/nginx.js';
import { E2E_USERS, ENV_DUMP_VARS, startStack, type Stack, type StackMode } from './stack.js';

/**
 * Size of the big clone (it was 200 MiB; the property needs far less): a buffering nginx spools an
 * answer only once its proxy/fastcgi buffers (8 × 4 KiB) and the socket buffers towards the client
 * are full, and those can hold net.ipv4.tcp_rmem's maximum (32 MiB here) plus tcp_wmem's (4 MiB);
 * 64 MiB is well above that sum. Those bytes are written into the repo directly (set-up).
 */
const BIG_CLONE_BYTES = 64 * 1024 * 1024;
/**
 * Size of the push through nginx on top of them: above git's 1 MiB http.postBuffer, so git streams
 * it chunked, and with request buffering on nginx spools every body over client_body_buffer_size
 * (16 KiB) to client_body_temp_path, whatever the speeds. (It pushed all 64 MiB: CPU for nothing.)
 */
const BIG_PUSH_BYTES = 2 * 1024 * 1024;
/** Write size while generating the big file. */
const GEN_CHUNK_BYTES = 4 * 1024 * 1024;

/** Options of defineScenarios. */
export interface ScenarioOptions {
  /** Whether to run the big push and clone (default true); a variant of a mode may leave it to the main file. */
  readonly bigTransfer?: boolean;
}

const ann = { user: 'ann', password: E2E_USERS.ann as string };
const ben = { user: 'ben', password: E2E_USERS.ben as string };

/**
 * Writes `bytes` of deterministic, incompressible data: AES-128-CTR over zeros with a fixed key is
 * a seeded PRNG that runs at memory speed.
 */
export function writePseudoRandomFile(file: string, bytes: number, seed: number): void {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(GEN_CHUNK_BYTES);
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= GEN_CHUNK_BYTES)
      fs.writeSync(fd, cipher.update(zeros.subarray(0, Math.min(left, GEN_CHUNK_BYTES))));
  } finally {
    fs.closeSync(fd);
  }
}

/** One raw HTTPS GET through nginx: status and the raw header list (names as sent, lower-cased). */
function rawGet(
  s: Stack,
  urlPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; raw: string[] }> {
  return new Promise((resolve, reject) => {
    const ca = fs.readFileSync(s.env().GIT_SSL_CAINFO as string);
    // host/port/path rather than a URL string: the URL parser would resolve "..", and these
    // tests send exactly what a hostile client would.
    const req = https.get({ host: '127.0.0.1', port: s.nginx.port, path: urlPath, ca, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders }));
    });
    req.on('error', reject);
  });
}

/** Like rawGet, with the body (as text). */
function rawGetBody(
  s: Stack,
  urlPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; raw: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const ca = fs.readFileSync(s.env().GIT_SSL_CAINFO as string);
    const req = https.get({ host: '127.0.0.1', port: s.nginx.port, path: urlPath, ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
  });
}

/** Values of header `name` in a raw header list. */
function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    if ((raw[i] as string).toLowerCase() === name) out.push(raw[i + 1] as string);
  return out;
}

/** Makes a work tree at `dir` with one commit of `files` on main. */
async function workTree(s: Stack, dir: string, files: Record<string, string>, env = s.env()): Promise<void> {
  const ok = async (args: string[]) => {
    const r = await s.git(args, { cwd: dir, env });
    assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
  };
  fs.mkdirSync(dir, { recursive: true });
  await ok(['init', '--quiet', '--initial-branch=main', '.']);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  await ok(['add', '.']);
  await ok(['commit', '--quiet', '-m', `add ${Object.keys(files).join(', ')}`]);
}

/** Registers every scenario for `mode`. */
export function defineScenarios(mode: StackMode, options: ScenarioOptions = {}): void {
  let stack: Stack | null = null;
  const cleanups: Array<() => unknown> = [];
  let skipped = false;

  before(async () => {
    const skipper = { skip: () => (skipped = true) };
    const nginx = requireBinary(skipper, 'nginx');
    const fcgiwrap = mode === 'sidecar' ? requireBinary(skipper, 'fcgiwrap') : null;
    if (nginx === null || (mode === 'sidecar' && fcgiwrap === null)) return;
    stack = await startStack({ after: (fn) => cleanups.push(fn) }, mode, { nginx, fcgiwrap });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  /** The running stack, or null after skipping the test (only locally, without nginx). */
  const get = (t: { skip(m?: string): void }): Stack | null => {
    if (stack === null) {
      assert.ok(skipped, 'the stack did not start');
      t.skip('nginx or fcgiwrap is not installed');
      return null;
    }
    return stack;
  };

  test(`${mode}: clone and push over HTTPS, protocol v2 negotiated through nginx`, async (t) => {
    const s = get(t);
    if (!s) return;
    const src = path.join(s.work, 'v2-src');
    await workTree(s, src, { 'a.txt': 'hello\n' });
    const push = await s.git(['push', s.url('open', ann), 'main:v2-branch'], { cwd: src });
    assert.equal(push.code, 0, push.stderr);

    const traced = await s.git(
      ['-c', 'protocol.version=2', 'clone', '--branch', 'v2-branch', s.url('open'), 'v2-clone'],
      { env: s.env({ GIT_TRACE_PACKET: '1' }) },
    );
    assert.equal(traced.code, 0, traced.stderr);
    assert.match(traced.stderr, /git< version 2/);
    assert.equal(fs.readFileSync(path.join(s.work, 'v2-clone', 'a.txt'), 'utf8'), 'hello\n');

    const v0 = await s.git(['-c', 'protocol.version=0', 'ls-remote', s.url('open')], {
      env: s.env({ GIT_TRACE_PACKET: '1' }),
    });
    assert.equal(v0.code, 0, v0.stderr);
    assert.doesNotMatch(v0.stderr, /git< version 2/);
    assert.match(v0.stdout, /refs\/heads\/v2-branch/);
  });

  test(`${mode}: 401 challenge, then the credential helper's password, then success`, async (t) => {
    const s = get(t);
    if (!s) return;
    // Without credentials and without a prompt, git gives up after the 401.
    const bare = await s.git(['ls-remote', s.url('private')]);
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /could not read Username|Authentication failed|401/);

    const store = path.join(s.work, 'credentials');
    fs.writeFileSync(store, `${s.url('private', ann).replace(/\/private\.git$/, '')}\n`, { mode: 0o600 });
    const helper = ['-c', `credential.helper=store --file=${store}`];
    const before401 = s.accessLog().length;
    const r = await s.git([...helper, 'clone', s.url('private'), 'private-clone']);
    assert.equal(r.code, 0, r.stderr);
    const lines = s.accessLog().slice(before401);
    // The first request was refused with the challenge, the retry with the stored password passed.
    assert.match(lines[0] ?? '', /^GET \/private\.git\/info\/refs\?service=git-upload-pack 401 /);
    assert.ok(
      lines.some((l) => /^GET \/private\.git\/info\/refs\?service=git-upload-pack 200 /.test(l)),
      lines.join('\n'),
    );
  });

  test(`${mode}: a 401 carries exactly one Basic challenge; a malformed path is refused`, async (t) => {
    const s = get(t);
    if (!s) return;
    const r = await rawGet(s, '/private.git/info/refs?service=git-upload-pack');
    assert.equal(r.status, 401);
    assert.deepEqual(headerValues(r.raw, 'www-authenticate'), ['Basic realm="gitward", charset="UTF-8"']);
    const wrong = await rawGet(s, '/private.git/info/refs?service=git-upload-pack', {
      Authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}`,
    });
    assert.equal(wrong.status, 401);
    assert.equal(headerValues(wrong.raw, 'www-authenticate').length, 1);
    // Sidecar: 400 is not an auth_request answer, so gitward says 403; proxy: gitward's 400.
    const bad = await rawGet(s, '/open.git/../private.git/info/refs?service=git-upload-pack');
    assert.equal(bad.status, mode === 'sidecar' ? 403 : 400);
    const dot = await rawGet(s, '/.hidden.git/info/refs?service=git-upload-pack');
    assert.equal(dot.status, mode === 'sidecar' ? 403 : 400);
  });

  test(`${mode}: gitward's own endpoints do not answer the internet: /_gitward/ and /healthz are nginx's 404`, async (t) => {
    const s = get(t);
    if (!s) return;
    // Control: gitward itself answers both, so only the site file stands between them and a client.
    assert.equal((await s.direct('/healthz')).status, 200);
    const basic = { Authorization: `Basic ${Buffer.from(`ann:${ann.password}`).toString('base64')}` };
    for (const urlPath of ['/_gitward/auth', '/_gitward/auth?x=1', '/_gitward/', '/healthz', '/healthz?verbose=1']) {
      for (const headers of [{}, basic]) {
        const r = await rawGetBody(s, urlPath, headers);
        assert.equal(r.status, 404, urlPath);
        // nginx's own error page, not an answer of gitward passed through.
        assert.match(r.body, /<center>nginx<\/center>/, urlPath);
        assert.deepEqual(headerValues(r.raw, 'x-request-id'), [], urlPath);
      }
    }
  });

  test(`${mode}: anonymous read, authenticated push`, async (t) => {
    const s = get(t);
    if (!s) return;
    const clone = await s.git(['clone', s.url('open'), 'anon-clone']);
    assert.equal(clone.code, 0, clone.stderr);
    const dir = path.join(s.work, 'anon-src');
    await workTree(s, dir, { 'b.txt': 'anon\n' });
    const anonPush = await s.git(['push', s.url('open'), 'main:anon-branch'], { cwd: dir });
    assert.notEqual(anonPush.code, 0);
    assert.match(anonPush.stderr, /could not read Username|Authentication failed|401/);
    const annPush = await s.git(['push', s.url('open', ann), 'main:anon-branch'], { cwd: dir });
    assert.equal(annPush.code, 0, annPush.stderr);
    const refs = await s.git(['ls-remote', s.url('open')]);
    assert.match(refs.stdout, /refs\/heads\/anon-branch/);
  });

  test(`${mode}: a read-only user's push is refused`, async (t) => {
    const s = get(t);
    if (!s) return;
    const read = await s.git(['ls-remote', s.url('private', ben)]);
    assert.equal(read.code, 0, read.stderr);
    const dir = path.join(s.work, 'ro-src');
    await workTree(s, dir, { 'c.txt': 'ben\n' });
    const push = await s.git(['push', s.url('private', ben), 'main:ben-branch'], { cwd: dir });
    assert.notEqual(push.code, 0);
    assert.match(push.stderr, /403/);
    const refs = await s.git(['ls-remote', s.url('private', ann)]);
    assert.doesNotMatch(refs.stdout, /ben-branch/);
  });

  test(`${mode}: /metrics answers gitward's direct local peer, and nginx never passes it on`, async (t) => {
    const s = get(t);
    if (!s) return;
    const direct = await s.direct('/metrics');
    assert.equal(direct.status, 200);
    assert.match(String(direct.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const through = await rawGet(s, '/metrics');
    // The proxy sites answer it themselves; in sidecar mode nginx sends no path but the auth check to gitward.
    if (mode === 'sidecar') assert.notEqual(through.status, 200);
    else assert.equal(through.status, 404);
  });

  test(`${mode}: a client-supplied X-Remote-User header is ignored`, async (t) => {
    const s = get(t);
    if (!s) return;
    // Control: gitward does trust this header from the peer nginx connects from (unix socket or
    // 127.0.0.1), so only nginx clearing it stands between a client and admin's rights.
    if (mode === 'sidecar') {
      const direct = await s.direct('/_gitward/auth', {
        'X-Original-URI': '/private.git/info/refs?service=git-upload-pack',
        'X-Original-Method': 'GET',
        'X-Remote-User': 'admin',
      });
      assert.equal(direct.status, 204);
      assert.equal(direct.headers['x-gitward-user'], 'admin');
    } else {
      const direct = await s.direct('/private.git/info/refs?service=git-upload-pack', { 'X-Remote-User': 'admin' });
      assert.equal(direct.status, 200);
    }
    const forged = ['-c', 'http.extraHeader=X-Remote-User: admin'];
    // admin may read and write everything; an anonymous client may not read private.
    const read = await s.git([...forged, 'ls-remote', s.url('private')]);
    assert.notEqual(read.code, 0);
    assert.match(read.stderr, /could not read Username|Authentication failed|401/);
    const dir = path.join(s.work, 'forge-src');
    await workTree(s, dir, { 'd.txt': 'forged\n' });
    const push = await s.git([...forged, 'push', s.url('open'), 'main:forged'], { cwd: dir });
    assert.notEqual(push.code, 0);
    const refs = await s.git(['ls-remote', s.url('open')]);
    assert.doesNotMatch(refs.stdout, /refs\/heads\/forged/);
  });

  test(`${mode}: a hook rejection reaches the client as remote: lines`, async (t) => {
    const s = get(t);
    if (!s) return;
    const dir = path.join(s.work, 'hook-src');
    await workTree(s, dir, { 'e.txt': 'protected\n' });
    const free = await s.git(['push', s.url('hooked', ann), 'main:feature'], { cwd: dir });
    assert.equal(free.code, 0, free.stderr);
    const push = await s.git(['push', s.url('hooked', ann), 'main:main'], { cwd: dir });
    assert.notEqual(push.code, 0);
    assert.match(push.stderr, /^remote: .*main/m);
    assert.match(push.stderr, /pre-receive hook declined/);
    const refs = await s.git(['ls-remote', s.url('hooked', ann)]);
    assert.match(refs.stdout, /refs\/heads\/feature/);
    assert.doesNotMatch(refs.stdout, /refs\/heads\/main/);
  });

  test(`${mode}: hooks see the pusher nginx and gitward handed on: REMOTE_USER and GITWARD_*`, async (t) => {
    const s = get(t);
    if (!s) return;
    const dir = path.join(s.work, 'envdump-src');
    await workTree(s, dir, { 'f.txt': 'env\n' });
    const push = await s.git(['push', s.url('envdump', ann), 'main'], { cwd: dir });
    assert.equal(push.code, 0, push.stderr);
    const seen = new Map<string, string>();
    for (const m of push.stderr.matchAll(/^remote: env ([A-Z_]+)=(.*?)\s*$/gm))
      seen.set(m[1] as string, m[2] as string);
    assert.deepEqual([...seen.keys()], [...ENV_DUMP_VARS], push.stderr);
    for (const [name, value] of seen)
      assert.notEqual(value, '<unset>', `${name} did not reach the hook:\n${push.stderr}`);
    // In sidecar mode these went gitward → X-Gitward-* → auth_request_set → fastcgi_param.
    assert.equal(seen.get('REMOTE_USER'), 'ann');
    assert.equal(seen.get('GITWARD_USER'), 'ann');
    assert.deepEqual(JSON.parse(seen.get('GITWARD_GROUPS') as string), ['eng']);
    assert.deepEqual(JSON.parse(seen.get('GITWARD_INFO') as string), { name: 'Ann Example', email: 'ann@example.org' });
  });

  if (options.bigTransfer === false) return;

  test(`${mode}: a push over 1 MiB streams through nginx chunked, and a 64 MiB clone unbuffered`, async (t) => {
    const s = get(t);
    if (!s) return;
    const dir = path.join(s.work, 'big-src');
    fs.mkdirSync(dir);
    const env = s.env();
    const ok = async (args: string[]) => {
      const r = await s.git(args, { cwd: dir, env });
      assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    // Set-up: the clone's 64 MiB go straight into the bare repo as a branch of their own (a blob,
    // a tree, a commit), written at zlib level 0 there: noise does not compress, and level 0 saves
    // the seconds zlib would waste trying, in this write and in the pack the clone gets.
    const big = path.join(s.gitward.repoRoot, 'big.git');
    const bulkEnv = { ...env, GIT_INDEX_FILE: path.join(dir, 'bulk.index') };
    const inBig = async (args: string[]): Promise<string> => {
      const r = await s.git(['--git-dir', big, ...args], { cwd: dir, env: bulkEnv });
      assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    await inBig(['config', 'core.compression', '0']);
    writePseudoRandomFile(path.join(dir, 'bulk.bin'), BIG_CLONE_BYTES, 6);
    const blob = await inBig(['hash-object', '-w', path.join(dir, 'bulk.bin')]);
    fs.rmSync(path.join(dir, 'bulk.bin'));
    await inBig(['update-index', '--add', '--cacheinfo', `100644,${blob},bulk.bin`]);
    const tree = await inBig(['write-tree']);
    await inBig(['update-ref', 'refs/heads/bulk', await inBig(['commit-tree', tree, '-m', 'bulk'])]);
    // The push through nginx.
    await ok(['init', '--quiet', '--initial-branch=main', '.']);
    writePseudoRandomFile(path.join(dir, 'blob.bin'), BIG_PUSH_BYTES, 7);
    await ok(['-c', 'core.compression=0', 'add', 'blob.bin']);
    await ok(['commit', '--quiet', '-m', 'big']);
    fs.rmSync(path.join(dir, 'blob.bin'));
    const before = s.accessLog().length;
    const logBefore = s.nginx.errorLog().length;
    const bodyTemp = watchTempDir(s.nginx.pid, s.clientBodyTemp);
    try {
      await ok(['-c', 'pack.compression=0', 'push', s.url('big', ann), 'main']);
    } finally {
      // Streamed (proxy_request_buffering / fastcgi_request_buffering off): no temp file at any time.
      assert.deepEqual(bodyTemp.stop(), [], 'nginx spooled the push body to client_body_temp_path');
    }
    assert.ok(!s.nginx.errorLog().slice(logBefore).includes(BUFFERED_REQUEST_LOG), s.nginx.errorLog().slice(logBefore));
    const posts = s
      .accessLog()
      .slice(before)
      .filter((l) => l.startsWith('POST /big.git/git-receive-pack'));
    // git first probes with a tiny POST (so that a 401 comes before the big body), then streams.
    assert.ok(
      posts.some((l) => / 200 te=chunked$/.test(l)),
      s.accessLog().slice(before).join('\n'),
    );
    const local = (await ok(['rev-parse', 'HEAD'])).stdout.trim();
    const remote = await s.git(['ls-remote', s.url('big', ann), 'refs/heads/main']);
    assert.equal(remote.stdout.split('\t')[0], local);

    // The clone of those 66 MiB (both branches): git's index-pack reads slower than git-http-backend writes, so a
    // buffering nginx (proxy_buffering / fastcgi_buffering on) would spool the answer to disk.
    const cloneLogBefore = s.nginx.errorLog().length;
    const respTemp = watchTempDir(
      s.nginx.pid,
      path.join(path.dirname(s.clientBodyTemp), mode === 'sidecar' ? 'fastcgi' : 'proxy'),
    );
    let cloned;
    try {
      cloned = await s.git(['clone', '--bare', '--quiet', s.url('big', ann), path.join(s.work, 'big-clone.git')]);
    } finally {
      assert.deepEqual(respTemp.stop(), [], 'nginx spooled the clone to its upstream temp path');
    }
    assert.equal(cloned.code, 0, cloned.stderr);
    assert.ok(
      !s.nginx.errorLog().slice(cloneLogBefore).includes(BUFFERED_RESPONSE_LOG),
      s.nginx.errorLog().slice(cloneLogBefore),
    );
    const head = await s.git(['--git-dir', path.join(s.work, 'big-clone.git'), 'rev-parse', 'main']);
    assert.equal(head.stdout.trim(), local);
  });
}
