import fsp from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { ListenAddress, ServerSettings } from './config/types.js';
import { startRequestAudit } from './audit/request-audit.js';
import type { AppDeps } from './deps.js';
import type { Runtime } from './runtime.js';
import { clientAddress, peerOf } from './request/client-address.js';
import { compileTrustedProxies, type TrustedProxies } from './request/trusted-proxies.js';
import { setRequestContext, newRequestId } from './routes/context.js';
import { createErrorHandler, sendError } from './routes/errors.js';
import { createGitHandler, type GitRouteOptions } from './routes/git.js';
import { createHealthHandler } from './routes/healthz.js';
import { createMetrics } from './metrics/metrics.js';
import { API_PREFIX, createApiRouter } from './routes/api.js';
import { createMetricsHandler } from './routes/metrics.js';
import type { RequestRoute } from './audit/request-audit.js';
import { createSidecarHandler } from './routes/sidecar.js';
import { createWebHandler } from './routes/web.js';
import type { CgiSpawner } from './backend/cgi-spawner.js';
import { isWebRequest } from './request/web-path.js';

/** Where git-http-backend lives on Debian; `gitward serve` asks `git --exec-path` instead. */
export const DEFAULT_GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

/** Options of `createApp` beyond AppDeps. */
export interface AppOptions {
  /** Absolute path of git-http-backend (default: Debian's). */
  readonly backendPath?: string;
  /** PATH, HOME and LANG handed to git (default: a minimal PATH only). */
  readonly processEnv?: GitRouteOptions['processEnv'];
  /** The hook dispatcher repos created through the API link to (default: this checkout's). */
  readonly dispatcher?: string;
  /** Starts git-http-backend and cgit; the composition root owns it. */
  readonly spawner: CgiSpawner;
}

/** Path of the Prometheus exposition (metrics.allow decides who may read it). */
export const METRICS_PATH = '/metrics';

/** PATH used for git when the caller passes none: git and its helpers live here on Debian. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

/** What `createApp` returns: a plain Node request listener, for `http.createServer`. */
export type GitwardApp = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** The path part of a request target (`/a/b?x` → `/a/b`). */
function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q >= 0 ? u.slice(0, q) : u;
}

/** Which part of gitward a path goes to; everything not named here is for the git routes. */
function routeOf(path: string, sidecar: { readonly enabled: boolean; readonly path: string }): RequestRoute {
  if (path === '/healthz') return 'healthz';
  if (sidecar.enabled && path === sidecar.path) return 'sidecar';
  if (path === METRICS_PATH) return 'metrics';
  // Repo names start with a letter or digit, so no git URL begins with `/_gitward/`.
  if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) return 'api';
  return 'git';
}

/**
 * Creates the request listener: a request id and an audit line for every request, GET /healthz
 * and the nginx sidecar endpoint (when enabled) through express, and every other path — the git
 * routes under base_path — straight to the git handler with Node's own request and response (no
 * body parser, bodies stream to git-http-backend; express's router and request decoration cost
 * ~0.1 ms a request, on the path where latency matters), each with the one error answer.
 */
