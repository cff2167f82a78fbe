/** Types for the untyped `cgi-env` package (imported only by app/backend/cgi-env.ts). */
declare module 'cgi-env' {
  import type { IncomingMessage } from 'node:http';
  /** Returns CGI meta-variables for `req`; see app/backend/cgi-env.ts for its defects. */
  export function createEnvironment(req: IncomingMessage): Record<string, string | string[]>;
}
