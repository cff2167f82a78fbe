import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { DuplexOptions } from 'node:stream';
import type { Logger } from '../types.js';
import type { BackendEnd, BackendProcess } from './backend-process.js';

/**
 * Debian's Python 3: the spawner needs 3.9 or later (os.pidfd_open); Debian 12 ships 3.11. An
 * absolute path, so nothing on PATH decides which program starts every CGI.
 */
export const PYTHON_PATH = '/usr/bin/python3';

/** The spawner's source, beside this module's source (dist/ holds only compiled TypeScript). */
const SPAWNER_SCRIPT = path.resolve(__dirname, '..', '..', '..', 'app', 'backend', 'cgi-spawner.py');

/** Bytes of the per-request token that proves a connection was opened by our spawner. */
const TOKEN_BYTES = 16;

/** "<id: 8 hex> <token: 32 hex> <i|e>\n", written first on every connection the spawner opens. */
const HEADER_LENGTH = 8 + 1 + TOKEN_BYTES * 2 + 1 + 1 + 1;

/** A connection that has not sent its header within this long is dropped: the spawner writes it at once. */
const HEADER_TIMEOUT_MS = 10_000;

/** Bytes Node reads ahead of a program's stdout: a paced relay must be able to stop its reads. */
export const STDOUT_HIGH_WATER_MARK = 64;

/** Most bytes of the spawner's own stderr (a Python traceback) kept for the error that follows. */
const SPAWNER_STDERR_MAX = 4096;

/** stdin and stderr are connections; stdout, `o`, is a FIFO (cgi-spawner.py says why). */
type StreamKind = 'i' | 'o' | 'e';

/** One program being started or running. */
interface Entry {
  readonly token: Buffer;
  readonly streams: Partial<Record<StreamKind, net.Socket>>;
  pid?: number;
  /** Set once the program is running and BackendProcess has been handed out. */
  started: boolean;
  end?: BackendEnd;
  resolve(p: BackendProcess): void;
  reject(err: Error): void;
  /** Set once started: settles `done`. */
  finish?(end: BackendEnd): void;
  /** Set once started: settles `exited`. */
  gone?(): void;
  /** The read end of the program's stdout FIFO, opened before the program starts. */
  outFd?: number;
}

/** Messages from cgi-spawner.py, one JSON object a line. */
interface SpawnerMessage {
  readonly id: number;
  readonly pid?: number;
  readonly fifo?: boolean;
  readonly error?: string;
  readonly code?: number;
  readonly signal?: string;
}

/**
 * Starts CGI programs (git-http-backend, cgit) through cgi-spawner.py, a small long-lived Python
 * process that uses posix_spawn: Node's own spawn() forks all of gitward and blocks its event loop
 * for milliseconds per request (ARCHITECTURE.md, "Starting CGI programs"). Each program's stdin
 * and stderr are unix-socket connections to a listener in a directory only this user can enter,
 * each proven by a random per-request token; its stdout is a FIFO in that directory. One spawner
 * per running server.
 */
export interface CgiSpawner {
  /**
   * Starts `file` (no arguments) with exactly `env`, in a process group of its own. stdout and
   * stderr come paused: read them with pipe() or resume(). Rejects when the program cannot start.
   */
  spawn(file: string, env: Readonly<Record<string, string>>): Promise<BackendProcess>;
  /** Stops the spawner; programs still running get SIGTERM from it. */
  close(): Promise<void>;
}

/** One spawner process with its listener; `failure` is set once it is gone. */
interface SpawnerProcess extends CgiSpawner {
  failure(): Error | null;
}

/**
 * Starts the spawner and resolves once it is ready; fails when Python 3 or the listener is missing
 * (start-up stops: fail closed). Should the spawner die while gitward runs (the OOM killer, an
 * admin's kill), the requests it was starting fail with 502 and the next request starts a new one.
 */
