import type { RuntimeHolder } from './runtime.js';
import type { Metrics } from './metrics/metrics.js';
import type { AuditRecord, Logger } from './types.js';

/** Where audit records go: one JSON line each, written when the response closes. */
export interface AuditSink {
  write(record: AuditRecord): void;
}

/** What `createApp` and every route handler receive; nothing else is global. */
export interface AppDeps {
  readonly runtime: RuntimeHolder;
  readonly logger: Logger;
  readonly audit: AuditSink;
  /** Clock in ms since epoch; tests may fake it. */
  readonly now: () => number;
  /** The Prometheus series of this app, or none (tests that do not look at them). */
  readonly metrics?: Metrics;
}
