import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type Response,
  type Router,
} from 'express';
import { dispatcherPath } from '../cli/repo-admin.js';
import type { AppDeps } from '../deps.js';
import { basicChallenge, HttpError } from '../errors.js';
import { decide, decideCreate } from '../policy/decide.js';
import { listReposOnDisk } from '../policy/list-repos.js';
import { peerOf } from '../request/client-address.js';
import { locateRepo } from '../request/repo-dir.js';
import {
  createRepo,
  deleteRepo,
  parseAdminRepoName,
  RepoAdminError,
  type RepoAdminCode,
  repoFacts,
  renameRepo,
} from '../repo/repo-lifecycle.js';
import type { Runtime } from '../runtime.js';
import type { AccessLevel, Decision, Identity, RepoName } from '../types.js';
import { identifyCaller, type AuthorizeProgress } from './authorize.js';
import { requestContext } from './context.js';
import { noteProgress } from './git.js';

/** Where the repo administration API lives; nginx forwards it like any path, so the proxy needs no change. */
export const API_PREFIX = '/_gitward/api/v1';

/** Largest JSON body accepted: a name, a branch and a one-line description. */
const MAX_BODY_BYTES = 16 * 1024;
/** Repos per page when the caller does not say; a chat bot's list fits. */
const DEFAULT_PER_PAGE = 30;
/** Most repos per page: each costs one `git symbolic-ref` and a walk of its folder. */
const MAX_PER_PAGE = 100;
/** git processes run at once to describe a page of repos: two cores, shared with git traffic. */
const FACTS_CONCURRENCY = 4;

/**
 * The stable error codes of the API; clients branch on these, never on the message.
 * Every error answer is `{code, message}` with the status below.
 */
export const API_ERROR_CODES = {
  bad_request: 400,
  invalid_name: 400,
  invalid_argument: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  repo_exists: 409,
  repo_configured: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal: 500,
} as const;

/** One of API_ERROR_CODES. */
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/** An API failure: a stable code, its status and a message safe to show. */
export class ApiError extends HttpError {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string, headers: Record<string, string> = {}) {
    super(API_ERROR_CODES[code], message, headers);
    this.code = code;
  }
}

/** A repo as the API shows it. */
export interface ApiRepo {
  readonly name: string;
  /** The caller's level on it: read, write or admin (none only right after a `.create`-only create). */
  readonly access: AccessLevel;
  readonly description: string | null;
  readonly defaultBranch: string | null;
  readonly sizeBytes: number;
  readonly lastPushAt: string | null;
}

/** What the API routes need beyond AppDeps. */
export interface ApiOptions {
  /** PATH, HOME and LANG of gitward's own environment, for git. */
  readonly processEnv: Readonly<{ PATH?: string | undefined; HOME?: string | undefined; LANG?: string | undefined }>;
  /** The hook dispatcher new repos link to (default: this checkout's). */
  readonly dispatcher?: string;
}

interface Caller {
  readonly runtime: Runtime;
  readonly identity: Identity;
}

const LIFECYCLE_ERROR_CODES: Readonly<Record<RepoAdminCode, ApiErrorCode>> = {
  exists: 'repo_exists',
  not_found: 'not_found',
  configured: 'repo_configured',
  outside: 'forbidden',
  no_root: 'internal',
  invalid: 'invalid_argument',
  failed: 'internal',
};

/**
 * The repo administration API, mounted at API_PREFIX: list, show, create, rename and delete
 * repos, each decided from the `repos:` tree (read for list and show, `.create` or `.admin` to
 * create, `.admin` to rename and delete) for the caller named by the git routes' identity chain
 * and brute-force limits. Answers JSON; errors are `{code, message}` (API_ERROR_CODES). Repos the
 * caller may not read are 404, as in git. The lifecycle itself is app/repo/repo-lifecycle.ts,
 * the same code as `gitward repo`.
 */
