import type { GitwardConfig } from '../config/types.js';
import type { AuthInput, AuthPlugin, AuthResult, Logger } from '../types.js';
import type { BruteForceLimiter } from './brute-force.js';
import { createCredentialCache } from './credential-cache.js';
import { logFailedLogin } from './failed-login.js';
import { groupNameProblem, userNameProblem } from '../principals.js';
import { loadAuthPlugins } from './plugin-loader.js';

/** What the authentication chain concludes about one request. */
export type IdentifyOutcome =
  | {
      readonly kind: 'authenticated';
      readonly user: string;
      readonly source: string;
      readonly groups: readonly string[];
    }
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'rejected'; readonly source: string; readonly reason: string }
  /** Too many failed logins from this client address: answer 429 without running any check. */
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

/** The configured authentication plugins, tried in order; the first conclusive answer wins. */
export interface AuthChain {
  identify(input: AuthInput): Promise<IdentifyOutcome>;
  /**
   * The answer to a request whose `Authorization: Basic` header does not parse: throttled when its
   * client address is over the limit, else a rejection that is logged as one `auth.failed` line
   * (user empty: nothing of the header is logged) and counted like any other failed login.
   */
  rejectMalformedBasic(clientAddress: string): IdentifyOutcome;
  /**
   * Lower-case names of the headers the plugins read credentials from (each plugin declares its
   * own: AuthPlugin.headers): never passed to git.
   */
  readonly consumedHeaders: readonly string[];
  /** The plugins' warnings (`gitward check` prints them), `FILE:LINE: authentication[i].option: …`. */
  warnings(): string[];
  /** Stops file watchers and timers of every plugin. */
  close(): void;
}

/** A plugin's `authenticate` that has not answered within this long is a failure (fail closed). */
const PLUGIN_AUTHENTICATE_TIMEOUT_MS = 30_000;
/** Most groups a plugin may add to one identity: more is a broken plugin, not an org chart. */
const MAX_PLUGIN_GROUPS = 1_000;
/**
 * Longest user name written to a failed-login line, in characters: a real name is at most 255
 * bytes (userNameProblem); a longer claim is cut so that one request cannot write a huge line.
 */
const MAX_LOGGED_USER_CHARS = 256;
/** The `source` of a failed login whose Authorization header did not parse (no plugin saw it). */
const MALFORMED_BASIC_SOURCE = 'basic-auth';

/** `user` as written to a failed-login line: cut to MAX_LOGGED_USER_CHARS (the logger escapes the rest). */
function loggedUser(user: string): string {
  return user.length > MAX_LOGGED_USER_CHARS ? `${user.slice(0, MAX_LOGGED_USER_CHARS)}…` : user;
}

/** Checks a plugin's answer; anything unexpected becomes a rejection (fail closed). */
function checkResult(result: unknown): AuthResult {
  if (result === null || typeof result !== 'object') return { kind: 'rejected', reason: 'plugin returned no result' };
  const r = result as Record<string, unknown>;
  if (r.kind === 'no-credentials') return { kind: 'no-credentials' };
  if (r.kind === 'rejected') {
    const reason = typeof r.reason === 'string' ? r.reason : 'rejected';
    return typeof r.user === 'string' && r.user !== ''
      ? { kind: 'rejected', reason, user: r.user }
      : { kind: 'rejected', reason };
  }
  if (r.kind === 'authenticated') {
    if (typeof r.user !== 'string' || userNameProblem(r.user) !== null)
      return { kind: 'rejected', reason: 'plugin returned a bad user name' };
    if (r.groups === undefined) return { kind: 'authenticated', user: r.user };
    const goodGroup = (g: unknown): boolean => typeof g === 'string' && groupNameProblem(g) === null;
    if (!Array.isArray(r.groups) || r.groups.length > MAX_PLUGIN_GROUPS || !r.groups.every(goodGroup)) {
      return { kind: 'rejected', reason: 'plugin returned bad groups' };
    }
    return { kind: 'authenticated', user: r.user, groups: [...new Set(r.groups as string[])] };
  }
  return { kind: 'rejected', reason: 'plugin returned an unknown result' };
}

