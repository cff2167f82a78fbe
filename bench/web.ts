/**
 * `node dist/bench/web.js [--runs N]` (issue 15): page p50 of the web view — the repo index
 * (1,000 repos, the reader may read 100), and the summary, tree, blob and log of the ~100 MB
 * history repo — through gitward against cgit run directly under nginx + fcgiwrap with no ACL
 * (the same 100 repos, the same cgit settings), with cgit's cache on and off, all in one run,
 * the targets alternated (A B B A). Then gitward's peak RSS while snapshots of the history repo
 * stream. Prints a Markdown table; the load average before and after.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { renderCgitrc, renderHeader, type CgitRepo } from '../app/backend/cgitrc.js';
import type { WebSettings } from '../app/config/types.js';
import { startFcgiwrap } from '../test/helpers/fcgiwrap.js';
import { startNginx } from '../test/helpers/nginx.js';
import { fmtMs, peakRss, ratio, stats, table, type Stats } from './measure.js';
import { BIG_HISTORY, cachedRepo } from './repo-gen.js';
import { startGitward } from './servers.js';

const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** Repos under repo_root, in ten groups of 100; the reader may read group g0 (100 repos, history among them). */
const GROUPS = 10;
const PER_GROUP = 100;

/** Page loads per page and target (half in each of the two passes). */
const DEFAULT_RUNS = 30;

/** Snapshots downloaded while gitward's memory is sampled. */
const SNAPSHOTS = 4;

const CGIT = '/usr/lib/cgit/cgit.cgi';

interface Target {
  readonly name: string;
  readonly origin: string;
}

/** p50 of spawning /bin/true from this Node process, ms: the fork cost every gitward page pays. */
async function spawnP50(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve) => spawn('/bin/true', [], { stdio: 'ignore' }).once('close', () => resolve()));
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return stats(samples).median;
}

