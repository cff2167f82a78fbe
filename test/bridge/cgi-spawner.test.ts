/**
 * The CGI spawner (app/backend/cgi-spawner.ts + cgi-spawner.py): what a program it starts is given
 * (exactly its env, fds 0–2 only, default signal dispositions, a session of its own), how its end
 * is reported, and that nothing but the spawner can hand gitward a program's streams.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import type { BackendProcess } from '../../app/backend/backend-process.js';
import { startCgiSpawner, STDOUT_HIGH_WATER_MARK } from '../../app/backend/cgi-spawner.js';
import { relay } from '../../app/backend/run-backend.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { childrenOf, procInfo, SAFETY_NET_MS, waitFor } from '../helpers/procs.js';
import { testSpawner } from '../helpers/server.js';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'cgi');
const PROBE = path.join(FIXTURES, 'spawn-probe.js');
/** `#!/bin/cat /proc/self/status`: the signal dispositions a program starts with (Node would change its own). */
const SIGNAL_STATUS = path.join(FIXTURES, 'signal-status');
/** `#!/bin/ls /proc/self/fd`: the fds a program starts with (ls adds one for the directory it reads). */
const FD_LIST = path.join(FIXTURES, 'fd-list');
/** Writes "first ", pauses, writes "second" and exits. */
const WRITE_PAUSE_EXIT = path.join(FIXTURES, 'write-pause-exit');
const PATH = `${path.dirname(process.execPath)}:/usr/bin:/bin`;

/** Everything a stream carries until its end. */
function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.resume();
  return new Promise((resolve, reject) => {
    // An empty stream whose end came with the spawner's header has ended already: 'end' was emitted.
    if (stream.readableEnded) return resolve('');
    stream.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.once('error', reject);
  });
}

/** Runs a program to its end with no input: its stdout, stderr and how it ended. */
async function run(
  p: BackendProcess,
): Promise<{ out: string; err: string; code: number | null; signal: string | null }> {
  p.stdin.end();
  const [out, err, end] = await Promise.all([readAll(p.stdout), readAll(p.stderr), p.done]);
  return { out, err, code: end.code, signal: end.signal };
}

/** The spawner process of this test process: the direct child running cgi-spawner.py. */
function spawnerProcess(): { pid: number; socket: string } {
  for (const c of childrenOf(process.pid)) {
    const argv = fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0');
    if (argv.some((a) => a.endsWith('/cgi-spawner.py'))) return { pid: c.pid, socket: argv[argv.length - 2] as string };
  }
  throw new Error('no cgi-spawner.py child');
}

