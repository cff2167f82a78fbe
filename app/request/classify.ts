import { BadRequest, MethodNotAllowed } from '../errors.js';
import type { GitRequest, GitService } from '../types.js';
import { parseRepoName } from './repo-name.js';

/** What `classify` needs from the config. */
export interface ClassifyOptions {
  /** Serve the dumb HTTP protocol's static files (reads). */
  readonly dumbHttp: boolean;
  /** URL prefix nginx forwards, starting and ending with `/`. */
  readonly basePath: string;
}

/** A route of git's HTTP protocol, matched on the raw (still encoded) path after the repo. */
interface Route {
  readonly pattern: RegExp;
  readonly methods: readonly string[];
  readonly kind: GitRequest['kind'];
}

const GET = ['GET', 'HEAD'] as const;
/** Object ids: SHA-1 (40 hex) or SHA-256 (64 hex). */
const OID_REST = '(?:[0-9a-f]{38}|[0-9a-f]{62})';
const OID = '(?:[0-9a-f]{40}|[0-9a-f]{64})';

/**
 * The routes of git-http-backend (https://git-scm.com/docs/git-http-backend), smart first.
 * `info/refs` is smart when `service=` is given and dumb otherwise.
 */
const ROUTES: readonly Route[] = [
  { pattern: /\/info\/refs$/, methods: GET, kind: 'info-refs' },
  { pattern: /\/git-upload-pack$/, methods: ['POST'], kind: 'rpc' },
  { pattern: /\/git-receive-pack$/, methods: ['POST'], kind: 'rpc' },
  { pattern: /\/HEAD$/, methods: GET, kind: 'dumb' },
  { pattern: /\/objects\/info\/(?:alternates|http-alternates|packs)$/, methods: GET, kind: 'dumb' },
  { pattern: new RegExp(`/objects/[0-9a-f]{2}/${OID_REST}$`), methods: GET, kind: 'dumb' },
  { pattern: new RegExp(`/objects/pack/pack-${OID}\\.(?:pack|idx)$`), methods: GET, kind: 'dumb' },
];

/**
 * Whether `rest` (the raw path after base_path, with its leading `/`) ends in one of git's own
 * routes. Such a path always goes to the git handler, whatever else is enabled (the web view
 * takes only what is not git's).
 */
export function isGitRoute(rest: string): boolean {
  return ROUTES.some((r) => r.pattern.test(rest));
}

const SERVICES: ReadonlySet<string> = new Set(['git-upload-pack', 'git-receive-pack']);

/**
 * Classifies a request by its route (method + raw path + raw query) into a GitRequest, never by a
 * claimed query alone. Throws BadRequest (400) for a path, service or repo name that is not git's,
 * MethodNotAllowed (405) for a git route with the wrong method. Pure.
 */
export function classify(method: string, rawPath: string, rawQuery: string, options: ClassifyOptions): GitRequest {
  if (!rawPath.startsWith(options.basePath))
    throw new BadRequest(`not a git URL: path must start with ${options.basePath}`);
  const rest = rawPath.slice(options.basePath.length - 1);
  const route = ROUTES.find((r) => r.pattern.test(rest));
  if (!route) throw new BadRequest('not a git URL: expected <repo>.git/info/refs, git-upload-pack or git-receive-pack');
  const match = route.pattern.exec(rest) as RegExpExecArray;
  const suffix = match[0];
  const repo = parseRepoName(rest.slice(1, rest.length - suffix.length));
  if (!route.methods.includes(method)) throw new MethodNotAllowed(`${method} is not used on ${suffix}`, route.methods);

  if (route.kind === 'rpc') {
    const service = suffix.slice(1) as GitService;
    return { repo, service, need: service === 'git-receive-pack' ? 'write' : 'read', kind: 'rpc', suffix };
  }
  const service = route.kind === 'info-refs' ? serviceParam(rawQuery) : null;
  if (service !== null) {
    return { repo, service, need: service === 'git-receive-pack' ? 'write' : 'read', kind: 'info-refs', suffix };
  }
  if (!options.dumbHttp) throw new BadRequest('dumb HTTP is not enabled here: use a git client that speaks smart HTTP');
  return { repo, service: 'dumb', need: 'read', kind: 'dumb', suffix };
}

/** The `service` query parameter of `info/refs`: null when absent, BadRequest when unknown or repeated. */
function serviceParam(rawQuery: string): GitService | null {
  const values = new URLSearchParams(rawQuery).getAll('service');
  if (values.length === 0) return null;
  const value = values[0] as string;
  if (values.length > 1 || !SERVICES.has(value))
    throw new BadRequest('unknown service: use git-upload-pack or git-receive-pack');
  return value as GitService;
}
