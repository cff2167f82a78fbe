import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, UsageError } from '../errors.js';
import { EXIT, type CliIO, type Command } from './io.js';

/** The commands of ARCHITECTURE.md §7, each in its own file under commands/. */
const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  serve: {
    summary: 'run the server (proxy, sidecar and standalone)',
    load: async () => (require('./commands/serve.js') as typeof import('./commands/serve.js')).serve,
  },
  check: {
    summary: 'validate the config and run its policy tests',
    load: async () => (require('./commands/check.js') as typeof import('./commands/check.js')).check,
  },
  access: {
    summary: 'explain an access decision: access USER REPO [read|write]',
    load: async () => (require('./commands/access.js') as typeof import('./commands/access.js')).access,
  },
  user: {
    summary: 'manage htpasswd users: user add|passwd|delete|list|verify',
    load: async () => (require('./commands/user.js') as typeof import('./commands/user.js')).user,
  },
  repo: {
    summary: 'create and list repos: repo create|list',
    load: async () => (require('./commands/repo.js') as typeof import('./commands/repo.js')).repo,
  },
  hooks: {
    summary: 'install the hook dispatcher: hooks install REPO|--all',
    load: async () => (require('./commands/hooks.js') as typeof import('./commands/hooks.js')).hooks,
  },
  'import-git4nginx': {
    summary: 'print the gitward config for a git4nginx file',
    load: async () =>
      (require('./commands/import-git4nginx.js') as typeof import('./commands/import-git4nginx.js')).importGit4nginx,
  },
  key: {
    summary: 'manage SSH public keys: key add|list|delete|sync',
    load: async () => (require('./commands/key.js') as typeof import('./commands/key.js')).key,
  },
  doctor: {
    summary: 'check a deployment end to end: doctor URL',
    load: async () => (require('./commands/doctor.js') as typeof import('./commands/doctor.js')).doctor,
  },
};

/** The version in the checkout's package.json (dist/app/cli → package.json). */
export function gitwardVersion(): string {
  const file = path.join(__dirname, '..', '..', '..', 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const lines = [
    'usage: gitward COMMAND [options] (each command takes --config FILE and --help)',
    '       gitward --version',
    '',
    'commands:',
  ];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(18)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

/**
 * Runs the gitward CLI with `argv` (without node and script) and returns the exit code:
 * 0 success, 1 denial or failed check, 2 usage error, 78 bad config.
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    io.stdout.write(`gitward ${gitwardVersion()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr.write(`gitward: unknown command "${name}"\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`gitward ${name}: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.stderr.write(`${p}\n`);
      return EXIT.config;
    }
    throw err;
  }
}
