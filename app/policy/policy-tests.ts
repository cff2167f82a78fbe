import type { CompiledPolicy, PolicyTest } from '../config/types.js';
import type { Decision } from '../types.js';
import { decide } from './decide.js';
import { resolveIdentity } from './identity.js';

/** The outcome of one `tests:` expectation. */
export interface PolicyTestResult {
  readonly test: PolicyTest;
  readonly passed: boolean;
  /** The expectation in the config's own terms, e.g. `ben can write web/site`. */
  readonly text: string;
  readonly decision: Decision;
}

/**
 * Runs the config's `tests:` expectations against the compiled policy. A `can` test passes when
 * the access is allowed; a `cannot` test when it is denied. `$anonymous` tests an anonymous request.
 */
export function runPolicyTests(policy: CompiledPolicy): readonly PolicyTestResult[] {
  return policy.config.tests.map((t) => {
    const anonymous = t.user === '$anonymous';
    const identity = resolveIdentity(policy, anonymous ? null : t.user, anonymous ? 'anonymous' : 'check');
    const wanted = t.can ?? t.cannot;
    const need = wanted === 'write' || wanted === 'admin' ? wanted : 'read';
    const decision = decide(policy, identity, t.repo, need);
    const expectAllowed = t.can !== undefined;
    return {
      test: t,
      passed: decision.allowed === expectAllowed,
      text: `${t.user} ${expectAllowed ? 'can' : 'cannot'} ${need} ${t.repo}`,
      decision,
    };
  });
}

/** Counts for `gitward check`'s summary line. */
export interface PolicySummary {
  readonly users: number;
  readonly groups: number;
  /** Repos named in the `repos:` tree (keys ending in `.git`); repos on disk are counted by the caller. */
  readonly reposInTree: number;
  readonly grants: number;
}

/** Counts users (users: and htpasswd), groups (defined or used), repos named in the tree, grants. */
export function summarizePolicy(policy: CompiledPolicy): PolicySummary {
  const c = policy.config;
  const groups = new Set<string>(c.groups.keys());
  for (const u of c.users.values()) for (const g of u.groups) groups.add(g);
  let grants = 0;
  const stack = [c.repos];
  while (stack.length > 0) {
    const n = stack.pop();
    if (!n) break;
    grants += n.read.length + n.write.length + n.admin.length + n.create.length;
    stack.push(...n.children.values());
  }
  return { users: policy.knownUsers().length, groups: groups.size, reposInTree: policy.repos().length, grants };
}
