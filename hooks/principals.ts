import type { Identity } from '../app/types.js';

/** Pseudo-principals a hook rule may name, besides `user` and `@group`. */
const PSEUDO = new Set(['$all', '$authenticated', '$anonymous', '$local']);
/** A user or group name: what the config allows as a name (no spaces, no control characters). */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._@+-]*$/;

/** True when `value` is a principal a hook rule may name: `user`, `@group`, `$all`, `$authenticated`, `$anonymous`, `$local`. */
export function isHookPrincipal(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (PSEUDO.has(value)) return true;
  if (value.startsWith('@')) return NAME.test(value.slice(1));
  return NAME.test(value);
}

/**
 * True when `identity` is one of `principal`. `$local` matches pushes made on the server without
 * gitward's environment (identity source `local`); `$authenticated` matches any named user except
 * the `$local` stand-in; `$anonymous` matches no user; `$all` matches everyone.
 */
export function matchesPrincipal(identity: Identity, principal: string): boolean {
  switch (principal) {
    case '$all':
      return true;
    case '$anonymous':
      return identity.user === null;
    case '$authenticated':
      return identity.user !== null && identity.user !== '$local';
    case '$local':
      return identity.source === 'local';
    default:
      if (principal.startsWith('@')) return identity.groups.includes(principal.slice(1));
      return identity.user === principal;
  }
}

/** True when `identity` matches any principal of `list`. */
export function matchesAny(identity: Identity, list: readonly string[]): boolean {
  return list.some((p) => matchesPrincipal(identity, p));
}
