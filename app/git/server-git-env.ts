/**
 * The environment every git process gitward runs on the server carries, whoever spawns it: the
 * backend (spawned or in an fcgiwrap worker), the hook dispatcher's git children, the CLI's git
 * calls, and sidecar mode's fcgiwrap (as `fastcgi_param` lines of deploy/nginx/gitward-sidecar.conf,
 * which a test keeps in step with this table).
 *
 * History is what the objects say, never what a ref or a file in the repo overlays on them: a
 * writer who may push `refs/replace/<X>` would otherwise make git (and so `receive.denyNonFastForwards`
 * and every ancestry question) see another history, or lock the repo with a replacement of an
 * object by itself. https://git-scm.com/docs/git#Documentation/git.txt-codeGITNOREPLACEOBJECTScode
 */
export const SERVER_GIT_ENV: Readonly<Record<string, string>> = Object.freeze({
  GIT_NO_REPLACE_OBJECTS: '1',
  // git reads grafts from GIT_GRAFT_FILE, else from <repo>/info/grafts; a path below /dev/null can
  // never be a file (ENOTDIR, which git takes silently for "no grafts"), so a graft file that
  // lands in a repo changes nothing.
  GIT_GRAFT_FILE: '/dev/null/gitward-no-grafts',
});

/** `env` with SERVER_GIT_ENV set over it (a new object). */
export function withServerGitEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return { ...env, ...SERVER_GIT_ENV };
}
