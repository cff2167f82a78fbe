import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { AuditSink } from '../deps.js';
import type { AuditRecord } from '../types.js';

/** Where audit lines go: a file (appended), or a stream (stdout when the config says null). */
export type AuditTarget =
  { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stream'; readonly stream: Writable };

/** An audit sink that can be flushed and closed on shutdown. */
export interface ClosableAuditSink extends AuditSink {
  close(): Promise<void>;
}

/**
 * Creates the audit log: winston writing one JSON object per line, exactly the AuditRecord's
 * fields (ARCHITECTURE.md §2), nothing added.
 */
export function createAuditSink(target: AuditTarget): ClosableAuditSink {
  const transport = new winston.transports.Stream({
    stream: target.kind === 'file' ? appendOnlyFile(target.path) : target.stream,
  });
  const w = winston.createLogger({
    level: 'info',
    format: winston.format.printf((info) => JSON.stringify((info as unknown as { record: AuditRecord }).record)),
    transports: [transport],
  });
  let closed = false;
  return {
    write(record) {
      if (!closed) {
        w.info('audit', { record });
        return;
      }
      // A request whose backend outlived the shutdown (its line waits for the exit code) still
      // gets its line, written directly: winston's stream is ended, and writing to it would crash.
      const line = `${JSON.stringify(record)}\n`;
      try {
        if (target.kind === 'file') fs.appendFileSync(target.path, line);
        else if (target.stream.writable) target.stream.write(line);
      } catch {
        // Nowhere left to write during shutdown; never crash the process for it.
      }
    },
    close() {
      closed = true;
      return new Promise((resolve) => {
        w.once('finish', () => resolve());
        w.end();
      });
    },
  };
}

/**
 * The audit file as a stream of synchronous appends (O_APPEND, one write per line). A line is a
 * few hundred bytes into the page cache; the asynchronous file stream spent ~0.25 ms of the event
 * loop per line on its thread-pool round trip (bench/), and appends in order either way.
 */
function appendOnlyFile(file: string): Writable {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a', 0o640);
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        fs.writeSync(fd, chunk);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    final(cb) {
      fs.closeSync(fd);
      cb();
    },
  });
}

/** An audit sink that keeps records in memory, for tests. */
export function createMemoryAuditSink(): AuditSink & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, write: (record) => void records.push(record) };
}
