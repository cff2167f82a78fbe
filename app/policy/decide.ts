import type { CompiledPolicy, GrantInForce } from '../config/types.js';
import { principalsOf } from '../principals.js';
import { ACCESS_RANK, type AccessLevel, type Decision, type Identity, type TraceStep } from '../types.js';

/**
 * Decides whether `identity` may `need` the repo `repo` (canonical name without `.git`; it need
 * not be named in the tree, nor exist on disk — that is the route's business).
 * Pure: the same function backs the HTTP routes, the sidecar, `gitward access` and the hooks.
 * Denials: anonymous → 401; may not read → 404 (hide_existence) or 403; read but not write → 403.
 * The trace lists every grant that matched the identity and the `.inherit: false` cut, with file:line.
 */
export function decide(policy: CompiledPolicy, identity: Identity, repo: string, need: 'read' | 'write'): Decision {
  const access = policy.accessFor(repo);
  const hits: GrantInForce[] = [];
  let rank = 0;
  const match = (principal: string): void => {
    const grants = access.byPrincipal.get(principal);
    if (!grants) return;
    for (const g of grants) {
      hits.push(g);
      const r = ACCESS_RANK[g.level];
      if (r > rank) rank = r;
    }
  };
  const who = identity.user;
  // The principals the identity matches come from the one matcher the hooks use too.
  for (const p of principalsOf(identity)) match(p);
  const level: AccessLevel = rank === 2 ? 'write' : rank === 1 ? 'read' : 'none';
  const trace = buildTrace(access.cut, hits, who);
  const name = who === null ? 'an anonymous user' : who;
  if (rank >= ACCESS_RANK[need]) {
    return { allowed: true, level, status: 200, reason: `${name} may ${need} ${repo}`, trace };
  }
  if (who === null) {
    return { allowed: false, level, status: 401, reason: `authentication is required to ${need} ${repo}`, trace };
  }
  if (rank === 0) {
    if (policy.config.hideExistence) {
      return { allowed: false, level, status: 404, reason: `repository ${repo} not found, or ${who} may not read it`, trace };
    }
    return { allowed: false, level, status: 403, reason: `${who} may not read ${repo}`, trace };
  }
  return { allowed: false, level, status: 403, reason: `${who} may read ${repo} but not write to it`, trace };
}

function buildTrace(cut: TraceStep | null, hits: GrantInForce[], who: string | null): readonly TraceStep[] {
  if (hits.length > 1) hits.sort((a, b) => a.depth - b.depth);
  const steps: TraceStep[] = [];
  if (cut) steps.push(cut);
  for (const h of hits) {
    const matches = h.principal.startsWith('@') && who !== null ? ` (${who} is a member)` : '';
    steps.push({ node: h.node, where: h.where, what: `grants ${h.level} to ${h.principal}${matches}` });
  }
  return steps;
}
