/**
 * Load bench (issue 7, item 3): N concurrent git clients (default 64) for S seconds (default 60)
 * through nginx over TLS on loopback, with a mix of clones, fetches and pushes to 8 repos, where
 * the pushes to each repo race on one branch. Run twice: nginx in proxy mode (the shipped
 * deploy/nginx/gitward-proxy.conf) in front of `gitward serve`, and the anchor nginx + fcgiwrap +
 * git-http-backend. Both authenticate the same user from the same htpasswd file (bcrypt, cost
 * BCRYPT_COST): gitward with its htpasswd plugin, the anchor with nginx auth_basic.
 *
 *   node dist/bench/load.js [--seconds 60] [--clients 64] [--only gitward|anchor]
 *   node dist/bench/load.js --targets anchor,gitward,gitward,anchor
 *
 * `--targets` runs the listed targets in that order (A B B A: the machine's drift hits all alike).
 *
 * After each run it checks, and exits 1 when one fails:
 * - zero 5xx in nginx's access log (and, for gitward, in its audit log);
 * - every push git reported accepted is in the repo: its commit is an ancestor of (or is) the
 *   final tip of the branch it went to (nobody force-pushes, so nothing may drop an accepted
 *   commit); a push rejected as non-fast-forward is an expected outcome, counted apart;
 * - every repo passes `git fsck --strict`;
 * - gitward's peak RSS stays under RSS_BOUND_MB;
 * - once nginx has stopped, gitward has no child process left and no more fds than before.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backendsOf, describeProcs, fdKinds, memoryKiB, openFds, waitFor } from '../test/helpers/procs.js';
import { makeCert, type TestCert } from '../test/helpers/nginx.js';
import { mountTmpfs, table, unmountTmpfs } from './measure.js';
import { cachedRepo, createPrng, SMALL, type Prng } from './repo-gen.js';
import { startClassic, startGitward, startShippedNginx, type Server } from './servers.js';

/** Repos the clients spread over; 8 pushers per repo race on its `race` branch at 64 clients. */
const REPOS = 8;
/** The branch every pusher of a repo pushes to. */
const RACE_BRANCH = 'race';
/** Share of operations: clones, then fetches; the rest are pushes. */
const CLONE_SHARE = 0.3;
const FETCH_SHARE = 0.35;
/** Bench user; bcrypt cost 5 is BENCH-NOTES' reference point for nginx auth_basic. */
const USER = 'bench';
const PASSWORD = 'bench-load-password';
const BCRYPT_COST = 5;
/** gitward's peak RSS above this means something buffers per request (64 clients, small repos). */
const RSS_BOUND_MB = 256;
/** After the run, children and fds must be back within this long (run-backend kills after 1 s). */
const SETTLE_BOUND_MS = 15_000;
/** One git operation of this bench takes well under a second; a minute means it hangs. */
const OP_TIMEOUT_MS = 120_000;
/** tmpfs for the clients' clones: 64 clients × a few 0.3 MB clones. */
const CLIENT_TMPFS_MB = 1024;

/** Clients set up (cloned) at once before the timed run: keeps set-up from timing out. */
const SETUP_PARALLEL = 16;

type OpKind = 'clone' | 'fetch' | 'push';

/** One git operation a client ran. */
interface Op {
  readonly kind: OpKind;
  readonly ms: number;
  readonly ok: boolean;
  /** For pushes: accepted, rejected as non-fast-forward, or failed otherwise. */
  readonly push?: 'accepted' | 'non-ff' | 'lock' | 'failed';
  readonly repo: string;
  readonly sha?: string;
  readonly stderr?: string;
}

/** What one target's run produced. */
interface RunReport {
  readonly label: string;
  readonly seconds: number;
  readonly ops: Op[];
  readonly requests: number;
  readonly statuses: Record<string, number>;
  readonly auditStatuses: Record<string, number> | null;
  readonly problems: string[];
  readonly peakRssMb: number | null;
  readonly fds: string;
}

type TargetName = 'anchor' | 'gitward';
const TARGET_NAMES: readonly TargetName[] = ['anchor', 'gitward'];