export function createApiRouter(deps: AppDeps, options: ApiOptions): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  const gitEnv = (): Record<string, string> => {
    const env: Record<string, string> = { PATH: options.processEnv.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
    if (options.processEnv.HOME !== undefined) env.HOME = options.processEnv.HOME;
    if (options.processEnv.LANG !== undefined) env.LANG = options.processEnv.LANG;
    return env;
  };
  const dispatcher = options.dispatcher ?? dispatcherPath();
  const json = express.json({ limit: MAX_BODY_BYTES, type: 'application/json', strict: true });

  const show = async (runtime: Runtime, identity: Identity, name: string, level: AccessLevel): Promise<ApiRepo> => {
    const location = locateRepo(runtime.config.repoRoot, name as RepoName);
    if (location.kind !== 'found') throw new ApiError('not_found', `repository ${name} not found`);
    return { name, access: level, ...(await repoFacts(location.dir, gitEnv())) };
  };

  router.use((req, res, next) => {
    const ctx = requestContext(res);
    ctx.audit.api = { action: actionOf(req), repo: null };
    if (!deps.runtime.current().config.api.enabled) {
      next(new ApiError('not_found', 'the API is turned off here (api.enabled: false)'));
      return;
    }
    next();
  });

  // Who is asking, by the git routes' chain; 401 and 429 come from there.
  router.use(async (req, res, next) => {
    const ctx = requestContext(res);
    const runtime = deps.runtime.current();
    const progress: AuthorizeProgress = {};
    try {
      const identity = await identifyCaller(
        runtime,
        { headers: req.headers, peer: peerOf(req.socket), clientAddress: ctx.audit.remoteAddr },
        progress,
      );
      progress.identity = identity;
      res.locals.caller = { runtime, identity } satisfies Caller;
    } finally {
      noteProgress(ctx.audit, progress);
    }
    next();
  });

  router.get('/repos', async (req, res) => {
    const { runtime, identity } = callerOf(res);
    const page = intParam(req.query.page, 'page', 1, 1, Number.MAX_SAFE_INTEGER);
    const perPage = intParam(req.query.perPage, 'perPage', DEFAULT_PER_PAGE, 1, MAX_PER_PAGE);
    let inGroup: (repo: string) => boolean = () => true;
    const group = req.query.group;
    if (group !== undefined) {
      if (typeof group !== 'string' || group === '')
        throw new ApiError('invalid_argument', 'group is one project group path, e.g. web or web/tools');
      const g = parseGroupName(group);
      inGroup = (repo) => repo.startsWith(`${g}/`);
    }
    const readable: { name: string; level: AccessLevel }[] = [];
    for (const name of await listReposOnDisk(runtime.config.repoRoot)) {
      if (!inGroup(name)) continue;
      const d = decide(runtime.policy, identity, name, 'read');
      if (d.allowed) readable.push({ name, level: d.level });
    }
    const slice = readable.slice((page - 1) * perPage, page * perPage);
    const repos = await mapLimited(slice, FACTS_CONCURRENCY, async (r) =>
      show(runtime, identity, r.name, r.level).catch(() => null),
    );
    requestContext(res).audit.policy = 'allowed';
    send(res, 200, { repos: repos.filter((r) => r !== null), page, perPage, total: readable.length });
  });

  router.post('/repos', json, async (req, res) => {
    const { runtime, identity } = callerOf(res);
    const body = bodyOf(req, ['name', 'description', 'defaultBranch'], ['name']);
    const name = nameParam(body.name, 'name');
    requestContext(res).audit.api = { action: 'create', repo: name };
    allowedOrThrow(decideCreate(runtime.policy, identity, name), res);
    const made = await lifecycle(() =>
      createRepo(runtime.config, name, {
        dispatcher,
        env: gitEnv(),
        now: deps.now(),
        ...(body.description !== undefined ? { description: stringField(body.description, 'description') } : {}),
        ...(body.defaultBranch !== undefined
          ? { defaultBranch: stringField(body.defaultBranch, 'defaultBranch') }
          : {}),
      }),
    );
    const level = decide(runtime.policy, identity, made.name, 'read').level;
    ctxLog(res, 'api.repo_created', { repo: made.name, user: identity.user });
    res.setHeader('Location', `${API_PREFIX}/repos/${made.name}`);
    send(res, 201, await show(runtime, identity, made.name, level));
  });

  router.all('/repos', () => {
    throw new ApiError('method_not_allowed', 'use GET or POST on /repos', { Allow: 'GET, HEAD, POST' });
  });

  router.get(/^\/repos\/(.+)$/, async (req, res) => {
    const { runtime, identity } = callerOf(res);
    const name = repoParam(req, res, 'show');
    const d = allowedOrThrow(decide(runtime.policy, identity, name, 'read'), res);
    send(res, 200, await show(runtime, identity, name, d.level));
  });

  router.patch(/^\/repos\/(.+)$/, json, async (req, res) => {
    const { runtime, identity } = callerOf(res);
    const name = repoParam(req, res, 'rename');
    const body = bodyOf(req, ['name'], ['name']);
    const to = nameParam(body.name, 'name');
    allowedOrThrow(decide(runtime.policy, identity, name, 'admin'), res);
    allowedOrThrow(decideCreate(runtime.policy, identity, to), res);
    const moved = await lifecycle(async () => renameRepo(runtime.config, name, to));
    ctxLog(res, 'api.repo_renamed', { from: moved.from, to: moved.to, user: identity.user });
    const level = decide(runtime.policy, identity, moved.to, 'read').level;
    send(res, 200, await show(runtime, identity, moved.to, level));
  });

  router.delete(/^\/repos\/(.+)$/, async (req, res) => {
    const { runtime, identity } = callerOf(res);
    const name = repoParam(req, res, 'delete');
    allowedOrThrow(decide(runtime.policy, identity, name, 'admin'), res);
    const trashed = await lifecycle(async () => deleteRepo(runtime.config, name, { now: deps.now() }));
    ctxLog(res, 'api.repo_deleted', { repo: name, user: identity.user, trash: trashed.trashRelative });
    send(res, 200, { name, trash: trashed.trashRelative });
  });

  router.all(/^\/repos\/(.+)$/, () => {
    throw new ApiError('method_not_allowed', 'use GET, PATCH or DELETE on /repos/NAME', {
      Allow: 'GET, HEAD, PATCH, DELETE',
    });
  });

  router.use(() => {
    throw new ApiError('not_found', 'no such API route');
  });
  router.use(apiErrorHandler());
  return router;
}

