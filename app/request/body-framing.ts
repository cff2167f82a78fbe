import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * How a request body arrived at gitward: `chunked` (Transfer-Encoding, no length known up front)
 * or `length` (Content-Length). git sends a push of over 1 MiB (http.postBuffer) chunked; an
 * nginx with `proxy_request_buffering on` reads it whole first and passes it on with a
 * Content-Length, so the difference tells whether the proxy streamed the push.
 */
export type BodyFraming = 'chunked' | 'length';

/**
 * Response header of every receive-pack POST: the request's BodyFraming, or `none` for a request
 * without a body. `gitward doctor` reads it to tell whether nginx buffered its chunked push.
 */
export const BODY_FRAMING_HEADER = 'X-Gitward-Body';

/**
 * The framing of a request body from its headers; null when it has none (no Transfer-Encoding,
 * no Content-Length, or `Content-Length: 0`). Node's parser refuses a request with both. Pure.
 */
export function bodyFraming(headers: IncomingHttpHeaders): BodyFraming | null {
  const te = headers['transfer-encoding'];
  if (te !== undefined && te.split(',').some((c) => c.trim().toLowerCase() === 'chunked')) return 'chunked';
  const length = headers['content-length'];
  if (length !== undefined && length !== '0') return 'length';
  return null;
}

/**
 * Most bytes of an unwanted body (a GET's) read and thrown away before the refusal is sent: read
 * whole, the client gets the answer instead of a reset; beyond this the connection is cut.
 */
export const MAX_DISCARDED_BODY_BYTES = 8 * 1024 * 1024;

/**
 * Reads `req`'s body to its end and drops it. Resolves true at the end, false when it passed
 * `maxBytes` (the request is then destroyed) or the client went away.
 */
export function discardBody(req: IncomingMessage, maxBytes = MAX_DISCARDED_BODY_BYTES): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = (ok: boolean): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(ok);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) {
        done(false);
        req.destroy();
      }
    };
    const onEnd = (): void => done(true);
    const onClose = (): void => done(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}