function parseArgs(argv: readonly string[]): { seconds: number; clients: number; targets: TargetName[] } {
  const out = { seconds: 60, clients: 64, only: null as string | null, targets: null as TargetName[] | null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--seconds' && v) out.seconds = Number(v);
    else if (a === '--clients' && v) out.clients = Number(v);
    else if (a === '--only' && v) out.only = v;
    else if (a === '--targets' && v) out.targets = v.split(',') as TargetName[];
    else
      throw new Error(
        `usage: node dist/bench/load.js [--seconds N] [--clients N] [--only gitward|anchor] [--targets a,b,…] (got ${String(a)})`,
      );
    i++; // the option's value
  }
  if (!(out.seconds > 0) || !(out.clients > 0)) throw new Error('--seconds and --clients must be positive');
  const targets =
    out.targets ?? (out.only === 'anchor' ? ['anchor'] : out.only === 'gitward' ? ['gitward'] : ['gitward', 'anchor']);
  for (const t of targets)
    if (!TARGET_NAMES.includes(t)) throw new Error(`unknown target "${t}" (choose from ${TARGET_NAMES.join(', ')})`);
  return { seconds: out.seconds, clients: out.clients, targets };
}

interface GitRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function git(args: readonly string[], cwd: string, env: Record<string, string>): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn('git', args as string[], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), OP_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms: Number(process.hrtime.bigint() - start) / 1e6,
      });
    });
  });
}