async function ask(plugin: AuthPlugin, input: AuthInput, logger: Logger): Promise<AuthResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<AuthResult>((resolve) => {
      timer = setTimeout(() => {
        logger.error('auth.plugin_timeout', { plugin: plugin.name, ms: PLUGIN_AUTHENTICATE_TIMEOUT_MS });
        resolve({ kind: 'rejected', reason: 'plugin timed out' });
      }, PLUGIN_AUTHENTICATE_TIMEOUT_MS);
    });
    return checkResult(await Promise.race([Promise.resolve().then(() => plugin.authenticate(input)), timeout]));
  } catch (err) {
    logger.error('auth.plugin_error', { plugin: plugin.name, error: err instanceof Error ? err.message : String(err) });
    return { kind: 'rejected', reason: 'plugin failed' };
  } finally {
    clearTimeout(timer);
  }
}

/** What createAuthChain needs besides the config. */
export interface AuthChainContext {
  readonly logger: Logger;
  /**
   * The failed-login counts. They belong to the process, not to one config: the reloading
   * runtime creates one limiter and hands it to every chain it builds, so a reload keeps them.
   */
  readonly limiter: BruteForceLimiter;
  /** The clock of the credential cache and the plugins (the limiter has its own). */
  readonly now?: () => number;
}

/**
 * Loads every plugin of `config.authentication` (built-in name, module path or package name),
 * shape-checks it, and returns the chain. Any plugin that fails to load rejects: fail closed.
 *
 * `identify` first refuses (throttled) a request carrying credentials from a client address with
 * `brute_force.max_failures` failures in the window (counted in `ctx.limiter`, judged by this
 * config's settings), without running any check; then asks each plugin in order until one answers
 * authenticated or rejected; no answer is anonymous. Each rejection is logged as one `auth.failed`
 * line, with the user the plugin names (else the Basic user), and counted against the address;
 * but for Basic with an empty password, which git sends before it asks for the password.
 */
export async function createAuthChain(config: GitwardConfig, ctx: AuthChainContext): Promise<AuthChain> {
  const now = ctx.now ?? Date.now;
  const logger = ctx.logger;
  const limiter = ctx.limiter;
  const settings = config.bruteForce;
  const credentialCache = createCredentialCache(config.credentialCache, now);
  const loaded = await loadAuthPlugins(config.authentication, { logger, configDir: config.dir, credentialCache, now });
  const plugins = loaded.plugins;

  /** Seconds the address must wait, logging the throttled attempt; 0 when it may try. */
  const throttled = (client: string, user: string): number => {
    const retryAfterSeconds = limiter.retryAfter(client, settings);
    if (retryAfterSeconds > 0) logger.info('auth.throttled', { client, user: loggedUser(user), retryAfterSeconds });
    return retryAfterSeconds;
  };
  const failed = (client: string, user: string, source: string, reason: string): void => {
    limiter.fail(client, settings);
    logFailedLogin(logger, { client, user: loggedUser(user), source, reason });
  };

  return {
    async identify(input) {
      const hasCredentials = input.basic !== null || input.headers.authorization !== undefined;
      if (hasCredentials) {
        const retryAfterSeconds = throttled(input.clientAddress, input.basic?.user ?? '');
        if (retryAfterSeconds > 0) return { kind: 'throttled', retryAfterSeconds };
      }
      for (const plugin of plugins) {
        const result = await ask(plugin, input, logger);
        if (result.kind === 'no-credentials') continue;
        if (result.kind === 'authenticated') {
          return { kind: 'authenticated', user: result.user, source: plugin.name, groups: result.groups ?? [] };
        }
        // git sends the URL's user with an empty password after the first 401, then asks its
        // credential helper and retries: an `https://ann@host/…` URL does it on every command. That
        // is no guess (an empty password never authenticates): a 401 that neither counts against
        // the address nor logs auth.failed, which fail2ban reads. Issue 13: doctor's regression.
        if (input.basic !== null && input.basic.password === '')
          return { kind: 'rejected', source: plugin.name, reason: result.reason };
        failed(input.clientAddress, result.user ?? input.basic?.user ?? '', plugin.name, result.reason);
        return { kind: 'rejected', source: plugin.name, reason: result.reason };
      }
      return { kind: 'anonymous' };
    },
    rejectMalformedBasic(clientAddress) {
      const retryAfterSeconds = throttled(clientAddress, '');
      if (retryAfterSeconds > 0) return { kind: 'throttled', retryAfterSeconds };
      const reason = 'malformed Basic credentials';
      failed(clientAddress, '', MALFORMED_BASIC_SOURCE, reason);
      return { kind: 'rejected', source: MALFORMED_BASIC_SOURCE, reason };
    },
    consumedHeaders: loaded.headers,
    warnings: loaded.warnings,
    close() {
      for (const p of plugins) {
        try {
          p.close?.();
        } catch (err) {
          logger.warn('auth.plugin_close_failed', {
            plugin: p.name,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
    },
  };
}
