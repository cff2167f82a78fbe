import type { RequestHandler, Response } from 'express';
import type { AppDeps } from '../deps.js';
import { HttpError } from '../errors.js';
import { peerOf } from '../request/client-address.js';
import type { Identity } from '../types.js';
import { authorize, type AuthorizeProgress } from './authorize.js';
import { requestContext } from './context.js';
import { noteProgress } from './git.js';

/** Header in which nginx sends the original request's URI (path and query, still encoded). */
export const ORIGINAL_URI_HEADER = 'x-original-uri';
/** Header in which nginx sends the original request's method. */
export const ORIGINAL_METHOD_HEADER = 'x-original-method';

/** Longest original URI accepted, in bytes: git URLs are short; nginx's own line limit is 8 KiB. */
export const MAX_ORIGINAL_URI_BYTES = 8192;

/**
 * Most bytes of identity headers in one answer: nginx reads the auth answer's whole header block
 * into proxy_buffer_size (one 4 KiB page by default) and fails the request with a 500 beyond it.
 */
export const MAX_IDENTITY_HEADER_BYTES = 3072;

/** Methods git's HTTP protocol uses; anything else is refused before classification. */
const METHOD = /^(?:GET|HEAD|POST)$/;

/** What the sidecar answers. nginx's auth_request accepts only 2xx, 401 and 403. */
export type SidecarStatus = 204 | 401 | 403;

/**
 * Maps a refusal of the proxy column of ARCHITECTURE.md §3 to the sidecar column: 401 stays 401 (with
 * its challenge); everything else (400 and 405 malformed, 403, 404 hidden, 429 throttled) is 403,
 * because nginx turns any other status of an auth subrequest into a 500. Pure.
 */
export function sidecarStatusFor(status: number): 401 | 403 {
  return status === 401 ? 401 : 403;
}

/**
 * Encodes a value as JSON with only printable ASCII: control characters, DEL and every non-ASCII
 * character become `\uXXXX` escapes, so the result is valid in an HTTP header (no CR, LF or NUL
 * can appear) and decodes to the same value. Pure.
 */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The user name as header bytes: its UTF-8 encoding (Node writes header strings as latin1, one
 * byte per char, so the bytes nginx hands on as REMOTE_USER are UTF-8). Null when the name holds
 * a control character, which no header may carry. Pure.
 */
export function headerUser(user: string): string | null {
  // eslint-disable-next-line no-control-regex -- a header may carry no control character
  if (user === '' || /[\u0000-\u001f\u007f]/.test(user)) return null;
  return Buffer.from(user, 'utf8').toString('latin1');
}

/** The 204 headers for an allowed request (ARCHITECTURE.md §3, sidecar column). Null when unsafe. Pure. */
export function identityHeaders(identity: Identity, repo: string, requestId: string): Record<string, string> | null {
  const headers: Record<string, string> = {
    'X-Gitward-Groups': headerJson(identity.groups),
    'X-Gitward-Info': headerJson(identity.info),
    'X-Gitward-Repo': repo,
    'X-Gitward-Request-Id': requestId,
  };
  if (identity.user !== null) {
    const user = headerUser(identity.user);
    if (user === null) return null;
    headers['X-Gitward-User'] = user;
  }
  return headers;
}

function single(value: string | string[] | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

function refuse(
  res: Response,
  status: 401 | 403,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(status).type('text/plain; charset=utf-8').end(`${message}\n`);
}

/**
 * The nginx `auth_request` endpoint (ARCHITECTURE.md §3, sidecar column). Classifies the ORIGINAL
 * request from X-Original-URI / X-Original-Method, authenticates it with the request's own
 * headers (Authorization, the trusted identity header), decides, and answers 204 with
 * X-Gitward-User / -Groups / -Info (JSON) / -Repo / -Request-Id, 401 with the challenge, or 403.
 * It never reads a body and never runs git; an allowed request for a missing repo gets 204 (the
 * CGI answers 404).
 */
export function createSidecarHandler(deps: AppDeps): RequestHandler {
  return async (req, res) => {
    const ctx = requestContext(res);
    const runtime = deps.runtime.current();
    // The subrequest has no body (proxy_pass_request_body off). A caller that sends one is not
    // nginx: refuse without reading it, and close so Node does not drain it either.
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    const uri = single(req.headers[ORIGINAL_URI_HEADER]);
    const method = single(req.headers[ORIGINAL_METHOD_HEADER]);
    if (
      hasBody ||
      uri === null ||
      method === null ||
      !METHOD.test(method) ||
      Buffer.byteLength(uri) > MAX_ORIGINAL_URI_BYTES
    ) {
      ctx.audit.outcome = 'invalid';
      ctx.logger.info('sidecar.malformed', { hasBody, uri: uri?.slice(0, 200) ?? null, method });
      if (hasBody) res.setHeader('Connection', 'close');
      refuse(res, 403, 'malformed auth subrequest: X-Original-URI and X-Original-Method are required, no body');
      return;
    }
    const progress: AuthorizeProgress = {};
    try {
      const peer = peerOf(req.socket);
      const input = { method, url: uri, headers: req.headers, peer, clientAddress: ctx.audit.remoteAddr };
      const allowed = await authorize(runtime, input, progress);
      noteProgress(ctx.audit, progress);
      const headers = identityHeaders(allowed.identity, allowed.git.repo, ctx.requestId);
      if (headers === null) {
        ctx.audit.outcome = 'denied';
        ctx.logger.warn('sidecar.unsafe_identity', { reason: 'user name holds a control character' });
        refuse(res, 403, 'this user name cannot be passed on');
        return;
      }
      const size = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
      if (size > MAX_IDENTITY_HEADER_BYTES) {
        ctx.audit.outcome = 'error';
        ctx.logger.error('sidecar.identity_too_large', {
          bytes: size,
          limit: MAX_IDENTITY_HEADER_BYTES,
          user: allowed.identity.user,
        });
        refuse(res, 403, "this user's groups and info are too large to pass to nginx");
        return;
      }
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      ctx.logger.debug('sidecar.allowed', {
        repo: allowed.git.repo,
        need: allowed.git.need,
        user: allowed.identity.user,
        repoExists: allowed.repoDir !== null,
      });
      res.status(204).end();
    } catch (err) {
      noteProgress(ctx.audit, progress);
      if (!(err instanceof HttpError)) throw err;
      const status = sidecarStatusFor(err.status);
      ctx.audit.errorStatus = err.status;
      ctx.logger.info('sidecar.refused', { status, proxyStatus: err.status, reason: err.message });
      // Only the challenge is meaningful to nginx; Retry-After and Allow would be dropped.
      const challenge = err.headers['WWW-Authenticate'];
      refuse(
        res,
        status,
        err.message,
        status === 401 && challenge !== undefined ? { 'WWW-Authenticate': challenge } : {},
      );
    }
  };
}
