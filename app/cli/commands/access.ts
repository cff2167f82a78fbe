import { execFile } from 'node:child_process';
import { parseRepoPath } from '../../config/names.js';
import { loadConfig } from '../../config/load.js';
import { UsageError } from '../../errors.js';
import { compilePolicy } from '../../policy/compile.js';
import { decide, decideCreate, mayCreate } from '../../policy/decide.js';
import { resolveIdentity } from '../../policy/identity.js';
import { listReposOnDisk } from '../../policy/list-repos.js';
import type { CompiledPolicy } from '../../config/types.js';
import type { Identity } from '../../types.js';
import { explainRef, type PluginExplanation } from '../explain-ref.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';

const HELP = `usage: gitward access USER REPO [read|write|admin|create] [--ref REF] [--config FILE]
       gitward access --matrix [REPO-PREFIX] [--config FILE]

Explains the decision for USER on REPO (default: read): allowed or denied, the access level
(none < read < write < admin), and the trace — every node of the repos: tree that granted or cut
something, with file:line. USER is a user name, $anonymous, $authenticated (any user who logged
in, by that alone) or @group (any member, by that group alone). \`create\` asks whether USER may
create REPO as a new repo (.create or .admin above it). Exit 0 allowed, 1 denied.
--ref REF (a branch name, or a full ref such as refs/tags/v1) asks about pushing REF (write): the
hook plugins in force for REPO are run as a push would run them, for every action (create,
fast-forward push, force, delete; tags: create, move, delete), and each says the rule that
decides; exit 0 when a fast-forward push (tags: creation) of REF is allowed.
--matrix prints who can read (r), write (w) and administer (a) which repo, and who may create (c)
repos there, in the tree or on disk; REPO-PREFIX keeps the repos at or below a project group or one repo, by
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
  const refArg = typeof args.options.ref === 'string' ? args.options.ref : null;
  if (refArg !== null && needArg !== undefined && needArg !== 'write') {
    throw new UsageError('--ref asks about a push: write, or leave it out');
  }
  const need = (needArg ?? (refArg !== null ? 'write' : 'read')) as (typeof needs)[number];
  const parsed = parseRepoPath(repoArg);
  if (!parsed.ok) throw new UsageError(`bad repo name "${repoArg}": ${parsed.problem}`);
  const repo = parsed.repo;
  const anonymous = user === '$anonymous';
  const kind: AskedKind = anonymous
    ? 'anonymous'
    : user === '$authenticated'
      ? 'authenticated'
      : user.startsWith('@')
        ? 'group'
        : 'user';
  if (kind === 'user' && (user === '' || user.startsWith('$'))) {
    throw new UsageError(`USER must be a user name, $anonymous, $authenticated or @group, got "${user}"`);
  }
  const ref = refArg === null ? null : await fullRef(refArg, io.env);

  const policy = compilePolicy(await loadConfig(file));
  const identity = identityFor(policy, kind, user);
  const d = need === 'create' ? decideCreate(policy, identity, repo) : decide(policy, identity, repo, need);
  const out: string[] = [];
  out.push(`${d.allowed ? 'ALLOWED' : 'DENIED'}: ${d.reason}`);
  const unnamed = policy.hasRepo(repo) ? '' : `; ${repo} is not named in the tree: the nodes above it decide`;
  out.push(`level: ${d.level}  (status ${d.status}${unnamed})`);
  if (kind !== 'anonymous') {
    out.push(`groups: ${identity.groups.length > 0 ? identity.groups.map((g) => `@${g}`).join(' ') : '(none)'}`);
    if (kind === 'user' && !policy.knownUsers().includes(user)) {
      const note = 'only an identity header or plugin could name them';
      out.push(`note: ${user} is not in users: or any htpasswd file; ${note}`);
    }
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
  let allowed = d.allowed;
  if (ref !== null) {
    const ruled = await explainRef(policy, repo, ref, identity);
    const refAllowed = printRefRules(out, ref, repo, ruled, d.allowed);
    allowed = d.allowed && refAllowed;
  }
  io.stdout.write(out.join('\n') + '\n');
  return allowed ? EXIT.ok : EXIT.failed;
};

/** The identity asked about: a user, nobody, any authenticated user, or any member of a group. */
/** Who `access` is asked about: a user, nobody, any authenticated user, or any member of a group. */
type AskedKind = 'anonymous' | 'authenticated' | 'group' | 'user';

function identityFor(policy: CompiledPolicy, kind: AskedKind, user: string): Identity {
  if (kind === 'anonymous') return resolveIdentity(policy, null, 'anonymous');
  if (kind === 'user') return resolveIdentity(policy, user, 'access');
  // Stand-ins that no grant or rule can name (they contain spaces): only groups and $authenticated match.
  if (kind === 'authenticated') {
    return Object.freeze({ user: 'any authenticated user', source: 'access', groups: [], info: {} });
  }
  const group = user.slice(1);
  const known =
    policy.config.groups.has(group) || policy.knownUsers().some((u) => policy.groupsOfUser(u).includes(group));
  if (!known) throw new UsageError(`unknown group "${user}" (in neither groups: nor any user's groups)`);
  const groups = policy.expandGroups([group]);
  return Object.freeze({ user: `a member of ${user}`, source: 'access', groups, info: {} });
}

