import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import type { Logger } from '../types.js';
import type { BackendEnd, BackendPool, BackendProcess } from './backend-process.js';
import { createRecordReader, encodeBeginRequest, encodeParams, encodeRecords, FastCgiProtocolError, FcgiType } from './fastcgi.js';
import { SETPRIV_PATH } from './run-backend.js';

/**
 * Why this exists: forking gitward's own Node process for every request costs 1.2–2 ms of
 * blocked event loop on a small VM (page tables of a ~100 MB process, copied and torn down), more
 * than git-http-backend's whole answer to `info/refs`. fcgiwrap is a tiny C program made to fork
 * CGIs; a few of them, started once, fork for gitward. Only reads go this way (see git.ts):
 * pushes keep gitward's own spawn with its process group, death signal and exit code.
 */

/** Where Debian installs fcgiwrap. */
export const FCGIWRAP_DEFAULT_PATH = '/usr/sbin/fcgiwrap';

/** A worker must accept connections this soon after it starts; it takes a few milliseconds. */
const WORKER_READY_TIMEOUT_MS = 5_000;

/** How often a starting worker's socket is probed. */
const WORKER_READY_POLL_MS = 5;

/**
 * Output buffered ahead of the client before the fcgiwrap connection is paused: with the stream
 * default (16 KiB) nearly every 64 KiB read would pause and resume the socket. Still a bounded,
 * per-request amount.
 */
const STDOUT_HIGH_WATER_BYTES = 1024 * 1024;

/** FastCGI request id: one request per connection, so always the same. */
const REQUEST_ID = 1;

/** What FcgiwrapPool.start needs. */
export interface FcgiwrapPoolOptions {
  /** fcgiwrap's path. */
  readonly fcgiwrapPath: string;
  /** The only program the workers may run (fcgiwrap -p). */
  readonly backendPath: string;
  /** Workers; each runs one request at a time, so also the most reads served through the pool at once. */
  readonly size: number;
  readonly logger: Logger;
}

interface Worker {
  readonly id: number;
  readonly socket: string;
  readonly child: ChildProcess;
  busy: boolean;
  /** A run on it was killed or broke its channel: retire it once that run is over. */
  tainted: boolean;
  alive: boolean;
  /**
   * A connection made while the worker was idle, which it has already accepted: a request then
   * costs one write instead of a connect, an accept and a write.
   */
  spare: net.Socket | null;
}

/** The fcgiwrap that FcgiwrapPool would use: the configured path if executable, else null. */
export function findFcgiwrap(candidate: string = FCGIWRAP_DEFAULT_PATH): string | null {
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
    return candidate;
  } catch {
    return null;
  }
}

/**
 * A fixed number of single-process fcgiwrap workers, each on its own unix socket in a private
 * (0700) directory, so no other local user can ask them to run anything. Each worker gets a
 * parent-death signal (setpriv), so a killed gitward leaves none behind. tryStart hands a request
 * to an idle worker, or returns null when all are busy and the caller spawns the backend itself.
 */
