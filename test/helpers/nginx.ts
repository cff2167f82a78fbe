import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { listenLoopback } from './ports.js';
import { SAFETY_NET_MS } from './procs.js';

/** The shipped nginx files, as an admin copies them (tests use them as shipped). */
export const DEPLOY_NGINX_DIR = path.resolve(__dirname, '..', '..', '..', 'deploy', 'nginx');

/** Safety net on nginx and fcgiwrap coming up: they start in milliseconds; never means broken. */
const START_TIMEOUT_MS = SAFETY_NET_MS;
/** How long a stopped process gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;

/** Where Debian installs daemons; a non-root PATH often lacks them. */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/**
 * Whether `env` says this is a CI run: `CI=true` (GitHub, GitLab, .ci/run) or `CI=1` (some other
 * runners), case-insensitive. Anything else, or no CI at all, is a local run. Pure.
 */
export function isCI(env: Readonly<Record<string, string | undefined>>): boolean {
  const v = (env.CI ?? '').trim().toLowerCase();
  return v === 'true' || v === '1';
}

/**
 * Finds `name` in PATH or the sbin folders. When it is missing: in CI (see isCI) throws, so the
 * test fails; locally calls `t.skip` and returns null (the only allowed reason to skip).
 */
export function requireBinary(
  t: { skip(message?: string): void },
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | null {
  const dirs = [...(env.PATH ?? '').split(':').filter((d) => d !== ''), ...SBIN_DIRS];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  if (isCI(env)) throw new Error(`${name} is not installed: CI must run the nginx tests (.ci/run installs it)`);
  t.skip(`${name} is not installed`);
  return null;
}

/**
 * How nginx takes over listening sockets (its binary-upgrade handover, `NGINX=3;4;`): the value for
 * sockets placed at child fds 3, 4, …, in `spawn`'s stdio order. nginx then uses the inherited
 * socket for each `listen` of the same address instead of binding one.
 */
export function nginxInheritEnv(count: number): string {
  return Array.from({ length: count }, (_, i) => `${3 + i};`).join('');
}

/** A certificate and key for 127.0.0.1 and localhost; git trusts it through GIT_SSL_CAINFO. */
export interface TestCert {
  readonly cert: string;
  readonly key: string;
}

/** Makes a self-signed EC certificate for 127.0.0.1/localhost in `dir` with openssl. */
export function makeCert(dir: string): Promise<TestCert> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    key,
    '-out',
    cert,
  ];
  return new Promise((resolve, reject) => {
    execFile('openssl', args, (err, _stdout, stderr) => {
      if (err) reject(new Error(`openssl failed: ${stderr}`));
      else resolve({ cert, key });
    });
  });
}

/** Values that replace the placeholders of the shipped site files. */
export interface SiteValues {
  readonly port: number;
  readonly cert: TestCert;
  /** Folder holding gitward-common.conf (the harness copies it there). */
  readonly snippetsDir: string;
  /** gitward's unix socket. */
  readonly gitwardSocket?: string;
  /** gitward's TCP port, when the site uses the commented 127.0.0.1 upstream instead. */
  readonly gitwardPort?: number;
  readonly repoRoot?: string;
  readonly fcgiwrapSocket?: string;
  readonly gitwardConfig?: string;
  readonly htpasswd?: string;
}

/**
 * Turns a shipped site file into one this test can run: replaces only paths and ports, textually.
 * Every placeholder a value is given for must occur in the file (so a test notices when the
 * shipped file changes under it). Pure.
 */
export function renderSite(text: string, v: SiteValues): string {
  const subs: Array<[string, string]> = [
    ['listen 443 ssl;', `listen 127.0.0.1:${v.port} ssl;`],
    ['/etc/ssl/certs/git.example.org.pem', v.cert.cert],
    ['/etc/ssl/private/git.example.org.key', v.cert.key],
    ['/etc/nginx/snippets/', v.snippetsDir.endsWith('/') ? v.snippetsDir : `${v.snippetsDir}/`],
  ];
  if (v.gitwardSocket !== undefined) subs.push(['unix:/run/gitward/gitward.sock', `unix:${v.gitwardSocket}`]);
  if (v.gitwardPort !== undefined) {
    subs.push(['server unix:/run/gitward/gitward.sock;', '# (unix socket variant replaced by the test)']);
    subs.push(['# server 127.0.0.1:8080;', `server 127.0.0.1:${v.gitwardPort};`]);
  }
  if (v.repoRoot !== undefined) subs.push(['/srv/git', v.repoRoot]);
  if (v.fcgiwrapSocket !== undefined) subs.push(['unix:/run/fcgiwrap.socket', `unix:${v.fcgiwrapSocket}`]);
  if (v.gitwardConfig !== undefined) subs.push(['/etc/gitward/gitward.yaml', v.gitwardConfig]);
  if (v.htpasswd !== undefined) subs.push(['/etc/gitward/users.htpasswd', v.htpasswd]);
  let out = text;
  for (const [from, to] of subs) {
    if (!out.includes(from)) throw new Error(`placeholder ${JSON.stringify(from)} not found in the site file`);
    out = out.split(from).join(to);
  }
  return out;
}

