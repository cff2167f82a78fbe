/**
 * The ref namespaces a push may change freely, and git's own second lock behind the hook: what the
 * server (per push, app/routes/git.ts) and the hook dispatcher (hooks/ref-namespace.ts) share.
 */

import { DOCTOR_PROBE_PREFIX } from './doctor-probe.js';

/**
 * The namespaces a push may change without a rule naming them. Everything else (`refs/replace/*`,
 * which would make git see another history, `refs/notes/*`, review refs, …) is refused by the
 * dispatcher itself unless a plugin governs the ref (branch-protect's `refs:` section), and in a
 * push through gitward git refuses it too (`receive.hideRefs`, see receiveLocks).
 */
export const FREE_REF_PREFIXES: readonly string[] = Object.freeze(['refs/heads/', 'refs/tags/']);

/** What the branch rules of a repo grant, as far as git's own receive checks are concerned. */
export interface RefGrants {
  /** Some rule lets someone push a non-fast-forward to a branch. */
  readonly force: boolean;
  /** Some rule lets someone delete a branch. */
  readonly delete: boolean;
  /** Patterns of the `refs:` section (refs outside heads and tags that a rule governs). */
  readonly otherRefPatterns: readonly string[];
}

/** The `receive.hideRefs` value that uncovers the refs a `refs:` pattern can match. */
function unhiddenPrefix(pattern: string): string {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern;
  return pattern.slice(0, pattern.lastIndexOf('/', star) + 1);
}

/**
 * git settings for one push through gitward (GIT_CONFIG_*), git's own second lock behind the hook:
 * `receive.hideRefs` hides every ref outside refs/heads/ and refs/tags/ (and those no `refs:`
 * rule can match), and git refuses to update or delete a hidden ref before any hook runs
 * (https://git-scm.com/docs/git-config#Documentation/git-config.txt-receivehideRefs); and
 * `receive.denyNonFastForwards` / `receive.denyDeletes` are on unless a rule grants force / delete
 * (`repo_defaults` turns either lock off). The hook decides wherever a grant exists.
 */
export function receiveLocks(
  grants: RefGrants,
  defaults: { readonly denyNonFastForwards: boolean; readonly denyDeletes: boolean },
): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [
    ['receive.denyNonFastForwards', String(defaults.denyNonFastForwards && !grants.force)],
    ['receive.denyDeletes', String(defaults.denyDeletes && !grants.delete)],
    // Later entries override earlier ones; a trailing slash is dropped by git.
    ['receive.hideRefs', 'refs/'],
  ];
  // gitward doctor's probe refs reach the hook, which refuses every one of them by design (with a
  // line doctor looks for): hidden from git, the probe would prove nothing about the hooks.
  const shown = new Set([...FREE_REF_PREFIXES, ...grants.otherRefPatterns.map(unhiddenPrefix), DOCTOR_PROBE_PREFIX]);
  for (const prefix of shown) out.push(['receive.hideRefs', `!${prefix}`]);
  return out;
}
