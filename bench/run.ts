/**
 * `npm run bench [-- bridge|auth|nginx …] [--quick]`: gitward against the classic nginx + fcgiwrap +
 * git-http-backend setup, measured in one run on the same generated repos (see BENCH-NOTES).
 *
 * - bridge (issue 2): gitward standalone vs the anchor (no auth) vs file:// (the floor).
 * - auth (issue 3): ls-remote with a cost-10 bcrypt user, gitward's credential cache vs nginx
 *   auth_basic on the same htpasswd file.
 * - nginx (issue 6): through nginx on loopback TLS with the shipped site files, proxy and sidecar
 *   mode vs nginx + fcgiwrap + auth_basic; and the sidecar's per-request cost.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCert } from '../test/helpers/nginx.js';
import { fmtStats, mountTmpfs, ratio, table, unmountTmpfs, type Stats } from './measure.js';
import { BIG_HISTORY, cachedRepo, packBytes, PUSH_300, SMALL } from './repo-gen.js';
import { startClassic, startGitward, startShippedNginx, type Server } from './servers.js';
import {
  BIG_FILE_THRESHOLD,
  DEFAULT_RUNS,
  removePushed,
  runSuite,
  type Measured,
  type Metric,
  type Target,
} from './suite.js';

/** The benches, selectable by name on the command line. */
const BENCHES = ['bridge', 'auth', 'nginx', 'parallel'] as const;
type BenchName = (typeof BENCHES)[number];

/** Password of the bench user; its hash is bcrypt cost 10 as issue 3 asks. */
const PASSWORD = 'bench-password';
const BCRYPT_COST = 10;
/** tmpfs for client clones: 300 MB clones plus 32 small ones, with room to spare. */
const TMPFS_MB = 4096;

const LABELS: Readonly<Record<Metric, string>> = {
  clone: 'full clone, history repo',
  'ls-v0': '`git ls-remote` v0, p50',
  'ls-v2': '`git ls-remote` v2, p50',
  fetch: 'no-op fetch',
  parallel: '32 parallel clones of the small repo',
  push300: 'push of the 300 MB pack',
  clone300: 'clone of the 300 MB repo (no checkout)',
};

interface Ctx {
  readonly work: string;
  readonly client: string;
  readonly tmpfs: boolean;
  readonly serverRoot: string;
  readonly pushSource: string;
  readonly env: Record<string, string>;
  readonly runs: Readonly<Record<Metric, number>>;
  readonly stops: Array<() => Promise<void>>;
  readonly htpasswd: string;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(argv: readonly string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const chosen = argv.filter((a) => !a.startsWith('--'));
  for (const c of chosen)
    if (!(BENCHES as readonly string[]).includes(c))
      throw new Error(`unknown bench "${c}" (choose from ${BENCHES.join(', ')})`);
  const benches: readonly BenchName[] = chosen.length > 0 ? (chosen as BenchName[]) : BENCHES;

  const cache = path.join(os.tmpdir(), 'gitward-bench-cache');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-bench-'));
  const client = path.join(work, 'client');
  const tmpfs = mountTmpfs(client, TMPFS_MB);
  const home = path.join(client, 'home');
  fs.mkdirSync(home, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.org',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.org',
  };
  const stops: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    if (tmpfs) unmountTmpfs(client);
    fs.rmSync(work, { recursive: true, force: true });
  };
  // An interrupted bench must not leave nginx, fcgiwrap, gitward or the tmpfs behind.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping the servers`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const history = await cachedRepo(cache, BIG_HISTORY, env, log);
    const small = await cachedRepo(cache, SMALL, env, log);
    const pushSource = await cachedRepo(cache, PUSH_300, env, log);
    const serverRoot = path.join(work, 'repos');
    fs.mkdirSync(serverRoot);
    for (const [name, src] of [
      ['history', history],
      ['small', small],
    ] as const) {
      execFileSync('git', ['clone', '--quiet', '--bare', '--local', src, path.join(serverRoot, `${name}.git`)], {
        env,
      });
    }
    const htpasswd = path.join(work, 'users.htpasswd');
    fs.writeFileSync(
      htpasswd,
      execFileSync('htpasswd', ['-nbB', '-C', String(BCRYPT_COST), 'ann', PASSWORD])
        .toString()
        .trim() + '\n',
    );

