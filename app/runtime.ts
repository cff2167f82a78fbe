import type { CompiledPolicy, GitwardConfig } from './config/types.js';
import type { AuthChain } from './identity/chain.js';

/** One immutable snapshot of what the server runs with; a reload swaps it whole. */
export interface Runtime {
  readonly config: GitwardConfig;
  readonly policy: CompiledPolicy;
  readonly auth: AuthChain;
  /** When this snapshot was loaded (ms since epoch). */
  readonly loadedAt: number;
}

/** A failed reload: the last good Runtime stays in force. */
export interface ReloadFailure {
  readonly at: number;
  readonly problems: readonly string[];
}

/** Holds the Runtime in force. Requests read `current()` once at their start. */
export interface RuntimeHolder {
  current(): Runtime;
  lastFailure(): ReloadFailure | null;
  /** Start-up-only settings (config keys) changed by a reload: in force only after a restart. */
  restartRequired(): readonly string[];
}
