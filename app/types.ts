/**
 * Shared types of gitward's one-way pipeline:
 * request → GitRequest → Identity → Decision → backend → AuditRecord.
 * Every stage imports only earlier stages and this file.
 */

/** A repository name that only `parseRepoName` produces: canonical, without `.git`, validated. */
export type RepoName = string & { readonly __brand: 'RepoName' };

/**
 * What a request needs. Ordered: `none < read < write < admin`; each implies the ones below
 * (admin: create, rename and delete repos through the API or CLI, besides reading and pushing).
 */
export type AccessLevel = 'none' | 'read' | 'write' | 'admin';

/** Numeric rank of an access level, for comparison. */
export const ACCESS_RANK: Readonly<Record<AccessLevel, number>> = Object.freeze({
  none: 0,
  read: 1,
  write: 2,
  admin: 3,
});

/** The access levels in rank order, for printing and parsing. */
export const ACCESS_LEVELS: readonly AccessLevel[] = Object.freeze(['none', 'read', 'write', 'admin']);

/** The git service a request is for; `dumb` is a plain file read of the dumb HTTP protocol. */
export type GitService = 'git-upload-pack' | 'git-receive-pack' | 'dumb';

/** A classified git request: what `classify` returns for a valid method + path + query. */
export interface GitRequest {
  readonly repo: RepoName;
  readonly service: GitService;
  readonly need: 'read' | 'write';
  /** `info-refs` (advertisement), `rpc` (POST of a pack negotiation), `dumb` (static file). */
  readonly kind: 'info-refs' | 'rpc' | 'dumb';
  /** The path below the repo directory as git-http-backend expects it, e.g. `/info/refs`. */
  readonly suffix: string;
}

/** Who is asking, after authentication. `user` is null for anonymous requests. */
export interface Identity {
  readonly user: string | null;
  /** Which plugin named the user (`htpasswd`, `remote-user`, …), or `anonymous`. */
  readonly source: string;
  readonly groups: readonly string[];
  readonly info: Readonly<Record<string, unknown>>;
}

/** Basic credentials as parsed from the Authorization header. */
export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/** The peer of a connection: an IP address, or a unix socket. */
export type Peer = { readonly kind: 'ip'; readonly address: string } | { readonly kind: 'unix' };

/** What an authentication plugin is given. */
export interface AuthInput {
  /** Parsed Basic credentials, or null when none (or no usable ones) were sent. */
  readonly basic: BasicCredentials | null;
  /** Request headers, lower-cased names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly peer: Peer;
  /**
   * The client's address as far as gitward can tell: the peer, or the address a trusted proxy
   * reported (X-Forwarded-For / X-Real-IP). Used for logs and brute-force limits.
   */
  readonly clientAddress: string;
}

/** What an authentication plugin answers. The first conclusive answer (not `no-credentials`) wins. */
export type AuthResult =
  | { readonly kind: 'authenticated'; readonly user: string; readonly groups?: readonly string[] }
  /**
   * `user`: optional, the user name the refused credentials claimed when they are not Basic ones
   * (an identity header's value), for the failed-login line; the Basic user is used otherwise.
   */
  | { readonly kind: 'rejected'; readonly reason: string; readonly user?: string }
  | { readonly kind: 'no-credentials' };

/** Logger shape that plugins and stages receive (a winston logger satisfies it). */
export interface Logger {
  error(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** An authentication plugin instance (ARCHITECTURE.md §6). */
export interface AuthPlugin {
  readonly name: string;
  authenticate(input: AuthInput): Promise<AuthResult>;
  /**
   * Optional: the request headers this plugin reads credentials from (names as sent, any case;
   * `Authorization` is always withheld). gitward drops exactly these from git's CGI environment:
   * the plugin declares them, nobody re-derives them from its options.
   */
  readonly headers?: readonly string[];
  /**
   * Optional: what in the options is valid but risky (a TCP trust list, say), one `option: …` line
   * each; `gitward check` prints them with the entry's `file:line`.
   */
  warnings?(): readonly string[];
  /** Optional: release watchers and timers. */
  close?(): void;
}

/** What an authentication plugin factory is handed besides its options. */
export interface AuthPluginContext {
  readonly logger: Logger;
  /** Folder of the config file; relative paths in options resolve against it. */
  readonly configDir: string;
}

/** An authentication plugin factory. */
export type AuthPluginFactory = (
  options: Record<string, unknown>,
  ctx: AuthPluginContext,
) => AuthPlugin | Promise<AuthPlugin>;

/** One step of a decision's explanation: a node of the tree that granted or cut something. */
export interface TraceStep {
  /** Tree path such as `repos.web.site.git`. */
  readonly node: string;
  /** `file:line` of the node in the config, when known. */
  readonly where: string;
  /** What happened here, e.g. `grants write to @eng (matches: ann)` or `inherit: false`. */
  readonly what: string;
}

/** The outcome of `decide`. */
export type Decision =
  | {
      readonly allowed: true;
      readonly level: AccessLevel;
      readonly status: 200;
      readonly reason: string;
      readonly trace: readonly TraceStep[];
    }
  | {
      readonly allowed: false;
      readonly level: AccessLevel;
      /** 401 needs credentials, 403 forbidden, 404 hidden or unknown. */
      readonly status: 401 | 403 | 404;
      readonly reason: string;
      readonly trace: readonly TraceStep[];
    };

/** One audit line per request, written when the response closes (ARCHITECTURE.md §2). */
export interface AuditRecord {
  readonly time: string;
  readonly requestId: string;
  readonly user: string | null;
  readonly authSource: string;
  readonly remoteAddr: string;
  readonly repo: string | null;
  readonly service: string | null;
  readonly need: string | null;
  readonly decision: 'allowed' | 'denied' | 'error' | 'invalid';
  readonly status: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly exitCode: number | null;
  /** `ssh`: a session through sshd's forced command (app/ssh/), whose line also names the key. */
  readonly mode: 'proxy' | 'sidecar' | 'ssh';
  /**
   * How a git request's body arrived (`chunked`: streamed by the proxy; `length`); null: no body, or
   * not a git request.
   */
  readonly requestBody: 'chunked' | 'length' | null;
}

/** A hook update as the dispatcher reads it from pre-receive's stdin. */
export interface RefUpdate {
  readonly oldSha: string;
  readonly newSha: string;
  readonly ref: string;
}

/** Where audit records go: one JSON line each, written when the response closes. */
export interface AuditSink {
  write(record: AuditRecord): void;
}
