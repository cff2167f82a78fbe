import type { AccessLevel, TraceStep } from '../types.js';

/**
 * The loaded, validated and frozen gitward configuration. YAML keys are snake_case; here they are
 * camelCase. Every path is absolute (resolved against the config file's folder).
 */
export interface GitwardConfig {
  /** Absolute path of the YAML file (empty string for a config built in code, e.g. in tests). */
  readonly file: string;
  /** Folder of the YAML file; relative paths resolve against it. */
  readonly dir: string;
  /** sha256 of the file's bytes, hex. */
  readonly hash: string;
  readonly repoRoot: string;
  readonly listen: ListenAddress;
  /** URL prefix nginx forwards, always starting and ending with `/`. */
  readonly basePath: string;
  readonly realm: string;
  readonly hideExistence: boolean;
  readonly dumbHttp: boolean;
  readonly authentication: readonly PluginSpec[];
  readonly credentialCache: { readonly ttlSeconds: number; readonly maxEntries: number };
  readonly bruteForce: { readonly maxFailures: number; readonly windowSeconds: number };
  readonly users: ReadonlyMap<string, UserEntry>;
  readonly groups: ReadonlyMap<string, readonly string[]>;
  /** The permission tree as written (with line numbers), compiled into a policy separately. */
  readonly repos: RepoNode;
  readonly hooks: HooksSettings;
  readonly repoDefaults: RepoDefaults;
  readonly sidecar: { readonly enabled: boolean; readonly path: string };
  readonly server: ServerSettings;
  readonly log: LogSettings;
  readonly compat: { readonly git4nginxEnv: boolean };
  readonly metrics: MetricsSettings;
  /** The repo administration API under /_gitward/api/v1/; off answers 404 there. */
  readonly api: { readonly enabled: boolean };
  /** The web view (cgit behind the same identity and decide); off by default. */
  readonly web: WebSettings;
  readonly ssh: SshSettings;
  readonly tests: readonly PolicyTest[];
  /** User names found in the htpasswd files of `htpasswd` authentication entries at load time. */
  readonly htpasswdUsers: readonly string[];
  /**
   * What is valid but risky, one `file:line: key.path: …` line each (a trusted-proxy list with TCP
   * peers): `gitward check` prints them, `gitward serve` logs them as `config.warning`.
   */
  readonly warnings: readonly string[];
}

export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string; readonly mode: number };

/** A plugin named in the config: a built-in name, a module path or a package name. */
export interface PluginSpec {
  readonly plugin: string;
  /** The plugin's own options: every key of the entry except `plugin`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** `file:line` of the entry, for error messages. */
  readonly where: string;
}

export interface UserEntry {
  readonly groups: readonly string[];
  readonly info: Readonly<Record<string, unknown>>;
}

/** A node of the `repos:` tree: the root, a project group (folder) or a repo (key ending in `.git`). */
export interface RepoNode {
  /** Path from the root without `.git`, e.g. `web/site`; empty for the root. */
  readonly path: string;
  readonly kind: 'root' | 'group' | 'repo';
  /** `file:line` of the node's key. */
  readonly where: string;
  /** The node as a config key path, e.g. `repos.web.site.git` (`repos` for the root). */
  readonly node: string;
  readonly read: readonly Grant[];
  readonly write: readonly Grant[];
  /** `.admin`: may create, rename and delete repos at or below this node (and read and push). */
  readonly admin: readonly Grant[];
  /** `.create`: may create new repos below this project group (never on a repo node). */
  readonly create: readonly Grant[];
  /** False when `.inherit: false` cuts what ancestors grant. */
  readonly inherit: boolean;
  /** Hook plugin settings set at this node, by plugin name (`.hooks:`). */
  readonly hooks: ReadonlyMap<string, HookPluginSetting>;
  readonly children: ReadonlyMap<string, RepoNode>;
}

/** One principal in a `.read`, `.write`, `.admin` or `.create` list. */
export interface Grant {
  /** `user`, `@group`, `$anonymous`, `$authenticated` or `$all`, as written. */
  readonly principal: string;
  readonly where: string;
}

export interface HookPluginSetting {
  /** The plugin's options as written (including `enable`). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly where: string;
}

export interface HooksSettings {
  /** Order in which the dispatcher runs hook plugins. */
  readonly order: readonly string[];
  /** Third-party hook plugins: name → module path or package name. */
  readonly plugins: ReadonlyMap<string, string>;
  /** User assumed for pushes made on the server without gitward's environment; null refuses them. */
  readonly localUser: string | null;
  /**
   * File the dispatcher appends its log lines to (one JSON object per line) when it runs without
   * gitward's GITWARD_LOG_DIR: sidecar mode and pushes made on the server. Null: none.
   */
  readonly logFile: string | null;
}

export interface RepoDefaults {
  readonly initialBranch: string;
  readonly denyNonFastForwards: boolean;
  readonly denyDeletes: boolean;
  readonly installHooks: boolean;
}

