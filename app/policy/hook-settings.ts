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
  return hookSettingsAlong(nodesOnPath(root, repo, (n, key) => n.children.get(key)));
}

/**
 * The nodes of a tree on the path of `repo`, root first (as `CompiledPolicy.nodesFor`): project
 * groups by name, then the repo by `<name>.git`. `child` finds a node's child by its key, so the
 * walk serves any form of the tree (the dispatcher's cache walks it as JSON).
 */
export function nodesOnPath<N extends { readonly kind: RepoNode['kind'] }>(
  root: N,
  repo: string,
  child: (node: N, key: string) => N | undefined,
): N[] {
  const segments = repo.split('/');
  const nodes = [root];
  let cur = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const next = child(cur, segments[i] as string);
    if (!next || next.kind !== 'group') return nodes;
    nodes.push(next);
    cur = next;
  }
  const leaf = child(cur, `${segments[segments.length - 1] as string}${GIT_SUFFIX}`);
  if (leaf && leaf.kind === 'repo') nodes.push(leaf);
  return nodes;
}

/** The settings in force after `nodes` (root first): the deepest wins whole, `enable: false` removes. */
export function hookSettingsAlong(
  nodes: ReadonlyArray<{ readonly hooks: Iterable<readonly [string, HookPluginSetting]> }>,
): ReadonlyMap<string, HookPluginSetting> {
  const out = new Map<string, HookPluginSetting>();
  for (const node of nodes) {
    for (const [plugin, setting] of node.hooks) {
      if (setting.options.enable === false) out.delete(plugin);
      else out.set(plugin, setting);
    }
  }
  return out;
}
