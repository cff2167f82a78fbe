/**
 * Start a real gitward for tests, on a temp config with a temp repo_root.
 *
 *   const gw = await startGitward(t, {
 *     users: { ann: 'pw' },                       // written to users.htpasswd (bcrypt)
 *     config: { users: { ann: { groups: ['eng'] } }, repos: { '.read': ['$all'], 'x.git': { '.write': ['ann'] } } },
 *     repos: ['x'],                               // bare repos created under repo_root
 *   });
 *   await git(['clone', gw.url('x', { user: 'ann', password: 'pw' }), dir], …);
 *   gw.audit.records; gw.logs.lines;              // what the server wrote
 *   await gw.writeConfig({ ...changes });          // rewrites gitward.yaml, then gw.reload()
 *
 * `startGitward` runs createApp in this process (listen(0) on 127.0.0.1); `spawnGitward` runs
 * `app/gitward serve --config FILE` (the shipped launcher) as a child, for signal and CLI tests. Both stop
 * everything they started in t.after.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { TestContext } from 'node:test';
import bcrypt from 'bcryptjs';
import yaml from 'js-yaml';
import { createMemoryAuditSink } from '../../app/audit/audit-log.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import { startGitwardServer } from '../../app/compose.js';
import { startCgiSpawner, type CgiSpawner } from '../../app/backend/cgi-spawner.js';
import type { AuditSink } from '../../app/deps.js';
import type { ReloadingRuntime } from '../../app/reload.js';
import type { AuditRecord, Logger } from '../../app/types.js';
import { gitEnv, gitHttpBackendPath } from './git.js';
import { tempDir } from './tmp.js';

/** Cheapest bcrypt cost: tests check behaviour, not hash strength. */
const TEST_BCRYPT_COST = 4;
/**
 * Safety net only: the wait ends on the `server.listening` line (or the child's exit). Generous,
 * because a cold Node start took over 20 s on this machine while eight engineers' suites ran on it.
 */
const SPAWN_READY_TIMEOUT_MS = 120_000;

/** What a test asks for. Everything is optional. */
export interface GitwardOptions {
  /** Top-level config keys (snake_case, as in YAML) merged over the defaults (see `baseConfig`). */
  readonly config?: Record<string, unknown>;
  /** htpasswd users: name → password, written to `users.htpasswd` next to the config. */
  readonly users?: Record<string, string>;
  /** Bare repos (names without `.git`) created under repo_root, with `main` as initial branch. */
  readonly repos?: readonly string[];
  /** Extra files next to the config: relative path → content. */
  readonly files?: Record<string, string>;
}

/** The config every test server starts from; `options.config` keys replace these whole. */
export function baseConfig(): Record<string, unknown> {
  return {
    repo_root: './repos',
    listen: '127.0.0.1:0',
    authentication: [{ plugin: 'htpasswd', file: 'users.htpasswd' }],
    users: {},
    repos: {},
    log: { level: 'debug', format: 'json', audit: null },
  };
}

/** A temp folder with gitward.yaml, users.htpasswd and repos/, ready to load. */
export interface GitwardFiles {
  readonly dir: string;
  readonly configFile: string;
  readonly repoRoot: string;
  /** Environment for the git CLI (isolated HOME inside `dir`). */
  readonly gitEnv: Record<string, string>;
  /** Rewrites gitward.yaml with `config` merged over the defaults (does not reload). */
  writeConfig(config: Record<string, unknown>): void;
  /** Writes users.htpasswd (replacing it). */
  writeUsers(users: Record<string, string>): void;
}

