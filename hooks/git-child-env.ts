import { SERVER_GIT_ENV } from '../app/git/server-git-env.js';

/**
 * Environment variables a hook passes on to its git child processes. git gives a pre-receive hook
 * the push's objects only through the quarantine variables
 * (https://git-scm.com/docs/git-receive-pack#_quarantine_environment); everything else is either
 * needed to run git at all or keeps the caller's config isolation (tests, admins' settings).
 */
const ALLOWED = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TZ',
  'GIT_DIR',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_QUARANTINE_PATH',
  'GIT_CONFIG_NOSYSTEM',
  'GIT_CONFIG_GLOBAL',
  'XDG_CONFIG_HOME',
] as const;

/**
 * Builds a git child's environment from an allow-list of `env`, never a copy of the whole, with
 * SERVER_GIT_ENV set whatever the caller had (a local push has none of it): history is the objects'.
 */
export function gitChildEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ALLOWED) {
    const v = env[name];
    if (v !== undefined) out[name] = v;
  }
  if (out.PATH === undefined) out.PATH = '/usr/local/bin:/usr/bin:/bin';
  return Object.assign(out, SERVER_GIT_ENV);
}
