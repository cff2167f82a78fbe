import type { CompiledPolicy, HookPluginSetting } from '../config/types.js';

/**
 * The hook plugin settings in force for `repo`: for each plugin the deepest setting in the tree
 * replaces shallower ones whole; a plugin whose deepest setting has `enable: false` is absent.
 * Works for repos not named in the tree (the nodes on their path that exist count).
 */
export function hookSettingsFor(policy: CompiledPolicy, repo: string): ReadonlyMap<string, HookPluginSetting> {
  const out = new Map<string, HookPluginSetting>();
  for (const node of policy.nodesFor(repo)) {
    for (const [plugin, setting] of node.hooks) {
      if (setting.options.enable === false) out.delete(plugin);
      else out.set(plugin, setting);
    }
  }
  return out;
}