/** Writes the files of a test server into a fresh temp dir (removed after the test). */
export async function prepareGitwardFiles(
  t: Pick<TestContext, 'after'>,
  options: GitwardOptions = {},
): Promise<GitwardFiles> {
  const dir = tempDir(t, 'gitward-server-');
  const configFile = path.join(dir, 'gitward.yaml');
  const repoRoot = path.join(dir, 'repos');
  fs.mkdirSync(repoRoot, { recursive: true });
  const env = gitEnv(path.join(dir, 'home'));
  const files: GitwardFiles = {
    dir,
    configFile,
    repoRoot,
    gitEnv: env,
    writeConfig(config) {
      fs.writeFileSync(configFile, yaml.dump({ ...baseConfig(), ...config }, { lineWidth: -1 }));
    },
    writeUsers(users) {
      const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, TEST_BCRYPT_COST)}\n`);
      fs.writeFileSync(path.join(dir, 'users.htpasswd'), lines.join(''));
    },
  };
  files.writeUsers(options.users ?? {});
  for (const [rel, content] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  files.writeConfig(options.config ?? {});
  for (const repo of options.repos ?? []) await initBareRepo(path.join(repoRoot, `${repo}.git`), env);
  return files;
}

/**
 * Creates a bare repo with `main` as initial branch. (Not helpers/git.ts's initBare: its stdin
 * write can fail with EPIPE when git exits first, an uncaught error in a busy test run.)
 */
function initBareRepo(dir: string, env: Record<string, string>): Promise<void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  return new Promise((resolve, reject) => {
    execFile('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir], { env }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Builds a clone URL: `http://[user:password@]host:port/<repo>.git`. */
export type UrlFor = (repo: string, credentials?: { user: string; password: string }) => string;

function urlFor(origin: string): UrlFor {
  return (repo, credentials) => {
    const u = new URL(`${origin}/${repo}.git`);
    if (credentials) {
      u.username = encodeURIComponent(credentials.user);
      u.password = encodeURIComponent(credentials.password);
    }
    return u.toString();
  };
}

/** A gitward running inside the test process. */
export interface TestGitward extends GitwardFiles {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly port: number;
  readonly url: UrlFor;
  readonly server: http.Server;
  readonly runtime: ReloadingRuntime;
  /** Operator log lines (redacted), in order. */
  readonly logs: { readonly lines: Array<Record<string, unknown>> };
  /** Audit records, in order. */
  readonly audit: { readonly records: AuditRecord[] };
  /** Reloads the config now (as SIGHUP would); true when the new config is in force. */
  reload(): Promise<boolean>;
  /** Stops the server (also done automatically after the test). */
  close(): Promise<void>;
}

/** A CGI spawner for a test that builds createApp itself (compose.ts starts one for servers); closed after the test. */
export async function testSpawner(t: Pick<TestContext, 'after'>): Promise<CgiSpawner> {
  const spawner = await startCgiSpawner();
  t.after(() => spawner.close());
  return spawner;
}

/**
 * The composition root of `gitward serve` (app/compose.ts) for an in-process test server: on
 * 127.0.0.1 port 0 (read back), git's PATH from the test's environment and HOME in its folder.
 */
export async function startTestServer(
  files: Pick<GitwardFiles, 'configFile' | 'dir'>,
  o: { logger: Logger; audit: AuditSink; backendPath: string },
): Promise<{ runtime: ReloadingRuntime; server: http.Server; port: number }> {
  const c = await startGitwardServer({
    configFile: files.configFile,
    logger: o.logger,
    audit: o.audit,
    backendPath: o.backendPath,
    processEnv: { PATH: process.env.PATH, HOME: path.join(files.dir, 'home'), LANG: 'C' },
    listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
  });
  return { runtime: c.runtime, server: c.server, port: c.port as number };
}

/**
 * Starts gitward in-process: loads the temp config through the real loader, policy and auth chain,
 * createApp + listen(0) on 127.0.0.1, and the server timeouts of `gitward serve`.
 */
export async function startGitward(t: Pick<TestContext, 'after'>, options: GitwardOptions = {}): Promise<TestGitward> {
  return startGitwardOn(t, await prepareGitwardFiles(t, options));
}

/**
 * startGitward on files already prepared, optionally with another CGI program in place of
 * git-http-backend (the regression harness's recording wrapper). Stops it in t.after.
 */
export async function startGitwardOn(
  t: Pick<TestContext, 'after'>,
  files: GitwardFiles,
  o: { backendPath?: string } = {},
): Promise<TestGitward> {
  const logs = createMemoryLogger();
  const audit = createMemoryAuditSink();
  const backendPath = o.backendPath ?? (await gitHttpBackendPath());
  const { runtime, server, port } = await startTestServer(files, { logger: logs, audit, backendPath });
  const origin = `http://127.0.0.1:${port}`;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    runtime.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return {
    ...files,
    origin,
    port,
    url: urlFor(origin),
    server,
    runtime,
    logs,
    audit,
    reload: () => runtime.reload('test'),
    close,
  };
}

/** A running `gitward serve` child process and what it has logged. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** Parsed JSON lines the child wrote to stderr (operator log), in order. */
  readonly logLines: Array<Record<string, unknown>>;
  /** The same lines as written (for tools that read gitward's log, such as fail2ban). */
  readonly rawLogLines: string[];
  /** Parsed JSON lines the child wrote to stdout (audit log, unless configured elsewhere). */
  readonly stdoutLines: Array<Record<string, unknown>>;
  /** Resolves with the first log line whose `event` is `event` (and that passes `match`). */
  waitForLog(
    event: string,
    match?: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name) when the child has exited. */
  readonly exited: Promise<number | string>;
  /**
   * The TCP port its `server.listening` line names (the config's `listen: 127.0.0.1:0` lets the
   * kernel choose it); 0 when it listens on a unix socket.
   */
  readonly port: number;
}

