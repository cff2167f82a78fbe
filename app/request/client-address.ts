import net from 'node:net';
import type { Peer } from '../types.js';

/**
 * The peer of a socket: its remote IP (IPv4-mapped IPv6 unwrapped), or `unix` for a unix-socket
 * connection (which has no remote address).
 */
export function peerOf(socket: { readonly remoteAddress?: string | undefined }): Peer {
  const address = socket.remoteAddress;
  if (address === undefined || address === '') return { kind: 'unix' };
  return { kind: 'ip', address: unmapIPv4(address) };
}

/** A compiled list of trusted proxies (CIDRs, bare addresses, and `unix`). */
export interface TrustedProxies {
  trusts(peer: Peer): boolean;
  trustsAddress(address: string): boolean;
}

/**
 * Compiles `trusted_proxies` entries: `127.0.0.1/32`, `::1/128`, `10.0.0.1` or `unix`. Entries are
 * validated by the config loader; an entry that does not parse here trusts nothing.
 */
export function compileTrustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new net.BlockList();
  let unix = false;
  for (const entry of entries) {
    if (entry === 'unix') {
      unix = true;
      continue;
    }
    const [addr, bits] = entry.split('/');
    const family = net.isIP(addr ?? '');
    if (family === 0) continue;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr as string, type);
    // A prefix longer than the address makes BlockList throw; like any bad entry, it trusts nothing.
    else if (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)) list.addSubnet(addr as string, Number(bits), type);
  }
  const trustsAddress = (address: string): boolean => {
    const a = unmapIPv4(address);
    const family = net.isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    trusts: (peer) => (peer.kind === 'unix' ? unix : trustsAddress(peer.address)),
    trustsAddress,
  };
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy, in which case the
 * X-Forwarded-For chain is walked from the right past trusted proxies (or X-Real-IP is used when
 * there is no X-Forwarded-For). Anything that is not an IP address is ignored.
 */
export function clientAddress(peer: Peer, headers: Readonly<Record<string, string | string[] | undefined>>, trusted: TrustedProxies): string {
  const own = peer.kind === 'unix' ? 'unix' : peer.address;
  if (!trusted.trusts(peer)) return own;
  const xff = headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((s) => unmapIPv4(s.trim())).filter((s) => s !== '');
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
