import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createAuditSink } from '../../audit/audit-log.js';
import { FcgiwrapPool, findFcgiwrap } from '../../backend/fcgiwrap-pool.js';
import { findGitHttpBackend } from '../../backend/locate.js';
import { loadConfig } from '../../config/load.js';
import type { GitwardConfig } from '../../config/types.js';
import { SERVER_GIT_ENV } from '../../git/server-git-env.js';
import { createLogger } from '../../log/logger.js';
import { createReloadingRuntime } from '../../reload.js';
import { configureServer, createApp, listenOn, shutdownServer } from '../../server.js';
import type { Logger } from '../../types.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';

/** The embedded default config of `npm start`, in the checkout. */
const EMBEDDED_CONFIG = path.join(__dirname, '..', '..', '..', '..', 'examples', 'gitward.yaml');
/** The demo repo created on the first embedded start. */
const DEMO_REPO = 'demo/hello';
/** PATH for git when gitward's own environment has none. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

const HELP = `usage: gitward serve [--config FILE | --embedded]

Runs the gitward server on the config's \`listen\` address (host:port or unix:/path).
  --config FILE   the YAML config (default: $GITWARD_CONFIG, then ./gitward.yaml)
  --embedded      use the bundled examples/gitward.yaml and create the demo repo ${DEMO_REPO}
Reloads the config on change and on SIGHUP; SIGTERM stops gracefully.
`;

/**
 * `gitward serve`: loads the config (exit 78 when it is bad), starts the HTTP server, logs
 * `server.listening {address}` once ready, reloads on file change and SIGHUP, and on SIGTERM/SIGINT
 * stops accepting, lets in-flight requests finish within shutdown_grace_seconds, and returns 0.
 */
export const serve: Command = async (argv, io) => {
  const args = parseArgs(argv, { config: { type: 'string', short: 'c' }, embedded: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if (args.positionals.length > 0) {
    io.stderr.write(`gitward serve: unexpected argument ${args.positionals[0]}\n${HELP}`);
    return EXIT.usage;
  }
  const embedded = args.options.embedded === true;
  const file = embedded ? EMBEDDED_CONFIG : configPathFrom(args.options.config, io.env, io.cwd);
  const processEnv = { PATH: io.env.PATH ?? FALLBACK_PATH, HOME: io.env.HOME, LANG: io.env.LANG };

  const first = await loadConfig(file);
  const logger = createLogger({ level: first.log.level, format: first.log.format, stream: io.stderr });
  if (embedded) await seedDemoRepo(first.repoRoot, processEnv);
  const runtime = await createReloadingRuntime(file, { logger, now: Date.now });
  const config = runtime.current().config;
  const audit = createAuditSink(config.log.audit === null ? { kind: 'stream', stream: io.stdout } : { kind: 'file', path: config.log.audit });
  const backendPath = await findGitHttpBackend(processEnv.PATH);
  const pool = await startBackendPool(config, file, backendPath, logger, io);
  if (typeof pool === 'number') {
    await audit.close();
    runtime.close();
    return pool;
  }
  const app = createApp({ runtime, logger, audit, now: Date.now }, { backendPath, processEnv, pool });
  const server = http.createServer(app);
  configureServer(server, config.server);
  const address = await listenOn(server, config.listen);
  logger.info('server.listening', { address, config: file, configSha256: config.hash });
  if (embedded && config.listen.kind === 'tcp') {
    io.stderr.write(`\ngitward is running. Try:\n\n  git clone http://demo:demo@${address}/${DEMO_REPO}.git\n\n`);
  }
  runtime.watch();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      const graceMs = runtime.current().config.server.shutdownGraceSeconds * 1000;
      logger.info('server.stopping', { signal, graceMs });
      void shutdownServer(server, graceMs).then(async (clean) => {
        runtime.close();
        await pool?.close();
        logger.info('server.stopped', { clean });
        await audit.close();
        resolve(EXIT.ok);
      });
    };
    io.onSignal('SIGTERM', () => stop('SIGTERM'));
    io.onSignal('SIGINT', () => stop('SIGINT'));
    io.onSignal('SIGHUP', () => void runtime.reload('SIGHUP'));
  });
};

