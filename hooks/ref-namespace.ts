import { ACCEPT, reject, type HookPlugin, type HookUpdate } from './hook-plugin.js';
import { compileRefGlob, refGlobProblem } from './ref-glob.js';
import type { LoadedHookPlugin } from './run-checks.js';
import { FREE_REF_PREFIXES } from '../protocol/receive-locks.js';

// Shared with gitward's per-push git settings; they live in protocol/ (ARCHITECTURE.md).
export { FREE_REF_PREFIXES, receiveLocks, type RefGrants } from '../protocol/receive-locks.js';

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
