import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { BadGateway } from '../errors.js';
import type { Logger } from '../types.js';
import type { BackendProcess } from './backend-process.js';
import type { CgiSpawner } from './cgi-spawner.js';
import { createCgiHeadParser, type CgiHeadResult } from './cgi-head.js';

/**
 * After the client goes away the backend's pipes are closed first: on EOF receive-pack removes its
 * quarantine of half-received objects itself (git 2.39 does not on SIGTERM). Processes still alive
 * this much later get SIGTERM.
 */
export const BACKEND_EOF_GRACE_MS = 500;

/** …and SIGKILL this much after the SIGTERM; both together stay well within issue 2's 2 s. */
export const BACKEND_KILL_GRACE_MS = 700;

/** Most bytes of git-http-backend's stderr logged per request: enough for any real message. */
export const BACKEND_STDERR_MAX_BYTES = 16 * 1024;

/** Counters a request's audit line reads; the runner fills them as bytes move. */
export interface BackendStats {
  bytesIn: number;
  bytesOut: number;
  exitCode: number | null;
  signal: string | null;
}

/** What `runBackend` needs. */
export interface RunBackendOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Absolute path of the CGI program: git-http-backend, or cgit for the web view. */
  readonly backendPath: string;
  /** Starts it (the server's one spawner). */
  readonly spawner: CgiSpawner;
  /** The complete environment (from buildBackendEnv); nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  readonly logger: Logger;
  readonly stats: BackendStats;
  /**
   * Coalesce the program's small writes (see PACE_MS): set for cgit, which writes its pages a few
   * bytes per write(); git-http-backend writes whole packets and is relayed as it comes.
   */
  readonly paced?: boolean;
}

/**
 * With `paced`, after a read of under PACE_BYTES the next read waits PACE_MS. cgit writes its
 * pages unbuffered: 3,109 write() calls for the 20 KB index of 100 repos, which gitward read in
 * ~600 reads at ~13 µs of CPU each — 7 ms of gitward's CPU a page, half again cgit's own time.
 * Paced, the same page takes ~5 reads: its stdout is a pipe, which holds 64 KB of tiny writes. Pacing
 * ends when the spawner reports the exit, so the page's last byte does not wait for a timer.
 */
const PACE_MS = 1;
const PACE_BYTES = 16 * 1024;

/** Why a relay stopped before its source ended. */
export class RelayError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Pipes `src` into `dst` with backpressure, counting bytes, and settles when `dst` has finished
 * (resolve) or when either side fails or `dst` closes early (reject). Plain pipe() and listeners,
 * not stream.pipeline: pipeline's internal AbortController costs a DOMException with a stack trace
 * on every finish (~30 µs a request in the profile), and a counting Transform one more stream stage
 * per chunk. With `pacedUntil`, pacedPipe moves the bytes instead of pipe(). On failure `src` is
 * unpiped but left open (a backend's stdout must not be torn down while it cleans up); `dst` is
 * destroyed only when `destroyDst` is set.
 */
export function relay(
  src: Readable,
  dst: Writable,
  onBytes: (n: number) => void,
  options: { destroyDst?: boolean; pacedUntil?: Promise<void> } = {},
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const onData = (chunk: Buffer): void => onBytes(chunk.length);
    const paced = options.pacedUntil ? pacedPipe(src, dst, onBytes, options.pacedUntil) : null;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      paced?.stop();
      src.off('data', onData);
      src.off('error', done);
      src.off('close', onSrcClose);
      dst.off('finish', onFinish);
      dst.off('close', onDstClose);
      dst.off('error', done);
      if (err === undefined) {
        resolve();
        return;
      }
      if (paced === null) src.unpipe(dst);
      if (options.destroyDst === true) dst.destroy();
      reject(err);
    };
    const onFinish = (): void => done();
    const onDstClose = (): void =>
      done(new RelayError('the receiving side closed before the end', 'ERR_STREAM_PREMATURE_CLOSE'));
    const onSrcClose = (): void => {
      if (!src.readableEnded)
        done(new RelayError('the sending side closed before the end', 'ERR_STREAM_PREMATURE_CLOSE'));
    };
    if (paced === null) {
      src.pipe(dst);
      src.on('data', onData);
    }
    src.once('error', done);
    src.once('close', onSrcClose);
    dst.once('finish', onFinish);
    dst.once('close', onDstClose);
    dst.once('error', done);
  });
}

