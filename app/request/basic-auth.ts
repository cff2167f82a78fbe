import type { BasicCredentials } from '../types.js';

/** Longest Authorization header accepted, in bytes: Basic credentials are short; more is abuse. */
export const MAX_AUTHORIZATION_BYTES = 8192;

/** What an Authorization header holds, as far as Basic authentication is concerned. */
export type BasicAuthHeader =
  | { readonly kind: 'none' }
  | { readonly kind: 'basic'; readonly credentials: BasicCredentials }
  /** Another scheme (Bearer, …): left to plugins that read headers. */
  | { readonly kind: 'other-scheme' }
  /** `Basic` with something that is not base64 of `user:password`: rejected credentials (401). */
  | { readonly kind: 'malformed' };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses an Authorization header (RFC 7617). Malformed Basic credentials are reported as such,
 * so the caller answers 401 as for rejected credentials, never 500. Pure.
 */
export function parseBasicAuth(header: string | readonly string[] | undefined): BasicAuthHeader {
  if (header === undefined) return { kind: 'none' };
  if (typeof header !== 'string') return { kind: 'malformed' };
  if (Buffer.byteLength(header) > MAX_AUTHORIZATION_BYTES) return { kind: 'malformed' };
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: +(.*))?$/.exec(header.trim());
  if (!m) return { kind: 'malformed' };
  if ((m[1] as string).toLowerCase() !== 'basic') return { kind: 'other-scheme' };
  const token = (m[2] ?? '').trim();
  if (token.length === 0 || token.length % 4 !== 0 || !BASE64.test(token)) return { kind: 'malformed' };
  const decoded = Buffer.from(token, 'base64');
  // Fatal decoding: a password that is not UTF-8 is refused, not silently mangled.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(decoded);
  } catch {
    return { kind: 'malformed' };
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return { kind: 'malformed' };
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  // Control characters have no place in a user name or password; they only serve log injection.
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(user) || /[\u0000-\u001f\u007f]/.test(password)) return { kind: 'malformed' };
  return { kind: 'basic', credentials: { user, password } };
}
