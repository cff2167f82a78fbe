import type { CompiledPolicy } from '../config/types.js';
import type { Identity } from '../types.js';

/**
 * Builds the Identity of `user` (null: anonymous) named by plugin `source`: its groups from
 * `users:` and `groups:` (transitively), plus any groups the plugin added, and its info.
 */
export function resolveIdentity(policy: CompiledPolicy, user: string | null, source: string, extraGroups: readonly string[] = []): Identity {
  throw new Error(`resolveIdentity is not implemented yet (${policy.configHash} ${String(user)} ${source} ${extraGroups.length})`);
}