export class FcgiwrapPool implements BackendPool {
  private readonly workers: Worker[] = [];
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly options: FcgiwrapPoolOptions,
    private readonly dir: string,
  ) {}

  /** Starts every worker and waits until each accepts connections; throws if any cannot start. */
  static async start(options: FcgiwrapPoolOptions): Promise<FcgiwrapPool> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-fcgiwrap-'));
    fs.chmodSync(dir, 0o700);
    const pool = new FcgiwrapPool(options, dir);
    try {
      await Promise.all(Array.from({ length: options.size }, () => pool.startWorker()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    options.logger.info('backend.fcgiwrap_pool', { workers: options.size, fcgiwrap: options.fcgiwrapPath });
    return pool;
  }

  /** Pids of the live workers (for tests and diagnostics). */
  workerPids(): number[] {
    return this.workers.filter((w) => w.alive && w.child.pid !== undefined).map((w) => w.child.pid as number);
  }

  tryStart(env: Readonly<Record<string, string>>): BackendProcess | null {
    if (this.closed) return null;
    const worker = this.workers.find((w) => w.alive && !w.busy && !w.tainted);
    // Keep the pool full: a retired worker is replaced in the background, this request spawns.
    if (this.workers.length < this.options.size) void this.startWorker().catch((err: unknown) => this.options.logger.warn('backend.fcgiwrap_start_failed', { error: String(err) }));
    if (!worker) return null;
    worker.busy = true;
    return this.run(worker, env);
  }

  /** Stops every worker and removes the socket directory. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers].map((w) => this.retire(w)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async startWorker(): Promise<void> {
    const id = this.nextId++;
    const socket = path.join(this.dir, `w${id}.sock`);
    const argv = ['-f', '-c', '1', '-s', `unix:${socket}`, '-p', this.options.backendPath];
    const [file, args] = fs.existsSync(SETPRIV_PATH) ? [SETPRIV_PATH, ['--pdeathsig', 'KILL', '--', this.options.fcgiwrapPath, ...argv]] : [this.options.fcgiwrapPath, argv];
    // Nothing but the server git settings: fcgiwrap copies its own environment into every CGI it runs.
    const env = { ...SERVER_GIT_ENV };
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const worker: Worker = { id, socket, child, busy: false, tainted: false, alive: true, spare: null };
    this.workers.push(worker);
    child.stderr?.on('data', (b: Buffer) => {
      for (const line of b.toString('utf8').split('\n')) if (line.trim() !== '') this.options.logger.warn('backend.fcgiwrap_stderr', { worker: id, line });
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    void exited.then(() => {
      worker.alive = false;
      this.remove(worker);
      if (!this.closed && !worker.tainted) this.options.logger.warn('backend.fcgiwrap_exit', { worker: id, code: child.exitCode, signal: child.signalCode });
    });
    const deadline = Date.now() + WORKER_READY_TIMEOUT_MS;
    while (!(await canConnect(socket))) {
      if (!worker.alive) throw new Error(`fcgiwrap (${this.options.fcgiwrapPath}) exited at start-up`);
      if (Date.now() > deadline) {
        await this.retire(worker);
        throw new Error(`fcgiwrap (${this.options.fcgiwrapPath}) did not listen on ${socket} within ${WORKER_READY_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, WORKER_READY_POLL_MS));
    }
    this.prepareSpare(worker);
  }

  /** Opens the idle worker's next connection ahead of its next request. */
  private prepareSpare(worker: Worker): void {
    if (this.closed || !worker.alive || worker.tainted || worker.spare !== null) return;
    const spare = net.connect(worker.socket);
    worker.spare = spare;
    spare.on('error', () => undefined);
    spare.once('close', () => {
      if (worker.spare === spare) worker.spare = null;
    });
  }

  private remove(worker: Worker): void {
    const i = this.workers.indexOf(worker);
    if (i >= 0) this.workers.splice(i, 1);
  }

  /** Kills a worker and whatever it still runs, and waits for it to exit. */
  private async retire(worker: Worker): Promise<void> {
    worker.tainted = true;
    this.remove(worker);
    worker.spare?.destroy();
    worker.spare = null;
    if (!worker.alive || worker.child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
    killTree(worker.child.pid, 'SIGKILL', true);
    await gone;
  }

  private run(worker: Worker, env: Readonly<Record<string, string>>): BackendProcess {
    const spare = worker.spare;
    worker.spare = null;
    const sock = spare !== null && !spare.destroyed ? spare : net.connect(worker.socket);
    sock.removeAllListeners('error');
    const reader = createRecordReader();
    let paused = false;
    const stdout = new Readable({
      highWaterMark: STDOUT_HIGH_WATER_BYTES,
      read() {
        if (paused) {
          paused = false;
          sock.resume();
        }
      },
    });
    const stderr = new Readable({ read() {} });
    const endOutputs = (): void => {
      if (!stdout.readableEnded) stdout.push(null);
      if (!stderr.readableEnded) stderr.push(null);
    };
    let channelError: Error | undefined;
    let ended = false;
    const done = new Promise<BackendEnd>((resolve) => {
      sock.once('close', () => {
        endOutputs();
        // A channel that closed before END_REQUEST ran into trouble: do not reuse the worker.
        if (!ended || channelError) worker.tainted = true;
        worker.busy = false;
        if (worker.tainted) void this.retire(worker);
        else this.prepareSpare(worker);
        resolve(channelError ? { code: null, signal: null, error: channelError } : { code: null, signal: null });
      });
    });
    sock.on('error', (err) => {
      channelError ??= err;
    });
    sock.on('data', (chunk: Buffer) => {
      let records;
      try {
        records = reader.feed(chunk);
      } catch (err) {
        channelError = err instanceof FastCgiProtocolError ? err : new FastCgiProtocolError(String(err));
        sock.destroy();
        return;
      }
      // fcgiwrap sends its output in records of a few KiB, several per socket read: they are
      // pushed as one buffer per read, so a large clone costs one trip through the response's
      // streams per read instead of one per record.
      let pending: Buffer[] = [];
      const flush = (): void => {
        if (pending.length === 0 || stdout.readableEnded) return;
        const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
        pending = [];
        if (!stdout.push(data) && !paused) {
          paused = true;
          sock.pause();
        }
      };
      for (const r of records) {
        if (r.requestId !== REQUEST_ID) continue;
        if (r.type === FcgiType.Stdout) {
          if (r.content.length > 0) {
            pending.push(r.content);
            continue;
          }
          flush();
          if (!stdout.readableEnded) stdout.push(null);
        } else if (r.type === FcgiType.Stderr) {
          if (r.content.length > 0) stderr.push(r.content);
        } else if (r.type === FcgiType.EndRequest) {
          ended = true;
          flush();
          endOutputs();
          sock.end();
        }
      }
      flush();
    });
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (sock.destroyed) {
          cb(new Error('the fcgiwrap connection is closed'));
          return;
        }
        if (sock.write(encodeRecords(FcgiType.Stdin, REQUEST_ID, chunk))) cb();
        else {
          const settle = (): void => {
            sock.off('drain', settle);
            sock.off('close', settle);
            cb();
          };
          sock.once('drain', settle);
          sock.once('close', settle);
        }
      },
      final(cb) {
        if (!sock.destroyed) sock.write(encodeRecords(FcgiType.Stdin, REQUEST_ID, Buffer.alloc(0)));
        cb();
      },
    });
    try {
      const params = encodeParams({ ...env, ...SERVER_GIT_ENV, SCRIPT_FILENAME: this.options.backendPath });
      sock.write(Buffer.concat([
        encodeBeginRequest(REQUEST_ID),
        encodeRecords(FcgiType.Params, REQUEST_ID, params),
        encodeRecords(FcgiType.Params, REQUEST_ID, Buffer.alloc(0)),
      ]));
    } catch (err) {
      channelError = err instanceof Error ? err : new Error(String(err));
      sock.destroy();
    }
    const workerPid = worker.child.pid;
    return {
      pid: workerPid,
      stdin,
      stdout,
      stderr,
      done,
      kill: (signal: NodeJS.Signals) => {
        worker.tainted = true;
        if (workerPid !== undefined) killTree(workerPid, signal, false);
        if (signal === 'SIGKILL') sock.destroy();
      },
    };
  }
}

/** Whether something accepts connections on the unix socket `file`. */
function canConnect(file: string): Promise<boolean> {
  if (!fs.existsSync(file)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Parent pid of `pid` from /proc/PID/stat, or null when it is gone. */
function parentOf(pid: number): number | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

/** Every process below `root` right now (Linux /proc). */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const ppid = parentOf(pid);
    if (ppid === null) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift() as number) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * Signals every process below `root` (and `root` itself when `includeRoot`). For SIGKILL the tree
 * is first stopped, repeatedly, so no process can fork a child that escapes the kill.
 */
export function killTree(root: number, signal: NodeJS.Signals, includeRoot: boolean): void {
  const send = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  const seen = new Set<number>();
  if (signal === 'SIGKILL') {
    if (includeRoot) send(root, 'SIGSTOP');
    for (;;) {
      const fresh = descendantsOf(root).filter((p) => !seen.has(p));
      if (fresh.length === 0) break;
      for (const p of fresh) {
        seen.add(p);
        send(p, 'SIGSTOP');
      }
    }
  } else {
    for (const p of descendantsOf(root)) seen.add(p);
  }
  for (const p of seen) send(p, signal);
  if (includeRoot) send(root, signal);
}