/** CPU time (user + system) a process has used so far, ms, from /proc/PID/stat. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One GET on a keep-alive agent; resolves with the time to the last byte, in ms. */
function load(
  agent: http.Agent,
  origin: string,
  target: string,
): Promise<{ ms: number; status: number; bytes: number }> {
  const url = new URL(target, origin);
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.get({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () =>
        resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, status: res.statusCode ?? 0, bytes }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const runsArg = argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : DEFAULT_RUNS;
  // `--pages index,blob`: only the pages whose label starts with one of these words.
  const pagesArg = argv.indexOf('--pages');
  const only = pagesArg >= 0 ? (argv[pagesArg + 1] ?? '').split(',') : null;
  // `--cache on` or `--cache off`: only that half.
  const cacheArg = argv.indexOf('--cache');
  const caches = cacheArg >= 0 ? [argv[cacheArg + 1] === 'on'] : [true, false];
  const cache = path.join(os.tmpdir(), 'gitward-bench-cache');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-bench-web-'));
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    HOME: work,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.org',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.org',
  };
  const stops: Array<() => Promise<void>> = [];
  try {
    const loadBefore = os.loadavg();
    const spawnBefore = await spawnP50();
    const history = await cachedRepo(cache, BIG_HISTORY, env, log);
    const repoRoot = path.join(work, 'repos');
    // One small repo, copied: 999 of them cost a copy each instead of git's start-up.
    const seed = path.join(work, 'seed');
    execFileSync('git', ['init', '--quiet', '--initial-branch=main', seed], { env });
    fs.writeFileSync(path.join(seed, 'README.md'), '# a repo\n');
    execFileSync('git', ['add', '.'], { cwd: seed, env });
    execFileSync('git', ['commit', '--quiet', '-m', 'one'], { cwd: seed, env });
    const seedBare = path.join(work, 'seed.git');
    execFileSync('git', ['clone', '--quiet', '--bare', seed, seedBare], { env });
    for (let g = 0; g < GROUPS; g++) {
      for (let r = 0; r < PER_GROUP; r++) {
        if (g === 0 && r === 0) continue;
        fs.cpSync(seedBare, path.join(repoRoot, `g${g}`, `r${String(r).padStart(3, '0')}.git`), { recursive: true });
      }
    }
    execFileSync('git', ['clone', '--quiet', '--bare', '--local', history, path.join(repoRoot, 'g0', 'history.git')], {
      env,
    });
    const readable: CgitRepo[] = fs
      .readdirSync(path.join(repoRoot, 'g0'))
      .filter((d) => d.endsWith('.git'))
      .sort()
      .map((d) => ({ name: `g0/${d.slice(0, -4)}`, dir: fs.realpathSync(path.join(repoRoot, 'g0', d)) }));
    const file = execFileSync('git', ['ls-tree', '-r', '--name-only', 'HEAD'], {
      cwd: path.join(repoRoot, 'g0', 'history.git'),
      env,
    })
      .toString()
      .split('\n')[0] as string;
    const allPages: ReadonlyArray<readonly [string, string]> = [
      ['index (100 of 1,000 repos)', '/'],
      ['summary', '/g0/history.git/'],
      ['tree', '/g0/history.git/tree/'],
      ['blob (highlighted)', `/g0/history.git/tree/${file}`],
      ['log', '/g0/history.git/log/'],
    ];
    const pages = allPages.filter(([label]) => only === null || only.some((w) => label.startsWith(w)));

    const targets: Array<{ cacheOn: boolean; anchor: Target; gitward: Target; gitwardPid: number | null }> = [];
    for (const cacheOn of caches) {
      const cacheSize = cacheOn ? 1000 : 0;
      const web: WebSettings = {
        enabled: true,
        siteTitle: 'bench',
        filters: ['markdown', 'pygments'],
        cloneUrls: [],
        cacheSize,
        cacheDir: null,
        cgitPath: CGIT,
      };
      // The anchor: cgit under nginx + fcgiwrap, a hand-made cgitrc with the same 100 repos and settings.
      const adir = path.join(work, `anchor-${cacheSize}`);
      fs.mkdirSync(path.join(adir, 'cache'), { recursive: true });
      fs.writeFileSync(path.join(adir, 'header.html'), renderHeader('/'));
      fs.writeFileSync(
        path.join(adir, 'cgitrc'),
        renderCgitrc(
          { web, basePath: '/', headerFile: path.join(adir, 'header.html') },
          readable,
          path.join(adir, 'cache'),
        ),
      );
      const fcgi = await startFcgiwrap({ socket: path.join(adir, 'fcgiwrap.sock'), children: 4 });
      stops.push(() => fcgi.stop());
      const site = (port: number): string =>
        [
          'server {',
          `  listen 127.0.0.1:${port};`,
          '  location / {',
          `    fastcgi_pass unix:${fcgi.socket};`,
          '    include /etc/nginx/fastcgi_params;',
          `    fastcgi_param SCRIPT_FILENAME ${CGIT};`,
          `    fastcgi_param CGIT_CONFIG ${path.join(adir, 'cgitrc')};`,
          '    fastcgi_param PATH_INFO $uri;',
          '    fastcgi_param PATH /usr/bin:/bin;',
          '    fastcgi_buffering off;',
          '  }',
          '}',
        ].join('\n');
      const nginx = await startNginx({ dir: path.join(adir, 'nginx'), site, workers: 'auto' });
      stops.push(() => nginx.stop());
      const port = nginx.port;
      const gdir = path.join(work, `gitward-${cacheSize}`);
      const gw = await startGitward(
        gdir,
        [
          `repo_root: ${repoRoot}`,
          'listen: 127.0.0.1:0',
          `log: {level: info, audit: ${path.join(gdir, 'audit.log')}}`,
          'sidecar: {enabled: false}',
          'repos:',
          '  g0: {.read: [$all]}',
          `web: {enabled: true, site_title: bench, cache_size: ${cacheSize}, cache_dir: ${path.join(gdir, 'web')}}`,
          '',
        ].join('\n'),
      );
      stops.push(() => gw.stop());
      targets.push({
        cacheOn,
        anchor: { name: 'nginx + fcgiwrap + cgit', origin: `http://127.0.0.1:${port}` },
        gitward: { name: 'gitward', origin: gw.origin },
        gitwardPid: gw.pid,
      });
    }

    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const results = new Map<string, Stats>();
    for (const t of targets) {
      for (const [label, target] of pages) {
        // Warm up both (and fill the cache when it is on); check both answer alike.
        const a = await load(agent, t.anchor.origin, target);
        const g = await load(agent, t.gitward.origin, target);
        if (a.status !== 200 || g.status !== 200) throw new Error(`${target}: anchor ${a.status}, gitward ${g.status}`);
        const samples = { anchor: [] as number[], gitward: [] as number[] };
        const cpu0 = t.gitwardPid === null ? 0 : cpuMs(t.gitwardPid);
        // A B B A: half the runs anchor first, half gitward first.
        for (let i = 0; i < runs; i++) {
          const order = i < runs / 2 ? (['anchor', 'gitward'] as const) : (['gitward', 'anchor'] as const);
          for (const side of order) samples[side].push((await load(agent, t[side].origin, target)).ms);
        }
        const cpu = t.gitwardPid === null ? NaN : (cpuMs(t.gitwardPid) - cpu0) / runs;
        results.set(`${t.cacheOn}|${label}|anchor`, stats(samples.anchor));
        results.set(`${t.cacheOn}|${label}|gitward`, stats(samples.gitward));
        log(
          `cache ${t.cacheOn ? 'on' : 'off'}: ${label}: anchor ${fmtMs(stats(samples.anchor).median)}, gitward ${fmtMs(stats(samples.gitward).median)} (gitward's own CPU: ${fmtMs(cpu)} a page)`,
        );
      }
    }
    const rows = pages.map(([label]) => {
      // A half left out with --cache is an empty row of `n/a`.
      const none: Stats = stats([]);
      const cell = (on: boolean, side: string): Stats => results.get(`${on}|${label}|${side}`) ?? none;
      return [
        label,
        fmtMs(cell(true, 'anchor').median),
        fmtMs(cell(true, 'gitward').median),
        ratio(cell(true, 'gitward'), cell(true, 'anchor')),
        fmtMs(cell(false, 'anchor').median),
        fmtMs(cell(false, 'gitward').median),
        ratio(cell(false, 'gitward'), cell(false, 'anchor')),
      ];
    });
    process.stdout.write(
      `${table(['page, p50 of ' + String(runs), 'anchor, cache on', 'gitward, cache on', 'ratio', 'anchor, cache off', 'gitward, cache off', 'ratio'], rows)}\n`,
    );

    // Memory while big pages stream: snapshots of the history repo (cache off: cgit renders each).
    const off = targets.find((t) => !t.cacheOn);
    if (off?.gitwardPid) {
      const rssKb = (): number =>
        Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${off.gitwardPid}/status`, 'utf8'))?.[1] ?? 0);
      const rest = rssKb() / 1024;
      let bytes = 0;
      const { peakMb } = await peakRss(off.gitwardPid, async () => {
        for (let i = 0; i < SNAPSHOTS; i++)
          bytes += (await load(agent, off.gitward.origin, '/g0/history.git/snapshot/history-main.tar.gz')).bytes;
      });
      process.stdout.write(
        `\ngitward RSS: ${rest.toFixed(0)} MB at rest, peak ${peakMb.toFixed(0)} MB while ${SNAPSHOTS} snapshots (${(bytes / SNAPSHOTS / 1e6).toFixed(1)} MB each) streamed\n`,
      );
    }
    agent.destroy();
    const loadAfter = os.loadavg();
    const spawnAfter = await spawnP50();
    process.stdout.write(
      `load average: ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after\n`,
    );
    process.stdout.write(
      `spawn of /bin/true from Node, p50: ${fmtMs(spawnBefore)} before, ${fmtMs(spawnAfter)} after\n`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