describe('the CGI spawner', () => {
  it('gives a program exactly its env, in a session and process group of its own', async (t: TestContext) => {
    const spawner = await testSpawner(t);
    const env = { PATH, PROBE: 'describe', GIT_PROJECT_ROOT: '/srv/git', ODD: 'ünïcode = "quoted"' };
    const p = await spawner.spawn(PROBE, env);
    const r = await run(p);
    assert.equal(r.code, 0, r.err);
    const seen = JSON.parse(r.out) as { env: Record<string, string>; pid: number; pgid: number; sid: number };
    assert.deepEqual(seen.env, env);
    assert.equal(seen.pid, p.pid);
    assert.equal(seen.pgid, p.pid);
    assert.equal(seen.sid, p.pid);
  });

  it('starts a program with default signal dispositions and nothing blocked (Python ignores SIGPIPE itself)', async (t) => {
    const spawner = await testSpawner(t);
    const r = await run(await spawner.spawn(SIGNAL_STATUS, {}));
    assert.equal(r.code, 0);
    const mask = (name: string): bigint =>
      BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(r.out)?.[1] ?? 'ff'}`);
    // Signals 1–31. glibc's posix_spawn leaves its two internal real-time signals (32, 33) ignored;
    // the program's own libc installs its handlers for them.
    assert.equal(mask('SigIgn') & 0x7fffffffn, 0n, 'no standard signal ignored (SIGPIPE above all)');
    assert.equal(mask('SigBlk'), 0n);
  });

  it('starts a program with fds 0, 1 and 2 only: no socket, pipe or pidfd of the spawner leaks', async (t) => {
    const spawner = await testSpawner(t);
    // Some spawns first, so the spawner holds more fds (pidfds, connections) while this one starts.
    const hanging = await Promise.all([1, 2, 3].map(() => spawner.spawn(PROBE, { PATH, PROBE: 'hang' })));
    const r = await run(await spawner.spawn(FD_LIST, {}));
    for (const h of hanging) h.kill('SIGKILL');
    await Promise.all(hanging.map((h) => run(h)));
    // ls lists /proc/self/fd and names the script it was given; its own fd 3 is the directory it reads.
    const listing = /\/proc\/self\/fd:\n((?:\d+\n)+)/.exec(r.out)?.[1] ?? '';
    assert.deepEqual(listing.trim().split('\n').sort(), ['0', '1', '2', '3']);
  });

  it('streams stdin to the program and its stdout and stderr back, to the end', async (t) => {
    const spawner = await testSpawner(t);
    const p = await spawner.spawn(PROBE, { PATH, PROBE: 'echo' });
    const body = Buffer.alloc(3 * 1024 * 1024, 'gitward ');
    const out = readAll(p.stdout);
    const err = readAll(p.stderr);
    p.stdin.end(body);
    assert.equal((await out).length, body.length);
    assert.equal(await err, 'ok\n');
    assert.deepEqual(await p.done, { code: 0, signal: null });
  });

  // Class: the end of a program's output must reach gitward however it reads. stdout is a FIFO, and
  // Linux reports a FIFO's hang-up only to readers that opened it before the writer: with the read
  // end opened after the program started, a page whose last piece came while gitward was not reading
  // never ended (the web bench hung a request once in ~100).
  it("sees the end of a program's output that came in pieces, read as it comes and paced", async (t) => {
    const spawner = await testSpawner(t);
    for (const paced of [false, true]) {
      const p = await spawner.spawn(WRITE_PAUSE_EXIT, { PATH });
      assert.equal(p.stdout.readableHighWaterMark, STDOUT_HIGH_WATER_MARK);
      p.stdin.end();
      p.stderr.resume();
      let out = '';
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          out += chunk.toString('utf8');
          callback();
        },
      });
      await relay(p.stdout, sink, () => undefined, paced ? { pacedUntil: p.exited } : {});
      assert.equal(out, 'first second', `paced: ${String(paced)}`);
      assert.equal((await p.done).code, 0);
    }
  });

  it('reports the exit code and the killing signal', async (t) => {
    const spawner = await testSpawner(t);
    assert.equal((await run(await spawner.spawn(PROBE, { PATH, PROBE: 'exit', PROBE_CODE: '7' }))).code, 7);
    const hang = await spawner.spawn(PROBE, { PATH, PROBE: 'hang' });
    const ended = run(hang);
    hang.kill('SIGTERM');
    assert.deepEqual(await ended.then((r) => [r.code, r.signal]), [null, 'SIGTERM']);
  });

  it('rejects a program that cannot start, naming it, and keeps serving', async (t) => {
    const spawner = await testSpawner(t);
    await assert.rejects(
      spawner.spawn('/nonexistent/git-http-backend', {}),
      /\/nonexistent\/git-http-backend: No such file or directory/,
    );
    await assert.rejects(spawner.spawn(path.join(FIXTURES, 'fake-backend.js.missing'), {}), /No such file/);
    assert.equal((await run(await spawner.spawn(PROBE, { PATH, PROBE: 'exit', PROBE_CODE: '0' }))).code, 0);
  });

  it('keeps 40 concurrent programs apart: each request gets its own streams back', async (t) => {
    const spawner = await testSpawner(t);
    const runs = Array.from({ length: 40 }, async (_, i) => {
      const p = await spawner.spawn(PROBE, { PATH, PROBE: 'describe', NTH: String(i) });
      const r = await run(p);
      return (JSON.parse(r.out) as { env: { NTH: string } }).env.NTH;
    });
    assert.deepEqual(
      await Promise.all(runs),
      Array.from({ length: 40 }, (_, i) => String(i)),
    );
  });

  it('listens in a directory only its user can enter, and drops a connection without a valid header', async (t) => {
    const spawner = await testSpawner(t);
    const { socket } = spawnerProcess();
    assert.equal(fs.statSync(path.dirname(socket)).mode & 0o777, 0o700);
    // A forged header (right shape, wrong token for request 1) and garbage: both closed by gitward.
    for (const header of [`00000001 ${'0'.repeat(32)} i\n`, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']) {
      const conn = net.connect(socket);
      conn.end(header);
      await new Promise<void>((resolve) => conn.once('close', () => resolve()).resume());
    }
    assert.equal((await run(await spawner.spawn(PROBE, { PATH, PROBE: 'exit', PROBE_CODE: '0' }))).code, 0);
  });

  it('when closed, stops: the spawner exits and its socket directory is removed', async (t) => {
    const spawner = await testSpawner(t);
    const { pid, socket } = spawnerProcess();
    await spawner.close();
    assert.equal(fs.existsSync(path.dirname(socket)), false);
    assert.equal(
      childrenOf(process.pid).some((c) => c.pid === pid && c.state !== 'Z'),
      false,
    );
    await assert.rejects(spawner.spawn(PROBE, {}), /the CGI spawner exited/);
  });

  it('when the spawner is killed, what it was running ends with an error and the next request starts a new one', async (t) => {
    const logger = createMemoryLogger();
    const spawner = await startCgiSpawner(logger);
    t.after(() => spawner.close());
    const hang = await spawner.spawn(PROBE, { PATH, PROBE: 'hang' });
    const first = spawnerProcess();
    process.kill(first.pid, 'SIGKILL');
    // The program it started still runs (it is in its own session): gitward kills it, as after a client abort.
    hang.kill('SIGKILL');
    const end = await hang.done;
    assert.match(end.error?.message ?? '', /the CGI spawner exited \(SIGKILL\)/);
    assert.equal((await run(await spawner.spawn(PROBE, { PATH, PROBE: 'exit', PROBE_CODE: '5' }))).code, 5);
    assert.notEqual(spawnerProcess().pid, first.pid);
    assert.deepEqual(
      logger.lines.map((l) => l.event),
      ['backend.spawner_restart'],
    );
  });
  it('stops every program when a report to gitward fails (its pipe closes before the death signal)', async (t) => {
    // The spawner script driven directly: gitward's side of its stdout is closed, as when gitward
    // dies (the kernel closes its files before it sends the parent-death signal). A program that
    // ends then makes the spawner report to a closed pipe: it must SIGTERM the others and exit,
    // not die of the write error and leave them running.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-spawner-pipe-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sockPath = path.join(dir, 'spawn.sock');
    const held: net.Socket[] = [];
    const listener = net.createServer((c) => held.push(c));
    await new Promise<void>((resolve) => listener.listen(sockPath, resolve));
    t.after(() => {
      for (const c of held) c.destroy();
      listener.close();
    });
    const script = path.join(__dirname, '..', '..', '..', 'app', 'backend', 'cgi-spawner.py');
    const spawner = spawn('/usr/bin/python3', ['-I', '-S', script, sockPath], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    spawner.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<void>((resolve) => spawner.once('exit', () => resolve()));
    t.after(() => spawner.kill('SIGKILL'));
    const request = (id: number, program: string) =>
      spawner.stdin.write(`${JSON.stringify({ id, token: '0'.repeat(32), path: program, env: {} })}\n`);
    // 1. cat, which reads its stdin (a connection this test holds open) until stopped. Its stdout
    // FIFO is opened as gitward does, before the spawner starts it.
    request(1, '/bin/cat');
    const catPid = await new Promise<number>((resolve) => {
      let text = '';
      spawner.stdout.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('"fifo": true') && !text.includes('opened')) {
          const fd = fs.openSync(path.join(dir, '00000001.out'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
          t.after(() => fs.closeSync(fd));
          text += 'opened';
          spawner.stdin.write(`${JSON.stringify({ opened: 1 })}\n`);
        }
        const m = /"pid": (\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
    });
    // 2. gitward's end of the reports closes, and a second request comes: the spawner's first report
    // on it fails.
    spawner.stdout.destroy();
    request(2, '/bin/true');
    await exited;
    await waitFor(() => (procInfo(catPid)?.state ?? 'Z') === 'Z', 'cat was stopped', SAFETY_NET_MS);
    assert.doesNotMatch(stderr, /Traceback/, 'the spawner did not die of an exception');
  });
});
