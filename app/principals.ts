import type { Identity } from './types.js';

/**
 * The one grammar and matcher of principals — the names an ACL grant, a group's members and a
 * hook rule use for who: a user name, `@group`, and the pseudo-principals. The config loader,
 * `decide`, the identity plugins and the hook plugins all call these, so a user who can log in
 * and be granted a repo can also be named in a branch rule.
 */

/** Pseudo-principals of grants: `$anonymous` (no credentials), `$authenticated` (any user), `$all`. */
export const PSEUDO_PRINCIPALS: ReadonlySet<string> = new Set(['$anonymous', '$authenticated', '$all']);

/** The hook-only pseudo-principal: pushes made on the server without gitward (identity source `local`). */
export const LOCAL_PRINCIPAL = '$local';

/** The identity source of a push made on the server without gitward's environment. */
export const LOCAL_SOURCE = 'local';

/** Longest user name, in UTF-8 bytes. */
export const MAX_USER_NAME_BYTES = 255;

/** A group name: the grammar of a repo path segment (`[A-Za-z0-9][A-Za-z0-9._-]*`). */
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Why `name` cannot be a user name, or null when it can. Users come from htpasswd files, identity
 * headers and plugins, so the grammar is wide (`zoë` is a name): not empty, no `:` (the htpasswd
 * field separator), no whitespace or control characters (line breaks would forge entries), no
 * leading `@` or `$` (groups and pseudo-principals), at most 255 bytes.
 */
export function userNameProblem(name: string): string | null {
  const bad = (why: string): string => `bad user name ${JSON.stringify(name)}: ${why}`;
  if (name === '') return 'a user name cannot be empty';
  if (name.includes(':')) return bad('cannot contain ":"');
  if (/\p{Cc}/u.test(name)) return bad('cannot contain control characters');
  if (/\s/u.test(name)) return bad('cannot contain spaces');
  if (name.startsWith('@') || name.startsWith('$')) {
    return bad('cannot start with "@" (a group) or "$" (a pseudo-principal)');
  }
  if (Buffer.byteLength(name) > MAX_USER_NAME_BYTES) return bad(`longer than ${MAX_USER_NAME_BYTES} bytes`);
  return null;
}

/** Why `name` (without `@`) cannot be a group name, or null. */
export function groupNameProblem(name: string): string | null {
  if (name === '') return 'empty name';
  if (!GROUP_NAME.test(name) || name.includes('..')) {
    return `bad name "${name}": use A-Z a-z 0-9 . _ - and start with a letter or digit`;
  }
  return null;
}

/** A principal as parsed. */
export type Principal =
  | { readonly kind: 'user'; readonly name: string }
  | { readonly kind: 'group'; readonly name: string }
  | { readonly kind: 'pseudo'; readonly name: string };

/** Where a principal is written: a grant (`.read`/`.write`), a group's members, or a hook rule (also `$local`). */
export type PrincipalPlace = 'grant' | 'member' | 'hook';

/** Which names exist, for `principalProblem`; without it only the grammar is checked. */
export interface KnownNames {
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  /** Optional: a hint for an unknown name, such as ` (did you mean "ann"?)`, or ''. */
  readonly hint?: (name: string, among: ReadonlySet<string>) => string;
}

/**
 * The users and groups a config defines: `users:`, the htpasswd files' users, `groups:` and the
 * groups users are put in.
 */
export function knownNames(config: {
  readonly users: ReadonlyMap<string, { readonly groups: readonly string[] }>;
  readonly groups: ReadonlyMap<string, unknown>;
  readonly htpasswdUsers: Iterable<string>;
}): KnownNames {
  const users = new Set<string>([...config.users.keys(), ...config.htpasswdUsers]);
  const groups = new Set<string>(config.groups.keys());
  for (const u of config.users.values()) for (const g of u.groups) groups.add(g);
  return { users, groups };
}

/**
 * Parses `value` as a principal written in `place`, or says why it is not one; with `known`, a user
 * or group that does not exist is a problem too (a typo must not silently grant or deny).
 */
export function parsePrincipal(
  value: string,
  place: PrincipalPlace,
  known?: KnownNames,
): { ok: true; principal: Principal } | { ok: false; problem: string } {
  if (value.startsWith('$')) {
    if (place === 'member') return { ok: false, problem: `"${value}" cannot be a group member` };
    if (PSEUDO_PRINCIPALS.has(value) || (place === 'hook' && value === LOCAL_PRINCIPAL)) {
      return { ok: true, principal: { kind: 'pseudo', name: value } };
    }
    const list = place === 'hook' ? '$anonymous, $authenticated, $all or $local' : '$anonymous, $authenticated or $all';
    return { ok: false, problem: `unknown pseudo-principal "${value}" (use ${list})` };
  }
  if (value.startsWith('@')) {
    const g = value.slice(1);
    if (g === '') return { ok: false, problem: 'bad principal "@": a group name follows "@"' };
    const bad = groupNameProblem(g);
    if (bad) return { ok: false, problem: `bad principal "${value}": ${bad}` };
    if (known && !known.groups.has(g)) {
      const hint = known.hint?.(g, known.groups).replace(/"([^"]+)"\?\)$/, '"@$1"?)') ?? '';
      return { ok: false, problem: `unknown group "${value}"${hint}` };
    }
    return { ok: true, principal: { kind: 'group', name: g } };
  }
  const bad = userNameProblem(value);
  if (bad) return { ok: false, problem: `bad principal: ${bad}` };
  if (known && !known.users.has(value)) {
    const hint = known.hint?.(value, known.users) ?? '';
    const asGroup = known.groups.has(value) ? ` (for the group, write "@${value}")` : hint;
    return { ok: false, problem: `unknown user "${value}" (not in users: or any htpasswd file)${asGroup}` };
  }
  return { ok: true, principal: { kind: 'user', name: value } };
}

/**
 * The principals `identity` matches, as written in a list: its user name and `@group`s with
 * `$authenticated` and `$all` (`$anonymous` and `$all` without a user), plus `$local` for a push
 * made on the server (whose `$local` stand-in user is no user name and not `$authenticated`).
 */
export function principalsOf(identity: Identity): readonly string[] {
  const out: string[] = [];
  if (identity.source === LOCAL_SOURCE) out.push(LOCAL_PRINCIPAL);
  if (identity.user === null) {
    out.push('$anonymous', '$all');
    return out;
  }
  const named = identity.user !== LOCAL_PRINCIPAL;
  if (named) out.push(identity.user);
  for (const g of identity.groups) out.push(`@${g}`);
  if (named) out.push('$authenticated');
  out.push('$all');
  return out;
}

/** True when `identity` matches any principal of `list`. */
export function matchesAny(identity: Identity, list: readonly string[]): boolean {
  if (list.length === 0) return false;
  const mine = principalsOf(identity);
  return list.some((p) => mine.includes(p));
}
