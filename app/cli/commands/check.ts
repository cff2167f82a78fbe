import fs from 'node:fs';
import { checkHookSettings } from '../../../hooks/check-hook-settings.js';
import { loadConfig } from '../../config/load.js';
import { ConfigError, UsageError } from '../../errors.js';
import { compilePolicy } from '../../policy/compile.js';
import { listReposOnDisk } from '../../policy/list-repos.js';
import { runPolicyTests, summarizePolicy } from '../../policy/policy-tests.js';
import { parseKeysFile } from '../../ssh/ssh-keys.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type Command } from '../io.js';

const HELP = `usage: gitward check [--config FILE]

Validates the config completely (and every hook plugin setting, by creating the plugin) and
prints every problem as FILE:LINE: key.path: problem (exit 78). Prints warnings (settings that
work but are almost surely wrong, such as a branch-protect rule that an earlier rule shadows) as
FILE:LINE: warning: key.path: problem, without failing. Then runs the config's tests: expectations, one PASS/FAIL line each (exit 1 if
any fails), and prints a one-line summary (exit 0): users, groups, repos named in the tree and
found on disk under repo_root, grants, tests.
`;

/** `file:line: rest` → `file:line: warning: rest` (a message without a location gets the prefix alone). */
function asWarning(message: string): string {
  const m = /^(.*?:\d+): /.exec(message);
  return m ? `${m[1]}: warning: ${message.slice(m[0].length)}` : `warning: ${message}`;
}

/**
 * What is wrong in the SSH keys file, as warnings: a bad line and a key whose user the config no
 * longer knows do not work (ssh-serve refuses them at every connection), and neither may stop the
 * server's config from loading: removing a user must not wait for their keys to be removed.
 */
function sshKeyWarnings(keysFile: string | null, knownUsers: readonly string[]): string[] {
  if (keysFile === null) return [];
  let text: string;
  try {
    text = fs.readFileSync(keysFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? [] : [`${keysFile}:1: cannot read the SSH keys file (${code ?? 'error'})`];
  }
  const { keys, problems } = parseKeysFile(text, keysFile);
  const known = new Set(knownUsers);
  const orphans = keys
    .filter((k) => !known.has(k.user))
    .map((k) => `${keysFile}:${k.line}: key ${k.fingerprint} of "${k.user}", who is not in the config: it is refused`
      + ` (gitward key delete ${k.user} ${k.fingerprint})`);
  return [...problems.map((p) => `${p} (this line's key is refused)`), ...orphans];
}

/** `gitward check`: validate the config, run its `tests:`, print a summary. */
export const check: Command = async (argv, io) => {
  const args = parseArgs(argv, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const file = configPathFrom(args.options.config, io.env, io.cwd);
  let policy;
  try {
    const config = await loadConfig(file);
    // Hook plugin options are the plugins' business: create each one as the dispatcher would.
    const hookSettings = await checkHookSettings(config);
    if (hookSettings.problems.length > 0) throw new ConfigError(hookSettings.problems);
    policy = compilePolicy(config);
    for (const w of hookSettings.warnings) io.stderr.write(`${asWarning(w)}\n`);
    for (const w of sshKeyWarnings(config.ssh.keysFile, policy.knownUsers())) io.stderr.write(`${asWarning(w)}\n`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.stderr.write(`${p}\n`);
    io.stderr.write(`gitward check: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in ${file}\n`);
    return EXIT.config;
  }
  const results = runPolicyTests(policy);
  let failed = 0;
  for (const r of results) {
    if (r.passed) io.stdout.write(`PASS ${r.test.where}: ${r.text}\n`);
    else {
      failed++;
      io.stdout.write(`FAIL ${r.test.where}: ${r.text} — but ${r.decision.reason}\n`);
      for (const s of r.decision.trace) io.stdout.write(`       ${s.where}: ${s.node}: ${s.what}\n`);
    }
  }
  const s = summarizePolicy(policy);
  const tests = results.length === 0 ? 'no tests' : failed === 0 ? `${results.length} tests passed` : `${failed} of ${results.length} tests FAILED`;
  // The tree names some repos; project groups cover the others, so count what is on disk too.
  const repoRoot = policy.config.repoRoot;
  const onDisk = fs.existsSync(repoRoot) ? `${(await listReposOnDisk(repoRoot)).length} on disk under repo_root` : `repo_root ${repoRoot} does not exist`;
  io.stdout.write(`${file}: ${failed === 0 ? 'OK' : 'FAILED'} — ${s.users} users, ${s.groups} groups, ${s.reposInTree} repos named in the tree, ${onDisk}, ${s.grants} grants, ${tests}\n`);
  return failed === 0 ? EXIT.ok : EXIT.failed;
};