async function gitOk(args: readonly string[], cwd: string, env: Record<string, string>): Promise<string> {
  const r = await git(args, cwd, env);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Makes `REPOS` bare repos `r0..r7` under `root`, copies of the SMALL repo with a `race` branch. */
async function makeRepos(root: string, small: string, env: Record<string, string>): Promise<string[]> {
  fs.mkdirSync(root, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < REPOS; i++) {
    const dir = path.join(root, `r${i}.git`);
    await gitOk(['clone', '--quiet', '--bare', '--no-local', small, dir], root, env);
    const main = await gitOk(['--git-dir', dir, 'rev-parse', 'HEAD'], root, env);
    await gitOk(['--git-dir', dir, 'update-ref', `refs/heads/${RACE_BRANCH}`, main], root, env);
    // Pushes through the anchor need this (gitward gives it per request); reflogs help a human.
    await gitOk(['--git-dir', dir, 'config', 'http.receivepack', 'true'], root, env);
    await gitOk(['--git-dir', dir, 'config', 'core.logAllRefUpdates', 'always'], root, env);
    names.push(`r${i}`);
  }
  return names;
}

/** Gives client `id` its own clone (of repo id mod REPOS) to fetch into and push from; untimed. */
async function setUpClient(
  id: number,
  o: { url: (repo: string) => string; repos: string[]; work: string; env: Record<string, string> },
): Promise<void> {
  const home = path.join(o.work, `c${id}`);
  fs.mkdirSync(home, { recursive: true });
  await gitOk(
    ['clone', '--quiet', o.url(o.repos[id % o.repos.length] as string), path.join(home, 'mine')],
    home,
    o.env,
  );
}

/** One client: loops until `deadline`, choosing clone, fetch or push with its own PRNG. */
async function client(
  id: number,
  o: {
    url: (repo: string) => string;
    repos: string[];
    work: string;
    env: Record<string, string>;
    deadline: number;
    ops: Op[];
  },
): Promise<void> {
  const rng: Prng = createPrng(1000 + id);
  const repo = o.repos[id % o.repos.length] as string;
  const home = path.join(o.work, `c${id}`);
  const mine = path.join(home, 'mine');
  let n = 0;
  while (Date.now() < o.deadline) {
    const roll = rng.int(1000) / 1000;
    if (roll < CLONE_SHARE) {
      const target = o.repos[rng.int(o.repos.length)] as string;
      const dir = path.join(home, `clone-${n++}`);
      const r = await git(['clone', '--quiet', '--no-checkout', o.url(target), dir], home, o.env);
      o.ops.push({
        kind: 'clone',
        ms: r.ms,
        ok: r.code === 0,
        repo: target,
        ...(r.code === 0 ? {} : { stderr: r.stderr }),
      });
      fs.rmSync(dir, { recursive: true, force: true });
    } else if (roll < CLONE_SHARE + FETCH_SHARE) {
      const r = await git(['fetch', '--quiet', 'origin'], mine, o.env);
      o.ops.push({ kind: 'fetch', ms: r.ms, ok: r.code === 0, repo, ...(r.code === 0 ? {} : { stderr: r.stderr }) });
    } else {
      // Build on the branch as last fetched (racing pushers make many of these non-fast-forward).
      await gitOk(
        ['fetch', '--quiet', 'origin', `+refs/heads/${RACE_BRANCH}:refs/remotes/origin/${RACE_BRANCH}`],
        mine,
        o.env,
      ).catch(() => undefined);
      await gitOk(['checkout', '--quiet', '-B', RACE_BRANCH, `origin/${RACE_BRANCH}`], mine, o.env);
      fs.writeFileSync(path.join(mine, `client-${id}.txt`), `client ${id} push ${n++}\n`);
      await gitOk(['add', '.'], mine, o.env);
      await gitOk(['commit', '--quiet', '-m', `client ${id} push ${n}`], mine, o.env);
      const sha = await gitOk(['rev-parse', 'HEAD'], mine, o.env);
      const r = await git(['push', '--porcelain', 'origin', `${RACE_BRANCH}:refs/heads/${RACE_BRANCH}`], mine, o.env);
      const line = r.stdout.split('\n').find((l) => l.includes(`:refs/heads/${RACE_BRANCH}\t`)) ?? '';
      const accepted = r.code === 0 && /^[ *]\t/.test(line);
      // Lost races: the client saw a newer tip (non-fast-forward / fetch first), or two
      // receive-packs raced and the second's compare-and-swap of the ref failed.
      const nonFf = !accepted && /^!\t/.test(line) && /fetch first|non-fast-forward/.test(line);
      const lockLost =
        !accepted &&
        !nonFf &&
        /^!\t/.test(line) &&
        /lock|failed to update ref|incorrect old value|expected/.test(line + r.stderr);
      const outcome = accepted ? 'accepted' : nonFf ? 'non-ff' : lockLost ? 'lock' : 'failed';
      o.ops.push({
        kind: 'push',
        ms: r.ms,
        ok: outcome !== 'failed',
        push: outcome,
        repo,
        sha,
        ...(outcome === 'failed' || outcome === 'lock' ? { stderr: r.stdout + r.stderr } : {}),
      });
    }
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as number;
}

/** Counts `$status` in nginx's test access log (`METHOD URI STATUS te=…`). */
function nginxStatuses(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const status = line.split(' ')[2];
    if (status) out[status] = (out[status] ?? 0) + 1;
  }
  return out;
}

function auditStatuses(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const status = String((JSON.parse(line) as { status?: unknown }).status);
    out[status] = (out[status] ?? 0) + 1;
  }
  return out;
}

/** The repo checks after a run: accepted pushes reachable from the final tips, fsck --strict. */
async function checkRepos(
  root: string,
  repos: string[],
  ops: readonly Op[],
  env: Record<string, string>,
  problems: string[],
): Promise<void> {
  for (const repo of repos) {
    const dir = path.join(root, `${repo}.git`);
    const reachable = new Set(
      (await gitOk(['--git-dir', dir, 'rev-list', `refs/heads/${RACE_BRANCH}`], root, env)).split('\n'),
    );
    for (const op of ops) {
      if (op.repo === repo && op.push === 'accepted' && !reachable.has(op.sha as string))
        problems.push(`${repo}: accepted push ${String(op.sha)} is not an ancestor of the final ${RACE_BRANCH}`);
    }
    const fsck = await git(['--git-dir', dir, 'fsck', '--strict', '--no-progress'], root, env);
    if (fsck.code !== 0) problems.push(`${repo}: git fsck --strict failed: ${fsck.stdout}${fsck.stderr}`);
  }
}

