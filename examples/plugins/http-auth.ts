/**
 * Example third-party authentication plugin for gitward: asks an existing user service over HTTP
 * whether a user name and password are valid, and which groups the user has.
 *
 *   authentication:
 *     - plugin: ./plugins/http-auth.js     # path relative to gitward.yaml, or a package name
 *       url: http://127.0.0.1:9000/check
 *       timeout_ms: 2000                   # optional, default 2000
 *       allowed_hosts: [users.internal]    # optional; loopback is always allowed
 *
 * For each request with Basic credentials it POSTs `{"user": "...", "password": "..."}` as JSON
 * and expects a 2xx answer `{"ok": true|false, "groups": ["..."]}`. Fail closed: a timeout, a
 * connection error, a non-2xx status, a body that is not that JSON — all reject the login, never
 * authenticate it. Redirects are not followed.
 *
 * Self-contained on purpose (node built-ins only), as a plugin published on its own would be. The
 * loader calls the export `createAuthPlugin(options, {logger, configDir})`.
 */
import http from 'node:http';
import https from 'node:https';
import type { AuthPlugin, AuthPluginContext, AuthResult } from '../../app/types.js';

/** Default wait for the user service: long enough for a slow LDAP bind, short enough for git. */
const DEFAULT_TIMEOUT_MS = 2_000;
/** Longest timeout accepted: git clients and nginx give up after about a minute anyway. */
const MAX_TIMEOUT_MS = 60_000;
/** Largest answer read: `{ok, groups}` is small; more is a misconfigured URL. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Hosts always allowed: the user service on the same machine. */
const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]', 'localhost'];
const KNOWN_OPTIONS = ['url', 'timeout_ms', 'allowed_hosts'];
const GROUP = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Options of the plugin, checked at load. */
interface HttpAuthOptions {
  readonly url: URL;
  readonly timeoutMs: number;
}

function parseOptions(options: Readonly<Record<string, unknown>>): HttpAuthOptions {
  const problems: string[] = [];
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.includes(key)) problems.push(`unknown option "${key}"`);
  const allowed = options.allowed_hosts ?? [];
  if (!Array.isArray(allowed) || !allowed.every((h) => typeof h === 'string' && h !== ''))
    problems.push('option "allowed_hosts" must be a list of host names');
  const timeoutMs = options.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    problems.push(`option "timeout_ms" must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  }
  let url: URL | null = null;
  if (typeof options.url !== 'string')
    problems.push('option "url" is required (the user service, e.g. http://127.0.0.1:9000/check)');
  else {
    try {
      url = new URL(options.url);
    } catch {
      problems.push(`option "url": "${options.url}" is not a URL`);
    }
  }
  if (url !== null) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      problems.push('option "url" must be http:// or https://');
    if (url.username !== '' || url.password !== '') problems.push('option "url" must not carry credentials');
    const hosts = [...LOOPBACK_HOSTS, ...(Array.isArray(allowed) ? (allowed as string[]) : [])].map((h) =>
      h.toLowerCase(),
    );
    if (!hosts.includes(url.hostname.toLowerCase())) {
      problems.push(
        `option "url": host "${url.hostname}" is not loopback; list it in allowed_hosts to send passwords there`,
      );
    }
  }
  if (problems.length > 0 || url === null) throw new Error(problems.join('; '));
  return { url, timeoutMs: timeoutMs as number };
}

/** Posts the credentials; resolves with status and body, rejects on any transport problem or timeout. */
function post(opts: HttpAuthOptions, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = opts.url.protocol === 'https:' ? https : http;
    const req = client.request(opts.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
      },
    });
    // One deadline for the whole exchange: connect, send, wait and read.
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (b: Buffer) => {
        size += b.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(b);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}

/** Reads the service's answer; anything but the documented JSON is null. */
function parseAnswer(body: string): { ok: boolean; groups: string[] } | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.ok !== 'boolean') return null;
  if (v.groups === undefined) return { ok: v.ok, groups: [] };
  if (!Array.isArray(v.groups) || !v.groups.every((g) => typeof g === 'string' && GROUP.test(g))) return null;
  return { ok: v.ok, groups: v.groups as string[] };
}

/**
 * The plugin factory gitward's loader calls. Throws on bad options, which stops gitward's
 * start-up (fail closed).
 */
export function createAuthPlugin(options: Record<string, unknown>, ctx: AuthPluginContext): AuthPlugin {
  const opts = parseOptions(options);
  const target = `${opts.url.origin}${opts.url.pathname}`;
  return {
    name: 'http-auth',
    async authenticate(input): Promise<AuthResult> {
      if (input.basic === null) return { kind: 'no-credentials' };
      const { user, password } = input.basic;
      if (password === '') return { kind: 'rejected', reason: 'empty password' };
      let answer: { status: number; body: string };
      try {
        answer = await post(opts, JSON.stringify({ user, password }));
      } catch (err) {
        ctx.logger.error('http_auth.unavailable', {
          url: target,
          error: err instanceof Error ? err.message : String(err),
        });
        return { kind: 'rejected', reason: 'user service unavailable' };
      }
      if (answer.status < 200 || answer.status > 299) {
        ctx.logger.error('http_auth.bad_status', { url: target, status: answer.status });
        return { kind: 'rejected', reason: `user service answered ${answer.status}` };
      }
      const parsed = parseAnswer(answer.body);
      if (parsed === null) {
        ctx.logger.error('http_auth.bad_answer', { url: target });
        return { kind: 'rejected', reason: 'user service gave an unreadable answer' };
      }
      if (!parsed.ok) return { kind: 'rejected', reason: 'user service refused the credentials' };
      return { kind: 'authenticated', user, groups: parsed.groups };
    },
  };
}
