import path from 'node:path';
import { createAuditSink } from '../../audit/audit-log.js';
import { findGitHttpBackend } from '../../backend/locate.js';
import { ListenError, startGitwardServer, type ComposedServer } from '../../compose.js';
import { parseListenValue } from '../../config/build-config.js';
import { loadConfig } from '../../config/load.js';
import type { ListenAddress } from '../../config/types.js';
import { UsageError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { shutdownServer } from '../../server.js';
import { configPathFrom, parseArgs } from '../args.js';
import { DEMO_REPO, seedDemoRepo } from '../demo-repo.js';
import { EXIT, type Command } from '../io.js';
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
  const audit = createAuditSink(
    first.log.audit === null ? { kind: 'stream', stream: io.stdout } : { kind: 'file', path: first.log.audit },
  );
  const backendPath = await findGitHttpBackend(processEnv.PATH);
  let composed: ComposedServer;
  try {
    const listen = listenOverride === null ? {} : { listen: listenOverride };
    composed = await startGitwardServer({ configFile: file, logger, audit, backendPath, processEnv, ...listen });
  } catch (err) {
    await audit.close();
    if (!(err instanceof ListenError)) throw err;
    // A busy port or socket: one line and EX_CONFIG, before anything is started or made.
    const where = listenOverride !== null ? `--listen ${String(args.options.listen)}` : `${file}: listen`;
    io.stderr.write(`gitward serve: ${where}: ${err.message}\n`);
    return EXIT.config;
  }
  const { runtime, server, address } = composed;
  const config = runtime.current().config;
  try {
    if (embedded && (await seedDemoRepo(first, adminGitEnv(io.env), dispatcherPath()))) {
      logger.info('demo.created', { repo: DEMO_REPO, repoRoot: first.repoRoot });
    }
  } catch (err) {
    await shutdownServer(server, 0);
    runtime.close();
    await audit.close();
    throw err;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      const graceMs = runtime.current().config.server.shutdownGraceSeconds * 1000;
      logger.info('server.stopping', { signal, graceMs });
      void shutdownServer(server, graceMs).then(async (clean) => {
        runtime.close();
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