export async function startCgiSpawner(logger?: Logger): Promise<CgiSpawner> {
  let current: Promise<SpawnerProcess> = launchSpawner();
  await current;
  let closed = false;
  return {
    async spawn(file, env) {
      const was = current;
      const running = await was.catch(() => null);
      const failure = running === null ? new Error('the CGI spawner could not start') : running.failure();
      if (running !== null && failure === null) return running.spawn(file, env);
      if (closed) throw failure;
      if (current === was) {
        logger?.error('backend.spawner_restart', { reason: failure?.message });
        current = launchSpawner();
      }
      return (await current).spawn(file, env);
    },
    async close() {
      closed = true;
      const running = await current.catch(() => null);
      await running?.close();
    },
  };
}

/** Starts one spawner process and its listener. */
async function launchSpawner(): Promise<SpawnerProcess> {
  if (!fs.existsSync(PYTHON_PATH)) {
    throw new Error(
      `${PYTHON_PATH} not found: gitward starts git-http-backend and cgit through Python 3 (apt install python3)`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-cgi-'));
  const socketPath = path.join(dir, 'spawn.sock');
  const entries = new Map<number, Entry>();
  let nextId = 1;
  let failure: Error | null = null;

  const server = net.createServer((conn) => acceptConnection(conn));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const child: ChildProcess = spawn(PYTHON_PATH, ['-I', '-S', SPAWNER_SCRIPT, socketPath], {
    env: {},
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdin = child.stdin as net.Socket;
  const stdout = child.stdout as net.Socket;
  const stderr = child.stderr as net.Socket;
  let stderrText = '';
  stderr.on('data', (chunk: Buffer) => {
    if (stderrText.length < SPAWNER_STDERR_MAX) stderrText += chunk.toString('utf8').slice(0, SPAWNER_STDERR_MAX);
  });
  stdin.on('error', () => undefined);

  /** The spawner is gone: every program not yet handed out fails; running ones end as their streams do. */
  const fail = (err: Error): void => {
    if (failure !== null) return;
    failure = err;
    for (const [id, entry] of entries) {
      if (entry.started) {
        entry.end ??= { code: null, signal: null, error: err };
        entry.gone?.();
        settleIfDone(id, entry);
      } else {
        forget(id, entry, err);
      }
    }
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  child.once('error', (err) => fail(new Error(`the CGI spawner could not start: ${err.message}`)));
  child.once('exit', (code, signal) => {
    const why = stderrText.trim().split('\n').slice(-1)[0] ?? '';
    fail(new Error(`the CGI spawner exited (${signal ?? `code ${String(code)}`})${why === '' ? '' : `: ${why}`}`));
  });

  let lineBuffer = '';
  stdout.setEncoding('utf8');
  stdout.on('data', (text: string) => {
    lineBuffer += text;
    let newline: number;
    while ((newline = lineBuffer.indexOf('\n')) >= 0) {
      const line = lineBuffer.slice(0, newline);
      lineBuffer = lineBuffer.slice(newline + 1);
      onMessage(JSON.parse(line) as SpawnerMessage);
    }
  });

  function onMessage(m: SpawnerMessage): void {
    const entry = entries.get(m.id);
    if (entry === undefined) return;
    if (m.error !== undefined) {
      forget(m.id, entry, new Error(m.error));
    } else if (m.fifo === true) {
      openStdout(m.id, entry);
    } else if (m.pid !== undefined) {
      entry.pid = m.pid;
      // net.Socket hands its options to stream.Duplex, whose readableHighWaterMark it keeps.
      const options: net.SocketConstructorOpts & DuplexOptions = {
        fd: entry.outFd,
        readable: true,
        writable: false,
        readableHighWaterMark: STDOUT_HIGH_WATER_MARK,
      };
      entry.outFd = undefined;
      const o = new net.Socket(options);
      o.on('error', () => undefined);
      entry.streams.o = o;
      handOut(m.id, entry);
    } else {
      entry.end = { code: m.code ?? null, signal: m.signal ?? null };
      entry.gone?.();
      settleIfDone(m.id, entry);
    }
  }

  /**
   * Opens the read end of the program's stdout FIFO, before the program exists (cgi-spawner.py
   * says why), and tells the spawner to start it. Node reads from it once the pid has come; its
   * small highWaterMark makes Node stop reading while a paced relay waits (run-backend.ts).
   */
  function openStdout(id: number, entry: Entry): void {
    try {
      entry.outFd = fs.openSync(
        path.join(dir, `${id.toString(16).padStart(8, '0')}.out`),
        fs.constants.O_RDONLY | fs.constants.O_NONBLOCK,
      );
    } catch (err) {
      forget(id, entry, new Error(`the program's output could not be opened: ${(err as Error).message}`));
    }
    // Also on failure: the spawner then fails to open the write end, and says so.
    stdin.write(`${JSON.stringify({ opened: id })}\n`);
  }

  /** A program that will not start: its request fails and what was opened for it is closed. */
  function forget(id: number, entry: Entry, err: Error): void {
    entries.delete(id);
    for (const s of Object.values(entry.streams)) s.destroy();
    if (entry.outFd !== undefined) fs.closeSync(entry.outFd);
    entry.outFd = undefined;
    entry.reject(err);
  }

  /** Reads a connection's header and files it under its request. */
  function acceptConnection(conn: net.Socket): void {
    conn.on('error', () => undefined);
    const timer = setTimeout(() => conn.destroy(), HEADER_TIMEOUT_MS);
    const onReadable = (): void => {
      const header = conn.read(HEADER_LENGTH) as Buffer | null;
      if (header === null) return;
      conn.off('readable', onReadable);
      clearTimeout(timer);
      const m = /^([0-9a-f]{8}) ([0-9a-f]{32}) ([ie])\n$/.exec(header.toString('latin1'));
      const id = m === null ? -1 : parseInt(m[1] as string, 16);
      const entry = entries.get(id);
      const kind = m?.[3] as StreamKind;
      const proven =
        m !== null && entry !== undefined && crypto.timingSafeEqual(Buffer.from(m[2] as string, 'latin1'), entry.token);
      if (!proven || entry.streams[kind]) {
        conn.destroy();
        return;
      }
      entry.streams[kind] = conn;
      handOut(id, entry);
    };
    conn.on('readable', onReadable);
    conn.once('end', () => clearTimeout(timer));
  }

  /** Resolves `spawn` once the pid, its stdout and both connections are there. */
  function handOut(id: number, entry: Entry): void {
    const { i, o, e } = entry.streams;
    if (entry.started || entry.pid === undefined || !i || !o || !e) return;
    entry.started = true;
    const pid = entry.pid;
    o.once('close', () => settleIfDone(id, entry));
    e.once('close', () => settleIfDone(id, entry));
    const done = new Promise<BackendEnd>((resolve) => (entry.finish = resolve));
    // The exit report can come before the last connection does.
    const exited = new Promise<void>((resolve) => (entry.gone = resolve));
    if (entry.end !== undefined) entry.gone?.();
    entry.resolve({
      pid,
      stdin: i,
      stdout: o,
      stderr: e,
      done,
      exited,
      kill(signal) {
        // The whole group: the program's children (upload-pack, pack-objects, index-pack) too.
        try {
          process.kill(-pid, signal);
        } catch {
          // The group is already gone.
        }
      },
    });
  }

  /** `done` settles when the program has exited and its stdout and stderr have closed. */
  function settleIfDone(id: number, entry: Entry): void {
    const { o, e } = entry.streams;
    if (entry.end === undefined || !entry.finish || !o?.closed || !e?.closed) return;
    entries.delete(id);
    entry.finish(entry.end);
  }

  // Nothing is unref'd: a running spawner keeps the process alive until close() (the server's
  // close, or the test's), so no request can be left waiting on a loop that has ended.

  return {
    failure: () => failure,
    spawn(file, env) {
      if (failure !== null) return Promise.reject(failure);
      const id = nextId++;
      const token = Buffer.from(crypto.randomBytes(TOKEN_BYTES).toString('hex'), 'latin1');
      return new Promise<BackendProcess>((resolve, reject) => {
        entries.set(id, { token, streams: {}, started: false, resolve, reject });
        stdin.write(`${JSON.stringify({ id, token: token.toString('latin1'), path: file, env })}\n`);
      });
    },
    async close() {
      if (failure !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      stdin.end();
      await exited;
    },
  };
}
