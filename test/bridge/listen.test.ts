import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createMemoryAuditSink } from '../../app/audit/audit-log.js';
import { createNullLogger } from '../../app/log/logger.js';
import { configureServer, createApp, listenOn, shutdownServer } from '../../app/server.js';
import { gitHttpBackendPath } from '../helpers/git.js';
import { startGitward, testSpawner } from '../helpers/server.js';
import { eventually } from './git-run.js';

function get(socketPath: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('listening on a unix socket', () => {
  it('replaces a stale socket file, sets its mode, serves git, refuses to clobber', async (t) => {
    const gw = await startGitward(t, { config: { repos: { 'x.git': { '.read': ['$all'] } } }, repos: ['x'] });
    const sock = path.join(gw.dir, 'gitward.sock');
    // A stale socket: its server was killed without removing it.
    const r = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(fs.lstatSync(sock).isSocket());

    const audit = createMemoryAuditSink();
    const app = createApp(
      { runtime: gw.runtime, logger: createNullLogger(), audit, now: Date.now },
      {
        backendPath: await gitHttpBackendPath(),
        processEnv: { PATH: process.env.PATH },
        spawner: await testSpawner(t),
      },
    );
    const server = http.createServer(app);
    configureServer(server, gw.runtime.current().config.server);
    const printed = await listenOn(server, { kind: 'unix', path: sock, mode: 0o660 });
    t.after(() => shutdownServer(server, 1000));
    assert.equal(printed, `unix:${sock}`);
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);

    const health = await get(sock, '/healthz');
    assert.equal(health.status, 200);
    const refs = await get(sock, '/x.git/info/refs?service=git-upload-pack');
    assert.equal(refs.status, 200);
    assert.match(refs.body, /# service=git-upload-pack/);
    const line = await eventually(() => audit.records.find((a) => a.repo === 'x'), 'the audit line');
    assert.equal(line.remoteAddr, 'unix');

    const second = http.createServer(app);
    await assert.rejects(listenOn(second, { kind: 'unix', path: sock, mode: 0o660 }), /another server is listening/);
    const plain = path.join(gw.dir, 'plain-file');
    fs.writeFileSync(plain, 'x');
    await assert.rejects(listenOn(second, { kind: 'unix', path: plain, mode: 0o660 }), /not a socket/);
    assert.equal(fs.readFileSync(plain, 'utf8'), 'x');
  });
});

describe('server timeouts', () => {
  it('bounds slow headers and idle sockets, but never a whole request (a 10-minute push)', () => {
    const server = http.createServer();
    configureServer(server, { headersTimeoutSeconds: 60, idleTimeoutSeconds: 300 });
    assert.equal(server.headersTimeout, 60_000);
    assert.equal(server.requestTimeout, 0);
    assert.equal(server.timeout, 300_000);
    assert.ok(server.keepAliveTimeout > 60_000, 'longer than nginx upstream keepalive_timeout');
  });
});