/** The action an API request asks for, for its audit line. */
function actionOf(req: Request): string {
  const one = req.path !== '/repos' && req.path.startsWith('/repos/');
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      return one ? 'show' : 'list';
    case 'POST':
      return 'create';
    case 'PATCH':
      return 'rename';
    case 'DELETE':
      return 'delete';
    default:
      return req.method.toLowerCase().slice(0, 16);
  }
}

function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

function ctxLog(res: Response, event: string, fields: Record<string, unknown>): void {
  requestContext(res).logger.info(event, fields);
}

/** The repo named in the path (`/repos/NAME`), checked by the tree's rules; noted for the audit. */
function repoParam(req: Request, res: Response, action: string): string {
  const raw = (req.params as Record<string, string | undefined>)[0] ?? '';
  const name = nameParam(raw, 'the repo in the path');
  requestContext(res).audit.api = { action, repo: name };
  return name;
}

function nameParam(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ApiError('invalid_name', `${what} must be a string`);
  try {
    return parseAdminRepoName(value);
  } catch (err) {
    throw new ApiError('invalid_name', err instanceof Error ? err.message : String(err));
  }
}

function parseGroupName(value: string): string {
  try {
    const g = parseAdminRepoName(value.replace(/\/+$/, ''));
    if (value.endsWith('.git')) throw new Error('a project group does not end in .git');
    return g;
  } catch (err) {
    throw new ApiError('invalid_name', `bad group: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function stringField(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ApiError('invalid_argument', `${what} must be a string`);
  return value;
}

function intParam(value: unknown, what: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value))
    throw new ApiError('invalid_argument', `${what} must be a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new ApiError('invalid_argument', `${what} must be between ${min} and ${max}`);
  return n;
}

/** The JSON body as an object with only `allowed` keys (an unknown key is an error, as in the config). */
function bodyOf(req: Request, allowed: readonly string[], required: readonly string[]): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined)
    throw new ApiError('unsupported_media_type', 'send the body as Content-Type: application/json');
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError('bad_request', 'the body must be a JSON object');
  const obj = body as Record<string, unknown>;
  for (const k of Object.keys(obj))
    if (!allowed.includes(k))
      throw new ApiError('invalid_argument', `unknown field "${k}" (fields: ${allowed.join(', ')})`);
  for (const k of required) if (obj[k] === undefined) throw new ApiError('invalid_argument', `missing field "${k}"`);
  return obj;
}

