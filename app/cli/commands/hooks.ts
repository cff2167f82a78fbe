import { loadConfig } from '../../config/load.js';
import { BadRequest, UsageError } from '../../errors.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type Command } from '../io.js';
import {
  adminGitEnv,
  installHooks,
  linkedDispatcherPath,
  listRepoDirs,
  missingRepoSafety,
  repoDirFor,
  type RepoEntry,
} from '../repo-admin.js';
import { applyRepoSafety } from '../../repo/repo-lifecycle.js';
import fs from 'node:fs';

const HELP = `usage: gitward hooks install REPO... | --all [--force] [--fsck-objects] [--config FILE]

Symlinks hooks/pre-receive and hooks/post-receive of each repo to the gitward hook dispatcher,
<checkout>/hooks/gitward-hook, through the checkout path the gitward command was run by: with
/opt/gitward linking to a versioned folder, the hooks link to /opt/gitward/hooks/gitward-hook,
so an upgrade that swaps that link takes them along. Idempotent. A hook that is not gitward's is
kept and reported (exit 1); with --force it is moved aside to <hook>.gitward-backup-<timestamp>.

--fsck-objects also sets what \`gitward repo create\` sets on a new repo: receive.fsckObjects=true
(git checks every object a push brings) and core.useReplaceRefs=false. Without it, a note names
each repo that lacks them.
`;

/** `gitward hooks install REPO... | --all [--force]`: install the dispatcher into repos. */
export const hooks: Command = async (argv, io) => {
  const args = parseArgs(argv, {
    config: { type: 'string', short: 'c' },
    all: { type: 'boolean' },
    force: { type: 'boolean' },
    'fsck-objects': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [sub, ...names] = args.positionals;
  if (sub !== 'install')
    throw new UsageError(sub === undefined ? 'missing subcommand (install)' : `unknown subcommand "${sub}" (install)`);
  if (args.options.all && names.length > 0) throw new UsageError('give REPO names or --all, not both');
  if (!args.options.all && names.length === 0) throw new UsageError('give REPO names or --all');
  const config = await loadConfig(configPathFrom(args.options.config, io.env, io.cwd));
  let repos: RepoEntry[];
  if (args.options.all) {
    repos = listRepoDirs(config.repoRoot);
  } else {
    repos = names.map((raw) => {
      try {
        return repoDirFor(config.repoRoot, raw);
      } catch (err) {
        if (err instanceof BadRequest) throw new UsageError(`${JSON.stringify(raw)}: ${err.message}`);
        throw err;
      }
    });
  }
  const dispatcher = linkedDispatcherPath();
  const gitEnv = adminGitEnv(io.env);
  let failed = false;
  for (const repo of repos) {
    if (!fs.existsSync(repo.dir)) {
      io.stderr.write(`${repo.name}: no such repo (${repo.dir})\n`);
      failed = true;
      continue;
    }
    for (const r of installHooks(repo.dir, dispatcher, { force: args.options.force === true, now: Date.now() })) {
      if (r.action === 'kept-foreign') {
        failed = true;
        io.stderr.write(`${repo.name}: hooks/${r.hook} is not gitward's; kept it (use --force to move it aside)\n`);
      } else if (r.action === 'replaced') {
        io.stdout.write(`${repo.name}: hooks/${r.hook} installed; the previous hook is now ${r.backup ?? ''}\n`);
      } else {
        const updated = 'updated (it linked to another gitward checkout, or to this one by another path)';
        const what = r.action === 'installed' ? 'installed' : r.action === 'updated' ? updated : 'already installed';
        io.stdout.write(`${repo.name}: hooks/${r.hook} ${what}\n`);
      }
    }
    const missing = missingRepoSafety(repo.dir, gitEnv);
    if (missing.length === 0) continue;
    const settings = missing.map(([k, v]) => `${k}=${v}`).join(', ');
    if (args.options['fsck-objects'] === true) {
      await applyRepoSafety(repo.dir, gitEnv);
      io.stdout.write(`${repo.name}: set ${settings}\n`);
    } else {
      const why = 'git does not check pushed objects';
      io.stdout.write(`${repo.name}: note: ${settings} not set (${why}); --fsck-objects sets it\n`);
    }
  }
  if (repos.length === 0) io.stderr.write(`no repos under ${config.repoRoot}\n`);
  return failed ? EXIT.failed : EXIT.ok;
};
