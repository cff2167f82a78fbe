import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createAuditSink } from '../../audit/audit-log.js';
import { findGitHttpBackend } from '../../backend/locate.js';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../log/logger.js';
import { startGitwardServer, type ComposedServer } from '../../compose.js';
import { shutdownServer } from '../../server.js';
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
  const audit = createAuditSink(first.log.audit === null ? { kind: 'stream', stream: io.stdout } : { kind: 'file', path: first.log.audit });
  const backendPath = await findGitHttpBackend(processEnv.PATH);
  let composed: ComposedServer;
  try {
    composed = await startGitwardServer({ configFile: file, logger, audit, backendPath, processEnv });
  } catch (err) {
    await audit.close();
    throw err;
  }
  const { runtime, server, address } = composed;
  const config = runtime.current().config;
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
