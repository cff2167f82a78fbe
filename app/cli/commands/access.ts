import { parseRepoPath } from '../../config/names.js';
import { loadConfig } from '../../config/load.js';
import { UsageError } from '../../errors.js';
import { compilePolicy } from '../../policy/compile.js';
import { decide, decideCreate, mayCreate } from '../../policy/decide.js';
import { hookSettingsFor } from '../../policy/hook-settings.js';
import { resolveIdentity } from '../../policy/identity.js';
import { listReposOnDisk } from '../../policy/list-repos.js';
import type { CompiledPolicy } from '../../config/types.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';

const HELP = `usage: gitward access USER REPO [read|write|admin|create] [--ref REF] [--config FILE]
       gitward access --matrix [REPO-PREFIX] [--config FILE]

Explains the decision for USER (or $anonymous) on REPO (default: read): allowed or denied, the
access level (none < read < write < admin), and the trace — every node of the repos: tree that
granted or cut something, with file:line. \`create\` asks whether USER may create REPO as a new
repo (.create or .admin above it). Exit 0 allowed, 1 denied. --matrix prints who can read (r),
write (w) and administer (a) which repo, and who may create (c) repos there, in the tree or on
disk; REPO-PREFIX keeps the repos at or below a project group or one repo, by
whole path segments (web is web/site, not website; web/site.git is that repo only).
`;

