import net from 'node:net';
import type { AuthPlugin, AuthPluginFactory } from '../../app/types.js';
import { compileTrustedProxies } from '../../app/request/client-address.js';
import { userNameProblem } from '../../app/identity/htpasswd-file.js';
import { checkOptions } from '../../app/identity/plugin-options.js';

/** The header nginx sets by default in our snippets (`proxy_set_header X-Remote-User $remote_user`). */
export const DEFAULT_REMOTE_USER_HEADER = 'X-Remote-User';

/** Why a `trusted_proxies` entry is invalid, or null: `unix`, an IP, or an IP/prefix-length. */
function proxyEntryProblem(entry: string): string | null {
  if (entry === 'unix') return null;
  const [addr, bits, extra] = entry.split('/');
  const family = net.isIP(addr ?? '');
  if (family === 0 || extra !== undefined) return `"${entry}" is not "unix", an IP address or a CIDR`;
  if (bits === undefined) return null;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${entry}" has a bad prefix length (0-${max})`;
  return null;
}

/**
 * The `remote-user` plugin: `{plugin: remote-user, header: X-Remote-User, trusted_proxies: [...]}`.
 * Trusts the user named in `header` only when the connection's peer is in `trusted_proxies`
 * (CIDRs, addresses, and `unix` for a unix socket); from any other peer the header is ignored and
 * a warning logged. An absent or empty header is no credentials; a malformed name (or a header
 * sent more than once) is rejected, naming the claimed value as the user of the failed-login line.
 */
export const createRemoteUserPlugin: AuthPluginFactory = (options, ctx): AuthPlugin => {
  checkOptions(options, { header: 'string', trusted_proxies: 'string[]' }, ['trusted_proxies']);
  const header = ((options.header as string | undefined) ?? DEFAULT_REMOTE_USER_HEADER).trim();
  if (!/^[A-Za-z0-9-]+$/.test(header)) throw new Error(`option "header": "${header}" is not a header name`);
  if (header.toLowerCase() === 'authorization') throw new Error('option "header" cannot be Authorization');
  const entries = options.trusted_proxies as string[];
  const problems = entries.map(proxyEntryProblem).filter((p): p is string => p !== null);
  if (problems.length > 0) throw new Error(`option "trusted_proxies": ${problems.join('; ')}`);
  const trusted = compileTrustedProxies(entries);
  const key = header.toLowerCase();
  return {
    name: 'remote-user',
    async authenticate(input) {
      const value = input.headers[key];
      if (value === undefined) return { kind: 'no-credentials' };
      if (!trusted.trusts(input.peer)) {
        ctx.logger.warn('auth.remote_user_untrusted', {
          header,
          peer: input.peer.kind === 'unix' ? 'unix' : input.peer.address,
          client: input.clientAddress,
          msg: `ignored ${header} from untrusted peer`,
        });
        return { kind: 'no-credentials' };
      }
      // Repeated headers are ambiguous: which proxy said what cannot be known.
      if (Array.isArray(value)) return { kind: 'rejected', reason: `${header} sent more than once`, user: value.join(', ') };
      const name = (value as string).trim();
      if (name === '') return { kind: 'no-credentials' };
      const problem = userNameProblem(name);
      // Node joins a repeated header with ", ", so a comma is two proxies' answers, not one name.
      if (problem !== null || name.includes(',')) return { kind: 'rejected', reason: `bad user name in ${header}`, user: name };
      return { kind: 'authenticated', user: name };
    },
  };
};
