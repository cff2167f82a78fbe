import fs from 'node:fs';
import path from 'node:path';
import { checkHookSettings } from '../../../hooks/check-hook-settings.js';
import { branchProtectGrants } from '../../../plugins/hooks/branch-protect.js';
import type { GitwardConfig, RepoNode } from '../../config/types.js';
import { loadConfig } from '../../config/load.js';
import { createBruteForceLimiter } from '../../identity/brute-force.js';
import { createAuthChain } from '../../identity/chain.js';
import { createNullLogger } from '../../log/logger.js';
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
work but are almost surely wrong or risky, such as a branch-protect rule that an earlier rule shadows,
or a trusted-proxy list with TCP peers) as FILE:LINE: warning: key.path: problem, without failing;
so is a repo the tree names that is not on disk under repo_root, and, with ssh.keys_file set, a
dist/ssh-key-lookup that sshd would refuse to run (it and every folder above it must be root's and
writable by no one else). Then runs the config's tests:
expectations, one PASS/FAIL line each (exit 1 if
any fails), and prints a one-line summary (exit 0): users, groups, repos named in the tree and
found on disk under repo_root, grants, tests. Before it, one line says which refs outside
refs/heads/ and refs/tags/ pushes may change: none, unless a branch-protect refs rule grants them.
`;

/** This checkout's AuthorizedKeysCommand (app/ssh/ssh-key-lookup.c, built by `npm run build:relay`). */
const KEY_LOOKUP = path.resolve(__dirname, '..', '..', '..', 'ssh-key-lookup');

/** The `refs:` patterns of every branch-protect setting in the tree, with the setting's `file:line`. */
function grantedOtherRefs(node: RepoNode): string[] {
  const out: string[] = [];
  const bp = node.hooks.get('branch-protect');
  if (bp && bp.options.enable !== false) {
    out.push(...branchProtectGrants(bp.options).otherRefPatterns.map((p) => `"${p}" (${bp.where})`));
  }
  for (const child of node.children.values()) out.push(...grantedOtherRefs(child));
  return out;
}

/** `file:line: rest` → `file:line: warning: rest` (a message without a location gets the prefix alone). */
function asWarning(message: string): string {
  const m = /^(.*?:\d+): /.exec(message);
  return m ? `${m[1]}: warning: ${message.slice(m[0].length)}` : `warning: ${message}`;
}

/**
 * One line per repo the tree names that is not on disk under repo_root (a typo, or a repo not
 * made yet): its grants and hooks apply to nothing. Nothing when repo_root itself is missing (the
 * summary says so).
 */
function reposMissingOnDisk(config: GitwardConfig): string[] {
  if (!fs.existsSync(config.repoRoot)) return [];
  const out: { line: number; text: string }[] = [];
  const stack: RepoNode[] = [config.repos];
  while (stack.length > 0) {
    const n = stack.pop() as RepoNode;
    stack.push(...n.children.values());
    const dir = path.join(config.repoRoot, `${n.path}.git`);
    if (n.kind === 'repo' && !fs.existsSync(dir)) {
      const text = `${n.where}: ${n.node}: no repo at ${dir} (gitward repo create ${n.path} makes it)`;
      out.push({ line: Number(/:(\d+)$/.exec(n.where)?.[1] ?? 0), text });
    }
  }
  return out.sort((a, b) => a.line - b.line).map((w) => w.text);
}

/**
 * One warning per htpasswd plugin whose file does not exist yet: no users can log in through it
 * until `gitward user add` creates it (a fresh install checks its config before adding a user).
 */
function missingHtpasswdFiles(config: GitwardConfig): string[] {
  const out: string[] = [];
  config.authentication.forEach((spec, i) => {
    if (!htpasswdFileMissing(config, spec)) return;
    const file = path.resolve(config.dir, spec.options.file as string);
    const what = `${file} does not exist yet: no users yet (gitward user add creates it)`;
    out.push(`${spec.where}: authentication[${i}].file: ${what}`);
  });
  return out;
}

/** True for an htpasswd plugin entry whose file does not exist (yet). */
function htpasswdFileMissing(config: GitwardConfig, spec: GitwardConfig['authentication'][number]): boolean {
  if (spec.plugin !== 'htpasswd' || typeof spec.options.file !== 'string') return false;
  return !fs.existsSync(path.resolve(config.dir, spec.options.file));
}

/**
 * What an admin must know about the web view: gitward renders it itself, so it needs proxy mode
 * (in sidecar mode nginx asks gitward only for auth_request decisions); and cgit must be installed.
 */
export function webWarnings(config: GitwardConfig): string[] {
  if (!config.web.enabled) return [];
  const out: string[] = [];
  if (config.sidecar.enabled) {
    out.push(
      'web.enabled: the web view needs proxy mode (nginx forwards the pages to gitward); a sidecar ' +
        'deployment does not show it (set sidecar.enabled: false in proxy mode to silence this)',
    );
  }
  try {
    fs.accessSync(config.web.cgitPath, fs.constants.X_OK);
  } catch {
    out.push(`web.cgit_path: ${config.web.cgitPath} is not an executable file (apt install cgit); pages answer 502`);
  }
  return out;
}

/**
 * What is wrong in the SSH keys file, as warnings: a bad line and a key whose user the config no
 * longer knows do not work (the server refuses them at every SSH connection), and neither may stop the
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
    .map(
      (k) =>
        `${keysFile}:${k.line}: key ${k.fingerprint} of "${k.user}", who is not in the config: it is refused` +
        ` (gitward key delete ${k.user} ${k.fingerprint})`,
    );
  return [...problems.map((p) => `${p} (this line's key is refused)`), ...orphans];
}

