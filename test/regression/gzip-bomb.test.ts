/**
 * Regression: a gzip bomb in an upload-pack body. gitward never inflates request bodies: the
 * compressed bytes stream to git-http-backend, which buffers at most GIT_HTTP_MAX_REQUEST_BUFFER
 * of them and inflates into upload-pack. Neither a bomb under that limit (1 GiB of zeros in ~1 MiB,
 * which upload-pack refuses as garbage) nor one over it (which git-http-backend refuses before
 * inflating) may grow gitward's memory, hang, or leave a git process behind; the client gets
 * git's own answer, and the server keeps serving.
 *
 * What git-http-backend answers was measured (git 2.39) and is pinned here: it sends its headers
 * (200, the upload-pack result type) before it reads the body, so each refusal is a 200 with an
 * empty body, and the reason goes to stderr, which gitward logs as `backend.stderr`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { GIT_HTTP_MAX_REQUEST_BUFFER_BYTES } from '../../app/backend/backend-env.js';
import { processesWithEnv, SAFETY_NET_MS, waitFor, describeProcs } from '../helpers/procs.js';
import { auditLines, basic, send, startGuarded, type Guarded, type RawResponse } from './harness.js';

/** Inflated size of the bomb under the limit. */
const BOMB_INFLATED_MIB = 1024;
/** …and of the one over it: 16 GiB of zeros, ~16 MiB compressed, well past the 10 MiB buffer. */
const BIG_BOMB_INFLATED_MIB = 16 * 1024;
/** What gitward may grow by while a bomb passes: far less than the bomb, far more than noise. */
const RSS_GROWTH_LIMIT_BYTES = 128 * 1024 * 1024;
/**
 * Bytes gitward may hand git past the limit before git's refusal stops the copy: what sits in the
 * pipe, the stream buffers and the socket when git-http-backend exits.
 */
const IN_FLIGHT_SLACK_BYTES = 2 * 1024 * 1024;
/** Safety net on git's processes exiting after the answer (they exit as they answer). */
const CHILD_EXIT_BOUND_MS = SAFETY_NET_MS;

/**
 * `mib` MiB of zeros as one gzip member, built in milliseconds: a deflate block of 1 MiB of zeros,
 * ended by a full flush (byte-aligned, no back-references), repeated; then a final empty block
 * and a trailer. The trailer's CRC is not computed: git refuses the stream long before.
 */
function gzipBomb(mib: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1024 * 1024), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03]);
  const finalEmptyBlock = Buffer.from([0x03, 0x00]);
  const trailer = Buffer.alloc(8);
  return Buffer.concat([header, ...Array.from({ length: mib }, () => block), finalEmptyBlock, trailer]);
}

const HEADERS = {
  Authorization: basic('ann', 'pw'),
  'Content-Type': 'application/x-git-upload-pack-request',
  'Content-Encoding': 'gzip',
};

/** POSTs `bomb` to upload-pack; returns the answer, its audit line, what gitward grew by, and git's stderr lines. */
async function sendBomb(
  gw: Guarded,
  bomb: Buffer,
  chunked: boolean,
): Promise<{ r: RawResponse; record: Record<string, unknown>; grewBy: number; stderr: string[] }> {
  const before = gw.audit.records.length;
  const rssBefore = process.memoryUsage().rss;
  const r = await send(gw, { method: 'POST', path: '/x.git/git-upload-pack', headers: HEADERS, body: bomb, chunked });
  const grewBy = process.memoryUsage().rss - rssBefore;
  const record = (await auditLines(gw, before + 1))[before] as unknown as Record<string, unknown>;
  const stderr = gw.logs.lines
    .filter((l) => l.event === 'backend.stderr' && l.requestId === record.requestId)
    .map((l) => String(l.line));
  return { r, record, grewBy, stderr };
}

/** git's answer to a refused upload-pack body: its headers, a 200 and nothing else. */
function assertGitRefusal(r: RawResponse, what: string): void {
  assert.equal(r.status, 200, `${what}: git-http-backend's status`);
  assert.equal(r.headers['content-type'], 'application/x-git-upload-pack-result', what);
  assert.equal(r.body.length, 0, `${what}: answered ${r.body.length} bytes`);
}

async function assertNoGitLeft(gw: Guarded): Promise<void> {
  await waitFor(
    () => processesWithEnv('GIT_PROJECT_ROOT', gw.repoRoot).length === 0,
    'no git process of this server is left',
    CHILD_EXIT_BOUND_MS,
    () => describeProcs(processesWithEnv('GIT_PROJECT_ROOT', gw.repoRoot)),
  );
}