/**
 * Moves `src` into `dst` as pipe() does (backpressure, `dst` ended at the end), reading in paused
 * mode so that after a small read the next one can wait PACE_MS, until `until` settles (the program
 * has exited: nothing more to wait for). `src` must have a small readable highWaterMark (the CGI
 * spawner's stdout FIFO has), or Node goes on reading from the kernel while this waits. `stop` leaves
 * `src` open and paused.
 */
function pacedPipe(src: Readable, dst: Writable, onBytes: (n: number) => void, until: Promise<void>): { stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let waitingForDrain = false;
  let pacing = true;
  const pump = (): void => {
    timer = null;
    waitingForDrain = false;
    let chunk: Buffer | null;
    while ((chunk = src.read() as Buffer | null) !== null) {
      onBytes(chunk.length);
      if (!dst.write(chunk)) {
        waitingForDrain = true;
        dst.once('drain', pump);
        return;
      }
    }
  };
  const onReadable = (): void => {
    if (timer !== null || waitingForDrain) return;
    // Nothing buffered on 'readable' is the end of the stream: no reason to wait for it.
    if (!pacing || src.readableLength >= PACE_BYTES || src.readableLength === 0) pump();
    else timer = setTimeout(pump, PACE_MS);
  };
  const onEnd = (): void => void dst.end();
  src.on('readable', onReadable);
  src.once('end', onEnd);
  const unpace = (): void => {
    pacing = false;
    if (timer !== null) {
      clearTimeout(timer);
      pump();
    }
  };
  until.then(unpace, unpace);
  return {
    stop() {
      pacing = false;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      dst.off('drain', pump);
      src.off('readable', onReadable);
      src.off('end', onEnd);
    },
  };
}

/**
 * Runs git-http-backend for one request as a CGI: request body → stdin and stdout → response, both
 * streamed with backpressure; only the CGI header block is parsed (capped). The child runs in its
 * own process group, which is killed when the client goes away. Resolves when the child has exited
 * and the response is done. Throws BadGateway (nothing sent yet) when the backend fails before
 * a valid header block; a failure after the headers is logged and the connection destroyed.
 */
export async function runBackend(opts: RunBackendOptions): Promise<void> {
  let child: BackendProcess;
  try {
    child = await opts.spawner.spawn(opts.backendPath, opts.env);
  } catch (err) {
    opts.logger.error('backend.spawn_failed', { error: err instanceof Error ? err.message : String(err) });
    throw new BadGateway(BAD_GATEWAY_MESSAGE);
  }
  return runOnce(opts, child);
}

/** Whether the request carries a body at all (a length or chunked framing), from its headers. */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

/** What the client reads when the backend fails before its headers; the log has the reason. */
const BAD_GATEWAY_MESSAGE = 'the git backend failed; the server log has the details';

