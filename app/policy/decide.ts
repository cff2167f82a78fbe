import type { CompiledPolicy } from '../config/types.js';
import type { Decision, Identity } from '../types.js';

/**
 * Decides whether `identity` may `need` the repo `repo` (canonical name without `.git`).
 * Pure: the same function backs the HTTP routes, the sidecar, `gitward access` and the hooks.
 * Denials: anonymous → 401; may not read → 404 (hide_existence) or 403; read but not write → 403.
 */
export function decide(policy: CompiledPolicy, identity: Identity, repo: string, need: 'read' | 'write'): Decision {
  throw new Error(`decide is not implemented yet (${policy.configHash} ${String(identity.user)} ${repo} ${need})`);
}
