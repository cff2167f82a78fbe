import fs from 'node:fs';
import path from 'node:path';
import { peakRss, stats, timed, timedOk, type Stats } from './measure.js';

/** One way of reaching the repos: a server (URL) or the file:// floor. */
export interface Target {
  readonly name: string;
  /** URL of `<repo>.git` (credentials included when the target needs them). */
  url(repo: string): string;
  /** PID of gitward's node process, to sample its memory; null for others. */
  readonly pid: number | null;
}

/** The measurements the suite knows. */
export type Metric = 'clone' | 'ls-v0' | 'ls-v2' | 'fetch' | 'parallel' | 'push300' | 'clone300';

/** Result of one metric on one target. */
export interface Measured {
  readonly time: Stats;
  /** Runs that failed (parallel clones: failed clones over all runs). */
  readonly failures: number;
  /** Peak RSS of gitward during the runs, MB. */
  readonly rss: Stats | null;
}

/** How the suite runs. */
export interface SuiteOptions {
  readonly metrics: readonly Metric[];
  /** Client work dir (a tmpfs when possible). */
  readonly clientDir: string;
  /** Server repo_root, on disk. */
  readonly serverRoot: string;
  /** Bare repo holding the 300 MB commit, pushed from. */
  readonly pushSource: string;
  readonly env: Record<string, string>;
  readonly runs: Readonly<Record<Metric, number>>;
  /** Parallel clones per run. */
  readonly parallel: number;
  readonly log: (s: string) => void;
}

/** core.bigFileThreshold of the 300 MB push and clone: its 10 MB blobs are stored whole, never deltified. */
export const BIG_FILE_THRESHOLD = '1m';

/** Default run counts: enough for a stable median within a few minutes per target. */
export const DEFAULT_RUNS: Readonly<Record<Metric, number>> = Object.freeze({
  clone: 5,
  'ls-v0': 50,
  'ls-v2': 50,
  fetch: 20,
  parallel: 3,
  push300: 3,
  clone300: 3,
});

/**
 * Runs every metric on every target, interleaving targets run by run (A B C A B C …) so that the
 * machine's drift hits all of them alike. Returns results by target name, then metric.
 */
