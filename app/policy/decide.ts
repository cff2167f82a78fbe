import type { CompiledPolicy, GrantInForce } from '../config/types.js';
import { principalsOf } from '../principals.js';
import { ACCESS_RANK, type AccessLevel, type Decision, type Identity, type TraceStep } from '../types.js';

/** What the tree grants one identity at one repo: its level, whether it may create there, the grants that matched. */
interface Evaluation {
  readonly rank: number;
  readonly create: boolean;
  readonly hits: GrantInForce[];
  readonly cut: TraceStep | null;
}

function evaluate(policy: CompiledPolicy, identity: Identity, repo: string): Evaluation {
  const access = policy.accessFor(repo);
  const hits: GrantInForce[] = [];
  let rank = 0;
  let create = false;
  const match = (principal: string): void => {
    const grants = access.byPrincipal.get(principal);
    if (!grants) return;
    for (const g of grants) {
      hits.push(g);
      if (g.level === 'create') create = true;
      else if (ACCESS_RANK[g.level] > rank) rank = ACCESS_RANK[g.level];
    }
  };
  // The principals the identity matches come from the one matcher the hooks use too.
  for (const p of principalsOf(identity)) match(p);
  return { rank, create, hits, cut: access.cut };
}

const LEVEL_OF_RANK: readonly AccessLevel[] = ['none', 'read', 'write', 'admin'];

/**
 * Decides whether `identity` may `need` the repo `repo` (canonical name without `.git`; it need
 * not be named in the tree, nor exist on disk — that is the route's business).
 * Pure: the same function backs the HTTP routes, the sidecar, `gitward access` and the hooks.
 * Levels are ordered `none < read < write < admin`; `.create` grants add no level.
 * Denials: anonymous → 401; may not read → 404 (hide_existence) or 403; read but not `need` → 403.
 * The trace lists every grant that matched the identity and the `.inherit: false` cut, with file:line.
 */
export function decide(
  policy: CompiledPolicy,
  identity: Identity,
  repo: string,
  need: 'read' | 'write' | 'admin',
): Decision {
  const { rank, hits, cut } = evaluate(policy, identity, repo);
  const who = identity.user;
  const level = LEVEL_OF_RANK[rank] as AccessLevel;
  const trace = buildTrace(cut, hits, who);
  const name = who === null ? 'an anonymous user' : who;
  const verb = need === 'admin' ? 'administer' : need;
  if (rank >= ACCESS_RANK[need]) {
    return { allowed: true, level, status: 200, reason: `${name} may ${verb} ${repo}`, trace };
  }
  if (who === null) {
    return { allowed: false, level, status: 401, reason: `authentication is required to ${verb} ${repo}`, trace };
  }
  if (rank === 0) {
    if (policy.config.hideExistence) {
      return {
        allowed: false,
        level,
        status: 404,
        reason: `repository ${repo} not found, or ${who} may not read it`,
        trace,
      };
    }
    return { allowed: false, level, status: 403, reason: `${who} may not read ${repo}`, trace };
  }
  const but = need === 'write' ? 'but not write to it' : `but not ${verb} it`;
  const may = level === 'write' ? 'read and write' : 'read';
  return { allowed: false, level, status: 403, reason: `${who} may ${may} ${repo} ${but}`, trace };
}

/**
 * Decides whether `identity` may create the new repo `repo`: an `.admin` grant in force there, or
 * a `.create` grant of a project group above it. Anonymous → 401, otherwise 403 (creating reveals
 * nothing that exists). The decision's level is the identity's level at `repo`.
 */
export function decideCreate(policy: CompiledPolicy, identity: Identity, repo: string): Decision {
  const { rank, create, hits, cut } = evaluate(policy, identity, repo);
  const who = identity.user;
  const level = LEVEL_OF_RANK[rank] as AccessLevel;
  const trace = buildTrace(cut, hits, who);
  if (who !== null && (create || rank >= ACCESS_RANK.admin)) {
    return { allowed: true, level, status: 200, reason: `${who} may create ${repo}`, trace };
  }
  if (who === null) {
    return { allowed: false, level, status: 401, reason: `authentication is required to create ${repo}`, trace };
  }
  const reason = `${who} may not create ${repo} (no .create or .admin grant above it)`;
  return { allowed: false, level, status: 403, reason, trace };
}

/** Whether `identity` holds a `.create` grant in force at `repo` (for `gitward access`). */
export function mayCreate(policy: CompiledPolicy, identity: Identity, repo: string): boolean {
  return identity.user !== null && evaluate(policy, identity, repo).create;
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
