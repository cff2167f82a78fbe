import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { deepFreeze } from './deep-freeze.js';
import type { AccessLevel } from '../types.js';
import { BUILTIN_HOOK_PLUGIN_NAMES, GIT_SUFFIX, MAX_REPO_PATH_BYTES, parseRepoPath, segmentProblem } from './names.js';
import {
  groupNameProblem,
  knownNames,
  parsePrincipal,
  userNameProblem,
  type KnownNames,
  type PrincipalPlace,
} from '../principals.js';
import type {
  GitwardConfig,
  Grant,
  HookPluginSetting,
  ListenAddress,
  LogSettings,
  MetricsSettings,
  PluginSpec,
  PolicyTest,
  RepoDefaults,
  RepoNode,
  ServerSettings,
  SshSettings,
  UserEntry,
  WebFilter,
  WebSettings,
} from './types.js';
import { parseYamlTree, type YamlEntry, type YamlNode } from './yaml-tree.js';
import { DEFAULT_TRUSTED_PROXIES, tcpTrustWarning, trustedProxyProblem } from '../request/trusted-proxies.js';

/** Permissions of a unix socket gitward creates: owner and group (nginx's group) may connect. */
export const DEFAULT_UNIX_SOCKET_MODE = 0o660;

/** Defaults of every optional key (the brief's sample file). */
const DEFAULTS = Object.freeze({
  listen: '127.0.0.1:8080',
  basePath: '/',
  realm: 'gitward',
  hideExistence: true,
  dumbHttp: false,
  // Generous for slow links, short enough to shed slow-loris clients.
  headersTimeoutSeconds: 60,
  // A stalled clone of a big repo may pause between packs; five minutes of silence is dead.
  idleTimeoutSeconds: 300,
  // Long enough for a typical push to finish during a restart.
  shutdownGraceSeconds: 30,
  // Loopback is not a trust boundary: with no proxy on the unix socket, no forwarded address is believed.
  trustedProxies: DEFAULT_TRUSTED_PROXIES,
  // A minute keeps bcrypt off the hot path of a clone's many requests; a password change waits at most that.
  credentialTtlSeconds: 60,
  // Bounds memory: one entry per active user is plenty for teams of thousands.
  credentialMaxEntries: 10000,
  bruteForceMaxFailures: 10,
  bruteForceWindowSeconds: 300,
  // The auth endpoint answers whoever reaches it (a password oracle): on only when sidecar mode is configured.
  sidecarEnabled: false,
  sidecarPath: '/_gitward/auth',
  hookOrder: ['branch-protect', 'branch-flow'],
  localUser: '$local',
  initialBranch: 'main',
  webSiteTitle: 'git repositories',
  webFilters: ['markdown', 'pygments'] as readonly WebFilter[],
  // cgit's own default: plenty of pages for one view; each view and repo has its own cache folder.
  webCacheSize: 1000,
  webCgitPath: '/usr/lib/cgit/cgit.cgi',
});

/** The filters the web view knows (README.md, `web.filters`). */
const WEB_FILTERS: ReadonlySet<string> = new Set(['markdown', 'pygments']);

/** Settings a node of the `repos:` tree may carry; other keys starting with `.` are errors. */
const NODE_SETTINGS: ReadonlySet<string> = new Set(['.read', '.write', '.admin', '.create', '.inherit', '.hooks']);

/** Grant lists of a node, by setting key: who may read, push, administer repos, create repos. */
const GRANT_KEYS: Readonly<Record<string, 'read' | 'write' | 'admin' | 'create'>> = {
  '.read': 'read',
  '.write': 'write',
  '.admin': 'admin',
  '.create': 'create',
};

const TOP_KEYS = [
  '$schema',
  'repo_root',
  'listen',
  'base_path',
  'realm',
  'hide_existence',
  'dumb_http',
  'server',
  'log',
  'credential_cache',
  'brute_force',
  'sidecar',
  'authentication',
  'users',
  'groups',
  'repos',
  'hooks',
  'repo_defaults',
  'compat',
  'metrics',
  'api',
  'web',
  'ssh',
  'tests',
] as const;

interface Problem {
  readonly line: number;
  readonly text: string;
}

/** Collects problems for one load; no state outlives the call. */
class Problems {
  readonly list: Problem[] = [];
  constructor(readonly file: string) {}
  readonly warnings: Problem[] = [];
  add(line: number, keyPath: string, problem: string): void {
    this.list.push({ line, text: `${this.file}:${line}: ${keyPath}: ${problem}` });
  }
  warn(line: number, keyPath: string, warning: string): void {
    this.warnings.push({ line, text: `${this.file}:${line}: ${keyPath}: ${warning}` });
  }
  where(line: number): string {
    return `${this.file}:${line}`;
  }
  sorted(): string[] {
    return [...this.list].sort((a, b) => a.line - b.line).map((p) => p.text);
  }
}

/** What the caller may inject; tests use the defaults. */
export interface BuildOptions {
  /** Reads a file named by the config (htpasswd files); defaults to fs.readFileSync as UTF-8. */
  readonly readFile?: (file: string) => string;
}

/**
 * Parses and validates config `text` read from `file` (an absolute path), returning the frozen
 * GitwardConfig or throwing ConfigError with every problem as `FILE:LINE: key.path: problem`.
 */
