import type { GitwardConfig } from '../config/types.js';
import type { AuthInput, Logger } from '../types.js';

/** What the authentication chain concludes about one request. */
export type IdentifyOutcome =
  | { readonly kind: 'authenticated'; readonly user: string; readonly source: string; readonly groups: readonly string[] }
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'rejected'; readonly source: string; readonly reason: string }
  /** Too many failed logins from this client address: answer 429 without running any check. */
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

/** The configured authentication plugins, tried in order; the first conclusive answer wins. */
export interface AuthChain {
  identify(input: AuthInput): Promise<IdentifyOutcome>;
  /** Stops file watchers and timers of every plugin. */
  close(): void;
}

/**
 * Loads every plugin of `config.authentication` (built-in name, module path or package name),
 * shape-checks it, and returns the chain. Any plugin that fails to load rejects: fail closed.
 */
export async function createAuthChain(config: GitwardConfig, ctx: { logger: Logger; now?: () => number }): Promise<AuthChain> {
  throw new Error(`createAuthChain is not implemented yet (${config.file} ${typeof ctx.logger})`);
}