/**
 * Why sshd would refuse to run this checkout's key lookup (dist/ssh-key-lookup, the shipped
 * AuthorizedKeysCommand), or null. sshd runs the command only if the program and every folder
 * above it (real paths) are owned by root and writable by no one else; otherwise it logs "Unsafe
 * AuthorizedKeysCommand" and every SSH login fails with "Permission denied (publickey)".
 */
export function keyLookupProblem(lookup: string): string | null {
  let real: string;
  try {
    real = fs.realpathSync(lookup);
    fs.accessSync(real, fs.constants.X_OK);
  } catch {
    return `${lookup} is missing or not executable (npm run build:relay; apt install gcc libc6-dev)`;
  }
  for (let p = real; ; p = path.dirname(p)) {
    const st = fs.statSync(p);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      return (
        `sshd refuses to run ${real} as AuthorizedKeysCommand: ${p} is owned by uid ${st.uid} with mode ${mode}, ` +
        "and the program and every folder above it must be root's and writable by no one else " +
        '(install gitward under a root-owned folder such as /opt/gitward)'
      );
    }
    if (p === path.dirname(p)) return null;
  }
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
    // Authentication plugins are created as `gitward serve` creates them: a plugin that fails to
    // load fails here too, and each may warn about risky options (a TCP trust list).
    // An htpasswd file not made yet is a warning (below), not a plugin that fails to load.
    const present = config.authentication.filter((spec) => !htpasswdFileMissing(config, spec));
    const chainConfig = { ...config, authentication: present };
    const auth = await createAuthChain(chainConfig, { logger: createNullLogger(), limiter: createBruteForceLimiter() });
    const authWarnings = auth.warnings();
    auth.close();
    const warnings = [...missingHtpasswdFiles(config), ...config.warnings, ...authWarnings, ...hookSettings.warnings];
    for (const w of warnings) io.stderr.write(`${asWarning(w)}\n`);
    for (const w of reposMissingOnDisk(config)) io.stderr.write(`${asWarning(w)}\n`);
    for (const w of webWarnings(config)) io.stderr.write(`${file}: warning: ${w}\n`);
    for (const w of sshKeyWarnings(config.ssh.keysFile, policy.knownUsers())) io.stderr.write(`${asWarning(w)}\n`);
    const lookup = config.ssh.keysFile === null ? null : keyLookupProblem(KEY_LOOKUP);
    if (lookup !== null) io.stderr.write(`${file}: warning: ssh.keys_file: ${lookup}\n`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.stderr.write(`${p}\n`);
    io.stderr.write(
      `gitward check: ${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} in ${file}\n`,
    );
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
  const granted = grantedOtherRefs(policy.config.repos);
  const except =
    granted.length === 0
      ? ' (no branch-protect refs rule grants any)'
      : `, except where a branch-protect refs rule grants them: ${granted.join(', ')}`;
  const others = 'refs outside refs/heads/ and refs/tags/ (refs/replace/*, refs/notes/*, …)';
  io.stdout.write(`${others}: refused on every push${except}\n`);
  const s = summarizePolicy(policy);
  const tests =
    results.length === 0
      ? 'no tests'
      : failed === 0
        ? `${results.length} tests passed`
        : `${failed} of ${results.length} tests FAILED`;
  // The tree names some repos; project groups cover the others, so count what is on disk too.
  const repoRoot = policy.config.repoRoot;
  const onDisk = fs.existsSync(repoRoot)
    ? `${(await listReposOnDisk(repoRoot)).length} on disk under repo_root`
    : `repo_root ${repoRoot} does not exist`;
  const counts = `${s.users} users, ${s.groups} groups, ${s.reposInTree} repos named in the tree, ${onDisk}`;
  io.stdout.write(`${file}: ${failed === 0 ? 'OK' : 'FAILED'} — ${counts}, ${s.grants} grants, ${tests}\n`);
  return failed === 0 ? EXIT.ok : EXIT.failed;
};
