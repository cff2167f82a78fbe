import { compile } from 'proxy-addr';
import type { Peer } from '../types.js';

/** The `trusted_proxies` entry for connections over gitward's unix socket (they have no address). */
export const UNIX_ENTRY = 'unix';

/**
 * The default of every trusted-proxy list (`server.trusted_proxies`, the remote-user plugin's
 * `trusted_proxies`): the unix socket only. Any local user can connect to 127.0.0.1, so loopback
 * is not a trust boundary; a TCP entry must be written out, and `gitward check` warns about it.
 */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = Object.freeze([UNIX_ENTRY]);

/** A compiled list of trusted proxies. */
export interface TrustedProxies {
  /** True when `peer` is listed (`unix` for a unix-socket peer). */
  trusts(peer: Peer): boolean;
  /** True when the IP `address` (IPv4-mapped IPv6 too) is listed; false for anything not an IP. */
  trustsAddress(address: string): boolean;
  /** The entries that trust TCP peers (everything but `unix`), as written. */
  readonly tcp: readonly string[];
}

/**
 * Why `entry` is not a trusted-proxy entry, or null. The grammar is `unix` plus what proxy-addr
 * (express's `trust proxy`) accepts: an IP address, `ip/prefix`, `ip/netmask`, and the names
 * `loopback`, `linklocal` and `uniquelocal`. The one parser of these lists: the config loader and
 * the remote-user plugin both call it.
 */
export function trustedProxyProblem(entry: string): string | null {
  if (entry === UNIX_ENTRY) return null;
  try {
    compile([entry]);
    return null;
  } catch {
    const grammar = 'an IP address, a CIDR range (ip/prefix or ip/netmask), loopback, linklocal or uniquelocal';
    return `"${entry}" is not "unix", ${grammar}`;
  }
}

/** Every problem of a list, one line each (empty when the list is valid). */
export function trustedProxiesProblems(entries: readonly string[]): string[] {
  return entries.map(trustedProxyProblem).filter((p): p is string => p !== null);
}

/**
 * Compiles a list: the one matcher of trusted proxies, for server.trusted_proxies and the
 * remote-user plugin. Callers validate at load (`trustedProxyProblem`); an entry that does not
 * parse here trusts nothing (fail closed).
 */
export function compileTrustedProxies(entries: readonly string[]): TrustedProxies {
  const unix = entries.includes(UNIX_ENTRY);
  const tcp = Object.freeze(entries.filter((e) => e !== UNIX_ENTRY && trustedProxyProblem(e) === null));
  const match = compile(tcp);
  const trustsAddress = (address: string): boolean => {
    try {
      return match(address, 0);
    } catch {
      // proxy-addr throws on some malformed input; what is not an address is not trusted.
      return false;
    }
  };
  return {
    trusts: (peer) => (peer.kind === 'unix' ? unix : trustsAddress(peer.address)),
    trustsAddress,
    tcp,
  };
}

/**
 * The warning of `gitward check` for a list that trusts TCP peers, or null: loopback is not a trust
 * boundary (any local user can connect to 127.0.0.1), so what the list lets a peer claim, every
 * local user can claim. `what` says what is believed (`X-Forwarded-For and X-Real-IP`).
 */
export function tcpTrustWarning(entries: readonly string[], what: string): string | null {
  const tcp = entries.filter((e) => e !== UNIX_ENTRY);
  if (tcp.length === 0) return null;
  const why = `any local user can connect over TCP to 127.0.0.1 and send ${what}`;
  return `trusts TCP peers (${tcp.join(', ')}): ${why}; prefer unix (nginx on gitward's unix socket)`;
}