export async function runSuite(
  targets: readonly Target[],
  o: SuiteOptions,
): Promise<Map<string, Map<Metric, Measured>>> {
  const out = new Map<string, Map<Metric, Measured>>(targets.map((t) => [t.name, new Map()]));
  const samples = new Map<string, number[]>();
  const rss = new Map<string, number[]>();
  const failures = new Map<string, number>();
  const key = (t: Target, m: Metric) => `${t.name}\u0000${m}`;
  const add = (t: Target, m: Metric, ms: number, mb: number | null, failed = 0) => {
    (samples.get(key(t, m)) ?? samples.set(key(t, m), []).get(key(t, m)))!.push(ms);
    if (mb !== null) (rss.get(key(t, m)) ?? rss.set(key(t, m), []).get(key(t, m)))!.push(mb);
    failures.set(key(t, m), (failures.get(key(t, m)) ?? 0) + failed);
  };
  const slug = (t: Target) => t.name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
  const opts = { cwd: o.clientDir, env: o.env };
  const measure = async <T>(t: Target, work: () => Promise<T>): Promise<{ result: T; peakMb: number | null }> => {
    if (t.pid === null) return { result: await work(), peakMb: null };
    return peakRss(t.pid, work);
  };

  for (const m of o.metrics) {
    o.log(`  ${m} …`);
    for (let i = 0; i < o.runs[m]; i++) {
      for (const t of targets) {
        const dir = path.join(o.clientDir, `${slug(t)}-${m}`);
        switch (m) {
          case 'clone': {
            fs.rmSync(dir, { recursive: true, force: true });
            const r = await measure(t, () => timedOk('git', ['clone', '--quiet', t.url('history'), dir], opts));
            add(t, m, r.result, r.peakMb);
            // The last clone stays for the no-op fetch.
            if (i < o.runs[m] - 1) fs.rmSync(dir, { recursive: true, force: true });
            break;
          }
          case 'ls-v0':
          case 'ls-v2': {
            const ms = await timedOk(
              'git',
              ['-c', `protocol.version=${m === 'ls-v0' ? 0 : 2}`, 'ls-remote', t.url('history')],
              opts,
            );
            add(t, m, ms, null);
            break;
          }
          case 'fetch': {
            const clone = path.join(o.clientDir, `${slug(t)}-clone`);
            if (!fs.existsSync(clone))
              await timedOk('git', ['clone', '--quiet', '--no-checkout', t.url('history'), clone], opts);
            add(t, m, await timedOk('git', ['fetch', '--quiet'], { ...opts, cwd: clone }), null);
            break;
          }
          case 'parallel': {
            fs.rmSync(dir, { recursive: true, force: true });
            fs.mkdirSync(dir, { recursive: true });
            const start = process.hrtime.bigint();
            const runs = await Promise.all(
              Array.from({ length: o.parallel }, (_, k) =>
                timed('git', ['clone', '--quiet', t.url('small'), path.join(dir, `c${k}`)], opts),
              ),
            );
            const ms = Number(process.hrtime.bigint() - start) / 1e6;
            const failed = runs.filter((r) => r.code !== 0);
            if (failed.length > 0)
              o.log(
                `    ${t.name}: ${failed.length} of ${o.parallel} clones failed: ${(failed[0] as { stderr: string }).stderr.trim().split('\n').pop() ?? ''}`,
              );
            add(t, m, ms, null, failed.length);
            fs.rmSync(dir, { recursive: true, force: true });
            break;
          }
          case 'push300': {
            const name = `push-${slug(t)}-${i}`;
            const bare = path.join(o.serverRoot, `${name}.git`);
            fs.rmSync(bare, { recursive: true, force: true });
            await timedOk('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare], opts);
            // Anonymous pushes for targets without authentication (git-http-backend's own switch).
            await timedOk('git', ['--git-dir', bare, 'config', 'http.receivepack', 'true'], opts);
            // Store 10 MB random blobs whole, on both sides: without this, pack-objects spends
            // most of a push or clone searching deltas between random blobs that have none, and
            // the bench would measure that search instead of the transport.
            await timedOk('git', ['--git-dir', bare, 'config', 'core.bigFileThreshold', BIG_FILE_THRESHOLD], opts);
            const r = await measure(t, () =>
              timed(
                'git',
                [
                  '-c',
                  `core.bigFileThreshold=${BIG_FILE_THRESHOLD}`,
                  '--git-dir',
                  o.pushSource,
                  'push',
                  '--quiet',
                  t.url(name),
                  'main',
                ],
                opts,
              ),
            );
            if (r.result.code !== 0)
              o.log(`    ${t.name}: push failed: ${r.result.stderr.trim().split('\n').slice(-2).join(' | ')}`);
            add(t, m, r.result.ms, r.peakMb, r.result.code === 0 ? 0 : 1);
            break;
          }
          case 'clone300': {
            const name = `push-${slug(t)}-0`;
            fs.rmSync(dir, { recursive: true, force: true });
            const r = await measure(t, () =>
              timed('git', ['clone', '--quiet', '--no-checkout', t.url(name), dir], opts),
            );
            if (r.result.code !== 0)
              o.log(
                `    ${t.name}: clone of the pushed repo failed: ${r.result.stderr.trim().split('\n').pop() ?? ''}`,
              );
            add(t, m, r.result.ms, r.peakMb, r.result.code === 0 ? 0 : 1);
            fs.rmSync(dir, { recursive: true, force: true });
            break;
          }
        }
      }
    }
  }
  for (const t of targets) {
    for (const m of o.metrics) {
      const r = rss.get(key(t, m));
      out.get(t.name)!.set(m, {
        time: stats(samples.get(key(t, m)) ?? []),
        failures: failures.get(key(t, m)) ?? 0,
        rss: r ? stats(r) : null,
      });
    }
  }
  return out;
}

/** Removes the pushed repos of a suite run (they are 300 MB each). */
export function removePushed(serverRoot: string): void {
  for (const e of fs.readdirSync(serverRoot))
    if (e.startsWith('push-')) fs.rmSync(path.join(serverRoot, e), { recursive: true, force: true });
}
