import http from 'node:http';
import path from 'node:path';
import { createAuditSink } from '../../audit/audit-log.js';
import { FcgiwrapPool, findFcgiwrap } from '../../backend/fcgiwrap-pool.js';
import { findGitHttpBackend } from '../../backend/locate.js';
import { loadConfig } from '../../config/load.js';
import type { GitwardConfig } from '../../config/types.js';
import { createLogger } from '../../log/logger.js';
import { createReloadingRuntime } from '../../reload.js';
import { configureServer, createApp, listenOn, shutdownServer } from '../../server.js';
import type { Logger } from '../../types.js';
import { parseListenValue } from '../../config/build-config.js';
import type { ListenAddress } from '../../config/types.js';
import { UsageError } from '../../errors.js';
import { configPathFrom, parseArgs } from '../args.js';
import { DEMO_REPO, seedDemoRepo } from '../demo-repo.js';
import { EXIT, type CliIO, type Command } from '../io.js';
import { adminGitEnv, dispatcherPath } from '../repo-admin.js';

/** The embedded default config of `npm start`, in the checkout. */
const EMBEDDED_CONFIG = path.join(__dirname, '..', '..', '..', '..', 'examples', 'gitward.yaml');
/** PATH for git when gitward's own environment has none. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

const HELP = `usage: gitward serve [--config FILE | --embedded] [--listen ADDR]

Runs the gitward server on the config's \`listen\` address (host:port or unix:/path).
  --config FILE   the YAML config (default: $GITWARD_CONFIG, then ./gitward.yaml)
  --embedded      use the bundled examples/gitward.yaml and create the demo repo ${DEMO_REPO}
  --listen ADDR   listen here instead (host:port, [ipv6]:port, unix:/path; port 0 picks a free one);
                  npm start takes it after --: npm start -- --listen 127.0.0.1:9000
An address in use is one line on stderr and exit 78.
Reloads the config on change and on SIGHUP; SIGTERM stops gracefully.
`;

/**
 * `gitward serve`: loads the config (exit 78 when it is bad), starts the HTTP server, logs
 * `server.listening {address}` once ready, reloads on file change and SIGHUP, and on SIGTERM/SIGINT
 * stops accepting, lets in-flight requests finish within shutdown_grace_seconds, and returns 0.
 */
export const serve: Command = async (argv, io) => {
  const args = parseArgs(argv, {
    config: { type: 'string', short: 'c' },
    embedded: { type: 'boolean' },
    listen: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
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
  let listenOverride: ListenAddress | null = null;
  if (typeof args.options.listen === 'string') {
    const parsed = parseListenValue(args.options.listen, io.cwd);
    if (!parsed.ok) throw new UsageError(`--listen: ${parsed.problem}`);
    listenOverride = parsed.address;
  }

  const first = await loadConfig(file);
  const logger = createLogger({ level: first.log.level, format: first.log.format, stream: io.stderr });
  const runtime = await createReloadingRuntime(file, { logger, now: Date.now });
  const config = runtime.current().config;
  // Bind first: a busy port or socket is one line and EX_CONFIG before anything is started or made.
  // Until the app is ready (workers, demo repo), a request that arrives is told to come back.
  let handle: http.RequestListener = (_req, res) => {
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
    res.end('gitward is starting\n');
  };
  const server = http.createServer((req, res) => handle(req, res));
  configureServer(server, config.server);
  let address: string;
  try {
    address = await listenOn(server, listenOverride ?? config.listen);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const where = listenOverride !== null ? `--listen ${String(args.options.listen)}` : `${file}: listen`;
    io.stderr.write(`gitward serve: ${where}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}\n`);
    runtime.close();
    return EXIT.config;
  }
  const closeServer = (): Promise<boolean> => shutdownServer(server, 0);
  try {
    if (embedded && (await seedDemoRepo(first, adminGitEnv(io.env), dispatcherPath()))) {
      logger.info('demo.created', { repo: DEMO_REPO, repoRoot: first.repoRoot });
    }
  } catch (err) {
    await closeServer();
    runtime.close();
    throw err;
  }
  const audit = createAuditSink(config.log.audit === null ? { kind: 'stream', stream: io.stdout } : { kind: 'file', path: config.log.audit });
  const backendPath = await findGitHttpBackend(processEnv.PATH);
  const pool = await startBackendPool(config, file, backendPath, logger, io);
  if (typeof pool === 'number') {
    await closeServer();
    await audit.close();
    runtime.close();
    return pool;
  }
  handle = createApp({ runtime, logger, audit, now: Date.now }, { backendPath, processEnv, pool });
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
    // Ready only once the signals are ours: a SIGTERM right after this line must drain, not kill.
    logger.info('server.listening', { address, config: file, configSha256: config.hash });
    if (embedded && !address.startsWith('unix:')) io.stderr.write(demoHelp(address));
    runtime.watch();
  });
};

/** What `npm start` prints: the clone command and how to see the demo's branch rule at work. */
function demoHelp(address: string): string {
  return [
    '',
    'gitward is running. Try:',
    '',
    `  git clone http://demo:demo@${address}/${DEMO_REPO}.git && cd hello`,
    '  git commit --allow-empty -m try',
    '  git push origin HEAD:main                 # refused: branch-flow dev -> main (examples/gitward.yaml)',
    '  git push origin HEAD:dev && git push origin HEAD:main   # through dev first: accepted',
    '',
    '',
  ].join('\n');
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
