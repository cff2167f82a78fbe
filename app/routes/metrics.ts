import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { NotFound } from '../errors.js';
import { metricsPeerAllowed, type Metrics } from '../metrics/metrics.js';
import { peerOf } from '../request/client-address.js';
import { requestContext } from './context.js';

/**
 * GET /metrics: the Prometheus text exposition, for the peers `metrics.allow` names (default: a
 * local direct peer). Anyone else, and every caller while `metrics.enabled` is false, gets the
 * 404 of a path that does not exist: the page is neither advertised nor guarded by a password.
 */
export function createMetricsHandler(deps: AppDeps, metrics: Metrics): RequestHandler {
  return async (req, res) => {
    const ctx = requestContext(res);
    const settings = deps.runtime.current().config.metrics;
    if (!settings.enabled || !metricsPeerAllowed(settings.allow, peerOf(req.socket), req.headers)) {
      throw new NotFound('not found');
    }
    const { body, contentType } = await metrics.render();
    res.setHeader('Content-Type', contentType);
    res.setHeader('Cache-Control', 'no-store');
    ctx.audit.bytesOut += Buffer.byteLength(body);
    res.end(body);
  };
}