/** `gitward access`: explain one decision, or print the access matrix. */
export const access: Command = async (argv, io) => {
  const args = parseArgs(argv, {
    config: { type: 'string', short: 'c' },
    matrix: { type: 'boolean' },
    ref: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const file = configPathFrom(args.options.config, io.env, io.cwd);
  if (args.options.matrix) {
    if (args.positionals.length > 1) throw new UsageError('--matrix takes at most one REPO-PREFIX');
    const prefixArg = args.positionals[0];
    let match: (repo: string) => boolean = () => true;
    if (prefixArg !== undefined && prefixArg !== '' && prefixArg !== '/') {
      // Whole path segments: `web` is the group web/ (and a repo web.git), never `website`.
      const trimmed = prefixArg.replace(/\/+$/, '');
      const parsed = parseRepoPath(trimmed);
      if (!parsed.ok) throw new UsageError(`bad REPO-PREFIX "${prefixArg}": ${parsed.problem}`);
      const p = parsed.repo;
      match = trimmed.endsWith('.git') ? (repo) => repo === p : (repo) => repo === p || repo.startsWith(`${p}/`);
    }
    const policy = compilePolicy(await loadConfig(file));
    await printMatrix(policy, match, io);
    return EXIT.ok;
  }
  const [user, repoArg, needArg, extra] = args.positionals;
  if (user === undefined || repoArg === undefined) {
    throw new UsageError('expected USER REPO [read|write|admin|create] (see --help)');
  }
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const needs = ['read', 'write', 'admin', 'create'] as const;
  if (needArg !== undefined && !(needs as readonly string[]).includes(needArg)) {
    throw new UsageError(`expected read, write, admin or create, got "${needArg}"`);
  }
  const need = (needArg ?? 'read') as (typeof needs)[number];
  const parsed = parseRepoPath(repoArg);
  if (!parsed.ok) throw new UsageError(`bad repo name "${repoArg}": ${parsed.problem}`);
  const repo = parsed.repo;
  const anonymous = user === '$anonymous';
  if (!anonymous && (user === '' || user.startsWith('$') || user.startsWith('@'))) throw new UsageError(`USER must be a user name or $anonymous, got "${user}"`);

  const policy = compilePolicy(await loadConfig(file));
  const identity = resolveIdentity(policy, anonymous ? null : user, anonymous ? 'anonymous' : 'access');
  const d = need === 'create' ? decideCreate(policy, identity, repo) : decide(policy, identity, repo, need);
  const out: string[] = [];
  out.push(`${d.allowed ? 'ALLOWED' : 'DENIED'}: ${d.reason}`);
  out.push(`level: ${d.level}  (status ${d.status}${policy.hasRepo(repo) ? '' : `; ${repo} is not named in the tree: the nodes above it decide`})`);
  if (!anonymous) {
    out.push(`groups: ${identity.groups.length > 0 ? identity.groups.map((g) => `@${g}`).join(' ') : '(none)'}`);
    if (!policy.knownUsers().includes(user)) out.push(`note: ${user} is not in users: or any htpasswd file; only an identity header or plugin could name them`);
  }
  const inForce = { read: [] as string[], write: [] as string[], admin: [] as string[], create: [] as string[] };
  for (const [principal, grants] of policy.accessFor(repo).byPrincipal) {
    const has = (l: string): boolean => grants.some((g) => g.level === l);
    const level = has('admin') ? 'admin' : has('write') ? 'write' : has('read') ? 'read' : null;
    if (level !== null) inForce[level].push(principal);
    if (has('create')) inForce.create.push(principal);
  }
  const listed = (l: string[], none: string): string => l.join(' ') || none;
  const writers = listed(inForce.write, '(nobody)');
  out.push(`grants in force: write: ${writers}; read: ${listed(inForce.read, '(nobody else)')}`);
  if (inForce.admin.length + inForce.create.length > 0) {
    const admins = listed(inForce.admin, '(nobody)');
    out.push(`repo administration: admin: ${admins}; create: ${listed(inForce.create, '(nobody else)')}`);
  }
  out.push('trace:');
  if (d.trace.length === 0) out.push('  (nothing in the tree grants this identity anything here)');
  for (const s of d.trace) out.push(`  ${s.where}: ${s.node}: ${s.what}`);
  if (typeof args.options.ref === 'string') {
    const hooks = hookSettingsFor(policy, repo);
    out.push(`branch rules for ${args.options.ref} are checked at push time by these hook plugins:`);
    if (hooks.size === 0) out.push('  (none)');
    for (const [name, s] of hooks) out.push(`  ${s.where}: ${name}: ${JSON.stringify(s.options)}`);
  }
  io.stdout.write(out.join('\n') + '\n');
  return d.allowed ? EXIT.ok : EXIT.failed;
};

async function printMatrix(policy: CompiledPolicy, match: (repo: string) => boolean, io: CliIO): Promise<void> {
  const onDisk = await listReposOnDisk(policy.config.repoRoot);
  const repos = [...new Set([...policy.repos(), ...onDisk])].filter(match).sort();
  const users = [...policy.knownUsers(), '$anonymous'];
  const ids = users.map((u) => (u === '$anonymous' ? resolveIdentity(policy, null, 'anonymous') : resolveIdentity(policy, u, 'access')));
  const width = Math.max(4, ...repos.map((r) => r.length));
  // Cells are computed first: a `c` widens a column only when some cell has one.
  const table = repos.map((repo) =>
    ids.map((id) => {
      const level = decide(policy, id, repo, 'read').level;
      const cell = level === 'admin' ? 'a' : level === 'write' ? 'w' : level === 'read' ? 'r' : '-';
      return mayCreate(policy, id, repo) && level !== 'admin' ? `${cell}c` : cell;
    }),
  );
  const extended = table.some((row) => row.some((c) => c === 'a' || c.endsWith('c')));
  const cols = users.map((u) => Math.max(u.length, extended ? 2 : 1));
  const lines: string[] = [];
  lines.push(`${'repo'.padEnd(width)}  ${users.map((u, i) => u.padEnd(cols[i] as number)).join('  ')}`);
  repos.forEach((repo, r) => {
    const cells = (table[r] as string[]).map((c, i) => c.padEnd(cols[i] as number));
    lines.push(`${repo.padEnd(width)}  ${cells.join('  ')}`.trimEnd());
  });
  const legend = extended
    ? 'a = admin (create, rename, delete; read and write), w = read and write, r = read, - = no access, ' +
      'c = may create repos there'
    : 'w = read and write, r = read, - = no access';
  lines.push('', legend + (repos.length === 0 ? ' (no repos matched)' : ''));
  io.stdout.write(lines.join('\n') + '\n');
}
