import type { Writable } from 'node:stream';
import winston from 'winston';
import type { AuditSink } from '../deps.js';
import type { AuditRecord } from '../types.js';

/** Where audit lines go: a file (appended), or a stream (stdout when the config says null). */
export type AuditTarget = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stream'; readonly stream: Writable };

/** An audit sink that can be flushed and closed on shutdown. */
export interface ClosableAuditSink extends AuditSink {
  close(): Promise<void>;
}

/**
 * Creates the audit log: winston writing one JSON object per line, exactly the AuditRecord's
 * fields (DESIGN.md §2), nothing added.
 */
export function createAuditSink(target: AuditTarget): ClosableAuditSink {
  const transport =
    target.kind === 'file' ? new winston.transports.File({ filename: target.path }) : new winston.transports.Stream({ stream: target.stream });
  const w = winston.createLogger({
    level: 'info',
    format: winston.format.printf((info) => JSON.stringify((info as unknown as { record: AuditRecord }).record)),
    transports: [transport],
  });
  return {
    write(record) {
      w.info('audit', { record });
    },
    close() {
      return new Promise((resolve) => {
        w.once('finish', () => resolve());
        w.end();
      });
    },
  };
}

/** An audit sink that keeps records in memory, for tests. */
export function createMemoryAuditSink(): AuditSink & { readonly records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, write: (record) => void records.push(record) };
}