/** One run of `child` for the request. */
async function runOnce(opts: RunBackendOptions, child: BackendProcess): Promise<void> {
  const { req, res, logger, stats } = opts;
  logger.debug('backend.spawned', { pid: child.pid });
  const exited = child.done.then((end) => {
    stats.exitCode = end.code;
    stats.signal = end.signal;
    if (end.error) logger.error('backend.spawn_failed', { error: end.error.message });
  });

  const killTimers: NodeJS.Timeout[] = [];
  let clientGone = false;
  const killGroup = (signal: NodeJS.Signals): void => child.kill(signal);
  const onClientGone = (): void => {
    if (res.writableFinished) return;
    logger.warn('backend.client_gone', { pid: child.pid });
    clientGone = true;
    // EOF on stdin, while stdout stays open (not read): receive-pack can still write its short
    // report and clean up; a sender (upload-pack) blocks on the full pipe until the SIGTERM.
    child.stdin.destroy();
    // These timers outlive the leader on purpose: its children may still be running.
    killTimers.push(
      setTimeout(() => {
        killGroup('SIGTERM');
        // Drain what is left so the child's stdout can reach EOF and 'close' fires.
        child.stdout.resume();
      }, BACKEND_EOF_GRACE_MS).unref(),
    );
    killTimers.push(setTimeout(() => killGroup('SIGKILL'), BACKEND_EOF_GRACE_MS + BACKEND_KILL_GRACE_MS).unref());
  };
  res.once('close', onClientGone);

  // A late EPIPE on stdin (the backend exited without reading the whole body) must not become
  // an uncaught error once the relay below has settled; the relay reports what matters.
  child.stdin.on('error', () => undefined);

  let stderrBytes = 0;
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderrBytes >= BACKEND_STDERR_MAX_BYTES) return;
    const text = chunk.subarray(0, BACKEND_STDERR_MAX_BYTES - stderrBytes).toString('utf8');
    stderrBytes += chunk.length;
    for (const line of text.split('\n')) if (line.trim() !== '') logger.warn('backend.stderr', { line });
  });
  child.stderr.resume();

  // Request body → stdin. A chunked push has no CONTENT_LENGTH: ending stdin at the end of the
  // body is how git-http-backend learns it is complete.
  // A request without a body (every GET: ref advertisements, dumb HTTP) just gets EOF: half of all
  // requests are GETs, and a relay per request is event-loop work for nothing.
  const withBody = hasBody(req);
  if (!withBody) child.stdin.end();
  const input = !withBody
    ? Promise.resolve()
    : relay(req, child.stdin, (n) => (stats.bytesIn += n), { destroyDst: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_PREMATURE_CLOSE')
          logger.debug('backend.stdin_error', { error: err.message });
      });

  try {
    const head = await readHead(child.stdout, exited);
    if (head.kind === 'invalid') {
      killGroup('SIGKILL');
      // Discard whatever is left so the pipe reaches EOF and the child's 'close' fires.
      child.stdout.resume();
      await exited;
      logger.error('backend.bad_gateway', { reason: head.reason, exitCode: stats.exitCode, signal: stats.signal });
      throw new BadGateway(BAD_GATEWAY_MESSAGE);
    }
    res.statusCode = head.head.status;
    const grouped = new Map<string, string[]>();
    for (const [name, value] of head.head.headers) {
      const list = grouped.get(name.toLowerCase()) ?? [];
      list.push(value);
      grouped.set(name.toLowerCase(), list);
    }
    for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
    // Tell nginx to pass git's stream on as it comes (https://nginx.org/r/proxy_buffering).
    res.setHeader('X-Accel-Buffering', 'no');
    if (head.body.length > 0) {
      stats.bytesOut += head.body.length;
      if (!res.write(head.body)) {
        // 'close' too: a client that leaves while the buffer is full never drains it.
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      }
    }
    try {
      // When the client goes away the response side is torn down, but the backend's stdout is
      // left open (relay never destroys its source) so it is not killed by SIGPIPE mid-cleanup.
      await relay(child.stdout, res, (n) => (stats.bytesOut += n), {
        pacedUntil: opts.paced === true ? child.exited : undefined,
      });
    } catch (err) {
      logger.warn('backend.stream_failed', { error: err instanceof Error ? err.message : String(err) });
      res.destroy();
    }
    await exited;
    if ((stats.exitCode !== null && stats.exitCode !== 0) || stats.signal !== null)
      logger.warn('backend.exit', { code: stats.exitCode, signal: stats.signal });
  } finally {
    await input;
    await exited;
    if (!clientGone) for (const timer of killTimers) clearTimeout(timer);
    res.off('close', onClientGone);
  }
}

/** Reads stdout until the CGI header block is complete, the output is invalid, or the child exits. */
function readHead(
  stdout: NodeJS.ReadableStream,
  exited: Promise<void>,
): Promise<Exclude<CgiHeadResult, { kind: 'need-more' }>> {
  const parser = createCgiHeadParser();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Exclude<CgiHeadResult, { kind: 'need-more' }>): void => {
      if (done) return;
      done = true;
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      stdout.pause();
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      const r = parser.feed(chunk);
      if (r.kind !== 'need-more') finish(r);
    };
    const onEnd = (): void =>
      finish({ kind: 'invalid', reason: 'git-http-backend ended its output before its headers' });
    stdout.on('data', onData);
    stdout.on('end', onEnd);
    stdout.resume();
    void exited.then(() =>
      setImmediate(() => finish({ kind: 'invalid', reason: 'git-http-backend exited before its headers' })),
    );
  });
}
