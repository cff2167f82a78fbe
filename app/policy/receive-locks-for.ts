import { branchProtectGrants } from '../../plugins/hooks/branch-protect.js';
import { receiveLocks } from '../../protocol/receive-locks.js';
import type { CompiledPolicy } from '../config/types.js';
import { hookSettingsFor } from './hook-settings.js';

/**
 * git's own locks for a receive-pack of `repo` (GIT_CONFIG_* settings: receive.hideRefs and the
 * force/delete locks), from the branch-protect setting in force there. The one place that derives
 * them, for every transport that runs receive-pack: HTTP (app/routes/git.ts) and SSH (app/ssh/).
 */
export function receiveLocksFor(policy: CompiledPolicy, repo: string): Array<readonly [string, string]> {
  const setting = hookSettingsFor(policy, repo).get('branch-protect');
  return receiveLocks(branchProtectGrants(setting?.options), policy.config.repoDefaults);
}
