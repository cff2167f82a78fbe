import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { requestContext } from './context.js';

/**
 * GET /healthz: JSON `{ok, configHash, loadedAt, lastFailure}`. `ok` is false while the last
 * reload failed (the previous config is still in force); `lastFailure` lists its problems.
 */
export function createHealthHandler(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    requestContext(res).audit.decision = 'allowed';
    const runtime = deps.runtime.current();
    const failure = deps.runtime.lastFailure();
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      ok: failure === null,
      configHash: runtime.config.hash,
      loadedAt: new Date(runtime.loadedAt).toISOString(),
      lastFailure: failure === null ? null : { at: new Date(failure.at).toISOString(), problems: failure.problems },
    });
  };
}
