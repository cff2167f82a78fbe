import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { peerOf } from '../request/client-address.js';
import type { Peer } from '../types.js';

/** Headers by which a proxy says it forwards someone else's request. */
const FORWARDING_HEADERS: readonly string[] = ['x-forwarded-for', 'x-real-ip', 'forwarded', 'via'];

/**
 * True when the request comes straight from this machine: over the unix socket, or from a
 * loopback address with no forwarding header (a request nginx forwards from the internet arrives
 * over loopback too, but with X-Forwarded-For / X-Real-IP, which the shipped sites set). Pure.
 */
export function isLocalDirectPeer(peer: Peer, headers: IncomingHttpHeaders): boolean {
  if (FORWARDING_HEADERS.some((h) => headers[h] !== undefined)) return false;
  if (peer.kind === 'unix') return true;
  return peer.address === '::1' || /^127\.\d+\.\d+\.\d+$/.test(peer.address);
}

/**
 * GET /healthz: `{ok, status}` (`ok` or `degraded`: the last reload failed and the previous config
 * is still in force) for anyone; a local direct peer (isLocalDirectPeer) also gets `configHash`,
 * `loadedAt` and `lastFailure` with its problems — file paths, line numbers and config fragments,
 * which are nobody else's business.
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
      lastFailure: failure === null ? null : { at: new Date(failure.at).toISOString(), problems: failure.problems },
    });
  };
}