/** Throws the API error of a denial (401 with the challenge, 403, 404 hidden); returns an allowed decision. */
function allowedOrThrow(d: Decision, res: Response): Decision {
  const { runtime } = callerOf(res);
  const audit = requestContext(res).audit;
  audit.policy = d.allowed ? 'allowed' : 'denied';
  if (d.allowed) return d;
  switch (d.status) {
    case 401:
      throw new ApiError('unauthorized', 'authentication required', {
        'WWW-Authenticate': basicChallenge(runtime.config.realm),
      });
    case 403:
      throw new ApiError('forbidden', d.reason);
    case 404:
      throw new ApiError('not_found', `repository ${audit.api?.repo ?? ''} not found`);
  }
}

/** Runs a lifecycle step, turning its failures into API errors. */
async function lifecycle<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof RepoAdminError) throw new ApiError(LIFECYCLE_ERROR_CODES[err.code], err.message);
    if (err instanceof HttpError && err.status === 400) throw new ApiError('invalid_name', err.message);
    throw err;
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Sends `body` as JSON with `status`, counting its bytes for the audit line. */
function send(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.status(status);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  requestContext(res).audit.bytesOut += Buffer.byteLength(text);
  res.end(text);
}

/**
 * The API's one error answer: `{code, message}` with the code's status and headers. express's
 * body-parser errors become bad_request / payload_too_large; anything unexpected is a 500 naming
 * the request id, with the detail in the operator log only.
 */
function apiErrorHandler(): ErrorRequestHandler {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const ctx = requestContext(res);
    if (res.headersSent) {
      ctx.logger.error('request.failed_after_headers', { error: err instanceof Error ? err.message : String(err) });
      res.destroy();
      return;
    }
    let e: ApiError;
    const parserType = (err as { type?: unknown } | null)?.type;
    if (err instanceof ApiError) e = err;
    else if (parserType === 'entity.too.large')
      e = new ApiError('payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    else if (parserType === 'entity.parse.failed') e = new ApiError('bad_request', 'the body is not valid JSON');
    else if (typeof parserType === 'string') e = new ApiError('bad_request', 'the body could not be read');
    else if (err instanceof HttpError) {
      const code = (Object.keys(API_ERROR_CODES) as ApiErrorCode[]).find(
        (c) => API_ERROR_CODES[c] === err.status && !c.startsWith('invalid') && !c.startsWith('repo_'),
      );
      e = new ApiError(code ?? 'internal', err.message, { ...err.headers });
    } else {
      ctx.logger.error('request.internal_error', {
        error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      });
      e = new ApiError('internal', `internal error (request id ${ctx.requestId})`);
    }
    ctx.audit.errorStatus = e.status;
    ctx.logger[e.status >= 500 ? 'error' : 'info']('request.refused', {
      status: e.status,
      code: e.code,
      reason: e.message,
    });
    for (const [name, value] of Object.entries(e.headers)) res.setHeader(name, value);
    send(res, e.status, { code: e.code, message: e.message });
  };
}
