/**
 * Types for the untyped `htpasswd-auth` package. Only app/identity/htpasswd-file.ts imports it (and
 * test/regression/timing-equalisation.test.ts, to spy on it).
 * `authenticate` looks `user` up in the htpasswd text and resolves whether `password` matches.
 */
declare module 'htpasswd-auth' {
  export function authenticate(user: string, password: string, htpasswd: string): Promise<boolean>;
}