/**
 * Turns the shipped port-80 file (gitward-http.conf) into one this test can run: its `listen 80;`
 * on 127.0.0.1:PORT and the ACME webroot in a temp dir. Every placeholder must occur. Pure.
 */
export function renderHttpSite(text: string, v: { readonly port: number; readonly webroot: string }): string {
  let out = text;
  for (const [from, to] of [
    ['listen 80;', `listen 127.0.0.1:${v.port};`],
    ['root /var/www/letsencrypt;', `root ${v.webroot};`],
  ] as const) {
    if (!out.includes(from)) throw new Error(`placeholder ${JSON.stringify(from)} not found in the site file`);
    out = out.split(from).join(to);
  }
  return out;
}

/** Options of `startNginx`. */
export interface NginxOptions {
  /** Temp dir for the config, logs, pid and temp files (the caller removes it). */
  readonly dir: string;
  /**
   * Site file contents for the port the harness bound (port 0, read back: see listenLoopback),
   * included inside `http { }`; it must `listen 127.0.0.1:PORT`.
   */
  readonly site: (port: number) => string;
  /** Worker processes; 1 for tests, `auto` for benches. */
  readonly workers?: number | 'auto';
  readonly nginxPath?: string;
}

/** A running nginx. */
export interface NginxInstance {
  readonly port: number;
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  /** The error log so far (for failure messages). */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's nginx in the foreground (`nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`)
 * with pid, logs and temp paths under `dir`, `user root;` when running as root, and the site
 * included in `http { }`. The listening socket is bound here on a kernel-chosen port and handed to
 * nginx (see listenLoopback). Resolves when nginx logs that its workers started; rejects with the
 * error log when nginx exits first.
 */
export async function startNginx(opts: NginxOptions): Promise<NginxInstance> {
  const dir = opts.dir;
  const errorLog = path.join(dir, 'error.log');
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    fs.mkdirSync(path.join(dir, 'temp', sub), { recursive: true });
  const listener = await listenLoopback();
  const port = listener.port;
  fs.writeFileSync(path.join(dir, 'site.conf'), opts.site(port));
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const conf = [
    // As root, nginx's workers would switch to "nobody", who cannot enter the private temp dir.
    isRoot ? 'user root;' : '',
    `worker_processes ${String(opts.workers ?? 1)};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${errorLog} info;`,
    'events { worker_connections 1024; }',
    'http {',
    // One line per request with what the tests check: status, and whether a push was chunked.
    "  log_format gitward_test '$request_method $request_uri $status te=$http_transfer_encoding';",
    `  access_log ${path.join(dir, 'access.log')} gitward_test;`,
    `  client_body_temp_path ${path.join(dir, 'temp', 'client_body')};`,
    `  proxy_temp_path ${path.join(dir, 'temp', 'proxy')};`,
    `  fastcgi_temp_path ${path.join(dir, 'temp', 'fastcgi')};`,
    `  uwsgi_temp_path ${path.join(dir, 'temp', 'uwsgi')};`,
    `  scgi_temp_path ${path.join(dir, 'temp', 'scgi')};`,
    '  default_type application/octet-stream;',
    `  include ${path.join(dir, 'site.conf')};`,
    '}',
    '',
  ].join('\n');
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const bin = opts.nginxPath ?? 'nginx';
  let child: ChildProcess;
  try {
    child = spawn(bin, ['-p', dir, '-e', errorLog, '-c', confFile, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe', listener.fd],
      detached: true,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NGINX: nginxInheritEnv(1) },
    });
  } finally {
    // nginx holds its own copy now; connections wait in the socket's backlog until it accepts.
    listener.close();
  }
  const stderr: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => stderr.push(b));
  child.on('error', (err) => stderr.push(Buffer.from(`${err.message}\n`)));
  const readLog = () => {
    try {
      return fs.readFileSync(errorLog, 'utf8');
    } catch {
      return '';
    }
  };
  // The master logs this (notice) once the config is loaded and the workers are forked.
  await waitReady(
    child,
    () => readLog().includes('start worker process'),
    () => `nginx did not start:\n${Buffer.concat(stderr).toString()}\n${readLog()}`,
  );
  if (!readLog().includes('using inherited sockets')) {
    await stopGroup(child);
    throw new Error(`nginx did not take over the listening socket:\n${readLog()}`);
  }
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    pid: child.pid as number,
    errorLog: readLog,
    stop: () => stopGroup(child),
  };
}

