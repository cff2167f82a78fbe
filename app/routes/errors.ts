import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import { HttpError } from '../errors.js';
import { requestContext } from './context.js';

/** The one error middleware of the express routes (healthz, sidecar): see sendError. */
export function createErrorHandler(): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => sendError(err, res);
}

/**
 * Answers a failed request: a typed HttpError becomes its status, its headers and one plain-text
 * line; anything else is a 500 naming the request id and nothing internal. After headers are sent
 * nothing more can be said: log it and destroy the socket. Plain Node API, so the git routes
 * (served without express) and the express routes answer alike.
 */
export function sendError(err: unknown, res: ServerResponse): void {
  const ctx = requestContext(res);
  if (res.headersSent) {
    ctx.logger.error('request.failed_after_headers', { error: err instanceof Error ? err.message : String(err) });
    res.destroy();
    return;
  }
  let status: number;
  let body: string;
  if (err instanceof HttpError) {
    status = err.status;
    body = `${err.message}\n`;
    for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
    ctx.logger[status >= 500 ? 'error' : 'info']('request.refused', { status, reason: err.message });
  } else {
    status = 500;
    body = `internal error (request id ${ctx.requestId})\n`;
    ctx.logger.error('request.internal_error', {
      error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
    });
  }
  ctx.audit.errorStatus = status;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  ctx.audit.bytesOut += Buffer.byteLength(body);
  res.end(body);
}
