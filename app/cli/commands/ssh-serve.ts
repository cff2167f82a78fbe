import { UsageError } from '../../errors.js';
import { runSshSession } from '../../ssh/ssh-session.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';

const HELP = `usage: gitward ssh-serve --config FILE --user USER --key SHA256:…

The forced command of every line gitward key writes into authorized_keys; sshd runs it for each
SSH session with the client's command in SSH_ORIGINAL_COMMAND. Not for interactive use.
`;

const SPEC = {
  config: { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `gitward ssh-serve`: one git-over-SSH session (app/ssh/ssh-session.ts). */
export const sshServe: Command = async (argv, io: CliIO) => {
  const args = parseArgs(argv, SPEC);
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const { user, key } = args.options;
  if (typeof user !== 'string' || typeof key !== 'string' || args.positionals.length > 0) {
    throw new UsageError('needs --user USER --key SHA256:… and nothing else');
  }
  return runSshSession({
    configFile: configPathFrom(args.options.config, io.env, io.cwd),
    user,
    fingerprint: key,
    originalCommand: io.env.SSH_ORIGINAL_COMMAND,
    connection: io.env.SSH_CONNECTION,
    gitProtocol: io.env.GIT_PROTOCOL,
    // Not LANG: Debian's sshd_config accepts the client's LANG (AcceptEnv LANG LC_*).
    processEnv: { PATH: io.env.PATH, HOME: io.env.HOME },
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    now: Date.now,
  });
};
