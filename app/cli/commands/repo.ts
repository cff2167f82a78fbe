import { loadConfig } from '../../config/load.js';
import { BadRequest, UsageError } from '../../errors.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type Command } from '../io.js';
import {
  adminGitEnv,
  createRepo,
  dispatcherPath,
  linkedDispatcherPath,
  listRepoDirs,
  repoHooksState,
  RepoAdminError,
} from '../repo-admin.js';

const HELP = `usage: gitward repo create NAME [--config FILE]
       gitward repo list [--config FILE]

create: makes <repo_root>/NAME.git (a bare repo; NAME is checked as in URLs, e.g. web/site),
        with the project-group folders, the initial branch and receive.* settings of
        repo_defaults, gitward.config pointing at the config, and the hooks when
        repo_defaults.install_hooks is true. An existing repo is refused (exit 1).
list:   every repo under repo_root with the state of its hooks
        (installed, partial, foreign = a hook that is not gitward's, missing).
`;

/** `gitward repo create NAME | list`. */
export const repo: Command = async (argv, io) => {
  const args = parseArgs(argv, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [sub, ...rest] = args.positionals;
  if (sub === 'create') {
    if (rest.length !== 1) throw new UsageError('repo create takes exactly one NAME');
    const config = await loadConfig(configPathFrom(args.options.config, io.env, io.cwd));
    try {
      const made = await createRepo(config, rest[0] as string, {
        dispatcher: linkedDispatcherPath(),
        env: adminGitEnv(io.env),
        now: Date.now(),
      });
      const hooks = made.hooks === null ? 'hooks not installed (repo_defaults.install_hooks: false)' : 'hooks installed';
      io.stdout.write(`created ${made.name} at ${made.dir} (initial branch ${config.repoDefaults.initialBranch}, ${hooks})\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof BadRequest) throw new UsageError(`${JSON.stringify(rest[0])}: ${err.message}`);
      if (err instanceof RepoAdminError) {
        io.stderr.write(`gitward repo create: ${err.message}\n`);
        return EXIT.failed;
      }
      throw err;
    }
  }
  if (sub === 'list') {
    if (rest.length !== 0) throw new UsageError('repo list takes no arguments');
    const config = await loadConfig(configPathFrom(args.options.config, io.env, io.cwd));
    const dispatcher = dispatcherPath();
    const repos = listRepoDirs(config.repoRoot);
    const width = Math.max(4, ...repos.map((r) => r.name.length));
    for (const r of repos) io.stdout.write(`${r.name.padEnd(width)}  hooks: ${repoHooksState(r.dir, dispatcher)}\n`);
    if (repos.length === 0) io.stderr.write(`no repos under ${config.repoRoot}\n`);
    return EXIT.ok;
  }
  throw new UsageError(sub === undefined ? 'missing subcommand (create, list)' : `unknown subcommand "${sub}" (create, list)`);
};
