import type { Logger } from '../types.js';

/** The event name of a failed login: one line per failure, the line fail2ban matches. */
export const FAILED_LOGIN_EVENT = 'auth.failed';

/**
 * Logs one failed login as one stable line: event `auth.failed` with `client` (the client
 * address fail2ban bans), `user` as sent, the plugin and a plain `msg`. Never the password.
 */
export function logFailedLogin(
  logger: Logger,
  fields: { client: string; user: string; source: string; reason: string },
): void {
  logger.warn(FAILED_LOGIN_EVENT, {
    client: fields.client,
    user: fields.user,
    source: fields.source,
    reason: fields.reason,
    msg: `failed login from ${fields.client} for user ${JSON.stringify(fields.user)}`,
  });
}
