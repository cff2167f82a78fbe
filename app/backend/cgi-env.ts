import type { IncomingMessage } from 'node:http';
// The only importer of cgi-env: its output is repaired here, never used as is.
import { createEnvironment } from 'cgi-env';
import type { GitRequest } from '../types.js';

/** What the CGI meta-variables are built from besides the request itself. */
export interface CgiEnvInput {
  /** The classified request: PATH_INFO comes from its parsed repo name and route suffix. */
  readonly git?: GitRequest;
  /** PATH_INFO of a web page (cgit), decoded and checked by the web route; used instead of `git`. */
  readonly pathInfo?: string;
  /** The client's address (REMOTE_ADDR). */
  readonly remoteAddr: string;
  /** The authenticated user (REMOTE_USER), or null for anonymous requests. */
  readonly remoteUser: string | null;
  /** Names of headers that must not reach git: those the authentication plugins declared (AuthPlugin.headers). */
  readonly dropHeaders: readonly string[];
}

/**
 * Headers never passed to git: credentials, cookies, and `Proxy` (httpoxy: HTTP_PROXY would be read
 * by git's curl as its proxy). Content-Length and Content-Type travel as CONTENT_LENGTH/TYPE.
 * `X-Remote-User`, the conventional identity header, goes too even when no plugin reads it, so a
 * hook can never take a client's HTTP_X_REMOTE_USER for nginx's; the headers a configured plugin
 * reads come in `dropHeaders`, as that plugin declared them.
 */
const ALWAYS_DROPPED: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'proxy',
  'content-length',
  'content-type',
  'x-remote-user',
]);

/**
 * A header name that maps one-to-one onto an HTTP_* variable. Names with `_` (or other token
 * characters) are dropped: `X_Remote_User` would otherwise become HTTP_X_REMOTE_USER, the same
 * variable as the trusted `X-Remote-User`.
 */
const SAFE_HEADER_NAME = /^[a-z0-9-]+$/;

function pathInfoOf(input: CgiEnvInput): string {
  if (input.pathInfo !== undefined) return input.pathInfo;
  if (input.git === undefined) throw new Error('buildCgiEnv: neither git nor pathInfo given');
  return `/${input.git.repo}.git${input.git.suffix}`;
}

/**
 * The CGI meta-variables (RFC 3875) for git-http-backend, from the cgi-env package's
 * `createEnvironment` repaired and rebuilt from the allow-list of ARCHITECTURE.md §5:
 * HTTP_* names get their dashes turned into underscores (cgi-env leaves `HTTP_GIT-PROTOCOL`, which
 * git never reads); Authorization, Cookie, Proxy and the trusted identity headers are dropped;
 * PATH_INFO is the parsed repo name (cgi-env gives the still-encoded URL); CONTENT_LENGTH is set
 * only when the request has one (a chunked push has none); nothing else of cgi-env's passes.
 */
export function buildCgiEnv(req: IncomingMessage, input: CgiEnvInput): Record<string, string> {
  const raw = createEnvironment(req) as Record<string, unknown>;
  const dropped = new Set([...ALWAYS_DROPPED, ...input.dropHeaders.map((h) => h.toLowerCase())]);
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'gitward',
    REQUEST_METHOD: String(raw.REQUEST_METHOD ?? req.method ?? 'GET'),
    QUERY_STRING: String(raw.QUERY_STRING ?? ''),
    PATH_INFO: pathInfoOf(input),
    REMOTE_ADDR: input.remoteAddr,
  };
  if (typeof raw.CONTENT_TYPE === 'string') env.CONTENT_TYPE = raw.CONTENT_TYPE;
  if (typeof raw.CONTENT_LENGTH === 'string' && /^\d+$/.test(raw.CONTENT_LENGTH))
    env.CONTENT_LENGTH = raw.CONTENT_LENGTH;
  if (input.remoteUser !== null) env.REMOTE_USER = input.remoteUser;
  for (const [key, value] of Object.entries(raw)) {
    if (!key.startsWith('HTTP_')) continue;
    const name = key.slice('HTTP_'.length).toLowerCase();
    if (!SAFE_HEADER_NAME.test(name) || dropped.has(name)) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    env[`HTTP_${name.replace(/-/g, '_').toUpperCase()}`] = text;
  }
  return env;
}
