/** Types for `proxy-addr` (imported only by app/request/trusted-proxies.ts). */
declare module 'proxy-addr' {
  /**
   * Compiles a trust list (addresses, CIDRs, `ip/netmask`, `loopback`, `linklocal`, `uniquelocal`);
   * throws TypeError on a bad entry.
   */
  export function compile(val: string | readonly string[]): (addr: string, i: number) => boolean;
}