/** A `gitward serve` child process on its own files and port. */
export interface SpawnedGitward extends GitwardFiles, ServeProcess {
  readonly origin: string;
  readonly url: UrlFor;
}

/** The port of a `server.listening` log line: its `address` is `HOST:PORT` or `unix:PATH` (port 0). */
export function listeningPort(line: Record<string, unknown>): number {
  const address = String(line.address);
  if (address.startsWith('unix:')) return 0;
  const port = Number(/:(\d+)$/.exec(address)?.[1]);
  if (!(port > 0)) throw new Error(`server.listening has no TCP port: ${JSON.stringify(line)}`);
  return port;
}

/** The launcher admins run (npm's bin, systemd's ExecStart), with the node flags it sets. */
export const LAUNCHER = path.join(__dirname, '..', '..', '..', 'app', 'gitward');

/**
 * Spawns `app/gitward serve --config FILE` (the shipped launcher) on existing `files` (so a test can
 * kill it and start it again on the same files), waits for its `server.listening` line, and
 * SIGKILLs it after the test if it is still alive. The child gets a minimal environment (PATH,
 * HOME, LANG).
 */
export async function spawnServe(t: Pick<TestContext, 'after'>, files: GitwardFiles): Promise<ServeProcess> {
  const child = spawn(LAUNCHER, ['serve', '--config', files.configFile], {
    cwd: files.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(files.dir, 'home'), LANG: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines: Array<Record<string, unknown>> = [];
  const rawLogLines: string[] = [];
  const stdoutLines: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    event: string;
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  const collect = (
    stream: NodeJS.ReadableStream,
    into: Array<Record<string, unknown>>,
    checkWaiters: boolean,
  ): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          line = { text };
        }
        into.push(line);
        if (!checkWaiters) continue;
        rawLogLines.push(text);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i] as (typeof waiters)[number];
          if (line.event === w.event && w.match(line)) {
            waiters.splice(i, 1);
            w.resolve(line);
          }
        }
      }
    });
  };
  collect(child.stdout as NodeJS.ReadableStream, stdoutLines, false);
  collect(child.stderr as NodeJS.ReadableStream, logLines, true);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const waitForLog: ServeProcess['waitForLog'] = (event, match = () => true, timeoutMs = SPAWN_READY_TIMEOUT_MS) => {
    const seen = logLines.find((l) => l.event === event && match(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no ${event} log line within ${timeoutMs} ms; log: ${JSON.stringify(logLines).slice(0, 2000)}`),
          ),
        timeoutMs,
      );
      waiters.push({ event, match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`gitward exited (${code}) before ${event}; log: ${JSON.stringify(logLines).slice(0, 2000)}`));
      });
    });
  };
  const port = listeningPort(await waitForLog('server.listening'));
  return { child, logLines, rawLogLines, stdoutLines, waitForLog, exited, port };
}

/**
 * Spawns `app/gitward serve --config FILE` on fresh files (port 0 in the config, the port read
 * back from the server's own `server.listening` line) and waits for that line.
 */
export async function spawnGitward(
  t: Pick<TestContext, 'after'>,
  options: GitwardOptions = {},
): Promise<SpawnedGitward> {
  const files = await prepareGitwardFiles(t, options);
  const served = await spawnServe(t, files);
  // A unix socket (the e2e stacks): port 0; the caller talks to the socket.
  const origin = `http://127.0.0.1:${served.port}`;
  return { ...files, ...served, origin, url: urlFor(origin) };
}