export interface ServerSettings {
  /** Time allowed for a client to send its request headers (slow-loris guard). */
  readonly headersTimeoutSeconds: number;
  /** A connection with no bytes moving for this long is closed. */
  readonly idleTimeoutSeconds: number;
  /** On SIGTERM, in-flight requests get this long to finish before they are cut. */
  readonly shutdownGraceSeconds: number;
  /**
   * Peers whose X-Forwarded-For / X-Real-IP name the client (audit, brute-force limits), in the
   * grammar of app/request/trusted-proxies.ts; default `[unix]`.
   */
  readonly trustedProxies: readonly string[];
}

/** GET /metrics (Prometheus text format). */
export interface MetricsSettings {
  readonly enabled: boolean;
  /**
   * Who may read it, judged on the direct peer: `local` (a unix-socket peer, or a loopback one
   * sending no forwarding header — not a request nginx passed on), `unix`, IPs and CIDR ranges.
   */
  readonly allow: readonly string[];
  /** Add a `user` label to the request counter (one series per user). Read at start-up. */
  readonly labelUsers: boolean;
  /** Add a `repo` label to the request counter (one series per repo). Read at start-up. */
  readonly labelRepos: boolean;
}

/** A filter the web view hands cgit: `markdown` renders READMEs (about-filter), `pygments` colours source. */
export type WebFilter = 'markdown' | 'pygments';

/** The `web:` section: cgit's configuration is generated from this and the ACL, never written by hand. */
export interface WebSettings {
  readonly enabled: boolean;
  /** cgit's root-title: the heading of the repo index. */
  readonly siteTitle: string;
  /** Filters cgit runs (Debian's, under /usr/lib/cgit/filters). */
  readonly filters: readonly WebFilter[];
  /** URL prefixes of the clone URLs shown on repo pages (`https://git.example.org/`); none: no clone URLs. */
  readonly cloneUrls: readonly string[];
  /** cgit's cache-size (entries per cache folder); 0 turns cgit's cache off. */
  readonly cacheSize: number;
  /** Folder of the generated cgitrc files and cgit's caches; null: a private folder under the system temp dir. */
  readonly cacheDir: string | null;
  /** cgit's CGI program. */
  readonly cgitPath: string;
}

export interface LogSettings {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly format: 'json' | 'text';
  /** Audit log file; null writes audit lines to stdout. */
  readonly audit: string | null;
}

/** Git over SSH (deploy/ssh/README.md). */
export interface SshSettings {
  /** The users' public keys (`gitward key`); null: SSH is off. */
  readonly keysFile: string | null;
  /** The authorized_keys file `gitward key` regenerates for sshd; null: none is written. */
  readonly authorizedKeys: string | null;
  /**
   * The unix socket `gitward serve` listens on for SSH sessions (app/ssh/ssh-broker.ts), named in
   * every forced command; its folder is the trust boundary (mode 0750 or tighter).
   */
  readonly socket: string;
}

/** An expectation in the config's own terms, run by `gitward check`. */
export interface PolicyTest {
  readonly user: string;
  readonly repo: string;
  readonly can?: AccessLevel;
  readonly cannot?: AccessLevel;
  readonly where: string;
}

/** The compiled, immutable policy: a decision is a lookup, not a walk of the YAML. */
export interface CompiledPolicy {
  /** Hash of the config it was compiled from. */
  readonly configHash: string;
  /** True when the repo is named in the tree (a repo node). */
  hasRepo(repo: string): boolean;
  /** Every repo path named in the tree. */
  repos(): readonly string[];
  /** The config this policy was compiled from. */
  readonly config: GitwardConfig;
  /**
   * What the tree grants for `repo` (named in the tree or not): the effective grants of the
   * deepest node on its path. Used by `decide`; a lookup, not a walk of the YAML.
   */
  accessFor(repo: string): EffectiveAccess;
  /** The nodes of the tree on the path of `repo`, root first (only the nodes that exist). */
  nodesFor(repo: string): readonly RepoNode[];
  /** The groups `user` belongs to through `users:` and `groups:`, transitively (sorted). */
  groupsOfUser(user: string): readonly string[];
  /** `groups` plus every group that contains one of them, transitively (sorted, unique). */
  expandGroups(groups: readonly string[]): readonly string[];
  /** Every user name known to the config: `users:` and the htpasswd files (sorted). */
  knownUsers(): readonly string[];
}

/** One grant in force at a node, after accumulation: who, what, and where it was written. */
export interface GrantInForce {
  /** `create` is not a level: it adds the right to create repos, nothing to read or write. */
  readonly level: 'read' | 'write' | 'admin' | 'create';
  readonly principal: string;
  /** The tree node that grants it, e.g. `repos.web`. */
  readonly node: string;
  readonly where: string;
  /** Depth of the granting node (root 0), to order a trace root first. */
  readonly depth: number;
}

/** The grants in force at one node of the tree, compiled for lookups by principal. */
export interface EffectiveAccess {
  /** Principal as written (`ann`, `@eng`, `$all`, …) → the grants naming it, root first. */
  readonly byPrincipal: ReadonlyMap<string, readonly GrantInForce[]>;
  /** The deepest node on the path with `.inherit: false`, if any, as a trace step. */
  readonly cut: TraceStep | null;
}

export type { TraceStep };
