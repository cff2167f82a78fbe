import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { Peer } from '../types.js';
import type { TrustedProxies } from './trusted-proxies.js';

/**
 * The peer of a socket: its remote IP (IPv4-mapped IPv6 unwrapped), or `unix` for a unix-socket
 * connection (which has no remote address).
 */
export function peerOf(socket: { readonly remoteAddress?: string | undefined }): Peer {
  const address = socket.remoteAddress;
  if (address === undefined || address === '') return { kind: 'unix' };
  return { kind: 'ip', address: unmapIPv4(address) };
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy, in which case the
 * X-Forwarded-For chain is walked from the right past trusted proxies (or X-Real-IP is used when
 * there is no X-Forwarded-For). Anything that is not an IP address is ignored.
 */
export function clientAddress(
  peer: Peer,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  trusted: TrustedProxies,
): string {
  const own = peer.kind === 'unix' ? 'unix' : peer.address;
  if (!trusted.trusts(peer)) return own;
  const xff = headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
    .split(',')
    .map((s) => unmapIPv4(s.trim()))
    .filter((s) => s !== '');
  if (chain.length > 0) {
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i] as string;
      if (net.isIP(hop) === 0) return own;
      if (i === 0 || !trusted.trustsAddress(hop)) return hop;
    }
  }
  const real = headers['x-real-ip'];
  if (typeof real === 'string' && net.isIP(unmapIPv4(real.trim())) !== 0) return unmapIPv4(real.trim());
  return own;
}

function unmapIPv4(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

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
