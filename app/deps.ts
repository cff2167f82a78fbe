import type { RuntimeHolder } from './runtime.js';
import type { Metrics } from './metrics/metrics.js';
import type { AuditSink, Logger } from './types.js';

// Defined with the record it carries (a leaf), so the audit stage need not import this module.
export type { AuditSink } from './types.js';

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
