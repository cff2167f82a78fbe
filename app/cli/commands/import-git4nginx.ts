import fs from 'node:fs/promises';
import path from 'node:path';
import { ImportError, git4nginxRepoRoot, importGit4nginx as convert } from '../../config/git4nginx-import.js';
import { listReposOnDisk } from '../../policy/list-repos.js';
import { UsageError } from '../../errors.js';
import { parseArgs } from '../args.js';
import { EXIT, type Command } from '../io.js';

const HELP = `usage: gitward import-git4nginx OLD.yaml

Prints the gitward config equivalent to a git4nginx config: users with groups and info,
the authorisation tree as repos:, the hooks tree as .hooks settings. Where the result differs
on purpose (substring-matched strings, ignored keys, YAML 1.1 names) it says so in # NOTE lines.
It never allows what git4nginx refused: where gitward cannot say the same, it narrows. The repos
found under repo_root decide where the null key's grants go (the top-level repos) and which deeper
folders are cut off (git4nginx served group/repo.git only), so run it where repo_root is readable.
Save the output, read the notes, then run \`gitward check --config FILE\`.
`;

/** `gitward import-git4nginx OLD.yaml`: print the equivalent gitward config on stdout. */
export const importGit4nginx: Command = async (argv, io) => {
  const args = parseArgs(argv, { help: { type: 'boolean', short: 'h' } });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [old, extra] = args.positionals;
  if (old === undefined) throw new UsageError('expected OLD.yaml (see --help)');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const file = path.resolve(io.cwd, old);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    io.stderr.write(
      `gitward import-git4nginx: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})\n`,
    );
    return EXIT.failed;
  }
  const repoRoot = git4nginxRepoRoot(text);
  const onDisk = repoRoot === null ? [] : await listReposOnDisk(path.resolve(path.dirname(file), repoRoot));
  try {
    io.stdout.write(convert(text, old, onDisk));
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    io.stderr.write(`gitward import-git4nginx: ${err.message}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
};
