import { BadRequest, NotFound } from '../errors.js';
import type { RepoName } from '../types.js';
import { isGitRoute } from './classify.js';
import { GIT_SUFFIX, parseRepoName } from './repo-name.js';

/**
 * Longest decoded path of a web page, in bytes: the repo name (255) plus a deep tree path; git
 * itself refuses paths beyond 4096 bytes on most systems.
 */
export const MAX_WEB_PATH_BYTES = 4096;

/** Longest query string of a web page: cgit's own links and forms stay far below this. */
export const MAX_WEB_QUERY_BYTES = 2048;

/**
 * The query parameters cgit's pages use (cgit.c, querystring_cb), less `url`, `r` and `p`: those
 * would choose the repo or page instead of the path that `decide` authorised. Anything else is refused.
 */
const WEB_QUERY_NAMES: ReadonlySet<string> = new Set([
  ...['q', 'qt', 'h', 'id', 'id2', 'ofs', 'path', 'name', 's', 'showmsg', 'period', 'ss'],
  ...['context', 'ignorews', 'dt', 'follow'],
]);

/** Prefix (after base_path) of gitward's own web URLs; repo names cannot start with `_`. */
export const WEB_OWN_PREFIX = '_gitward/';

/** cgit's static files that gitward serves itself when nginx does not (standalone, tests). */
export const WEB_STATIC_FILES: ReadonlyMap<string, string> = new Map([
  ['cgit.css', 'text/css; charset=utf-8'],
  ['cgit.png', 'image/png'],
  ['favicon.ico', 'image/x-icon'],
  ['robots.txt', 'text/plain; charset=utf-8'],
]);

/** A request for the web view, parsed and checked; only this reaches the web route's backend. */
export type WebRequest =
  /** `<base>?login`: answers 401 with the challenge until the browser sends credentials. */
  | { readonly kind: 'login' }
  /** `<base>_gitward/cgit/<file>`: one of WEB_STATIC_FILES. */
  | { readonly kind: 'static'; readonly file: string }
  /** The repo index (the site root), with cgit's search and paging. */
  | { readonly kind: 'index'; readonly pathInfo: string }
  /** A page of one repo: `<base><repo>.git[/page[/path]]`. */
  | { readonly kind: 'repo'; readonly repo: RepoName; readonly pathInfo: string };

/**
 * Whether a request belongs to the web view: a GET or HEAD under base_path whose path is not one
 * of git's routes. git's own requests (info/refs, git-upload-pack, git-receive-pack, the dumb
 * files) never match, so they are routed exactly as without the web view; the rule is the route,
 * never a header such as Accept, which a client chooses.
 */
export function isWebRequest(method: string, rawPath: string, basePath: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (!rawPath.startsWith(basePath)) return false;
  return !isGitRoute(rawPath.slice(basePath.length - 1));
}

/**
 * Parses a web request's raw path and query (as received, percent-encoded). The repo is the path
 * up to the first segment ending in `.git`, parsed by parseRepoName; the rest is decoded once and
 * may hold no control character and no `.` or `..` segment. The query may name only cgit's page
 * parameters (WEB_QUERY_NAMES), unencoded. Throws BadRequest, or NotFound for a path that names no repo.
 */
export function parseWebRequest(rawPath: string, rawQuery: string, basePath: string): WebRequest {
  const rest = rawPath.slice(basePath.length);
  if (Buffer.byteLength(rawQuery) > MAX_WEB_QUERY_BYTES) {
    throw new BadRequest(`query longer than ${MAX_WEB_QUERY_BYTES} bytes`);
  }
  if (rest.startsWith(WEB_OWN_PREFIX)) {
    const file = rest.slice(WEB_OWN_PREFIX.length);
    if (file.startsWith('cgit/') && WEB_STATIC_FILES.has(file.slice('cgit/'.length)) && rawQuery === '') {
      return { kind: 'static', file: file.slice('cgit/'.length) };
    }
    throw new NotFound('not found');
  }
  if (rest === '' && rawQuery.split('&').includes('login')) return { kind: 'login' };
  checkQuery(rawQuery);
  if (rest === '') return { kind: 'index', pathInfo: '/' };
  // Encoded, a path may take up to three bytes per decoded one.
  if (Buffer.byteLength(rest) > MAX_WEB_PATH_BYTES * 3) {
    throw new BadRequest(`path longer than ${MAX_WEB_PATH_BYTES} bytes`);
  }
  const raw = rest.split('/');
  const end = raw.findIndex((segment) => decodeOnce(segment).endsWith(GIT_SUFFIX));
  if (end < 0) throw new NotFound('not found');
  const repo = parseRepoName(raw.slice(0, end + 1).join('/'));
  const page = decodeOnce(raw.slice(end + 1).join('/'));
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(page)) throw new BadRequest('control characters in the path');
  if (page.split('/').some((s) => s === '.' || s === '..')) {
    throw new BadRequest('"." and ".." are not allowed in the path');
  }
  const pathInfo = `/${repo}${GIT_SUFFIX}${page === '' ? '/' : `/${page}`}`;
  if (Buffer.byteLength(pathInfo) > MAX_WEB_PATH_BYTES) {
    throw new BadRequest(`path longer than ${MAX_WEB_PATH_BYTES} bytes`);
  }
  return { kind: 'repo', repo, pathInfo };
}

/** Refuses a query with a parameter cgit's pages do not use, or with an encoded or repeated-empty name. */
function checkQuery(rawQuery: string): void {
  if (rawQuery === '') return;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    // cgit decodes names too (`u%72l` is `url`): only plain, known names pass.
    if (!WEB_QUERY_NAMES.has(name)) throw new BadRequest(`unknown query parameter "${name.slice(0, 40)}"`);
  }
}

function decodeOnce(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadRequest('bad percent-encoding in the path');
  }
}