/**
 * Creates the demo repo `<repoRoot>/demo/hello.git` with one commit on `main` (a README), when it
 * does not exist yet, with git plumbing so no work tree is needed.
 */
async function seedDemoRepo(repoRoot: string, env: { PATH: string; HOME?: string | undefined }): Promise<void> {
  const dir = path.join(repoRoot, `${DEMO_REPO}.git`);
  if (fs.existsSync(dir)) return;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const gitEnv: Record<string, string> = {
    PATH: env.PATH,
    HOME: env.HOME ?? repoRoot,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'gitward',
    GIT_AUTHOR_EMAIL: 'gitward@localhost',
    GIT_COMMITTER_NAME: 'gitward',
    GIT_COMMITTER_EMAIL: 'gitward@localhost',
    ...SERVER_GIT_ENV,
  };
  const run = (args: string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile('git', args, { cwd: repoRoot, env: gitEnv }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
      child.stdin?.end(input ?? '');
    });
  const tmp = `${dir}.tmp-${process.pid}`;
  await run(['init', '--quiet', '--bare', '--initial-branch=main', tmp]);
  const gd = `--git-dir=${tmp}`;
  const blob = await run([gd, 'hash-object', '-w', '--stdin'], '# hello\n\nThe gitward demo repository. Push to it as demo:demo.\n');
  const tree = await run([gd, 'mktree'], `100644 blob ${blob}\tREADME.md\n`);
  const commit = await run([gd, 'commit-tree', tree, '-m', 'Initial commit']);
  await run([gd, 'update-ref', 'refs/heads/main', commit]);
  fs.renameSync(tmp, dir);
}

/**
 * The fcgiwrap workers that `server.backend_runner` asks for, or null when reads spawn. `fcgiwrap`
 * fails closed (exit 78 without fcgiwrap, 1 when the workers cannot start); `auto` uses fcgiwrap
 * when it is installed and falls back to spawn, with a warning, when its workers cannot start.
 * Returns the exit code on failure.
 */
async function startBackendPool(
  config: GitwardConfig,
  file: string,
  backendPath: string,
  logger: Logger,
  io: CliIO,
): Promise<FcgiwrapPool | null | number> {
  const { backendRunner, fcgiwrapPath, fcgiwrapWorkers } = config.server;
  if (backendRunner === 'spawn') {
    logger.info('backend.runner', { runner: 'spawn', reason: 'server.backend_runner: spawn' });
    return null;
  }
  const fcgiwrap = findFcgiwrap(fcgiwrapPath);
  if (fcgiwrap === null) {
    if (backendRunner === 'auto') {
      logger.info('backend.runner', { runner: 'spawn', reason: `${fcgiwrapPath} is not installed` });
      return null;
    }
    io.stderr.write(`gitward serve: ${file}: server.backend_runner: fcgiwrap, but ${fcgiwrapPath} is not an executable (apt-get install fcgiwrap, or set server.fcgiwrap_path)\n`);
    return EXIT.config;
  }
  try {
    const pool = await FcgiwrapPool.start({ fcgiwrapPath: fcgiwrap, backendPath, size: fcgiwrapWorkers, logger });
    logger.info('backend.runner', { runner: 'fcgiwrap', reason: `server.backend_runner: ${backendRunner}`, workers: fcgiwrapWorkers });
    return pool;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (backendRunner === 'auto') {
      logger.warn('backend.runner', { runner: 'spawn', reason: `the fcgiwrap workers could not start: ${message}` });
      return null;
    }
    io.stderr.write(`gitward serve: cannot start the fcgiwrap workers: ${message}\n`);
    return EXIT.failed;
  }
}