/** `main` → `refs/heads/main`; a full ref stays. git decides whether it is a valid ref name. */
async function fullRef(raw: string, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const ref = raw.startsWith('refs/') ? raw : `refs/heads/${raw}`;
  const ok = await new Promise<boolean>((resolve, reject) => {
    const child = execFile('git', ['check-ref-format', ref], { env: { PATH: env.PATH ?? '/usr/bin:/bin' } }, (err) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err);
      else resolve(err === null);
    });
    child.stdin?.end();
  });
  if (!ok) throw new UsageError(`bad ref "${raw}": git check-ref-format refuses ${ref}`);
  return ref;
}

/** The action whose answer is the exit code: what a plain `git push` of the ref does. */
const MAIN_ACTION: Readonly<Record<string, string>> = { 'refs/heads/': 'push', 'refs/tags/': 'create' };

/** Appends the branch rules' answers for `ref`; true when its main action is not refused. */
function printRefRules(
  out: string[],
  ref: string,
  repo: string,
  ruled: readonly PluginExplanation[],
  canWrite: boolean,
): boolean {
  const main = Object.entries(MAIN_ACTION).find(([prefix]) => ref.startsWith(prefix))?.[1] ?? 'update';
  out.push(`ref ${ref}: the hook plugins in force for ${repo}, in the order they run:`);
  if (!canWrite) out.push('  (no write access: every push is refused before the hooks run)');
  if (ruled.length === 0) out.push(`  (none: write access to ${repo} alone decides)`);
  let mainAllowed = true;
  for (const p of ruled) {
    const rule = p.rule === null ? 'no rule applies to this ref' : `rule ${p.rule} decides`;
    out.push(`  ${p.plugin} (${p.where}): ${rule}`);
    for (const { action, outcome } of p.actions) {
      const text =
        outcome.kind === 'allowed'
          ? 'allowed'
          : outcome.kind === 'refused'
            ? `REFUSED by ${outcome.rule}: ${outcome.message}`
            : `allowed if the commits pushed pass ${outcome.rule}; else REFUSED: ${outcome.message}`;
      out.push(`    ${action.padEnd(7)} ${text}`);
      if (action === main && outcome.kind === 'refused') mainAllowed = false;
    }
  }
  const verdict = canWrite && mainAllowed ? 'ALLOWED' : 'REFUSED';
  out.push(`${main} ${ref}: ${verdict}`);
  return mainAllowed;
}

async function printMatrix(policy: CompiledPolicy, match: (repo: string) => boolean, io: CliIO): Promise<void> {
  const onDisk = await listReposOnDisk(policy.config.repoRoot);
  const repos = [...new Set([...policy.repos(), ...onDisk])].filter(match).sort();
  const users = [...policy.knownUsers(), '$anonymous'];
  const ids = users.map((u) =>
    u === '$anonymous' ? resolveIdentity(policy, null, 'anonymous') : resolveIdentity(policy, u, 'access'),
  );
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
