import type { ServerResponse } from 'node:http';
import type { AuditRecord, AuditSink, GitRequest, Identity } from '../types.js';

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
  /** The policy's answer (`decide`), once the request got that far. */
  policy: 'allowed' | 'denied' | null;
  /** The status of the HttpError that refused the request (the proxy column of DESIGN.md §3), if one did. */
  errorStatus: number | null;
  /**
   * A verdict gitward reached outside the policy and the refusal's status: a malformed sidecar
   * subrequest (`invalid`), a user name that cannot be passed on (`denied`), identity headers too
   * large for nginx (`error`).
   */
  outcome: AuditRecord['decision'] | null;
  bytesIn: number;
  bytesOut: number;
  exitCode: number | null;
  /** How the body of a git request arrived (set by the git route). */
  requestBody: AuditRecord['requestBody'];
  /** Work that must finish before the line is written (the backend's exit, for its exit code). */
  readonly pending: Array<Promise<unknown>>;
  /** Which part of gitward answered: the git routes, the API, /healthz, /metrics, the sidecar. */
  readonly route: RequestRoute;
  /** An API request: its action and the repo it names (null for a list). */
  api: { readonly action: string; readonly repo: string | null } | null;
  /** What the identity chain answered, when it was asked (metrics count failures and throttles). */
  authOutcome: 'authenticated' | 'anonymous' | 'rejected' | 'throttled' | null;
  /** Milliseconds the backend ran (git routes), or null when none ran. */
  backendMs: number | null;
  /** Hook plugins that refused an update of this push (one entry per refusal). */
  readonly hookRefusals: string[];
}

/** Which part of gitward answers a request; the metrics' `service` label for what is not git. */
export type RequestRoute = 'git' | 'api' | 'healthz' | 'metrics' | 'sidecar';

/** Called once per request with its audit line, where the line is written: the metrics' one place. */
export type AuditObserver = (record: AuditRecord, audit: RequestAudit) => void;

/**
 * Starts the audit of one request: when the response closes (finished or aborted) and the work in
 * `pending` has settled, exactly one AuditRecord is written to `sink`.
 */
export function startRequestAudit(
  res: ServerResponse,
  init: { requestId: string; remoteAddr: string; mode: AuditRecord['mode']; route?: RequestRoute },
  sink: AuditSink,
  now: () => number,
  observe: AuditObserver | null = null,
): RequestAudit {
  const audit: RequestAudit = {
    route: 'git',
    ...init,
    startedAt: now(),
    git: null,
    web: null,
    identity: null,
    policy: null,
    errorStatus: null,
    outcome: null,
    bytesIn: 0,
    bytesOut: 0,
    exitCode: null,
    requestBody: null,
    pending: [],
    api: null,
    authOutcome: null,
    backendMs: null,
    hookRefusals: [],
  };
  res.once('close', () => {
    const end = now();
    void Promise.allSettled(audit.pending).then(() => {
      const record = toRecord(audit, res, end);
      sink.write(record);
      observe?.(record, audit);
    });
  });
  return audit;
}

/**
 * The audit decision of a request, derived once, here, from what the stages recorded: an explicit
 * outcome first; then a server failure (a 5xx refusal) is `error`; then the policy's answer; then a
 * refusal before the policy (400/405/413 `invalid`, other 4xx such as 401 bad credentials or 429
 * `denied`); with none of these, a sent answer below 400 is `allowed`, no answer or a 5xx `error`,
 * anything else `invalid`. `status`: the status sent, 0 when no headers went out. Pure.
 */
export function auditDecision(
  a: Pick<RequestAudit, 'policy' | 'errorStatus' | 'outcome'>,
  status: number,
): AuditRecord['decision'] {
  if (a.outcome !== null) return a.outcome;
  if (a.errorStatus !== null && a.errorStatus >= 500) return 'error';
  if (a.policy !== null) return a.policy;
  if (a.errorStatus !== null) {
    return a.errorStatus === 400 || a.errorStatus === 405 || a.errorStatus === 413 ? 'invalid' : 'denied';
  }
  if (status === 0 || status >= 500) return 'error';
  return status < 400 ? 'allowed' : 'invalid';
}

function toRecord(a: RequestAudit, res: ServerResponse, end: number): AuditRecord {
  const status = res.headersSent ? res.statusCode : 0;
  const decision = auditDecision(a, status);
  return {
    time: new Date(a.startedAt).toISOString(),
    requestId: a.requestId,
    user: a.identity?.user ?? null,
    authSource: a.identity?.source ?? 'none',
    remoteAddr: a.remoteAddr,
    repo: a.git?.repo ?? a.api?.repo ?? a.web?.repo ?? null,
    service: a.git?.service ?? (a.api !== null ? 'api' : a.web !== null ? 'web' : null),
    need: a.git?.need ?? a.api?.action ?? (a.web !== null ? 'read' : null),
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
