import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { isLocalDirectPeer, peerOf } from '../request/client-address.js';

/**
 * GET /healthz: `{ok, status}` (`ok` or `degraded`: the last reload failed and the previous config
 * is still in force, for reads and, through the hook plan, for pushes) for anyone; a local direct
 * peer (isLocalDirectPeer) also gets `configHash`, `loadedAt`, `configInForce` (`file`, or
 * `last-good` while the last reload failed), `lastFailure` with its problems — file paths, line
 * numbers and config fragments, which are nobody else's business — and `restartRequired`, the
 * start-up-only settings a reload changed (they take effect after a restart; `ok` stays true).
 */
export function createHealthHandler(deps: AppDeps): RequestHandler {
  return (req, res) => {
    const runtime = deps.runtime.current();
    const failure = deps.runtime.lastFailure();
    const brief = { ok: failure === null, status: failure === null ? 'ok' : 'degraded' };
    res.setHeader('Cache-Control', 'no-store');
    if (!isLocalDirectPeer(peerOf(req.socket), req.headers)) {
      res.json(brief);
      return;
    }
    res.json({
      ...brief,
      configHash: runtime.config.hash,
      loadedAt: new Date(runtime.loadedAt).toISOString(),
      configInForce: failure === null ? 'file' : 'last-good',
      lastFailure: failure === null ? null : { at: new Date(failure.at).toISOString(), problems: failure.problems },
      restartRequired: deps.runtime.restartRequired(),
    });
  };
}
