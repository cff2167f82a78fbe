/**
 * The whole stack for end-to-end tests: Debian's nginx on 127.0.0.1 over TLS with a shipped site
 * file from deploy/nginx (only paths and ports replaced), gitward as a real `gitward serve` child
 * on a unix socket (on 127.0.0.1 in proxy-tcp mode), and fcgiwrap + git-http-backend in sidecar
 * mode.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { dispatcherPath, installHooks } from '../../app/cli/repo-admin.js';
import { startFcgiwrap } from '../helpers/fcgiwrap.js';
import { git, type GitResult } from '../helpers/git.js';
import {
  installSnippets,
  makeCert,
  readShippedSite,
  renderSite,
  startNginx,
  type NginxInstance,
} from '../helpers/nginx.js';
import { spawnGitward, type SpawnedGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

/**
 * Which shipped site file the stack runs: proxy and proxy-tcp both run gitward-proxy.conf, with
 * the unix socket upstream and with its commented 127.0.0.1 variant.
 */
export type StackMode = 'proxy' | 'proxy-tcp' | 'sidecar' | 'proxy-auth-basic';

/** Where nginx reaches gitward. */
export type Upstream = { readonly socket: string } | { readonly port: number };

/** A hung git in a test must fail that test, not the suite. */
const GIT_TIMEOUT_MS = SAFETY_NET_MS;

/** Something that runs cleanups when the test (or file) ends. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** A running stack. */
export interface Stack {
  readonly mode: StackMode;
  readonly nginx: NginxInstance;
  readonly gitward: SpawnedGitward;
  /** Where gitward listens (nginx's upstream). */
  readonly upstream: Upstream;
  /** Folder for the test's own work trees. */
  readonly work: string;
  /** `https://127.0.0.1:PORT/<repo>.git`, with credentials in the URL when given. */
  url(repo: string, credentials?: { user: string; password: string }): string;
  /** The isolated git environment, trusting the test certificate through GIT_SSL_CAINFO. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Runs git (stdin closed); never throws on a non-zero exit. */
  git(args: readonly string[], opts?: { cwd?: string; env?: Record<string, string> }): Promise<GitResult>;
  /** nginx's access log lines: `METHOD URI STATUS te=TRANSFER-ENCODING`. */
  accessLog(): string[];
  /** nginx's client_body_temp_path (where a buffered request body would go). */
  readonly clientBodyTemp: string;
  /** One GET straight to gitward, past nginx, as a trusted peer: status and headers. */
  direct(
    urlPath: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders }>;
}

/** htpasswd users of every e2e stack: name → password. */
export const E2E_USERS: Readonly<Record<string, string>> = Object.freeze({
  ann: 'ann-pw',
  ben: 'ben-pw',
  admin: 'admin-pw',
});

/**
 * The config of every e2e stack. `admin` may write everything, so a forged `X-Remote-User: admin`
 * that got through would be noticed; the remote-user plugin trusts the peer nginx connects from:
 * the unix socket, or 127.0.0.1 with the TCP upstream (what an admin of the 127.0.0.1 variant of
 * gitward-proxy.conf configures).
 */
export function e2eConfig(upstream: Upstream): Record<string, unknown> {
  const tcp = 'port' in upstream;
  return {
    listen: tcp ? `127.0.0.1:${upstream.port}` : `unix:${upstream.socket}`,
    authentication: [
      { plugin: 'remote-user', header: 'X-Remote-User', trusted_proxies: tcp ? ['127.0.0.1/32'] : ['unix'] },
      { plugin: 'htpasswd', file: 'users.htpasswd' },
    ],
    sidecar: { enabled: true, path: '/_gitward/auth' },
    users: {
      ann: { groups: ['eng'], info: { name: 'Ann Example', email: 'ann@example.org' } },
      ben: { groups: ['qa'] },
      admin: { groups: ['ops'] },
    },
    repos: {
      '.write': ['admin'],
      'open.git': { '.read': ['$all'], '.write': ['@eng'] },
      'private.git': { '.read': ['ann', 'ben'], '.write': ['ann'] },
      'big.git': { '.read': ['ann'], '.write': ['ann'] },
      'hooked.git': {
        '.read': ['ann'],
        '.write': ['ann'],
        '.hooks': { 'branch-protect': { branches: { main: { push: ['admin'] } } } },
      },
      'envdump.git': { '.read': ['ann'], '.write': ['ann'] },
    },
    hooks: { order: ['branch-protect', 'branch-flow'] },
  };
}

/**
 * Repos every e2e stack creates; `hooked` gets the dispatcher installed, `envdump` the test hook
 * ENV_DUMP_HOOK.
 */
export const E2E_REPOS = ['open', 'private', 'big', 'hooked', 'envdump'] as const;

/** The variables ENV_DUMP_HOOK prints, in order. */
export const ENV_DUMP_VARS = ['REMOTE_USER', 'GITWARD_USER', 'GITWARD_GROUPS', 'GITWARD_INFO'] as const;

/**
 * A pre-receive hook that only shows what the push arrived with, one `env NAME=VALUE` line per
 * variable of ENV_DUMP_VARS on stderr (git shows them as `remote:` lines), `<unset>` for a missing
 * one; it accepts every push. It is not the dispatcher, so nothing recomputes a missing value.
 */
export const ENV_DUMP_HOOK = `#!/bin/sh
cat >/dev/null
${ENV_DUMP_VARS.map((v) => `printf 'env ${v}=%s\\n' "\${${v}-<unset>}" >&2`).join('\n')}
exit 0
`;

