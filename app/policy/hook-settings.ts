import { GIT_SUFFIX } from '../request/repo-name.js';
import type { CompiledPolicy, HookPluginSetting, RepoNode } from '../config/types.js';

/**
 * The hook plugin settings in force for `repo`: for each plugin the deepest setting in the tree
 * replaces shallower ones whole; a plugin whose deepest setting has `enable: false` is absent.
 * Works for repos not named in the tree (the nodes on their path that exist count).
 */
export function hookSettingsFor(policy: CompiledPolicy, repo: string): ReadonlyMap<string, HookPluginSetting> {
  return hookSettingsAlong(policy.nodesFor(repo));
}

/**
 * The same as `hookSettingsFor`, read from the `repos:` tree itself: for the hook dispatcher, which
 * needs the settings of one repo and nothing else the compiled policy holds.
 */
export function hookSettingsInTree(root: RepoNode, repo: string): ReadonlyMap<string, HookPluginSetting> {
  return hookSettingsAlong(nodesOnPath(root, repo));
}

/** The nodes of the tree on the path of `repo`, root first (as `CompiledPolicy.nodesFor`). */
export function nodesOnPath(root: RepoNode, repo: string): RepoNode[] {
  const segments = repo.split('/');
  const nodes = [root];
  let cur = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const next = cur.children.get(segments[i] as string);
    if (!next || next.kind !== 'group') return nodes;
    nodes.push(next);
    cur = next;
  }
  const leaf = cur.children.get(`${segments[segments.length - 1] as string}${GIT_SUFFIX}`);
  if (leaf && leaf.kind === 'repo') nodes.push(leaf);
  return nodes;
}

function hookSettingsAlong(nodes: readonly RepoNode[]): ReadonlyMap<string, HookPluginSetting> {
  const out = new Map<string, HookPluginSetting>();
  for (const node of nodes) {
    for (const [plugin, setting] of node.hooks) {
      if (setting.options.enable === false) out.delete(plugin);
      else out.set(plugin, setting);
    }
  }
  return out;
}
