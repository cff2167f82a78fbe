import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeHookPlan } from '../../protocol/hook-protocol.js';
import { receiveLocksFor } from '../policy/receive-locks-for.js';
import { buildBackendEnv } from '../backend/backend-env.js';
import { buildCgiEnv } from '../backend/cgi-env.js';
import { runBackend, type BackendStats } from '../backend/run-backend.js';
import type { CgiSpawner } from '../backend/cgi-spawner.js';
import type { AppDeps } from '../deps.js';
import { BadRequest, NotFound } from '../errors.js';
import { BODY_FRAMING_HEADER, bodyFraming, discardBody } from '../request/body-framing.js';
import { peerOf } from '../request/client-address.js';
import { authorize, type Authorized, type AuthorizeProgress } from './authorize.js';
import type { RequestAudit } from '../audit/request-audit.js';
import { requestContext } from './context.js';
import { relogHookLogs } from './hook-logs.js';

/** What the git route needs besides AppDeps: the backend binary and gitward's own PATH/HOME/LANG. */
export interface GitRouteOptions {
  /** Absolute path of git-http-backend. */
  readonly backendPath: string;
  /** Starts git-http-backend (the server's one spawner). */
  readonly spawner: CgiSpawner;
  /** PATH, HOME and LANG of gitward's own environment, for git and the hooks. */
  readonly processEnv: Readonly<{ PATH?: string | undefined; HOME?: string | undefined; LANG?: string | undefined }>;
}

/** Prefix of the private temp dir handed to hooks as GITWARD_LOG_DIR. */
const HOOK_LOG_DIR_PREFIX = 'gitward-hooks-';

/**
 * The git smart (and, when enabled, dumb) HTTP route: authorize, then run git-http-backend for the
 * request, streaming both ways. Pushes get a GITWARD_LOG_DIR whose files are re-logged as
 * `hook.log` after the backend exits, then removed.
 */
export function createGitHandler(
  deps: AppDeps,
  options: GitRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const ctx = requestContext(res);
    // git sends no body with a GET or HEAD; one that does is not git, and never reaches git: refused
    // before anything runs, after reading the body (up to a bound), so the client reads the answer.
    if ((req.method === 'GET' || req.method === 'HEAD') && bodyFraming(req.headers) !== null) {
      const whole = await discardBody(req);
      const reason = 'over the bound or cut by the client';
      if (!whole) ctx.logger.info('request.body_discarded', { method: req.method, reason });
      throw new BadRequest(`a ${req.method} request has no body`);
    }
    const runtime = deps.runtime.current();
    const progress: AuthorizeProgress = {};
    let allowed: Authorized;
    try {
      allowed = await authorize(
        runtime,
        {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: req.headers,
          peer: peerOf(req.socket),
          clientAddress: ctx.audit.remoteAddr,
        },
        progress,
      );
    } finally {
      noteProgress(ctx.audit, progress);
    }
    if (allowed.repoDir === null) throw new NotFound(`repository ${allowed.git.repo} not found`);
    const isPush = allowed.git.service === 'git-receive-pack' && allowed.git.kind === 'rpc';
    const framing = bodyFraming(req.headers);
    ctx.audit.requestBody = framing;
    // Whether the proxy streamed the push (chunked) or buffered it first (length): gitward doctor
    // reads this to find `proxy_request_buffering on`, which the client cannot see otherwise.
    if (isPush) res.setHeader(BODY_FRAMING_HEADER, framing ?? 'none');
    const logDir = isPush ? await fs.mkdtemp(path.join(os.tmpdir(), HOOK_LOG_DIR_PREFIX)) : null;
    const stats: BackendStats = { bytesIn: 0, bytesOut: 0, exitCode: null, signal: null };
    // The audit line waits for the backend's exit and the hook logs, so it carries the exit code.
    let finished!: () => void;
    ctx.audit.pending.push(new Promise<void>((resolve) => (finished = resolve)));
    const copyStats = (): void => {
      ctx.audit.bytesIn = stats.bytesIn;
      // An error line written by the error handler counts too; the backend's count never shrinks.
      ctx.audit.bytesOut = Math.max(ctx.audit.bytesOut, stats.bytesOut);
      ctx.audit.exitCode = stats.exitCode;
    };
    try {
      const cgi = buildCgiEnv(req, {
        git: allowed.git,
        remoteAddr: allowed.clientAddress,
        remoteUser: allowed.identity.user,
        // Exactly the headers the configured plugins declared they read credentials from.
        dropHeaders: runtime.auth.consumedHeaders,
      });
      const env = buildBackendEnv({
        cgi,
        git: allowed.git,
        identity: allowed.identity,
        repoRoot: runtime.config.repoRoot,
        configFile: runtime.config.file,
        requestId: ctx.requestId,
        logDir,
        // What the pre-receive hook needs of the config, so it does not parse it again.
        hookPlan: isPush ? encodeHookPlan(runtime.policy, allowed.git.repo) : null,
        // git's own locks behind the hook: hidden refs outside heads/tags, no force/delete without a grant.
        // (the advertisement too, so it shows what the push will see).
        receiveConfig:
          allowed.git.service === 'git-receive-pack' ? receiveLocksFor(runtime.policy, allowed.git.repo) : [],
        processEnv: options.processEnv,
        git4nginxEnv: runtime.config.compat.git4nginxEnv,
      });
      ctx.logger.debug('backend.start', {
        repo: allowed.git.repo,
        service: allowed.git.service,
        user: allowed.identity.user,
      });
      const backendStart = deps.now();
      const running = deps.metrics?.backendStarted();
      try {
        await runBackend({
          req,
          res,
          backendPath: options.backendPath,
          spawner: options.spawner,
          env,
          logger: ctx.logger,
          stats,
        });
      } finally {
        running?.();
        ctx.audit.backendMs = deps.now() - backendStart;
      }
    } finally {
      copyStats();
      if (logDir !== null) {
        const push = { repo: allowed.git.repo, user: allowed.identity.user };
        await relogHookLogs(logDir, ctx.logger, push, (plugin) => ctx.audit.hookRefusals.push(plugin));
      }
      finished();
    }
  };
}

/** Copies what authorize learned into the request's audit. */
export function noteProgress(audit: RequestAudit, progress: AuthorizeProgress): void {
  if (progress.clientAddress !== undefined) audit.remoteAddr = progress.clientAddress;
  if (progress.git) audit.git = progress.git;
  if (progress.identity) audit.identity = progress.identity;
  if (progress.decision) audit.policy = progress.decision.allowed ? 'allowed' : 'denied';
  if (progress.authOutcome !== undefined) audit.authOutcome = progress.authOutcome;
}
