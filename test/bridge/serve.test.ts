import assert from 'node:assert/strict';
import crypto, { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { waitFor } from '../helpers/procs.js';
import { spawnGitward } from '../helpers/server.js';
import { gitOk } from './git-run.js';

const pkt = (s: string): string => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
const annHeader = `Basic ${Buffer.from('ann:ann-pw').toString('base64')}`;

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('gitward serve (a real child process)', () => {
  it('SIGTERM: stops accepting, lets the in-flight clone finish, exits 0', async (t) => {
    const gw = await spawnGitward(t, {
      users: { ann: 'ann-pw' },
      config: { users: { ann: {} }, repos: { 'big.git': { '.read': ['ann'] } } },
      repos: ['big'],
    });
    const env = gw.gitEnv;
    const src = path.join(gw.dir, 'src');
    await gitOk(['init', '-q', '-b', 'main', src], { cwd: gw.dir, env });
    fs.writeFileSync(path.join(src, 'random.bin'), randomBytes(8 * 1024 * 1024));
    await gitOk(['add', '.'], { cwd: src, env });
    await gitOk(['commit', '-qm', 'big'], { cwd: src, env });
    await gitOk(['push', '-q', path.join(gw.repoRoot, 'big.git'), 'main'], { cwd: src, env });
    const sha = (await gitOk(['rev-parse', 'HEAD'], { cwd: src, env })).trim();

    // An in-flight clone (protocol v0, no side-band) that reads one chunk and then waits.
    const body = `${pkt(`want ${sha}\n`)}0000${pkt('done\n')}`;
    const chunks: Buffer[] = [];
    let res!: http.IncomingMessage;
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: gw.port,
          method: 'POST',
          path: '/big.git/git-upload-pack',
          headers: {
            authorization: annHeader,
            'content-type': 'application/x-git-upload-pack-request',
            'content-length': String(body.length),
          },
        },
        (r) => {
          res = r;
          r.once('data', (c: Buffer) => {
            chunks.push(c);
            r.pause();
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(res.statusCode, 200);

    gw.child.kill('SIGTERM');
    await gw.waitForLog('server.stopping');
    // The listener closes right after `server.stopping`; the safety net fails one that stays open.
    await waitFor(() => refused(gw.port), 'new connections are refused after SIGTERM');
    assert.equal(gw.child.exitCode, null, 'still running while a request is in flight');

    const ended = new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', resolve);
      res.on('aborted', () => reject(new Error('the in-flight response was cut')));
      res.on('error', reject);
    });
    res.resume();
    await ended;
    const all = Buffer.concat(chunks);
    assert.equal(all.subarray(0, 8).toString(), '0008NAK\n');
    const check = path.join(gw.dir, 'check.git');
    await gitOk(['init', '-q', '--bare', check], { cwd: gw.dir, env });
    await gitOk(['index-pack', '--stdin'], { cwd: check, env, input: all.subarray(8) });
    await gitOk(['cat-file', '-e', sha], { cwd: check, env });
    assert.equal(await gw.exited, 0);
    assert.ok(gw.logLines.some((l) => l.event === 'server.stopped' && l.clean === true));
    // The audit line of the clone was written before exit, with git's exit code: a pack transfer
    // is spawned by gitward itself whichever the runner.
    assert.ok(gw.stdoutLines.some((l) => l.service === 'git-upload-pack' && l.status === 200 && l.exitCode === 0));
  });

  it('SIGHUP reloads the config; /healthz shows the new hash', async (t) => {
    const gw = await spawnGitward(t, { config: { repos: { 'x.git': { '.read': ['$all'] } } }, repos: ['x'] });
    const before = (await (await fetch(`${gw.origin}/healthz`)).json()) as { configHash: string; ok: boolean };
    assert.equal(before.ok, true);
    const text = fs.readFileSync(gw.configFile, 'utf8');
    fs.writeFileSync(gw.configFile, `${text}realm: changed\n`);
    gw.child.kill('SIGHUP');
    await gw.waitForLog('config.reloaded');
    const after = (await (await fetch(`${gw.origin}/healthz`)).json()) as { configHash: string };
    assert.notEqual(after.configHash, before.configHash);
    const r = await fetch(`${gw.origin}/x.git/git-receive-pack`, { method: 'POST' });
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="changed", charset="UTF-8"');
  });

  it('a reload that changes start-up-only settings logs config.restart_required naming them; /healthz shows them', async (t) => {
    const gw = await spawnGitward(t, { config: { repos: { 'x.git': { '.read': ['$all'] } } }, repos: ['x'] });
    const before = (await (await fetch(`${gw.origin}/healthz`)).json()) as { restartRequired: string[] };
    assert.deepEqual(before.restartRequired, []);
    // One start-up-only setting of each kind (logger, HTTP server), and a live one (realm) beside them.
    const started = fs.readFileSync(gw.configFile, 'utf8');
    const edited = yaml.load(started) as Record<string, unknown>;
    fs.writeFileSync(
      gw.configFile,
      yaml.dump({
        ...edited,
        realm: 'changed',
        log: { level: 'warn', format: 'json', audit: null },
        server: { idle_timeout_seconds: 77 },
      }),
    );
    gw.child.kill('SIGHUP');
    const line = await gw.waitForLog('config.restart_required');
    assert.deepEqual(line.settings, ['log.level', 'server.idle_timeout_seconds']);
    const after = (await (await fetch(`${gw.origin}/healthz`)).json()) as { ok: boolean; restartRequired: string[] };
    assert.deepEqual(after.restartRequired, ['log.level', 'server.idle_timeout_seconds']);
    assert.equal(after.ok, true, 'the new config is in force for everything else');
    // Back to what the server started with: nothing is pending any more.
    fs.writeFileSync(gw.configFile, started);
    gw.child.kill('SIGHUP');
    await gw.waitForLog(
      'config.reloaded',
      (l) => l.configSha256 === crypto.createHash('sha256').update(fs.readFileSync(gw.configFile)).digest('hex'),
    );
    const reverted = (await (await fetch(`${gw.origin}/healthz`)).json()) as { restartRequired: string[] };
    assert.deepEqual(reverted.restartRequired, []);
  });

  it('a bad config exits 78 with every problem, before listening', async (t) => {
    await assert.rejects(
      spawnGitward(t, { config: { bogus: 1, repos: { 'x.git': { '.read': ['@nogroup'] } } } }),
      /exited \(78\)/,
    );
  });

  it('a bad hook plugin setting exits 78 before listening, as `gitward check` does', async (t) => {
    await assert.rejects(
      spawnGitward(t, { config: { repos: { web: { '.hooks': { 'branch-flow': { flow: ['main'] } } } } } }),
      /exited \(78\).*gitward\.yaml:\d+: repos\.web\.hooks\.branch-flow\.flow: a list of at least two branch names is required/,
    );
  });
});
