import { loadConfig } from '../../config/load.js';
import { BadRequest, UsageError } from '../../errors.js';
import { createRepo, deleteRepo, RepoAdminError, renameRepo } from '../../repo/repo-lifecycle.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type Command } from '../io.js';
import { adminGitEnv, dispatcherPath, linkedDispatcherPath, listRepoDirs, repoHooksState } from '../repo-admin.js';

const HELP = `usage: gitward repo create NAME [--config FILE]
       gitward repo rename NAME NEW-NAME [--config FILE]
       gitward repo delete NAME [--config FILE]
       gitward repo list [--config FILE]

create: makes <repo_root>/NAME.git (a bare repo; NAME is checked as in URLs, e.g. web/site),
        with the project-group folders, the initial branch and receive.* settings of
        repo_defaults, gitward.config pointing at the config, and the hooks when
        repo_defaults.install_hooks is true. An existing repo is refused (exit 1).
rename: moves NAME.git to NEW-NAME.git in one rename. Refused (exit 1) when NAME is named in
        the config's repos: tree (edit the config first), or NEW-NAME exists.
delete: moves NAME.git into <repo_root>/.gitward-trash/<time>-<id>/NAME.git (nothing is
        removed; move it back to recover it). Refused (exit 1) when NAME is named in the
        config's repos: tree.
list:   every repo under repo_root with the state of its hooks
        (installed, partial, foreign = a hook that is not gitward's, missing).
`;

const SUBCOMMANDS = 'create, rename, delete, list';

/** `gitward repo create NAME | rename NAME NEW | delete NAME | list`. */
export const repo: Command = async (argv, io) => {
  const args = parseArgs(argv, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [sub, ...rest] = args.positionals;
  const arity: Record<string, number> = { create: 1, rename: 2, delete: 1 };
  if (sub !== undefined && arity[sub] !== undefined) {
    const n = arity[sub] as number;
    if (rest.length !== n) {
      throw new UsageError(`repo ${sub} takes exactly ${n === 1 ? 'one NAME' : 'NAME and NEW-NAME'}`);
    }
    const config = await loadConfig(configPathFrom(args.options.config, io.env, io.cwd));
    try {
      if (sub === 'create') {
        const env = adminGitEnv(io.env);
        const options = { dispatcher: linkedDispatcherPath(), env, now: Date.now() };
        const made = await createRepo(config, rest[0] as string, options);
        const hooks =
          made.hooks === null ? 'hooks not installed (repo_defaults.install_hooks: false)' : 'hooks installed';
        io.stdout.write(`created ${made.name} at ${made.dir} (initial branch ${made.defaultBranch}, ${hooks})\n`);
      } else if (sub === 'rename') {
        const moved = renameRepo(config, rest[0] as string, rest[1] as string);
        io.stdout.write(`renamed ${moved.from} to ${moved.to} (${moved.dir})\n`);
      } else {
        const trashed = deleteRepo(config, rest[0] as string, { now: Date.now() });
        io.stdout.write(`moved ${trashed.name} to the trash: ${trashed.trashDir} (move it back to recover it)\n`);
      }
      return EXIT.ok;
    } catch (err) {
      if (err instanceof BadRequest) throw new UsageError(`${JSON.stringify(rest.join(' '))}: ${err.message}`);
      if (err instanceof RepoAdminError) {
        io.stderr.write(`gitward repo ${sub}: ${err.message}\n`);
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
  throw new UsageError(
    sub === undefined ? `missing subcommand (${SUBCOMMANDS})` : `unknown subcommand "${sub}" (${SUBCOMMANDS})`,
  );
};
