import type { ServerResponse } from 'node:http';
import type { AuditSink } from '../deps.js';
import type { AuditRecord, GitRequest, Identity } from '../types.js';

/** What one request accumulates for its audit line; stages fill it as the request advances. */
export interface RequestAudit {
  readonly requestId: string;
  readonly startedAt: number;
  readonly mode: AuditRecord['mode'];
  remoteAddr: string;
  git: GitRequest | null;
  /** A web view page (cgit): its repo, or null for the index and the log-in URL. */
  web: { readonly repo: string | null } | null;
  identity: Identity | null;
  decision: AuditRecord['decision'] | null;
  bytesIn: number;
  bytesOut: number;
  exitCode: number | null;
  /** How the body of a git request arrived (set by the git route). */
  requestBody: AuditRecord['requestBody'];
  /** Work that must finish before the line is written (the backend's exit, for its exit code). */
  readonly pending: Array<Promise<unknown>>;
}

/**
 * Starts the audit of one request: when the response closes (finished or aborted) and the work in
 * `pending` has settled, exactly one AuditRecord is written to `sink`.
 */
export function startRequestAudit(
  res: ServerResponse,
  init: { requestId: string; remoteAddr: string; mode: AuditRecord['mode'] },
  sink: AuditSink,
  now: () => number,
): RequestAudit {
  const audit: RequestAudit = {
    ...init,
    startedAt: now(),
    git: null,
    web: null,
    identity: null,
    decision: null,
    bytesIn: 0,
    bytesOut: 0,
    exitCode: null,
    requestBody: null,
    pending: [],
  };
  res.once('close', () => {
    const end = now();
    void Promise.allSettled(audit.pending).then(() => sink.write(toRecord(audit, res, end)));
  });
  return audit;
}

function toRecord(a: RequestAudit, res: ServerResponse, end: number): AuditRecord {
  const status = res.headersSent ? res.statusCode : 0;
  const decision = a.decision ?? (status >= 500 || status === 0 ? 'error' : 'invalid');
  return {
    time: new Date(a.startedAt).toISOString(),
    requestId: a.requestId,
    user: a.identity?.user ?? null,
    authSource: a.identity?.source ?? 'none',
    remoteAddr: a.remoteAddr,
    repo: a.git?.repo ?? a.web?.repo ?? null,
    service: a.git?.service ?? (a.web ? 'web' : null),
    need: a.git?.need ?? (a.web ? 'read' : null),
    decision,
    status,
    bytesIn: a.bytesIn,
    bytesOut: a.bytesOut,
    durationMs: Math.max(0, end - a.startedAt),
    exitCode: a.exitCode,
    mode: a.mode,
    requestBody: a.requestBody,
  };
}
