import { ACCEPT, reject, type HookPlugin, type HookUpdate } from './hook-plugin.js';
import { compileRefGlob, refGlobProblem } from './ref-glob.js';
import type { LoadedHookPlugin } from './run-checks.js';

/**
 * The namespaces a push may change without a rule naming them. Everything else (`refs/replace/*`,
 * which would make git see another history, `refs/notes/*`, review refs, …) is refused by the
 * dispatcher itself unless a plugin governs the ref (branch-protect's `refs:` section), and in a
 * push through gitward git refuses it too (`receive.hideRefs`, see receiveLocks).
 */
export const FREE_REF_PREFIXES: readonly string[] = Object.freeze(['refs/heads/', 'refs/tags/']);

/** Name of the dispatcher's own check, as the pusher and the log see it. */
export const CORE_CHECK_NAME = 'gitward';

/** Why `pattern` cannot be a rule of the `refs:` section (a full ref glob outside heads/tags), or null. */
export function otherRefPatternProblem(pattern: string): string | null {
  if (!pattern.startsWith('refs/')) return 'a full ref name pattern starting with refs/ is required';
  if (FREE_REF_PREFIXES.some((p) => pattern.startsWith(p))) {
    return 'branches and tags have sections of their own (branches:, tags:)';
  }
  const rest = pattern.slice('refs/'.length);
  // refGlobProblem is written for names below refs/heads/ and refs/tags/.
  return refGlobProblem(rest.startsWith('refs/') ? `x/${rest}` : rest);
}

/** A matcher for a valid `refs:` pattern, over full ref names. */
export function compileOtherRefGlob(pattern: string): (ref: string) => boolean {
  return compileRefGlob(pattern);
}

/**
 * The dispatcher's own check, run before every plugin: a ref outside FREE_REF_PREFIXES is refused
 * unless an enabled plugin governs it (`governsRef`), in which case that plugin decides.
 */
export function refNamespaceCheck(plugins: readonly LoadedHookPlugin[]): LoadedHookPlugin {
  const plugin: HookPlugin = {
    name: CORE_CHECK_NAME,
    check(update: HookUpdate) {
      if (update.refType !== 'other') return ACCEPT;
      const governed = plugins.some(({ plugin: p }) => typeof p.governsRef === 'function' && p.governsRef(update.ref));
      if (governed) return ACCEPT;
      const what = 'refs outside refs/heads/ and refs/tags/ may not be created, moved or deleted';
      return reject('refs', `${what} unless a branch-protect refs rule grants it (${update.ref})`);
    },
  };
  return { plugin, where: 'built in' };
}

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
  const shown = new Set([...FREE_REF_PREFIXES, ...grants.otherRefPatterns.map(unhiddenPrefix)]);
  for (const prefix of shown) out.push(['receive.hideRefs', `!${prefix}`]);
  return out;
}
