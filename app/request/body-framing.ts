import type { IncomingHttpHeaders } from 'node:http';

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
