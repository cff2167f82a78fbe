/**
 * Regression (issue 11 §2): a GET with a 1 MB body got a 502 and a backend failure in the log
 * (git-http-backend does not read a GET's body). git never sends one: gitward reads it (bounded)
 * and answers 400, git never runs, and nothing is logged as a backend failure. With a
 * Content-Length body and a chunked one, over real sockets; the connection stays usable.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { assertNoBackend, auditLines, basic, send, startGuarded, type Guarded } from './harness.js';

const ONE_MB = Buffer.alloc(1024 * 1024, 0x61);
const ADV = '/x.git/info/refs?service=git-upload-pack';

function startServer(t: Parameters<typeof startGuarded>[0]): Promise<Guarded> {
  return startGuarded(t, {
    users: { ann: 'ann-pw' },
    config: { users: { ann: {} }, repos: { 'x.git': { '.read': ['ann'] } } },
    repos: ['x'],
  });
}

function assertNoBackendFailure(gw: Guarded): void {
  const bad = gw.logs.lines.filter(
    (l) => l.level === 'error' || (String(l.event).startsWith('backend.') && l.level !== 'debug'),
  );
  assert.deepEqual(bad, [], 'nothing is logged as a backend failure');
}

for (const chunked of [false, true]) {
  test(`a GET with a 1 MB ${chunked ? 'chunked' : 'Content-Length'} body is a 400, git never runs, no backend failure is logged`, async (t) => {
    const gw = await startServer(t);
    for (const method of ['GET', 'HEAD']) {
      // Node's client frames a GET's body only when told to (no chunked default for GET and HEAD).
      const framing: Record<string, string> = chunked ? { 'Transfer-Encoding': 'chunked' } : {};
      const r = await send(gw, {
        method,
        path: ADV,
        headers: { Authorization: basic('ann', 'ann-pw'), ...framing },
        body: ONE_MB,
        chunked,
      });
      assert.equal(r.status, 400, `${method}: ${r.body.toString()}`);
      if (method === 'GET') assert.match(r.body.toString(), /has no body/);
    }
    const records = await auditLines(gw, 2);
    assert.deepEqual(
      records.map((r) => [r.status, r.decision]),
      [
        [400, 'invalid'],
        [400, 'invalid'],
      ],
    );
    await assertNoBackend(gw, 2);
    assertNoBackendFailure(gw);
    // The same request without a body works.
    const ok = await send(gw, { path: ADV, headers: { Authorization: basic('ann', 'ann-pw') } });
    assert.equal(ok.status, 200);
  });
}

test('after a refused GET with a body, the next request on the same connection is answered', async (t) => {
  const gw = await startServer(t);
  const auth = `Authorization: ${basic('ann', 'ann-pw')}\r\n`;
  const first = `GET ${ADV} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: ${ONE_MB.length}\r\n\r\n`;
  const second = `GET ${ADV} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(first);
    socket.write(ONE_MB);
    socket.write(second);
  });
  const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [400, 200], answer.slice(0, 400));
  assertNoBackendFailure(gw);
});
