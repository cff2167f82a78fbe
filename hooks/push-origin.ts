/**
 * True when the push came over HTTP: through gitward (GITWARD_REQUEST_ID / GITWARD_USER), or
 * through git-http-backend run by another CGI server (sidecar mode: REMOTE_USER, or the CGI
 * variables git-http-backend passes on). Only the other pushes — made on the server itself,
 * without any of these — are "local" and run as `hooks.local_user`; an anonymous HTTP push must
 * never pass for a local one.
 */
export function isHttpPush(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(
    env.GITWARD_REQUEST_ID || env.GITWARD_USER || env.REMOTE_USER || env.GATEWAY_INTERFACE || env.REQUEST_METHOD,
  );
}