/**
 * Starts gitward, (fcgiwrap,) and nginx with the shipped site file of `mode`. `hookedRepos`
 * (name without `.git` → its node of `repos:`) are added to the config and created with the
 * dispatcher installed, for a test file's own cases; `extraConfig` adds top-level config keys.
 */
export async function startStack(
  t: Cleanup,
  mode: StackMode,
  paths: { nginx: string; fcgiwrap: string | null },
  hookedRepos: Readonly<Record<string, Record<string, unknown>>> = {},
  extraConfig: Record<string, unknown> = {},
): Promise<Stack> {
  const dir = tempDir(t, `gitward-e2e-${mode}-`);
  // proxy-tcp: port 0 in the config, the port gitward's `server.listening` line names read back.
  const listen: Upstream = mode === 'proxy-tcp' ? { port: 0 } : { socket: path.join(dir, 'gitward.sock') };
  const socket = 'socket' in listen ? listen.socket : undefined;
  const config = { ...e2eConfig(listen), ...extraConfig };
  const extra = Object.keys(hookedRepos);
  Object.assign(
    config.repos as Record<string, unknown>,
    Object.fromEntries(extra.map((n) => [`${n}.git`, hookedRepos[n]])),
  );
  const gitward = await spawnGitward(t, { users: { ...E2E_USERS }, repos: [...E2E_REPOS, ...extra], config });
  const upstream: Upstream = socket !== undefined ? { socket } : { port: gitward.port };
  const repoAdminNow = Date.now();
  for (const name of ['hooked', ...extra])
    installHooks(path.join(gitward.repoRoot, `${name}.git`), dispatcherPath(), { force: false, now: repoAdminNow });
  fs.writeFileSync(path.join(gitward.repoRoot, 'envdump.git', 'hooks', 'pre-receive'), ENV_DUMP_HOOK, { mode: 0o755 });
  // Pushes through fcgiwrap run git-http-backend without gitward; REMOTE_USER is what enables
  // receive-pack there, so nothing else is needed in the repos.

  const nginxDir = path.join(dir, 'nginx');
  fs.mkdirSync(nginxDir);
  const cert = await makeCert(nginxDir);
  installSnippets(nginxDir);
  let site: (port: number) => string;
  if (mode === 'proxy') {
    site = (port) =>
      renderSite(readShippedSite('gitward-proxy.conf'), { port, cert, snippetsDir: nginxDir, gitwardSocket: socket });
  } else if (mode === 'proxy-tcp') {
    // The shipped file's commented `server 127.0.0.1:8080;` instead of the socket line.
    site = (port) =>
      renderSite(readShippedSite('gitward-proxy.conf'), {
        port,
        cert,
        snippetsDir: nginxDir,
        gitwardPort: (upstream as { port: number }).port,
      });
  } else if (mode === 'proxy-auth-basic') {
    // nginx checks the passwords of gitward's own htpasswd file and hands the user over.
    const htpasswd = path.join(path.dirname(gitward.configFile), 'users.htpasswd');
    site = (port) =>
      renderSite(readShippedSite('gitward-proxy-auth-basic.conf'), {
        port,
        cert,
        snippetsDir: nginxDir,
        gitwardSocket: socket,
        htpasswd,
      });
  } else {
    const fcgi = await startFcgiwrap({
      socket: path.join(dir, 'fcgiwrap.sock'),
      children: 2,
      ...(paths.fcgiwrap !== null ? { fcgiwrapPath: paths.fcgiwrap } : {}),
    });
    t.after(() => fcgi.stop());
    site = (port) =>
      renderSite(readShippedSite('gitward-sidecar.conf'), {
        port,
        cert,
        snippetsDir: nginxDir,
        gitwardSocket: socket,
        fcgiwrapSocket: fcgi.socket,
        repoRoot: gitward.repoRoot,
        gitwardConfig: gitward.configFile,
      });
  }
  const nginx = await startNginx({ dir: nginxDir, site, nginxPath: paths.nginx });
  t.after(() => nginx.stop());

  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...gitward.gitEnv,
    GIT_SSL_CAINFO: cert.cert,
    ...extra,
  });
  return {
    mode,
    nginx,
    gitward,
    upstream,
    work,
    url(repo, credentials) {
      const u = new URL(`${nginx.url}/${repo}.git`);
      if (credentials) {
        u.username = encodeURIComponent(credentials.user);
        u.password = encodeURIComponent(credentials.password);
      }
      return u.toString();
    },
    env,
    git: (args, opts = {}) => runGit(args, opts.cwd ?? work, opts.env ?? env()),
    accessLog: () => {
      try {
        return fs
          .readFileSync(path.join(nginxDir, 'access.log'), 'utf8')
          .split('\n')
          .filter((l) => l !== '');
      } catch {
        return [];
      }
    },
    clientBodyTemp: path.join(nginxDir, 'temp', 'client_body'),
    direct: (urlPath, headers = {}) => directGet(upstream, urlPath, headers),
  };
}

/** One GET to gitward on `upstream`, bypassing nginx; the body is discarded. */
function directGet(
  upstream: Upstream,
  urlPath: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const target = 'socket' in upstream ? { socketPath: upstream.socket } : { host: '127.0.0.1', port: upstream.port };
    const req = http.get({ ...target, path: urlPath, headers: { Host: 'localhost', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
  });
}

/** Runs git with stdin closed; never throws on a non-zero exit. */
export function runGit(args: readonly string[], cwd: string, env: Record<string, string>): Promise<GitResult> {
  return git(args, { cwd, env, timeoutMs: GIT_TIMEOUT_MS });
}