async function runLoad(
  label: string,
  o: {
    seconds: number;
    clients: number;
    url: (repo: string) => string;
    repos: string[];
    repoRoot: string;
    clientDir: string;
    env: Record<string, string>;
    accessLog: string;
    audit: string | null;
    gitwardPid: number | null;
  },
): Promise<{ report: Omit<RunReport, 'fds' | 'peakRssMb'>; problems: string[] }> {
  const ops: Op[] = [];
  const work = path.join(o.clientDir, label);
  fs.mkdirSync(work, { recursive: true });
  // Each client's own clone first (a few at a time), then the clock starts for all at once.
  for (let i = 0; i < o.clients; i += SETUP_PARALLEL) {
    await Promise.all(
      Array.from({ length: Math.min(SETUP_PARALLEL, o.clients - i) }, (_, k) =>
        setUpClient(i + k, { url: o.url, repos: o.repos, work, env: o.env }),
      ),
    );
  }
  const linesBefore = fs.existsSync(o.accessLog) ? fs.readFileSync(o.accessLog, 'utf8').split('\n').length - 1 : 0;
  const start = Date.now();
  const deadline = start + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: o.clients }, (_, id) =>
      client(id, { url: o.url, repos: o.repos, work, env: o.env, deadline, ops }),
    ),
  );
  const elapsed = (Date.now() - start) / 1000;
  fs.rmSync(work, { recursive: true, force: true });
  const problems: string[] = [];
  const statuses = nginxStatuses(o.accessLog);
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0) - linesBefore;
  for (const [status, count] of Object.entries(statuses))
    if (status.startsWith('5')) problems.push(`nginx logged ${count} × ${status}`);
  const audits = o.audit === null ? null : auditStatuses(o.audit);
  for (const [status, count] of Object.entries(audits ?? {}))
    if (status.startsWith('5')) problems.push(`gitward's audit log has ${count} × ${status}`);
  for (const op of ops.filter((x) => !x.ok).slice(0, 5))
    problems.push(`${op.kind} ${op.repo} failed: ${(op.stderr ?? '').trim().slice(0, 300)}`);
  const failed = ops.filter((x) => !x.ok).length;
  if (failed > 5) problems.push(`… ${failed} failed operations in all`);
  await checkRepos(o.repoRoot, o.repos, ops, o.env, problems);
  return { report: { label, seconds: elapsed, ops, requests, statuses, auditStatuses: audits, problems }, problems };
}

