import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { requestContext } from './context.js';

/**
 * GET /healthz: JSON `{ok, configHash, loadedAt, configInForce, lastFailure, restartRequired}`.
 * `ok` is false while the last reload failed: the last good config is still in force, for reads
 * and (through the hook plan) for pushes, and `configInForce` is `last-good`, not `file`;
 * `lastFailure` lists the problems. `restartRequired` names the start-up-only settings a reload
 * changed (they take effect after a restart); `ok` stays true for those.
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
      configInForce: failure === null ? 'file' : 'last-good',
      lastFailure: failure === null ? null : { at: new Date(failure.at).toISOString(), problems: failure.problems },
      restartRequired: deps.runtime.restartRequired(),
    });
  };
}
