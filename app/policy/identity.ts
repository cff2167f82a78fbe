import type { CompiledPolicy } from '../config/types.js';
import type { Identity } from '../types.js';

const NO_INFO: Readonly<Record<string, unknown>> = Object.freeze({});
const NO_GROUPS: readonly string[] = Object.freeze([]);

/**
 * Builds the Identity of `user` (null: anonymous) named by plugin `source`: its groups from
 * `users:` and `groups:` (transitively, through groups of groups), plus any groups the plugin
 * added (and the groups that contain those), and its info from `users:`. Groups are names
 * without `@`, sorted. An anonymous identity has no groups and no info.
 */
export function resolveIdentity(
  policy: CompiledPolicy,
  user: string | null,
  source: string,
  extraGroups: readonly string[] = [],
): Identity {
  if (user === null) return Object.freeze({ user: null, source, groups: NO_GROUPS, info: NO_INFO });
  const own = policy.groupsOfUser(user);
  const groups = extraGroups.length === 0 ? own : policy.expandGroups([...own, ...extraGroups]);
  const info = policy.config.users.get(user)?.info ?? NO_INFO;
  return Object.freeze({ user, source, groups, info });
}