export function buildConfig(text: string, file: string, options: BuildOptions = {}): GitwardConfig {
  const readFile = options.readFile ?? ((f: string) => fs.readFileSync(f, 'utf8'));
  const dir = path.dirname(file);
  const p = new Problems(file);
  const parsed = parseYamlTree(text);
  if (!parsed.ok) throw new ConfigError([`${file}:${parsed.line}: yaml: ${parsed.message}`]);
  if (parsed.root === null) throw new ConfigError([`${file}:1: repo_root: the file is empty; repo_root is required`]);
  const top = mapKeys(p, parsed.root, '', new Set<string>(TOP_KEYS));
  if (!top) throw new ConfigError(p.sorted());

  const str = (k: string, def: string): string => stringAt(p, top.get(k), k, def);
  // `$schema` is for editors (a path or URL of examples/gitward.schema.json); gitward only checks its type.
  str('$schema', '');

  let repoRoot = '';
  const rr = top.get('repo_root');
  if (!rr) p.add(1, 'repo_root', 'required (the folder of the bare repos)');
  else {
    const v = stringAt(p, rr, 'repo_root', '');
    if (v === '' && rr.value.kind === 'scalar' && typeof rr.value.value === 'string')
      p.add(rr.line, 'repo_root', 'must not be empty');
    repoRoot = v === '' ? '' : path.resolve(dir, v);
  }

  const listenEntry = top.get('listen');
  const listen = parseListen(p, listenEntry, str('listen', DEFAULTS.listen), dir);

  let basePath = str('base_path', DEFAULTS.basePath);
  if (!basePath.startsWith('/'))
    p.add(top.get('base_path')?.line ?? 1, 'base_path', `must start with "/": "${basePath}"`);
  if (/[\s?#%\p{Cc}]/u.test(basePath) || basePath.split('/').some((s) => s === '..' || s === '.')) {
    p.add(top.get('base_path')?.line ?? 1, 'base_path', `bad URL prefix "${basePath}"`);
  }
  if (!basePath.endsWith('/')) basePath += '/';

  const realm = str('realm', DEFAULTS.realm);
  if (/["\\\p{Cc}]/u.test(realm) || realm === '')
    p.add(top.get('realm')?.line ?? 1, 'realm', 'must be non-empty, without quotes, backslashes or control characters');

  const hideExistence = boolAt(p, top.get('hide_existence'), 'hide_existence', DEFAULTS.hideExistence);
  const dumbHttp = boolAt(p, top.get('dumb_http'), 'dumb_http', DEFAULTS.dumbHttp);
  const server = parseServer(p, top.get('server'));
  const log = parseLog(p, top.get('log'), dir);

  const cc = sectionKeys(p, top.get('credential_cache'), 'credential_cache', ['ttl_seconds', 'max_entries']);
  const credentialCache = {
    ttlSeconds: intAt(p, cc.get('ttl_seconds'), 'credential_cache.ttl_seconds', DEFAULTS.credentialTtlSeconds, 0),
    maxEntries: intAt(p, cc.get('max_entries'), 'credential_cache.max_entries', DEFAULTS.credentialMaxEntries, 0),
  };
  const bf = sectionKeys(p, top.get('brute_force'), 'brute_force', ['max_failures', 'window_seconds']);
  const bruteForce = {
    maxFailures: intAt(p, bf.get('max_failures'), 'brute_force.max_failures', DEFAULTS.bruteForceMaxFailures, 1),
    windowSeconds: intAt(
      p,
      bf.get('window_seconds'),
      'brute_force.window_seconds',
      DEFAULTS.bruteForceWindowSeconds,
      1,
    ),
  };
  const sc = sectionKeys(p, top.get('sidecar'), 'sidecar', ['enabled', 'path']);
  const sidecar = {
    enabled: boolAt(p, sc.get('enabled'), 'sidecar.enabled', DEFAULTS.sidecarEnabled),
    path: stringAt(p, sc.get('path'), 'sidecar.path', DEFAULTS.sidecarPath),
  };
  if (!sidecar.path.startsWith('/'))
    p.add(sc.get('path')?.line ?? 1, 'sidecar.path', `must start with "/": "${sidecar.path}"`);

  const authentication = parseAuthentication(p, top.get('authentication'), dir);
  const htpasswdUsers = readHtpasswdUsers(p, authentication, dir, readFile);

  const users = parseUsers(p, top.get('users'));
  const groupsEntry = top.get('groups');
  const groups = parseGroups(p, groupsEntry);

  // Names that grants may use.
  const known = knownNames({ users: users.map, groups: groups.map, htpasswdUsers });
  const knownUsers = known.users;

  // Group members and users' groups must name known users and groups.
  for (const members of groups.members.values()) {
    for (const m of members) checkPrincipal(p, m.value, m.line, m.path, known, 'member');
  }
  checkGroupCycles(p, groups);

  const hooks = parseHooks(p, top.get('hooks'), dir);
  const hookNames = new Set<string>([...BUILTIN_HOOK_PLUGIN_NAMES, ...hooks.plugins.keys()]);
  for (const o of hooks.orderLines) {
    const builtIn = BUILTIN_HOOK_PLUGIN_NAMES.join(', ');
    if (!hookNames.has(o.name)) {
      p.add(o.line, o.path, `unknown hook plugin "${o.name}" (built in: ${builtIn}; others go in hooks.plugins)`);
    }
  }

  const repos = parseRepoTree(p, top.get('repos'), { known, hookNames });

  const rd = sectionKeys(p, top.get('repo_defaults'), 'repo_defaults', [
    'initial_branch',
    'deny_non_fast_forwards',
    'deny_deletes',
    'install_hooks',
  ]);
  const repoDefaults: RepoDefaults = {
    initialBranch: stringAt(p, rd.get('initial_branch'), 'repo_defaults.initial_branch', DEFAULTS.initialBranch),
    denyNonFastForwards: boolAt(p, rd.get('deny_non_fast_forwards'), 'repo_defaults.deny_non_fast_forwards', true),
    denyDeletes: boolAt(p, rd.get('deny_deletes'), 'repo_defaults.deny_deletes', true),
    installHooks: boolAt(p, rd.get('install_hooks'), 'repo_defaults.install_hooks', true),
  };
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(repoDefaults.initialBranch) || repoDefaults.initialBranch.includes('..')) {
    p.add(
      rd.get('initial_branch')?.line ?? 1,
      'repo_defaults.initial_branch',
      `bad branch name "${repoDefaults.initialBranch}"`,
    );
  }
  const cp = sectionKeys(p, top.get('compat'), 'compat', ['git4nginx_env']);
  const compat = { git4nginxEnv: boolAt(p, cp.get('git4nginx_env'), 'compat.git4nginx_env', false) };

  const metrics = parseMetrics(p, top.get('metrics'));
  const ap = sectionKeys(p, top.get('api'), 'api', ['enabled']);
  const api = { enabled: boolAt(p, ap.get('enabled'), 'api.enabled', true) };

  const web = parseWeb(p, top.get('web'), dir);
  const ssh = parseSsh(p, top.get('ssh'), dir, log);

  const tests = parseTests(p, top.get('tests'), knownUsers);

  if (p.list.length > 0) throw new ConfigError(p.sorted());

  const config: GitwardConfig = {
    file,
    dir,
    hash: crypto.createHash('sha256').update(text).digest('hex'),
    repoRoot,
    listen,
    basePath,
    realm,
    hideExistence,
    dumbHttp,
    authentication,
    credentialCache,
    bruteForce,
    users: users.map,
    groups: groups.map,
    repos,
    hooks: { order: hooks.order, plugins: hooks.plugins, localUser: hooks.localUser, logFile: hooks.logFile },
    repoDefaults,
    sidecar,
    server,
    log,
    compat,
    metrics,
    api,
    web,
    ssh,
    tests,
    htpasswdUsers: [...htpasswdUsers].sort(),
    warnings: [...p.warnings].sort((a, b) => a.line - b.line).map((w) => w.text),
  };
  return deepFreeze(config);
}

// ---------------------------------------------------------------------------------------------
// Generic typed accessors

function describe(n: YamlNode): string {
  if (n.kind === 'map') return 'a mapping';
  if (n.kind === 'seq') return 'a list';
  if (n.value === null) return 'null';
  if (typeof n.value === 'string') return `a string ("${n.value}")`;
  return `a ${typeof n.value} (${String(n.value)})`;
}

function join(base: string, key: string): string {
  const k = key.startsWith('.') ? key.slice(1) : key;
  return base === '' ? k : `${base}.${k}`;
}

/**
 * The entries of a mapping node by key, reporting non-mappings, non-string keys, duplicate keys
 * and (when `allowed` is given) unknown keys. Returns null when `node` is not a mapping.
 */
function mapKeys(
  p: Problems,
  node: YamlNode,
  keyPath: string,
  allowed: ReadonlySet<string> | null,
): Map<string, YamlEntry> | null {
  if (node.kind !== 'map') {
    p.add(node.line, keyPath || '(top)', `expected a mapping, got ${describe(node)}`);
    return null;
  }
  const out = new Map<string, YamlEntry>();
  for (const e of node.entries) {
    if (typeof e.key !== 'string') {
      if (e.key === null) {
        const hint =
          keyPath === 'repos'
            ? '; repos directly under repo_root go straight under repos: (git4nginx used a null key for them)'
            : '';
        p.add(
          e.line,
          join(keyPath, 'null'),
          `a null key (null or ~) is not a name; quote it ("null") if you mean the name${hint}`,
        );
      } else
        p.add(
          e.line,
          join(keyPath, String(e.key)),
          `a key must be a name, but YAML reads this key as a ${typeof e.key}; quote it ("${String(e.key)}")`,
        );
      continue;
    }
    if (out.has(e.key)) {
      p.add(e.line, join(keyPath, e.key), `duplicate key (first at line ${(out.get(e.key) as YamlEntry).line})`);
      continue;
    }
    if (allowed && !allowed.has(e.key)) {
      p.add(e.line, join(keyPath, e.key), `unknown key${suggest(e.key, allowed)}`);
      continue;
    }
    out.set(e.key, e);
  }
  return out;
}

/** Keys of an optional section; a null value counts as empty. */
function sectionKeys(
  p: Problems,
  entry: YamlEntry | undefined,
  keyPath: string,
  allowed: readonly string[],
): Map<string, YamlEntry> {
  if (!entry || isNull(entry.value)) return new Map();
  return mapKeys(p, entry.value, keyPath, new Set(allowed)) ?? new Map();
}

function isNull(n: YamlNode): boolean {
  return n.kind === 'scalar' && n.value === null;
}

function stringAt(p: Problems, entry: YamlEntry | undefined, keyPath: string, def: string): string {
  if (!entry) return def;
  const n = entry.value;
  if (n.kind === 'scalar' && typeof n.value === 'string') return n.value;
  p.add(entry.line, keyPath, `expected a string, got ${describe(n)}`);
  return def;
}

function boolAt(p: Problems, entry: YamlEntry | undefined, keyPath: string, def: boolean): boolean {
  if (!entry) return def;
  const n = entry.value;
  if (n.kind === 'scalar' && typeof n.value === 'boolean') return n.value;
  p.add(entry.line, keyPath, `expected true or false, got ${describe(n)}`);
  return def;
}

function intAt(p: Problems, entry: YamlEntry | undefined, keyPath: string, def: number, min: number): number {
  if (!entry) return def;
  const n = entry.value;
  if (n.kind === 'scalar' && typeof n.value === 'number' && Number.isSafeInteger(n.value) && n.value >= min)
    return n.value;
  p.add(entry.line, keyPath, `expected a whole number >= ${min}, got ${describe(n)}`);
  return def;
}

/** A list of strings; a single string where a list belongs is an error, never a substring match. */
function stringListAt(
  p: Problems,
  entry: YamlEntry | undefined,
  keyPath: string,
): { value: string; line: number; path: string }[] | null {
  if (!entry) return null;
  const n = entry.value;
  if (n.kind !== 'seq') {
    const hint = n.kind === 'scalar' && typeof n.value === 'string' ? ` (write a list: ["${n.value}"])` : '';
    p.add(entry.line, keyPath, `expected a list, got ${describe(n)}${hint}`);
    return null;
  }
  const out: { value: string; line: number; path: string }[] = [];
  n.items.forEach((item, i) => {
    const ip = `${keyPath}[${i}]`;
    if (item.kind === 'scalar' && typeof item.value === 'string')
      out.push({ value: item.value, line: item.line, path: ip });
    else if (item.kind === 'scalar' && (typeof item.value === 'number' || typeof item.value === 'boolean')) {
      p.add(
        item.line,
        ip,
        `YAML reads ${String(item.value)} as a ${typeof item.value}, not a name; quote it ("${String(item.value)}")`,
      );
    } else p.add(item.line, ip, `expected a string, got ${describe(item)}`);
  });
  return out;
}

function suggest(key: string, allowed: ReadonlySet<string>): string {
  let best = '';
  let bestD = 3;
  for (const a of allowed) {
    const d = distance(key, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  const dp: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min((dp[j] as number) + 1, (dp[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}

// ---------------------------------------------------------------------------------------------
// Sections

/**
 * Parses a `listen` value exactly as the config's `listen:` (for `gitward serve --listen`);
 * relative socket paths resolve against `dir`. The address, or the problem in one line.
 */
export function parseListenValue(
  value: string,
  dir: string,
): { ok: true; address: ListenAddress } | { ok: false; problem: string } {
  const p = new Problems('--listen');
  const address = parseListen(p, undefined, value, dir);
  const first = p.list[0];
  if (first === undefined) return { ok: true, address };
  return { ok: false, problem: first.text.replace(/^--listen:1: listen: /, '') };
}

function parseListen(p: Problems, entry: YamlEntry | undefined, value: string, dir: string): ListenAddress {
  const line = entry?.line ?? 1;
  const fallback: ListenAddress = { kind: 'tcp', host: '127.0.0.1', port: 8080 };
  if (value.startsWith('unix:')) {
    const sock = value.slice('unix:'.length);
    if (sock === '') {
      p.add(line, 'listen', 'unix: needs a socket path, e.g. unix:/run/gitward/gitward.sock');
      return fallback;
    }
    return { kind: 'unix', path: path.resolve(dir, sock), mode: DEFAULT_UNIX_SOCKET_MODE };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) {
    p.add(line, 'listen', `expected host:port, [ipv6]:port or unix:/path, got "${value}"`);
    return fallback;
  }
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (port > 65535) p.add(line, 'listen', `port ${port} is out of range`);
  if (m[1] !== undefined && net.isIPv6(host) === false) p.add(line, 'listen', `"${host}" is not an IPv6 address`);
  return { kind: 'tcp', host, port };
}

function parseMetrics(p: Problems, entry: YamlEntry | undefined): MetricsSettings {
  const s = sectionKeys(p, entry, 'metrics', ['enabled', 'allow', 'label_users', 'label_repos']);
  const allow = stringListAt(p, s.get('allow'), 'metrics.allow');
  for (const x of allow ?? []) {
    const prob = x.value === 'local' ? null : trustedProxyProblem(x.value);
    if (prob) p.add(x.line, x.path, `${prob} (metrics.allow also takes "local")`);
  }
  return {
    enabled: boolAt(p, s.get('enabled'), 'metrics.enabled', true),
    allow: allow ? allow.map((x) => x.value) : ['local'],
    labelUsers: boolAt(p, s.get('label_users'), 'metrics.label_users', false),
    labelRepos: boolAt(p, s.get('label_repos'), 'metrics.label_repos', false),
  };
}

function parseServer(p: Problems, entry: YamlEntry | undefined): ServerSettings {
  const s = sectionKeys(p, entry, 'server', [
    'headers_timeout_seconds',
    'idle_timeout_seconds',
    'shutdown_grace_seconds',
    'trusted_proxies',
  ]);
  const proxies = stringListAt(p, s.get('trusted_proxies'), 'server.trusted_proxies');
  for (const x of proxies ?? []) {
    const prob = trustedProxyProblem(x.value);
    if (prob) p.add(x.line, x.path, prob);
  }
  const tp = s.get('trusted_proxies');
  const believed = 'X-Forwarded-For or X-Real-IP naming any address (escaping the brute-force limit)';
  const tcpWarning = tcpTrustWarning(proxies?.map((x) => x.value) ?? [], believed);
  if (tp && tcpWarning) p.warn(tp.line, 'server.trusted_proxies', tcpWarning);
  return {
    headersTimeoutSeconds: intAt(
      p,
      s.get('headers_timeout_seconds'),
      'server.headers_timeout_seconds',
      DEFAULTS.headersTimeoutSeconds,
      1,
    ),
    idleTimeoutSeconds: intAt(
      p,
      s.get('idle_timeout_seconds'),
      'server.idle_timeout_seconds',
      DEFAULTS.idleTimeoutSeconds,
      1,
    ),
    shutdownGraceSeconds: intAt(
      p,
      s.get('shutdown_grace_seconds'),
      'server.shutdown_grace_seconds',
      DEFAULTS.shutdownGraceSeconds,
      0,
    ),
    trustedProxies: proxies ? proxies.map((x) => x.value) : DEFAULTS.trustedProxies,
  };
}

function parseLog(p: Problems, entry: YamlEntry | undefined, dir: string): LogSettings {
  const s = sectionKeys(p, entry, 'log', ['level', 'format', 'audit']);
  const level = stringAt(p, s.get('level'), 'log.level', 'info');
  const format = stringAt(p, s.get('format'), 'log.format', 'json');
  if (!['error', 'warn', 'info', 'debug'].includes(level))
    p.add(s.get('level')?.line ?? 1, 'log.level', `expected error, warn, info or debug, got "${level}"`);
  if (!['json', 'text'].includes(format))
    p.add(s.get('format')?.line ?? 1, 'log.format', `expected json or text, got "${format}"`);
  const a = s.get('audit');
  let audit: string | null = null;
  if (a && !isNull(a.value)) {
    const v = stringAt(p, a, 'log.audit', '');
    if (v !== '') audit = path.resolve(dir, v);
    else if (a.value.kind === 'scalar' && a.value.value === '')
      p.add(a.line, 'log.audit', 'must be a file path, or null for stdout');
  }
  return { level: level as LogSettings['level'], format: format as LogSettings['format'], audit };
}

/**
 * The `ssh:` section. Paths go into the forced command of every authorized_keys line, which sshd
 * runs through the account's shell: only plain path characters are accepted, so no quoting can
 * be got wrong. SSH needs `log.audit`: a session's stdout is the git protocol.
 */
function parseSsh(p: Problems, entry: YamlEntry | undefined, dir: string, log: LogSettings): SshSettings {
  const s = sectionKeys(p, entry, 'ssh', ['keys_file', 'authorized_keys', 'socket']);
  const pathAt = (key: string): string | null => {
    const e = s.get(key);
    if (!e || isNull(e.value)) return null;
    const v = stringAt(p, e, `ssh.${key}`, '');
    if (v === '') {
      p.add(e.line, `ssh.${key}`, 'must be a file path, or null');
      return null;
    }
    const abs = path.resolve(dir, v);
    if (!SAFE_COMMAND_PATH.test(abs)) p.add(e.line, `ssh.${key}`, `"${abs}": use only A-Z a-z 0-9 / . _ + - here`);
    return abs;
  };
  const keysFile = pathAt('keys_file');
  const authorizedKeys = pathAt('authorized_keys');
  if (authorizedKeys !== null && keysFile === null) {
    p.add(s.get('authorized_keys')?.line ?? 1, 'ssh.authorized_keys', 'needs ssh.keys_file');
  }
  if (keysFile !== null && log.audit === null) {
    const why = "SSH needs log.audit set to a file: a session's stdout is the git protocol";
    p.add(s.get('keys_file')?.line ?? 1, 'ssh.keys_file', why);
  }
  if (keysFile !== null && !SAFE_COMMAND_PATH.test(dir)) {
    const why = `the config's own folder "${dir}" must use only A-Z a-z 0-9 / . _ + - for SSH`;
    p.add(s.get('keys_file')?.line ?? 1, 'ssh.keys_file', why);
  }
  const socket = pathAt('socket') ?? DEFAULT_SSH_SOCKET;
  return { keysFile, authorizedKeys, socket };
}

/** Where `gitward serve` listens for SSH sessions unless `ssh.socket` says otherwise (deploy/ssh/). */
export const DEFAULT_SSH_SOCKET = '/run/gitward-ssh/gitward.sock';

/** A path that can stand in a forced command unquoted: sshd hands that command to a shell. */
const SAFE_COMMAND_PATH = /^\/[A-Za-z0-9._+/-]*$/;

/** A plugin named by a relative module path (`./x.js`) is resolved against the config folder. */
function resolvePluginRef(ref: string, dir: string): string {
  return ref.startsWith('./') || ref.startsWith('../') ? path.resolve(dir, ref) : ref;
}

function parseAuthentication(p: Problems, entry: YamlEntry | undefined, dir: string): PluginSpec[] {
  if (!entry || isNull(entry.value)) return [];
  const n = entry.value;
  if (n.kind !== 'seq') {
    p.add(entry.line, 'authentication', `expected a list of {plugin: …} entries, got ${describe(n)}`);
    return [];
  }
  const out: PluginSpec[] = [];
  n.items.forEach((item, i) => {
    const ip = `authentication[${i}]`;
    const keys = mapKeys(p, item, ip, null);
    if (!keys) return;
    const pe = keys.get('plugin');
    if (!pe) {
      p.add(item.line, ip, 'missing "plugin" (htpasswd, remote-user, or a module path or package name)');
      return;
    }
    const plugin = stringAt(p, pe, `${ip}.plugin`, '');
    if (plugin === '') {
      if (pe.value.kind === 'scalar' && pe.value.value === '') p.add(pe.line, `${ip}.plugin`, 'must not be empty');
      return;
    }
    const options: Record<string, unknown> = {};
    // Own data properties only: a `__proto__` key must not change the prototype.
    for (const [k, e] of keys)
      if (k !== 'plugin')
        Object.defineProperty(options, k, {
          value: plainValue(e.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    out.push({ plugin: resolvePluginRef(plugin, dir), options, where: p.where(item.line) });
  });
  return out;
}

/** The plain JS value of a node (for plugin options, passed through as written). */
function plainValue(n: YamlNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(plainValue);
  const o: Record<string, unknown> = {};
  for (const e of n.entries) {
    const key = String(e.key);
    // Own data properties only: a `__proto__` key must not change the prototype.
    Object.defineProperty(o, key, { value: plainValue(e.value), enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** User names of the htpasswd files named by `htpasswd` entries: text before the first `:`. */
function readHtpasswdUsers(
  p: Problems,
  auth: readonly PluginSpec[],
  dir: string,
  readFile: (f: string) => string,
): Set<string> {
  const names = new Set<string>();
  auth.forEach((spec, i) => {
    if (spec.plugin !== 'htpasswd') return;
    const line = Number(spec.where.slice(spec.where.lastIndexOf(':') + 1));
    const f = spec.options.file;
    if (typeof f !== 'string' || f === '') {
      p.add(line, `authentication[${i}].file`, 'the htpasswd plugin needs "file: PATH"');
      return;
    }
    const abs = path.resolve(dir, f);
    let text: string;
    try {
      text = readFile(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      // No file yet is no users yet: `gitward user add` creates it (`gitward check` warns).
      if (code === 'ENOENT') return;
      p.add(line, `authentication[${i}].file`, `cannot read htpasswd file ${abs} (${code})`);
      return;
    }
    for (const raw of text.split(/\r?\n/)) {
      const l = raw.trim();
      if (l === '' || l.startsWith('#')) continue;
      const c = l.indexOf(':');
      if (c > 0) names.add(l.slice(0, c));
    }
  });
  return names;
}

function parseUsers(
  p: Problems,
  entry: YamlEntry | undefined,
): { map: Map<string, UserEntry>; lines: Map<string, number> } {
  const map = new Map<string, UserEntry>();
  const lines = new Map<string, number>();
  if (!entry || isNull(entry.value)) return { map, lines };
  const keys = mapKeys(p, entry.value, 'users', null);
  if (!keys) return { map, lines };
  for (const [name, e] of keys) {
    const up = `users.${name}`;
    const bad = userNameProblem(name);
    if (bad) p.add(e.line, up, bad);
    let groups: string[] = [];
    const info: Record<string, unknown> = {};
    if (!isNull(e.value)) {
      const u = mapKeys(p, e.value, up, new Set(['groups', 'info']));
      if (u) {
        const gl = stringListAt(p, u.get('groups'), `${up}.groups`) ?? [];
        for (const g of gl) {
          const gname = g.value;
          const prob = gname.startsWith('@')
            ? `write group names without "@" here: "${gname.slice(1)}"`
            : groupNameProblem(gname);
          if (prob) p.add(g.line, g.path, prob);
        }
        groups = [...new Set(gl.map((g) => g.value))];
        const ie = u.get('info');
        if (ie && !isNull(ie.value)) {
          if (ie.value.kind !== 'map')
            p.add(
              ie.line,
              `${up}.info`,
              `expected a mapping (e.g. {name: Ann, email: ann@example.org}), got ${describe(ie.value)}`,
            );
          else {
            const im = mapKeys(p, ie.value, `${up}.info`, null);
            if (im) {
              for (const [k, ve] of im) {
                if (ve.value.kind !== 'scalar')
                  p.add(ve.line, `${up}.info.${k}`, `expected a string, got ${describe(ve.value)}`);
                // Own data property: a `__proto__` key must not change the prototype.
                else
                  Object.defineProperty(info, k, {
                    value: ve.value.value === null ? null : String(ve.value.value),
                    enumerable: true,
                    writable: true,
                    configurable: true,
                  });
              }
            }
          }
        }
      }
    }
    map.set(name, { groups, info });
    lines.set(name, e.line);
  }
  return { map, lines };
}

interface GroupsParse {
  map: Map<string, string[]>;
  lines: Map<string, number>;
  members: Map<string, { value: string; line: number; path: string }[]>;
}

function parseGroups(p: Problems, entry: YamlEntry | undefined): GroupsParse {
  const out: GroupsParse = { map: new Map(), lines: new Map(), members: new Map() };
  if (!entry || isNull(entry.value)) return out;
  const keys = mapKeys(p, entry.value, 'groups', null);
  if (!keys) return out;
  for (const [name, e] of keys) {
    const gp = `groups.${name}`;
    const bad = groupNameProblem(name);
    if (bad) p.add(e.line, gp, bad);
    const list = isNull(e.value) ? [] : (stringListAt(p, e, gp) ?? []);
    out.map.set(name, [...new Set(list.map((m) => m.value))]);
    out.lines.set(name, e.line);
    out.members.set(name, list);
  }
  return out;
}

function checkGroupCycles(p: Problems, groups: GroupsParse): void {
  const state = new Map<string, 'active' | 'done'>();
  const reported = new Set<string>();
  const visit = (g: string, trail: string[]): void => {
    const s = state.get(g);
    if (s === 'done') return;
    if (s === 'active') {
      const cycle = [...trail.slice(trail.indexOf(g)), g];
      const key = [...cycle].slice(0, -1).sort().join(',');
      if (!reported.has(key)) {
        reported.add(key);
        p.add(groups.lines.get(g) ?? 1, `groups.${g}`, `group cycle: ${cycle.map((x) => `@${x}`).join(' → ')}`);
      }
      return;
    }
    state.set(g, 'active');
    for (const m of groups.map.get(g) ?? [])
      if (m.startsWith('@') && groups.map.has(m.slice(1))) visit(m.slice(1), [...trail, g]);
    state.set(g, 'done');
  };
  for (const g of groups.map.keys()) visit(g, []);
}

/** Reports a principal that is malformed or names an unknown user or group (app/principals.ts owns the grammar). */
function checkPrincipal(
  p: Problems,
  principal: string,
  line: number,
  keyPath: string,
  known: KnownNames,
  place: PrincipalPlace,
): void {
  const r = parsePrincipal(principal, place, { ...known, hint: suggest });
  if (!r.ok) p.add(line, keyPath, r.problem);
}

function parseHooks(
  p: Problems,
  entry: YamlEntry | undefined,
  dir: string,
): {
  order: string[];
  orderLines: { name: string; line: number; path: string }[];
  plugins: Map<string, string>;
  localUser: string | null;
  logFile: string | null;
} {
  const s = sectionKeys(p, entry, 'hooks', ['order', 'plugins', 'local_user', 'log_file']);
  const orderList = stringListAt(p, s.get('order'), 'hooks.order');
  const plugins = new Map<string, string>();
  const pe = s.get('plugins');
  if (pe && !isNull(pe.value)) {
    const keys = mapKeys(p, pe.value, 'hooks.plugins', null);
    for (const [name, e] of keys ?? []) {
      const bad = segmentProblem(name);
      if (bad) p.add(e.line, `hooks.plugins.${name}`, bad);
      if (BUILTIN_HOOK_PLUGIN_NAMES.includes(name))
        p.add(e.line, `hooks.plugins.${name}`, `"${name}" is a built-in hook plugin`);
      const ref = stringAt(p, e, `hooks.plugins.${name}`, '');
      if (ref !== '') plugins.set(name, resolvePluginRef(ref, dir));
    }
  }
  let localUser: string | null = DEFAULTS.localUser;
  const lu = s.get('local_user');
  if (lu) {
    if (isNull(lu.value)) localUser = null;
    else {
      localUser = stringAt(p, lu, 'hooks.local_user', DEFAULTS.localUser);
      if (localUser === '' || /[:\s\p{Cc}]/u.test(localUser))
        p.add(lu.line, 'hooks.local_user', `bad user name "${localUser}"`);
    }
  }
  let logFile: string | null = null;
  const lf = s.get('log_file');
  if (lf && !isNull(lf.value)) {
    const v = stringAt(p, lf, 'hooks.log_file', '');
    if (v !== '') logFile = path.resolve(dir, v);
    else if (lf.value.kind === 'scalar' && lf.value.value === '')
      p.add(lf.line, 'hooks.log_file', 'must be a file path, or null for none');
  }
  const order = orderList ? orderList.map((o) => o.value) : [...DEFAULTS.hookOrder];
  if (orderList) {
    const seen = new Set<string>();
    for (const o of orderList) {
      if (seen.has(o.value)) p.add(o.line, o.path, `"${o.value}" is listed twice`);
      seen.add(o.value);
    }
  }
  const orderLines = orderList ? orderList.map((o) => ({ name: o.value, line: o.line, path: o.path })) : [];
  // Third-party plugins not named in `order` run after the listed ones, in the order declared.
  for (const name of plugins.keys()) if (!order.includes(name)) order.push(name);
  return { order, orderLines, plugins, localUser, logFile };
}

interface TreeContext {
  readonly known: KnownNames;
  readonly hookNames: ReadonlySet<string>;
}

function parseRepoTree(p: Problems, entry: YamlEntry | undefined, ctx: TreeContext): RepoNode {
  if (!entry || isNull(entry.value)) {
    const where = p.where(entry?.line ?? 1);
    const empty = { ...noGrants(), inherit: true, hooks: new Map(), children: new Map() };
    return { path: '', kind: 'root', where, node: 'repos', ...empty };
  }
  return parseNode(p, entry.value, entry.line, 'repos', '', 'root', ctx);
}

function parseNode(
  p: Problems,
  n: YamlNode,
  line: number,
  keyPath: string,
  repoPath: string,
  kind: RepoNode['kind'],
  ctx: TreeContext,
): RepoNode {
  const base = { path: repoPath, kind, where: p.where(line), node: keyPath };
  if (isNull(n)) return { ...base, ...noGrants(), inherit: true, hooks: new Map(), children: new Map() };
  const keys = mapKeys(p, n, keyPath, null);
  if (!keys) return { ...base, ...noGrants(), inherit: true, hooks: new Map(), children: new Map() };
  const grants = noGrants();
  let inherit = true;
  const hooks = new Map<string, HookPluginSetting>();
  const children = new Map<string, RepoNode>();
  for (const [key, e] of keys) {
    const kp = `${keyPath}.${key.startsWith('.') ? key.slice(1) : key}`;
    if (key.startsWith('.')) {
      if (!NODE_SETTINGS.has(key)) {
        if (/^\.[a-z_]+$/.test(key))
          p.add(
            e.line,
            kp,
            `unknown setting "${key}"${suggest(key, NODE_SETTINGS)} (settings: ${[...NODE_SETTINGS].join(', ')})`,
          );
        else
          p.add(
            e.line,
            kp,
            `bad name "${key}": names start with a letter or digit (keys starting with "." are settings)`,
          );
        continue;
      }
      const grantKind = GRANT_KEYS[key];
      if (grantKind !== undefined) {
        // A new repo is made below a project group; on a repo node `.create` could never apply.
        if (grantKind === 'create' && kind === 'repo') {
          p.add(e.line, kp, 'a repo cannot carry ".create": put it on the project group the new repos go under');
          continue;
        }
        const list = stringListAt(p, e, kp) ?? [];
        for (const g of list) {
          checkPrincipal(p, g.value, g.line, g.path, ctx.known, 'grant');
          // Anonymous callers can neither create nor administer: nothing would be accountable.
          if ((grantKind === 'admin' || grantKind === 'create') && (g.value === '$anonymous' || g.value === '$all')) {
            p.add(g.line, g.path, `"${g.value}" cannot be granted ${grantKind}: use $authenticated, a group or users`);
            continue;
          }
          grants[grantKind].push({ principal: g.value, where: p.where(g.line) });
        }
      } else if (key === '.inherit') {
        inherit = boolAt(p, e, kp, true);
      } else {
        parseNodeHooks(p, e, kp, ctx, hooks);
      }
      continue;
    }
    if (kind === 'repo') {
      p.add(e.line, kp, `a repo (a key ending in .git) cannot contain "${key}"; settings start with "."`);
      continue;
    }
    const isRepo = key.endsWith(GIT_SUFFIX);
    const name = isRepo ? key.slice(0, -GIT_SUFFIX.length) : key;
    const bad = segmentProblem(name);
    if (bad) {
      p.add(e.line, kp, bad);
      continue;
    }
    const childPath = repoPath === '' ? name : `${repoPath}/${name}`;
    if (Buffer.byteLength(childPath, 'utf8') > MAX_REPO_PATH_BYTES) {
      p.add(e.line, kp, `path longer than ${MAX_REPO_PATH_BYTES} bytes`);
      continue;
    }
    // A repo and a group may share a name (`site.git` and `site/`): they live in different maps.
    children.set(key, parseNode(p, e.value, e.line, kp, childPath, isRepo ? 'repo' : 'group', ctx));
  }
  return { ...base, ...grants, inherit, hooks, children };
}

/** Empty grant lists of a node. */
function noGrants(): { read: Grant[]; write: Grant[]; admin: Grant[]; create: Grant[] } {
  return { read: [], write: [], admin: [], create: [] };
}

function parseNodeHooks(
  p: Problems,
  e: YamlEntry,
  kp: string,
  ctx: TreeContext,
  out: Map<string, HookPluginSetting>,
): void {
  if (isNull(e.value)) return;
  const keys = mapKeys(p, e.value, kp, null);
  for (const [name, pe] of keys ?? []) {
    const pp = `${kp}.${name}`;
    if (!ctx.hookNames.has(name)) {
      p.add(pe.line, pp, `unknown hook plugin "${name}"${suggest(name, ctx.hookNames)}`);
      continue;
    }
    let options: Record<string, unknown> = {};
    if (!isNull(pe.value)) {
      if (pe.value.kind !== 'map') {
        p.add(pe.line, pp, `expected a mapping of the plugin's options, got ${describe(pe.value)}`);
        continue;
      }
      const om = mapKeys(p, pe.value, pp, null);
      if (!om) continue;
      const en = om.get('enable');
      if (en) boolAt(p, en, `${pp}.enable`, true);
      options = plainValue(pe.value) as Record<string, unknown>;
    }
    out.set(name, { options, where: p.where(pe.line) });
  }
}

function parseWeb(p: Problems, entry: YamlEntry | undefined, dir: string): WebSettings {
  const keys = ['enabled', 'site_title', 'filters', 'clone_urls', 'cache_size', 'cache_dir', 'cgit_path'];
  const w = sectionKeys(p, entry, 'web', keys);
  const siteTitle = stringAt(p, w.get('site_title'), 'web.site_title', DEFAULTS.webSiteTitle);
  // cgit's config is line-based: a newline in a value would start a key of the writer's choosing.
  if (/\p{Cc}/u.test(siteTitle)) {
    p.add(w.get('site_title')?.line ?? 1, 'web.site_title', 'must not contain control characters');
  }
  const filterList = stringListAt(p, w.get('filters'), 'web.filters');
  const filters: WebFilter[] = [];
  for (const f of filterList ?? DEFAULTS.webFilters.map((value) => ({ value, line: 1, path: 'web.filters' }))) {
    if (!WEB_FILTERS.has(f.value)) {
      p.add(f.line, f.path, `unknown filter "${f.value}" (known: ${[...WEB_FILTERS].join(', ')})`);
    } else if (!filters.includes(f.value as WebFilter)) filters.push(f.value as WebFilter);
  }
  const cloneUrls: string[] = [];
  for (const u of stringListAt(p, w.get('clone_urls'), 'web.clone_urls') ?? []) {
    if (!/^(?:https?:\/\/)[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[A-Za-z0-9._~/-]*)?$/.test(u.value)) {
      p.add(u.line, u.path, `expected an http(s) URL prefix such as "https://git.example.org/", got "${u.value}"`);
    } else cloneUrls.push(u.value.endsWith('/') ? u.value : `${u.value}/`);
  }
  const cacheDirValue = stringAt(p, w.get('cache_dir'), 'web.cache_dir', '');
  const cgitPath = stringAt(p, w.get('cgit_path'), 'web.cgit_path', DEFAULTS.webCgitPath);
  if (!path.isAbsolute(cgitPath)) {
    p.add(w.get('cgit_path')?.line ?? 1, 'web.cgit_path', `must be an absolute path: "${cgitPath}"`);
  }
  return {
    enabled: boolAt(p, w.get('enabled'), 'web.enabled', false),
    siteTitle,
    filters,
    cloneUrls,
    cacheSize: intAt(p, w.get('cache_size'), 'web.cache_size', DEFAULTS.webCacheSize, 0),
    cacheDir: cacheDirValue === '' ? null : path.resolve(dir, cacheDirValue),
    cgitPath,
  };
}

function parseTests(p: Problems, entry: YamlEntry | undefined, knownUsers: ReadonlySet<string>): PolicyTest[] {
  if (!entry || isNull(entry.value)) return [];
  const n = entry.value;
  if (n.kind !== 'seq') {
    p.add(entry.line, 'tests', `expected a list of {user, repo, can|cannot} entries, got ${describe(n)}`);
    return [];
  }
  const out: PolicyTest[] = [];
  n.items.forEach((item, i) => {
    const tp = `tests[${i}]`;
    const keys = mapKeys(p, item, tp, new Set(['user', 'repo', 'can', 'cannot']));
    if (!keys) return;
    const ue = keys.get('user');
    const re = keys.get('repo');
    if (!ue) p.add(item.line, tp, 'missing "user" (a user name or $anonymous)');
    if (!re) p.add(item.line, tp, 'missing "repo"');
    const user = stringAt(p, ue, `${tp}.user`, '');
    const repoRaw = stringAt(p, re, `${tp}.repo`, '');
    // An empty name would make a test that checks nothing: every field is a problem when empty.
    if (ue && user === '') p.add(ue.line, `${tp}.user`, 'empty: give a user name or $anonymous');
    if (ue && user !== '' && user !== '$anonymous' && !knownUsers.has(user))
      p.add(ue.line, `${tp}.user`, `unknown user "${user}" (not in users: or any htpasswd file)`);
    if (re && repoRaw === '') p.add(re.line, `${tp}.repo`, 'empty: give a repo name');
    let repo = repoRaw;
    if (re && repoRaw !== '') {
      const r = parseRepoPath(repoRaw);
      if (!r.ok) p.add(re.line, `${tp}.repo`, r.problem);
      else repo = r.repo;
    }
    const can = keys.get('can');
    const cannot = keys.get('cannot');
    if ((can ? 1 : 0) + (cannot ? 1 : 0) !== 1) {
      p.add(item.line, tp, 'needs exactly one of "can: read|write|admin" or "cannot: read|write|admin"');
      return;
    }
    const le = (can ?? cannot) as YamlEntry;
    const lk = can ? 'can' : 'cannot';
    const level = stringAt(p, le, `${tp}.${lk}`, '');
    if (level !== 'read' && level !== 'write' && level !== 'admin') {
      p.add(le.line, `${tp}.${lk}`, `expected read, write or admin, got "${level}"`);
      return;
    }
    const t: PolicyTest = can
      ? { user, repo, can: level as AccessLevel, where: p.where(item.line) }
      : { user, repo, cannot: level as AccessLevel, where: p.where(item.line) };
    out.push(t);
  });
  return out;
}
