import { GIT_SUFFIX } from '../config/names.js';
import type { CompiledPolicy, EffectiveAccess, GitwardConfig, GrantInForce, RepoNode } from '../config/types.js';

/** A node of the compiled tree: its config node, effective grants, and children by kind. */
interface CompiledNode {
  readonly node: RepoNode;
  readonly access: EffectiveAccess;
  /** Project groups below, by name. */
  readonly groups: Map<string, CompiledNode>;
  /** Repos below, by name without `.git`. */
  readonly repos: Map<string, CompiledNode>;
}

/**
 * Compiles the validated config into an immutable policy: every node of the tree gets its
 * effective grants (accumulated from the root, cut by `.inherit: false`) indexed by principal,
 * and group membership is closed transitively, so a decision is a few map lookups.
 */
export function compilePolicy(config: GitwardConfig): CompiledPolicy {
  const byRepo = new Map<string, CompiledNode>();
  // Per compile, not per module: no state is shared between two loaded configs.
  const empty: EffectiveAccess = Object.freeze({ byPrincipal: new Map<string, readonly GrantInForce[]>(), cut: null });
  const root = compileNode(config.repos, empty, empty, 0, byRepo);

  // Direct containers of each user and group: users' own `groups:` and `groups:` members.
  const userGroups = new Map<string, Set<string>>();
  const parentsOfGroup = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, k: string, v: string): void => {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    s.add(v);
  };
  for (const [user, entry] of config.users) for (const g of entry.groups) add(userGroups, user, g);
  for (const [group, members] of config.groups) {
    for (const m of members) {
      if (m.startsWith('@')) add(parentsOfGroup, m.slice(1), group);
      else add(userGroups, m, group);
    }
  }
  // Transitive closure per group (the loader rejects cycles; `seen` guards regardless).
  const closure = new Map<string, readonly string[]>();
  const closeGroup = (g: string): readonly string[] => {
    const known = closure.get(g);
    if (known) return known;
    const seen = new Set<string>([g]);
    const todo = [g];
    while (todo.length > 0) {
      const cur = todo.pop() as string;
      for (const parent of parentsOfGroup.get(cur) ?? []) {
        if (!seen.has(parent)) {
          seen.add(parent);
          todo.push(parent);
        }
      }
    }
    const list = Object.freeze([...seen].sort());
    closure.set(g, list);
    return list;
  };
  const allGroupNames = new Set<string>([...config.groups.keys(), ...parentsOfGroup.keys()]);
  for (const entry of config.users.values()) for (const g of entry.groups) allGroupNames.add(g);
  for (const g of allGroupNames) closeGroup(g);

  const expandGroups = (groups: readonly string[]): readonly string[] => {
    const out = new Set<string>();
    for (const g of groups) for (const x of closure.get(g) ?? [g]) out.add(x);
    return Object.freeze([...out].sort());
  };
  const groupsOfUserMap = new Map<string, readonly string[]>();
  for (const [user, direct] of userGroups) groupsOfUserMap.set(user, expandGroups([...direct]));

  const knownUsers = Object.freeze([...new Set([...config.users.keys(), ...config.htpasswdUsers])].sort());
  const repoNames = Object.freeze([...byRepo.keys()].sort());
  const noGroups: readonly string[] = Object.freeze([]);

  /** The deepest compiled node on the path of `repo`, and the nodes on the way (root first). */
  const walk = (repo: string, collect: RepoNode[] | null): CompiledNode => {
    const named = byRepo.get(repo);
    if (named && !collect) return named;
    const segments = repo.split('/');
    let cur = root;
    collect?.push(cur.node);
    for (let i = 0; i < segments.length - 1; i++) {
      const next = cur.groups.get(segments[i] as string);
      if (!next) return cur;
      cur = next;
      collect?.push(cur.node);
    }
    const leaf = cur.repos.get(segments[segments.length - 1] as string);
    if (!leaf) return cur;
    collect?.push(leaf.node);
    return leaf;
  };

  const policy: CompiledPolicy = {
    configHash: config.hash,
    config,
    hasRepo: (repo) => byRepo.has(repo),
    repos: () => repoNames,
    accessFor: (repo) => walk(repo, null).access,
    nodesFor: (repo) => {
      const nodes: RepoNode[] = [];
      walk(repo, nodes);
      return Object.freeze(nodes);
    },
    groupsOfUser: (user) => groupsOfUserMap.get(user) ?? noGroups,
    expandGroups,
    knownUsers: () => knownUsers,
  };
  return Object.freeze(policy);
}

function compileNode(
  node: RepoNode,
  parent: EffectiveAccess,
  empty: EffectiveAccess,
  depth: number,
  byRepo: Map<string, CompiledNode>,
): CompiledNode {
  const access = effectiveAt(node, parent, empty, depth);
  const groups = new Map<string, CompiledNode>();
  const repos = new Map<string, CompiledNode>();
  const compiled: CompiledNode = { node, access, groups, repos };
  if (node.kind === 'repo') byRepo.set(node.path, compiled);
  for (const [key, child] of node.children) {
    const c = compileNode(child, access, empty, depth + 1, byRepo);
    if (child.kind === 'repo') repos.set(key.slice(0, -GIT_SUFFIX.length), c);
    else groups.set(key, c);
  }
  return compiled;
}

/** The grants in force at `node`: the parent's (unless cut) plus the node's own. */
function effectiveAt(node: RepoNode, parent: EffectiveAccess, empty: EffectiveAccess, depth: number): EffectiveAccess {
  const inherited = node.inherit ? parent : empty;
  const cut = node.inherit
    ? parent.cut
    : { node: node.node, where: node.where, what: 'inherit: false — grants of the nodes above do not apply here' };
  if (node.read.length + node.write.length + node.admin.length + node.create.length === 0) {
    // Share the parent's index: most repos add nothing of their own.
    return node.inherit ? parent : Object.freeze({ byPrincipal: empty.byPrincipal, cut });
  }
  const byPrincipal = new Map<string, readonly GrantInForce[]>(inherited.byPrincipal);
  const push = (level: GrantInForce['level'], principal: string, where: string): void => {
    const g: GrantInForce = Object.freeze({ level, principal, node: node.node, where, depth });
    byPrincipal.set(principal, Object.freeze([...(byPrincipal.get(principal) ?? []), g]));
  };
  for (const g of node.read) push('read', g.principal, g.where);
  for (const g of node.write) push('write', g.principal, g.where);
  for (const g of node.admin) push('admin', g.principal, g.where);
  for (const g of node.create) push('create', g.principal, g.where);
  return Object.freeze({ byPrincipal, cut });
}
