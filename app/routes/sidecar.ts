import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';

/**
 * The nginx `auth_request` endpoint (DESIGN.md §3, sidecar column). Placeholder until the nginx
 * issue lands.
 */
export function createSidecarHandler(deps: AppDeps): RequestHandler {
  return (_req, res) => {
    deps.logger.error('sidecar.unimplemented');
    res.status(500).type('text/plain').send('sidecar endpoint not implemented yet\n');
  };
}