function summary(r: RunReport): string[] {
  const by = (k: OpKind | null) =>
    r.ops
      .filter((x) => (k === null || x.kind === k) && x.ok)
      .map((x) => x.ms)
      .sort((a, b) => a - b);
  const all = by(null);
  const lat = (xs: number[]) =>
    xs.length === 0 ? 'n/a' : `${percentile(xs, 50).toFixed(0)} / ${percentile(xs, 99).toFixed(0)} ms`;
  const pushes = r.ops.filter((x) => x.kind === 'push');
  const count = (k: string) => pushes.filter((x) => x.push === k).length;
  return [
    r.label,
    `${r.ops.length} (${(r.ops.length / r.seconds).toFixed(1)}/s)`,
    `${r.requests} (${(r.requests / r.seconds).toFixed(0)}/s)`,
    lat(all),
    lat(by('clone')),
    lat(by('fetch')),
    lat(by('push')),
    `${count('accepted')} / ${count('non-ff')} / ${count('lock')} / ${count('failed')}`,
    Object.entries(r.statuses)
      .map(([s, c]) => `${s}:${c}`)
      .join(' '),
    r.peakRssMb === null ? 'n/a' : `${r.peakRssMb.toFixed(0)} MB`,
    r.fds,
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-load-')));
  const clientDir = path.join(base, 'client');
  const tmpfs = mountTmpfs(clientDir, CLIENT_TMPFS_MB);
  const stops: Array<() => Promise<void>> = [];
  const reports: RunReport[] = [];
  let failed = false;
  try {
    const home = path.join(base, 'home');
    fs.mkdirSync(home);
    const cert: TestCert = await makeCert(base);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'C',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'Load Bench',
      GIT_AUTHOR_EMAIL: 'load@example.org',
      GIT_COMMITTER_NAME: 'Load Bench',
      GIT_COMMITTER_EMAIL: 'load@example.org',
      GIT_SSL_CAINFO: cert.cert,
    };
    const cache = path.join(os.tmpdir(), 'gitward-bench-cache');
    fs.mkdirSync(cache, { recursive: true });
    const small = await cachedRepo(cache, SMALL, env, (s) => process.stderr.write(`${s}\n`));
    const htpasswd = path.join(base, 'users.htpasswd');
    fs.writeFileSync(
      htpasswd,
      execFileSync('htpasswd', ['-nbB', '-C', String(BCRYPT_COST), USER, PASSWORD])
        .toString()
        .trim() + '\n',
    );
    const log = (s: string): void => void process.stderr.write(`${s}\n`);
    log(
      `load: ${args.clients} clients × ${args.seconds} s, ${REPOS} repos (small: 30 commits, 0.3 MB), client clones ${tmpfs ? 'on a tmpfs' : 'ON DISK (tmpfs mount failed)'}, server repos on disk under ${base}`,
    );

    for (const [index, target] of args.targets.entries()) {
      if (target !== 'anchor') {
        const dir = path.join(base, `gitward-${index}`);
        const repoRoot = path.join(dir, 'repos');
        const repos = await makeRepos(repoRoot, small, env);
        const socket = path.join(dir, 'gitward.sock');
        const audit = path.join(dir, 'audit.log');
        const yaml = [
          `repo_root: ${repoRoot}`,
          `listen: ${JSON.stringify(`unix:${socket}`)}`,
          'authentication:',
          `  - {plugin: htpasswd, file: ${htpasswd}}`,
          `users: {${USER}: {}}`,
          `repos: {.read: [${USER}], .write: [${USER}]}`,
          // The race branch is fast-forward only (the default), so an accepted commit can never vanish.
          `log: {level: info, format: json, audit: ${audit}}`,
          '',
        ].join('\n');
        const gw = await startGitward(dir, yaml);
        stops.push(gw.stop);
        const pid = gw.pid as number;
        // Sockets: gitward's own before nginx connects; other fds: after a warm-up request, since
        // some are opened once and kept (the audit log file, the htpasswd file's state).
        const socketsBefore = openFds(pid).filter((f) => f.target.startsWith('socket:')).length;
        try {
          fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
        } catch {
          // VmHWM then covers start-up too, which is smaller than the load.
        }
        const nginxDir = path.join(dir, 'nginx');
        const nginx: Server = await startShippedNginx(nginxDir, 'gitward-proxy.conf', {
          cert,
          gitwardSocket: socket,
          repoRoot,
          gitwardConfig: path.join(dir, 'gitward.yaml'),
        });
        const url = (repo: string): string =>
          `${nginx.origin.replace('https://', `https://${USER}:${PASSWORD}@`)}/${repo}.git`;
        await gitOk(['ls-remote', url(repos[0] as string)], base, env);
        const othersBefore = openFds(pid).filter((f) => !f.target.startsWith('socket:'));
        const fdsBefore = socketsBefore + othersBefore.length;
        const label = 'gitward (nginx proxy mode, TLS)';
        log(`load: ${label} …`);
        const { report, problems } = await runLoad(label, {
          ...args,
          url,
          repos,
          repoRoot,
          clientDir,
          env,
          accessLog: path.join(nginxDir, 'access.log'),
          audit,
          gitwardPid: pid,
        });
        const peak = (memoryKiB(pid)?.peak ?? 0) / 1024;
        if (peak > RSS_BOUND_MB) problems.push(`gitward's peak RSS ${peak.toFixed(0)} MB is above ${RSS_BOUND_MB} MB`);
        // nginx keeps idle upstream connections; stop it, then gitward must be back to its start.
        await nginx.stop();
        let fdsAfter = openFds(pid).length;
        try {
          await waitFor(
            () => backendsOf(pid).length === 0,
            'gitward has no backend left',
            SETTLE_BOUND_MS,
            () => describeProcs(backendsOf(pid)),
          );
          await waitFor(
            () => (fdsAfter = openFds(pid).length) <= fdsBefore,
            `gitward's fds back to ${fdsBefore}`,
            SETTLE_BOUND_MS,
            () =>
              `${JSON.stringify(fdKinds(openFds(pid)))}; new: ${openFds(pid)
                .filter(
                  (f) =>
                    !f.target.startsWith('socket:') &&
                    !othersBefore.some((b) => b.fd === f.fd && b.target === f.target),
                )
                .map((f) => `${f.fd}→${f.target}`)
                .join(' ')}`,
          );
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
        }
        reports.push({
          ...report,
          problems,
          peakRssMb: peak,
          fds: `${fdsBefore} → ${fdsAfter}, backends left 0: ${backendsOf(pid).length === 0 ? 'yes' : 'NO'}`,
        });
        for (const stop of stops.splice(0).reverse()) await stop();
      } else {
        const dir = path.join(base, `anchor-${index}`);
        const repoRoot = path.join(dir, 'repos');
        const repos = await makeRepos(repoRoot, small, env);
        const anchor = await startClassic(dir, { repoRoot, cert, htpasswd });
        stops.push(anchor.stop);
        const url = (repo: string): string =>
          `${anchor.origin.replace('https://', `https://${USER}:${PASSWORD}@`)}/${repo}.git`;
        log('load: anchor nginx + fcgiwrap …');
        const { report, problems } = await runLoad('anchor (nginx + fcgiwrap, TLS, auth_basic)', {
          ...args,
          url,
          repos,
          repoRoot,
          clientDir,
          env,
          accessLog: path.join(dir, 'access.log'),
          audit: null,
          gitwardPid: null,
        });
        reports.push({ ...report, problems, peakRssMb: null, fds: 'n/a' });
        for (const stop of stops.splice(0).reverse()) await stop();
      }
      log(
        `load: ${target} done; load average ${os
          .loadavg()
          .map((x) => x.toFixed(1))
          .join(' / ')}`,
      );
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (tmpfs) unmountTmpfs(clientDir);
    fs.rmSync(base, { recursive: true, force: true });
  }

  const header = [
    'target',
    'operations',
    'HTTP requests',
    'op p50 / p99',
    'clone p50 / p99',
    'fetch p50 / p99',
    'push p50 / p99',
    'pushes accepted / non-ff / lost ref lock / failed',
    'HTTP statuses (nginx)',
    'gitward peak RSS',
    'gitward fds before → after',
  ];
  const out = [
    `# Load: ${args.clients} clients, ${args.seconds} s, ${REPOS} repos, clone ${CLONE_SHARE * 100}% / fetch ${FETCH_SHARE * 100}% / push ${Math.round((1 - CLONE_SHARE - FETCH_SHARE) * 100)}% (push = fetch + commit + push to the shared \`${RACE_BRANCH}\` branch; only the push is timed)`,
    `Load average (1/5/15 min) at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}.`,
    `Auth: the same htpasswd file, bcrypt cost ${BCRYPT_COST}, in both (gitward's htpasswd plugin with its credential cache; nginx auth_basic hashing every request).`,
    '',
    table(header, reports.map(summary)),
    '',
  ];
  for (const r of reports) {
    if (r.auditStatuses) out.push(`${r.label}: gitward audit statuses ${JSON.stringify(r.auditStatuses)}`);
    out.push(
      `${r.label}: checks ${r.problems.length === 0 ? 'passed (zero 5xx, every accepted push reachable from the final tip, fsck --strict clean' + (r.peakRssMb === null ? '' : `, RSS < ${RSS_BOUND_MB} MB, no child or fd left`) + ')' : 'FAILED:'}`,
    );
    for (const p of r.problems) out.push(`  - ${p}`);
    if (r.problems.length > 0) failed = true;
  }
  process.stdout.write(out.join('\n') + '\n');
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