/** Polls `ready` until it holds, the child exits (reject), or START_TIMEOUT_MS passes (reject). */
export async function waitReady(
  child: ChildProcess,
  ready: () => Promise<boolean> | boolean,
  describe: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.once('error', () => {
    exited = true;
  });
  for (;;) {
    if (exited || child.exitCode !== null) throw new Error(describe());
    if (await ready()) return;
    if (Date.now() > deadline) {
      await stopGroup(child);
      throw new Error(`timed out: ${describe()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Stops a child started with `detached: true` and its whole process group (nginx's workers,
 * fcgiwrap's preforked children): SIGTERM, then SIGKILL after a grace period.
 */
export async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
  // Workers or CGI children that outlived their parent.
  signal('SIGKILL');
}

/**
 * Files under `dir` that process `pid` or any of its descendants (nginx's master and workers) hold
 * open, as /proc shows them (a deleted one ends in " (deleted)"). nginx unlinks a temp file right
 * after creating it (ngx_open_tempfile, unless the file is persistent as with
 * client_body_in_file_only), so a spooled body shows up here and never in a listing of `dir`.
 * Linux only; a process that exits meanwhile is skipped.
 */
export function openFilesUnder(pid: number, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const p = pids[i] as number;
    try {
      for (const c of fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(/\s+/))
        if (c !== '') pids.push(Number(c));
    } catch {
      // gone, or no such task
    }
  }
  const out: string[] = [];
  for (const p of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = fs.readlinkSync(`/proc/${p}/fd/${fd}`);
        if (target.startsWith(prefix)) out.push(target);
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

/** How often watchTempDir looks: a temp file of a big transfer lives for seconds. */
const TEMP_DIR_POLL_MS = 20;

/**
 * What nginx logs (at warn, which the harness's `info` level includes) when it spools a request
 * body to client_body_temp_path: proxy_request_buffering / fastcgi_request_buffering is on.
 * https://nginx.org/r/client_body_buffer_size
 */
export const BUFFERED_REQUEST_LOG = 'a client request body is buffered to a temporary file';
/** …and when it spools an upstream answer to proxy_temp_path / fastcgi_temp_path: proxy_buffering / fastcgi_buffering is on. */
export const BUFFERED_RESPONSE_LOG = 'an upstream response is buffered to a temporary file';

/**
 * Watches nginx's temp dir `dir` until stopped and returns every file seen in it or held open by
 * nginx under it: a temp file lives only while its request runs (and nginx unlinks it at once,
 * see openFilesUnder), so looking afterwards or only listing the folder proves nothing.
 */
export function watchTempDir(nginxPid: number, dir: string): { stop(): string[] } {
  const seen = new Set<string>();
  const look = (): void => {
    try {
      for (const name of fs.readdirSync(dir)) seen.add(path.join(dir, name));
    } catch {
      // not created (yet)
    }
    for (const file of openFilesUnder(nginxPid, dir)) seen.add(file);
  };
  look();
  const timer = setInterval(look, TEMP_DIR_POLL_MS);
  return {
    stop() {
      clearInterval(timer);
      look();
      return [...seen];
    },
  };
}

/** Copies the shipped shared snippet into `dir` (where rendered site files include it from). */
export function installSnippets(dir: string): void {
  fs.copyFileSync(path.join(DEPLOY_NGINX_DIR, 'gitward-common.conf'), path.join(dir, 'gitward-common.conf'));
}

/** Reads a shipped site file from deploy/nginx/. */
export function readShippedSite(
  name: 'gitward-proxy.conf' | 'gitward-proxy-auth-basic.conf' | 'gitward-sidecar.conf' | 'gitward-http.conf',
): string {
  return fs.readFileSync(path.join(DEPLOY_NGINX_DIR, name), 'utf8');
}