export function createApp(baseDeps: AppDeps, options: AppOptions): GitwardApp {
  // The series of this app; label choices (metrics.label_users, label_repos) are read once, here.
  const first = baseDeps.runtime.current().config.metrics;
  const labels = { labelUsers: first.labelUsers, labelRepos: first.labelRepos };
  const metrics = baseDeps.metrics ?? createMetrics({ runtime: baseDeps.runtime, now: baseDeps.now, ...labels });
  const deps: AppDeps = { ...baseDeps, metrics };

  // The compiled trusted-proxy list of the current config, rebuilt only when a reload changes it
  // (compiling a BlockList on every request showed in profiles).
  let proxies: { readonly source: readonly string[]; readonly compiled: TrustedProxies } | null = null;
  const trustedProxies = (source: readonly string[]): TrustedProxies => {
    if (proxies?.source !== source) proxies = { source, compiled: compileTrustedProxies(source) };
    return proxies.compiled;
  };

  /** Gives the request its id, logger, audit line (proxy or sidecar mode) and X-Request-Id. */
  const begin = (req: http.IncomingMessage, res: http.ServerResponse, runtime: Runtime, route: RequestRoute): void => {
    const requestId = newRequestId();
    const peer = peerOf(req.socket);
    const mode = route === 'sidecar' ? 'sidecar' : 'proxy';
    const logger = deps.logger.child({ requestId });
    const remoteAddr = clientAddress(peer, req.headers, trustedProxies(runtime.config.server.trustedProxies));
    const audit = startRequestAudit(res, { requestId, remoteAddr, mode, route }, deps.audit, deps.now, metrics.observe);
    setRequestContext(res, { requestId, logger, audit });
    res.setHeader('X-Request-Id', requestId);
  };

  const git = createGitHandler(deps, {
    backendPath: options.backendPath ?? DEFAULT_GIT_HTTP_BACKEND,
    processEnv: options.processEnv ?? { PATH: FALLBACK_PATH },
    spawner: options.spawner,
  });

  const web = createWebHandler(deps, {
    processEnv: options.processEnv ?? { PATH: FALLBACK_PATH },
    spawner: options.spawner,
  });

  const app: Express = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Paths are routed by gitward's own parser; express must not treat /A and /a as one.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.get('/healthz', createHealthHandler(deps));
  app.get(METRICS_PATH, createMetricsHandler(deps, metrics));
  const apiOptions = { processEnv: options.processEnv ?? { PATH: FALLBACK_PATH } };
  const withDispatcher = options.dispatcher ? { ...apiOptions, dispatcher: options.dispatcher } : apiOptions;
  app.use(API_PREFIX, createApiRouter(deps, withDispatcher));
  const sidecarHandler = createSidecarHandler(deps);
  app.use((req, res, next) => {
    const { sidecar } = deps.runtime.current().config;
    if (sidecar.enabled && req.path === sidecar.path) sidecarHandler(req, res, next);
    // Anything else that came this way (POST /healthz, say) is for the git routes, as before.
    else git(req, res).catch(next);
  });
  app.use(createErrorHandler());

  return (req, res) => {
    const path = pathOf(req.url);
    const runtime = deps.runtime.current();
    const { sidecar } = runtime.config;
    const route = routeOf(path, sidecar);
    begin(req, res, runtime, route);
    if (route !== 'git') {
      app(req, res);
      return;
    }
    // The web view takes GETs of paths that are not git's routes (request/web-path.ts).
    if (runtime.config.web.enabled && isWebRequest(req.method ?? 'GET', path, runtime.config.basePath)) {
      web(req, res).catch((err: unknown) => sendError(err, res));
      return;
    }
    git(req, res).catch((err: unknown) => sendError(err, res));
  };
}

/**
 * Between two requests on one connection nginx may wait up to its upstream keepalive_timeout
 * (60 s by default); ours must be longer so gitward never closes a connection nginx is reusing.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * No overall request time limit: a 10-minute push of a large pack is legitimate. Slow clients are
 * bounded by the headers timeout and the idle socket timeout instead.
 */
export const REQUEST_TIMEOUT_MS = 0;

/** How often a shutting-down server closes connections that became idle (keep-alive). */
const SHUTDOWN_POLL_MS = 100;

/** Permission bits of a unix socket gitward creates when the config does not say: owner and group. */
export const DEFAULT_SOCKET_MODE = 0o660;

/**
 * Applies the server timeouts: headers within `headersTimeoutSeconds` (slow-loris guard), no total
 * request limit, a socket with no bytes moving for `idleTimeoutSeconds` is closed.
 */
export function configureServer(
  server: http.Server,
  settings: Pick<ServerSettings, 'headersTimeoutSeconds' | 'idleTimeoutSeconds'>,
): void {
  server.headersTimeout = settings.headersTimeoutSeconds * 1000;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.setTimeout(settings.idleTimeoutSeconds * 1000, (socket) => socket.destroy());
}

/**
 * Listens on a TCP address or a unix socket (a stale socket file is removed first; the socket gets
 * its configured mode). Resolves with the printable address, e.g. `127.0.0.1:8080` or `unix:/run/x.sock`.
 */
export async function listenOn(server: http.Server, address: ListenAddress): Promise<string> {
  if (address.kind === 'unix') {
    await removeStaleSocket(address.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fsp.chmod(address.path, address.mode || DEFAULT_SOCKET_MODE);
    return `unix:${address.path}`;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
}

/** Removes `file` if it is a socket nobody listens on; refuses to touch anything else. */
async function removeStaleSocket(file: string): Promise<void> {
  const stat = await fsp.lstat(file).catch(() => null);
  if (stat === null) return;
  if (!stat.isSocket()) throw new Error(`${file} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw Object.assign(new Error(`another server is listening on ${file}`), { code: 'EADDRINUSE' });
  await fsp.rm(file);
}

/**
 * Graceful stop: stop accepting, let in-flight requests finish for up to `graceMs`, then cut what
 * is left. Resolves true when everything finished in time.
 */
export function shutdownServer(server: http.Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (clean: boolean): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(deadline);
      resolve(clean);
    };
    const poll = setInterval(() => server.closeIdleConnections(), SHUTDOWN_POLL_MS);
    const deadline = setTimeout(() => {
      server.closeAllConnections();
      finish(false);
    }, graceMs);
    server.close(() => finish(true));
    server.closeIdleConnections();
  });
}
