import type { CompiledPolicy, HookPluginSetting } from '../config/types.js';

/**
 * The hook plugin settings in force for `repo`: for each plugin the deepest setting in the tree
 * replaces shallower ones whole; a plugin whose deepest setting has `enable: false` is absent.
 */
export function hookSettingsFor(policy: CompiledPolicy, repo: string): ReadonlyMap<string, HookPluginSetting> {
  throw new Error(`hookSettingsFor is not implemented yet (${policy.configHash} ${repo})`);
}
