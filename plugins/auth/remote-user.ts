import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuthPlugin, AuthPluginFactory, Peer } from '../../app/types.js';
import {
  compileTrustedProxies,
  DEFAULT_TRUSTED_PROXIES,
  tcpTrustWarning,
  trustedProxiesProblems,
} from '../../app/request/trusted-proxies.js';
import { userNameProblem } from '../../app/principals.js';
import { checkOptions } from '../../app/identity/plugin-options.js';

/** The header nginx sets by default in our snippets (`proxy_set_header X-Remote-User $remote_user`). */
export const DEFAULT_REMOTE_USER_HEADER = 'X-Remote-User';

/**
 * The header in which nginx sends the shared secret of `secret_file`
 * (`proxy_set_header X-Gitward-Proxy-Secret "…";` from an include only root can read).
 */
export const PROXY_SECRET_HEADER = 'X-Gitward-Proxy-Secret';

/** Shortest secret accepted: `openssl rand -hex 32` gives 64 characters; 32 is beyond guessing. */
export const MIN_SECRET_CHARS = 32;

/** Reads the secret: the file's first line, trimmed; refuses a short secret or a file every local user may read. */
function readSecret(file: string): Buffer {
  let stat: fs.Stats;
  let text: string;
  try {
    stat = fs.statSync(file);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`option "secret_file": cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: err,
    });
  }
  // The secret is what stands between a local user and every identity: other users must not read it.
  if ((stat.mode & 0o004) !== 0) {
    throw new Error(`option "secret_file": ${file} is readable by every user (chmod o-r it)`);
  }
  const secret = (text.split(/\r?\n/)[0] ?? '').trim();
  if (secret.length < MIN_SECRET_CHARS || /[^\x21-\x7e]/.test(secret)) {
    const want = `a secret of at least ${MIN_SECRET_CHARS} printable characters (openssl rand -hex 32)`;
    throw new Error(`option "secret_file": the first line of ${file} must be ${want}`);
  }
  return Buffer.from(secret, 'utf8');
}

/** True when `sent` is the secret; constant time in the secret's bytes (the lengths may differ). */
function secretMatches(sent: string | string[] | undefined, secret: Buffer): boolean {
  if (typeof sent !== 'string') return false;
  // Both sides hashed to one length first: timingSafeEqual needs equal lengths, and comparing
  // lengths first would tell an attacker the secret's length.
  const a = crypto.createHash('sha256').update(sent, 'utf8').digest();
  const b = crypto.createHash('sha256').update(secret).digest();
  return crypto.timingSafeEqual(a, b);
}

function peerName(peer: Peer): string {
  return peer.kind === 'unix' ? 'unix' : peer.address;
}

/**
 * The `remote-user` plugin: `{plugin: remote-user, header: X-Remote-User, trusted_proxies: [unix],
 * secret_file: FILE}`. Believes the user named in `header` when the connection's peer is in
 * `trusted_proxies` (default `[unix]`: gitward's unix socket only; loopback is not a trust
 * boundary), or, with `secret_file`, when the request carries that file's secret in
 * X-Gitward-Proxy-Secret (compared in constant time). From anyone else the header is ignored and a
 * warning logged. An absent or empty header is no credentials; a malformed name (or a header sent
 * more than once) is rejected, naming the claimed value as the user of the failed-login line.
 * Declares both headers, so neither reaches git.
 */
export const createRemoteUserPlugin: AuthPluginFactory = (options, ctx): AuthPlugin => {
  checkOptions(options, { header: 'string', trusted_proxies: 'string[]', secret_file: 'string' });
  const header = ((options.header as string | undefined) ?? DEFAULT_REMOTE_USER_HEADER).trim();
  if (!/^[A-Za-z0-9-]+$/.test(header)) throw new Error(`option "header": "${header}" is not a header name`);
  const key = header.toLowerCase();
  if (key === 'authorization') throw new Error('option "header" cannot be Authorization');
  const secretKey = PROXY_SECRET_HEADER.toLowerCase();
  if (key === secretKey) throw new Error(`option "header" cannot be ${PROXY_SECRET_HEADER}`);
  const entries = (options.trusted_proxies as string[] | undefined) ?? DEFAULT_TRUSTED_PROXIES;
  const problems = trustedProxiesProblems(entries);
  if (problems.length > 0) throw new Error(`option "trusted_proxies": ${problems.join('; ')}`);
  const trusted = compileTrustedProxies(entries);
  const secretFile = options.secret_file as string | undefined;
  if (secretFile === '') throw new Error('option "secret_file" must name a file');
  const secret = secretFile === undefined ? null : readSecret(path.resolve(ctx.configDir, secretFile));
  const tcpWarning = tcpTrustWarning(entries, `${header} naming any user`);
  return {
    name: 'remote-user',
    headers: secret === null ? [key] : [key, secretKey],
    warnings: () => (tcpWarning === null ? [] : [`trusted_proxies: ${tcpWarning}, or secret_file`]),
    async authenticate(input) {
      const value = input.headers[key];
      if (value === undefined) return { kind: 'no-credentials' };
      const withSecret = secret !== null && secretMatches(input.headers[secretKey], secret);
      const believed = trusted.trusts(input.peer) || withSecret;
      if (!believed) {
        ctx.logger.warn('auth.remote_user_untrusted', {
          header,
          peer: peerName(input.peer),
          client: input.clientAddress,
          msg: `ignored ${header}: not from a trusted proxy${secret === null ? '' : ', and no valid secret'}`,
        });
        return { kind: 'no-credentials' };
      }
      // Repeated headers are ambiguous: which proxy said what cannot be known.
      if (Array.isArray(value))
        return { kind: 'rejected', reason: `${header} sent more than once`, user: value.join(', ') };
      const name = (value as string).trim();
      if (name === '') return { kind: 'no-credentials' };
      const problem = userNameProblem(name);
      // Node joins a repeated header with ", ", so a comma is two proxies' answers, not one name.
      if (problem !== null || name.includes(','))
        return { kind: 'rejected', reason: `bad user name in ${header}`, user: name };
      return { kind: 'authenticated', user: name };
    },
  };
};