test('a gzip bomb under the buffer limit: upload-pack refuses it, gitward stays small, nothing is left', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: { repos: { 'x.git': { '.read': ['ann'] } } },
    repos: ['x'],
  });
  const bomb = gzipBomb(BOMB_INFLATED_MIB);
  // The bomb is real: it inflates to zeros far past anything git would buffer (checked on 64 MiB).
  assert.ok(
    zlib.gunzipSync(bomb.subarray(0, 64 * (bomb.length >> 10)), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).length >=
      60 * 1024 * 1024,
  );
  assert.ok(bomb.length < GIT_HTTP_MAX_REQUEST_BUFFER_BYTES, `bomb is ${bomb.length} bytes`);

  for (const chunked of [false, true]) {
    const what = chunked ? 'chunked (no Content-Length)' : 'with a Content-Length';
    const { r, record, grewBy, stderr } = await sendBomb(gw, bomb, chunked);
    assertGitRefusal(r, what);
    assert.ok(grewBy < RSS_GROWTH_LIMIT_BYTES, `${what}: gitward grew by ${grewBy} bytes`);
    assert.equal(record.bytesIn, bomb.length, `${what}: the whole compressed body reached git`);
    assert.notEqual(record.exitCode, null, `${what}: the backend ran and exited`);
    // upload-pack reads the inflated zeros as a pkt-line length and stops at the first one.
    assert.ok(
      stderr.some((l) => /protocol error: bad line length character/.test(l)),
      `${what}: git's stderr: ${JSON.stringify(stderr)}`,
    );
    await assertNoGitLeft(gw);
  }

  const ok = await send(gw, {
    path: '/x.git/info/refs?service=git-upload-pack',
    headers: { Authorization: basic('ann', 'pw') },
  });
  assert.equal(ok.status, 200, 'the server still serves');
  assert.match(ok.body.toString(), /# service=git-upload-pack/);
});

test('a gzip bomb over GIT_HTTP_MAX_REQUEST_BUFFER: git-http-backend refuses it before inflating, and that is what the client gets', async (t) => {
  const gw = await startGuarded(t, {
    users: { ann: 'pw' },
    config: { repos: { 'x.git': { '.read': ['ann'] } } },
    repos: ['x'],
  });
  const bomb = gzipBomb(BIG_BOMB_INFLATED_MIB);
  assert.ok(
    bomb.length > GIT_HTTP_MAX_REQUEST_BUFFER_BYTES + IN_FLIGHT_SLACK_BYTES,
    `bomb is ${bomb.length} bytes, not over the limit`,
  );

  for (const chunked of [false, true]) {
    const what = chunked ? 'chunked (no Content-Length)' : 'with a Content-Length';
    const { r, record, grewBy, stderr } = await sendBomb(gw, bomb, chunked);
    assertGitRefusal(r, what);
    assert.ok(grewBy < RSS_GROWTH_LIMIT_BYTES, `${what}: gitward grew by ${grewBy} bytes`);
    // git-http-backend's own refusal, naming the limit gitward set; it exits 0 ("reported").
    const limitMessage = `request was larger than our maximum size (${GIT_HTTP_MAX_REQUEST_BUFFER_BYTES})`;
    assert.ok(
      stderr.some((l) => l.includes(limitMessage)),
      `${what}: git's stderr: ${JSON.stringify(stderr)}`,
    );
    assert.equal(record.exitCode, 0, `${what}: exit code`);
    assert.equal(record.status, 200);
    // git stopped reading at the limit (with a Content-Length, before reading at all): gitward
    // did not go on copying the rest of the bomb into it.
    assert.ok(
      (record.bytesIn as number) <= GIT_HTTP_MAX_REQUEST_BUFFER_BYTES + IN_FLIGHT_SLACK_BYTES,
      `${what}: ${String(record.bytesIn)} bytes reached git`,
    );
    await assertNoGitLeft(gw);
  }

  const ok = await send(gw, {
    path: '/x.git/info/refs?service=git-upload-pack',
    headers: { Authorization: basic('ann', 'pw') },
  });
  assert.equal(ok.status, 200, 'the server still serves');
});

test('gitward sets GIT_HTTP_MAX_REQUEST_BUFFER itself, as a named limit of at most 10 MiB', async (t) => {
  const gw = await startGuarded(t, {
    backend: 'dump',
    config: { repos: { '.read': ['$all'], 'x.git': {} } },
    repos: ['x'],
  });
  const r = await send(gw, {
    method: 'POST',
    path: '/x.git/git-upload-pack',
    headers: { 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip' },
    body: gzipBomb(BOMB_INFLATED_MIB),
  });
  assert.equal(r.status, 200);
  const env = JSON.parse(r.body.toString()) as Record<string, string>;
  assert.match(env.GIT_HTTP_MAX_REQUEST_BUFFER ?? '', /^\d+$/, 'GIT_HTTP_MAX_REQUEST_BUFFER is not set');
  const limit = Number(env.GIT_HTTP_MAX_REQUEST_BUFFER);
  assert.equal(limit, GIT_HTTP_MAX_REQUEST_BUFFER_BYTES);
  assert.ok(limit > 0 && limit <= 10 * 1024 * 1024, String(limit));
});
