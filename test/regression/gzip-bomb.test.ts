/**
 * Regression: a gzip bomb in an upload-pack body. gitward never inflates request bodies: the
 * compressed bytes stream to git-http-backend, which inflates into upload-pack (the compressed
 * size bounded by GIT_HTTP_MAX_REQUEST_BUFFER). 1 GiB of zeros in ~1 MiB must not grow
 * gitward's memory, must end (no hang, no leaked git process), and the server keeps serving.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { auditLines, basic, send, startGuarded } from './harness.js';

/** Inflated size of the bomb. */
const BOMB_INFLATED_BYTES = 1024 * 1024 * 1024;
/** What gitward may grow by while the bomb passes: far less than the bomb, far more than noise. */
const RSS_GROWTH_LIMIT_BYTES = 128 * 1024 * 1024;

/**
 * 1 GiB of zeros as one gzip member, built in milliseconds: a deflate block of 1 MiB of zeros,
 * ended by a full flush (byte-aligned, no back-references), repeated; then a final empty block
 * and a trailer. The trailer's CRC is not computed: upload-pack refuses the stream long before.
 */
function gzipBomb(): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1024 * 1024), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03]);
  const finalEmptyBlock = Buffer.from([0x03, 0x00]);
  const trailer = Buffer.alloc(8);
  return Buffer.concat([header, ...Array.from({ length: BOMB_INFLATED_BYTES / (1024 * 1024) }, () => block), finalEmptyBlock, trailer]);
}

/** git processes whose command line mentions `dir` (the test's temp dir). */
function gitProcessesUnder(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /git/.test(l) && l.includes(dir));
}

test('a gzip bomb in an upload-pack body is bounded, ends, and the server keeps serving', async (t) => {
  const gw = await startGuarded(t, { users: { ann: 'pw' }, config: { repos: { 'x.git': { '.read': ['ann'] } } }, repos: ['x'] });
  const bomb = gzipBomb();
  // The bomb is real: it inflates to zeros far past anything git would buffer (checked on 64 MiB).
  assert.ok(zlib.gunzipSync(bomb.subarray(0, 64 * (bomb.length >> 10)), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).length >= 60 * 1024 * 1024);
  assert.ok(bomb.length < 2 * 1024 * 1024, `bomb is ${bomb.length} bytes`);
  const rssBefore = process.memoryUsage().rss;
  const headers = { Authorization: basic('ann', 'pw'), 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip' };
  const r = await send(gw, { method: 'POST', path: '/x.git/git-upload-pack', headers, body: bomb });
  const rssAfter = process.memoryUsage().rss;
  assert.ok(r.status === 200 || r.status >= 500, `status ${r.status}`);
  assert.ok(rssAfter - rssBefore < RSS_GROWTH_LIMIT_BYTES, `gitward grew by ${rssAfter - rssBefore} bytes`);
  const [record] = await auditLines(gw, 1);
  assert.equal(record?.bytesIn, bomb.length);
  assert.notEqual(record?.exitCode, null, 'the backend ran and exited');
  // Less than what the bomb inflates to went back: upload-pack refused it.
  assert.ok(r.body.length < 64 * 1024, `answered ${r.body.length} bytes`);
  assert.deepEqual(gitProcessesUnder(gw.dir), []);

  await t.test('the same bomb chunked (no Content-Length) ends the same way', async () => {
    const c = await send(gw, { method: 'POST', path: '/x.git/git-upload-pack', headers, body: bomb, chunked: true });
    assert.ok(c.status === 200 || c.status >= 500, `status ${c.status}`);
    const records = await auditLines(gw, 2);
    assert.equal(records[1]?.bytesIn, bomb.length);
  });

  await t.test('the server still serves', async () => {
    const ok = await send(gw, { path: '/x.git/info/refs?service=git-upload-pack', headers: { Authorization: basic('ann', 'pw') } });
    assert.equal(ok.status, 200);
    assert.match(ok.body.toString(), /# service=git-upload-pack/);
  });
});

test('gitward sets GIT_HTTP_MAX_REQUEST_BUFFER itself, as a named limit of at most 10 MiB', async (t) => {
  const gw = await startGuarded(t, { backend: 'dump', config: { repos: { '.read': ['$all'], 'x.git': {} } }, repos: ['x'] });
  const r = await send(gw, { method: 'POST', path: '/x.git/git-upload-pack', headers: { 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip' }, body: gzipBomb() });
  assert.equal(r.status, 200);
  const env = JSON.parse(r.body.toString()) as Record<string, string>;
  assert.match(env.GIT_HTTP_MAX_REQUEST_BUFFER ?? '', /^\d+$/, 'GIT_HTTP_MAX_REQUEST_BUFFER is not set');
  const limit = Number(env.GIT_HTTP_MAX_REQUEST_BUFFER);
  assert.ok(limit > 0 && limit <= 10 * 1024 * 1024, String(limit));
});
