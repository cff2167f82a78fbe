/**
 * Regression (issue 11 §2): /healthz showed anyone the problems of a failed reload — file paths,
 * line numbers, config fragments. Only a local direct peer (the unix socket, or loopback without
 * forwarding headers) gets the detail; a request nginx forwards (X-Forwarded-For, X-Real-IP,
 * Forwarded) gets `ok`/`degraded` alone. Over real requests through gitward, on TCP and a unix socket.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { createMemoryAuditSink } from '../../app/audit/audit-log.js';
import { createNullLogger } from '../../app/log/logger.js';
import { createApp, listenOn } from '../../app/server.js';
import { send, startGuarded } from './harness.js';
import { testSpawner } from '../helpers/server.js';

function getOverSocket(
  socketPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: '/healthz', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a failed reload: its problems go to local direct peers only; forwarded requests see "degraded"', async (t) => {
  const gw = await startGuarded(t, { config: { repos: {} } });
  const socket = path.join(gw.dir, 'gitward.sock');
  const viaSocket = http.createServer(
    createApp(
      { runtime: gw.runtime, logger: createNullLogger(), audit: createMemoryAuditSink(), now: Date.now },
      { spawner: await testSpawner(t) },
    ),
  );
  await listenOn(viaSocket, { kind: 'unix', path: socket, mode: 0o600 });
  t.after(() => new Promise<void>((resolve) => viaSocket.close(() => resolve())));

  gw.writeConfig({ repos: { 'x.git': { '.read': ['nobody-such'] } } });
  assert.equal(await gw.runtime.reload('test'), false);

  const forwarded: Array<Record<string, string>> = [
    { 'X-Forwarded-For': '203.0.113.5' },
    { 'X-Real-IP': '203.0.113.5' },
    { Forwarded: 'for=203.0.113.5' },
  ];
  for (const headers of forwarded) {
    const r = await send(gw, { path: '/healthz', headers });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { ok: false, status: 'degraded' }, JSON.stringify(headers));
    assert.ok(!r.body.toString().includes(gw.dir), 'a path leaked');
    const s = await getOverSocket(socket, headers);
    assert.deepEqual(JSON.parse(s.body), { ok: false, status: 'degraded' });
  }
  for (const local of [await send(gw, { path: '/healthz' }), await getOverSocket(socket)]) {
    const body = JSON.parse(local.body.toString()) as {
      ok: boolean;
      status: string;
      lastFailure: { problems: string[] } | null;
    };
    assert.equal(body.status, 'degraded');
    assert.ok(
      body.lastFailure?.problems.some((p) => p.includes(gw.configFile) && p.includes('nobody-such')),
      JSON.stringify(body),
    );
  }
  gw.writeConfig({ repos: {} });
  assert.equal(await gw.runtime.reload('test'), true);
  const after = await send(gw, { path: '/healthz', headers: { 'X-Forwarded-For': '203.0.113.5' } });
  assert.deepEqual(JSON.parse(after.body.toString()), { ok: true, status: 'ok' });
});