    const runs = quick
      ? { clone: 2, 'ls-v0': 10, 'ls-v2': 10, fetch: 5, parallel: 1, push300: 1, clone300: 1 }
      : DEFAULT_RUNS;
    const ctx: Ctx = { work, client, tmpfs, serverRoot, pushSource, env, runs, stops, htpasswd };

    const out: string[] = [];
    out.push(`# gitward bench, ${new Date().toISOString()}`);
    out.push('');
    out.push(
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${execFileSync('git', ['--version']).toString().trim()}, ${spawnSync('nginx', ['-v']).stderr.toString().trim().replace('nginx version: ', '')}, node ${process.version}.`,
    );
    out.push(
      `Repos: history ${(packBytes(history) / 1e6).toFixed(0)} MB pack, ${BIG_HISTORY.commits} commits; small ${(packBytes(small) / 1e6).toFixed(2)} MB; push ${(packBytes(pushSource) / 1e6).toFixed(0)} MB pack of random bytes. Server repos on disk (${serverRoot}); client clones ${tmpfs ? 'on a tmpfs' : 'ON DISK (mounting a tmpfs failed: not root?)'}.`,
    );
    out.push(
      `Runs per figure: clone ${runs.clone}, ls-remote ${runs['ls-v0']}, no-op fetch ${runs.fetch}, parallel ${runs.parallel}, 300 MB push/clone ${runs.push300}. Figures: median (min–max). The 300 MB repo has core.bigFileThreshold=${BIG_FILE_THRESHOLD} on both sides (its 10 MB random blobs are sent whole, no delta search).`,
    );
    const load = () =>
      os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' / ');
    out.push(
      `Load average (1/5/15 min) at start: ${load()}; other work on the machine skews the figures, compare only within one run.`,
    );
    for (const b of benches) {
      log(`bench ${b}:`);
      out.push('');
      if (b === 'bridge') out.push(...(await benchBridge(ctx)));
      if (b === 'auth') out.push(...(await benchAuth(ctx)));
      if (b === 'nginx') out.push(...(await benchNginx(ctx)));
      if (b === 'parallel') out.push(...(await benchParallel(ctx)));
      for (const stop of stops.splice(0).reverse()) await stop();
      removePushed(serverRoot);
    }
    out.push('', `Load average at the end: ${load()}.`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await cleanup();
  }
}

/** The gitward config of the benches (YAML). */
function gitwardYaml(c: Ctx, name: string, listen: string, repos: string, extra = ''): string {
  return [
    `repo_root: ${c.serverRoot}`,
    `listen: ${JSON.stringify(listen)}`,
    'authentication:',
    `  - {plugin: htpasswd, file: ${c.htpasswd}}`,
    `repos: ${repos}`,
    `log: {level: info, format: json, audit: ${path.join(c.work, `audit-${name}.log`)}}`,
    extra,
    '',
  ].join('\n');
}

function track(c: Ctx, s: Server): Server {
  c.stops.push(s.stop);
  return s;
}

function row(
  label: string,
  cells: ReadonlyArray<Measured | undefined>,
  anchor: Measured | undefined,
  extra: string[] = [],
): string[] {
  const fmt = (m: Measured | undefined) =>
    m ? fmtStats(m.time) + (m.failures > 0 ? ` — ${m.failures} failed` : '') : 'n/a';
  return [
    label,
    ...cells.map(fmt),
    ...cells.slice(1).map((m) => (m && anchor ? ratio(m.time, anchor.time) : 'n/a')),
    ...extra,
  ];
}

function rssOf(m: Measured | undefined): string {
  return m?.rss ? fmtStats(m.rss as Stats, 'MB') : '–';
}

/**
 * Issue 13: 32 parallel small clones (and ls-remote v2 for the per-request cost), gitward against
 * the anchor and the floor, in the order A G G A in every run.
 */
async function benchParallel(c: Ctx): Promise<string[]> {
  const anchor = track(c, await startClassic(path.join(c.work, 'anchor-parallel'), { repoRoot: c.serverRoot }));
  const open = '{.read: [$all], .write: [$all]}';
  const gw = track(
    c,
    await startGitward(path.join(c.work, 'gw-parallel'), gitwardYaml(c, 'parallel', '127.0.0.1:0', open)),
  );
  const a: Target = { name: 'anchor', url: (r) => `${anchor.origin}/${r}.git`, pid: null };
  const g: Target = { name: 'gitward', url: (r) => `${gw.origin}/${r}.git`, pid: gw.pid };
  const f: Target = { name: 'file://', url: (r) => `file://${c.serverRoot}/${r}.git`, pid: null };
  const metrics: Metric[] = ['ls-v2', 'parallel'];
  const runs = { ...c.runs, 'ls-v2': 20, parallel: 5 };
  // GITWARD_BASELINE=DIR: another built checkout of gitward in the same run (B), order A G B B G A.
  const baselineDir = process.env.GITWARD_BASELINE;
  const base =
    baselineDir === undefined
      ? null
      : track(
          c,
          await startGitward(
            path.join(c.work, 'gw-baseline'),
            gitwardYaml(c, 'baseline', '127.0.0.1:0', open),
            baselineDir,
          ),
        );
  const b: Target | null =
    base === null ? null : { name: 'baseline', url: (r) => `${base.origin}/${r}.git`, pid: base.pid };
  // Same name twice: the samples of both passes land in one figure.
  const order = b === null ? [a, g, g, a, f] : [a, g, b, b, g, a, f];
  const res = await runSuite(order, {
    metrics,
    clientDir: c.client,
    serverRoot: c.serverRoot,
    pushSource: c.pushSource,
    env: c.env,
    runs,
    parallel: 32,
    log,
  });
  const get = (t: string, m: Metric) => res.get(t)?.get(m);
  const cols = b === null ? ['anchor', 'gitward', 'file://'] : ['anchor', 'gitward', 'baseline', 'file://'];
  const rows = metrics.map((m) => {
    const cells = cols.map((t) => (get(t, m) ? fmtStats(get(t, m)?.time as Stats, 'ms') : '–'));
    const ratios = cols
      .filter((t) => t === 'gitward' || t === 'baseline')
      .map((t) => ratio(get(t, m)?.time as Stats, get('anchor', m)?.time as Stats));
    return [LABELS[m], ...cells, ...ratios];
  });
  const head = b === null ? [] : [`baseline: ${baselineDir as string}`, ''];
  return [
    `## Parallel (issue 13): gitward vs nginx + fcgiwrap (no auth, plain HTTP), order ${b === null ? 'A G G A' : 'A G B B G A'}`,
    '',
    ...head,
    table(
      [
        'test',
        ...cols.map((t) => (t === 'anchor' ? 'nginx+fcgiwrap (anchor)' : t === 'file://' ? '`file://` (floor)' : t)),
        ...cols.filter((t) => t === 'gitward' || t === 'baseline').map((t) => `${t} / anchor`),
      ],
      rows,
    ),
  ];
}

async function benchBridge(c: Ctx): Promise<string[]> {
  const anchor = track(c, await startClassic(path.join(c.work, 'anchor'), { repoRoot: c.serverRoot }));
  const open = '{.read: [$all], .write: [$all]}';
  const gw = track(
    c,
    await startGitward(path.join(c.work, 'gw-bridge'), gitwardYaml(c, 'bridge', '127.0.0.1:0', open)),
  );
  const targets: Target[] = [
    { name: 'nginx+fcgiwrap', url: (r) => `${anchor.origin}/${r}.git`, pid: null },
    { name: 'gitward', url: (r) => `${gw.origin}/${r}.git`, pid: gw.pid },
    { name: 'file://', url: (r) => `file://${c.serverRoot}/${r}.git`, pid: null },
  ];
  const metrics: Metric[] = ['clone', 'ls-v0', 'ls-v2', 'fetch', 'parallel', 'push300', 'clone300'];
  const res = await runSuite(targets, {
    metrics,
    clientDir: c.client,
    serverRoot: c.serverRoot,
    pushSource: c.pushSource,
    env: c.env,
    runs: c.runs,
    parallel: 32,
    log,
  });
  const get = (t: string, m: Metric) => res.get(t)?.get(m);
  const rows = metrics.map((m) => {
    const a = get('nginx+fcgiwrap', m);
    const g = get('gitward', m);
    const f = get('file://', m);
    // Drop the floor's own ratio (index 5): only gitward is compared with the anchor.
    return row(LABELS[m], [a, g, f], a, [rssOf(g)]).filter((_, i) => i !== 5);
  });
  const delta = (t: string, m: Metric): string => {
    const x = get(t, m);
    const a = get('nginx+fcgiwrap', m);
    return x && a
      ? `${x.time.median - a.time.median >= 0 ? '+' : ''}${(x.time.median - a.time.median).toFixed(1)} ms`
      : 'n/a';
  };
  return [
    '## Bridge (issue 2): gitward standalone vs nginx + fcgiwrap + git-http-backend (no auth, plain HTTP)',
    '',
    table(
      ['test', 'nginx+fcgiwrap (anchor)', 'gitward', '`file://` (floor)', 'gitward / anchor', 'gitward peak RSS'],
      rows,
    ),
    '',
    `ls-remote p50 minus the anchor's: gitward ${delta('gitward', 'ls-v0')} (v0) / ${delta('gitward', 'ls-v2')} (v2). Goal: within +3 ms.`,
  ];
}

async function benchAuth(c: Ctx): Promise<string[]> {
  const anchor = track(
    c,
    await startClassic(path.join(c.work, 'anchor-auth'), { repoRoot: c.serverRoot, htpasswd: c.htpasswd }),
  );
  const gw = track(
    c,
    await startGitward(
      path.join(c.work, 'gw-auth'),
      gitwardYaml(c, 'auth', '127.0.0.1:0', '{.read: [ann], .write: [ann]}'),
    ),
  );
  const creds = `ann:${PASSWORD}@`;
  const targets: Target[] = [
    { name: 'nginx auth_basic', url: (r) => `${anchor.origin.replace('://', `://${creds}`)}/${r}.git`, pid: null },
    { name: 'gitward', url: (r) => `${gw.origin.replace('://', `://${creds}`)}/${r}.git`, pid: gw.pid },
  ];
  const metrics: Metric[] = ['ls-v0', 'ls-v2'];
  const res = await runSuite(targets, {
    metrics,
    clientDir: c.client,
    serverRoot: c.serverRoot,
    pushSource: c.pushSource,
    env: c.env,
    runs: c.runs,
    parallel: 32,
    log,
  });
  const rows = metrics.map((m) =>
    row(
      LABELS[m],
      [res.get('nginx auth_basic')?.get(m), res.get('gitward')?.get(m)],
      res.get('nginx auth_basic')?.get(m),
    ),
  );
  return [
    `## Identity (issue 3): \`git ls-remote\` with a bcrypt cost-${BCRYPT_COST} user, same htpasswd file (plain HTTP)`,
    '',
    table(['test', 'nginx auth_basic + fcgiwrap (anchor)', 'gitward (credential cache)', 'gitward / anchor'], rows),
  ];
}

async function benchNginx(c: Ctx): Promise<string[]> {
  const certDir = path.join(c.work, 'tls');
  fs.mkdirSync(certDir);
  const cert = await makeCert(certDir);
  const env = { ...c.env, GIT_SSL_CAINFO: cert.cert };
  const socket = path.join(c.work, 'gitward.sock');
  const gwDir = path.join(c.work, 'gw-nginx');
  const gw = track(
    c,
    await startGitward(
      gwDir,
      gitwardYaml(
        c,
        'sidecar',
        `unix:${socket}`,
        '{.read: [$all], .write: [ann]}',
        'sidecar: {enabled: true, path: /_gitward/auth}',
      ),
    ),
  );
  const shared = {
    cert,
    gitwardSocket: socket,
    repoRoot: c.serverRoot,
    gitwardConfig: path.join(gwDir, 'gitward.yaml'),
  };
  const classic = track(
    c,
    await startClassic(path.join(c.work, 'classic-tls'), { repoRoot: c.serverRoot, cert, htpasswd: c.htpasswd }),
  );
  const classicOpen = track(
    c,
    await startClassic(path.join(c.work, 'classic-tls-open'), { repoRoot: c.serverRoot, cert }),
  );
  const proxy = track(c, await startShippedNginx(path.join(c.work, 'nginx-proxy'), 'gitward-proxy.conf', shared));
  const sidecar = track(c, await startShippedNginx(path.join(c.work, 'nginx-sidecar'), 'gitward-sidecar.conf', shared));
  const withCreds = (origin: string) => (r: string) => `${origin.replace('://', `://ann:${PASSWORD}@`)}/${r}.git`;
  const anon = (origin: string) => (r: string) => `${origin}/${r}.git`;

  const targets: Target[] = [
    { name: 'classic', url: withCreds(classic.origin), pid: null },
    { name: 'proxy', url: withCreds(proxy.origin), pid: gw.pid },
    { name: 'sidecar', url: withCreds(sidecar.origin), pid: gw.pid },
  ];
  const metrics: Metric[] = ['clone', 'ls-v0', 'ls-v2', 'parallel', 'push300'];
  const res = await runSuite(targets, {
    metrics,
    clientDir: c.client,
    serverRoot: c.serverRoot,
    pushSource: c.pushSource,
    env,
    runs: c.runs,
    parallel: 32,
    log,
  });
  const get = (t: string, m: Metric) => res.get(t)?.get(m);
  const rows = metrics.map((m) =>
    row(LABELS[m], [get('classic', m), get('proxy', m), get('sidecar', m)], get('classic', m), [
      rssOf(get('proxy', m)),
    ]),
  );

  log('  sidecar per-request cost (anonymous reads) …');
  const open: Target[] = [
    { name: 'classic-open', url: anon(classicOpen.origin), pid: null },
    { name: 'sidecar-open', url: anon(sidecar.origin), pid: null },
    { name: 'proxy-open', url: anon(proxy.origin), pid: null },
  ];
  const perReq = await runSuite(open, {
    metrics: ['ls-v0', 'ls-v2'],
    clientDir: c.client,
    serverRoot: c.serverRoot,
    pushSource: c.pushSource,
    env,
    runs: c.runs,
    parallel: 32,
    log,
  });
  const cost = (['ls-v0', 'ls-v2'] as const).map((m) => {
    const a = perReq.get('classic-open')?.get(m);
    const s = perReq.get('sidecar-open')?.get(m);
    const p = perReq.get('proxy-open')?.get(m);
    const requests = m === 'ls-v0' ? 1 : 2;
    const delta = a && s ? `${((s.time.median - a.time.median) / requests).toFixed(1)} ms` : 'n/a';
    return [LABELS[m], a ? fmtStats(a.time) : 'n/a', s ? fmtStats(s.time) : 'n/a', p ? fmtStats(p.time) : 'n/a', delta];
  });
  return [
    `## nginx (issue 6): loopback TLS, shipped site files, user with bcrypt cost ${BCRYPT_COST} (credentials in the URL)`,
    '',
    table(
      [
        'test',
        'nginx + fcgiwrap + auth_basic (anchor)',
        'proxy mode',
        'sidecar mode',
        'proxy / anchor',
        'sidecar / anchor',
        'gitward peak RSS (proxy)',
      ],
      rows,
    ),
    '',
    '### Sidecar per-request cost: anonymous reads, nginx + fcgiwrap without auth vs the same with `auth_request` to gitward',
    '',
    table(['test', 'nginx + fcgiwrap, no auth', 'sidecar mode', 'proxy mode', 'auth_request cost per request'], cost),
  ];
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
