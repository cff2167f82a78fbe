/**
 * Background git traffic for fault tests: workers clone a repo over and over while the test
 * breaks things, and each phase of the test asks for a number of successful clones with no
 * failure in between.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GitwardFiles } from '../helpers/server.js';
import { SAFETY_NET_MS, waitFor } from '../helpers/procs.js';
import { addCommit, gitOk, runGit } from './fault-kit.js';

/** Parallel cloning workers: enough to overlap a reload, few enough for 2 CI cores. */
const TRAFFIC_WORKERS = 2;
/** Safety net on the wait for a phase's clones (each takes tens of ms on loopback). */
const PHASE_BOUND_MS = SAFETY_NET_MS;

/** One failed clone: the phase it happened in and git's message. */
export interface TrafficFailure {
  readonly phase: string;
  readonly stderr: string;
}

/** Running clone traffic. */
export interface CloneTraffic {
  /** Starts phase `phase` and waits for `n` successful clones in it; throws on any failure. */
  expectSuccesses(n: number, phase: string): Promise<void>;
  /** Stops the workers and returns every failure seen. */
  stop(): Promise<{ successes: number; failures: TrafficFailure[] }>;
}

/** Pushes one small commit to `url` as `main`, so that clones have something to fetch. */
export async function seedRepo(files: GitwardFiles, url: string): Promise<void> {
  const dir = path.join(files.dir, 'seed');
  fs.mkdirSync(dir, { recursive: true });
  await gitOk(['init', '--quiet', '--initial-branch=main', dir], { cwd: dir, env: files.gitEnv });
  await addCommit(dir, files.gitEnv, 'seed');
  await gitOk(['push', '--quiet', url, 'main:refs/heads/main'], { cwd: dir, env: files.gitEnv });
}

/** Starts TRAFFIC_WORKERS workers cloning `url` into throw-away folders under files.dir. */
export function cloneTraffic(files: GitwardFiles, url: string): CloneTraffic {
  let phase = 'start';
  let running = true;
  let successes = 0;
  let inPhase = 0;
  const failures: TrafficFailure[] = [];
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (running) {
      const dir = path.join(files.dir, 'traffic', `w${w}-${n++}`);
      const at = phase;
      const r = await runGit(['clone', '--quiet', url, dir], files.dir, files.gitEnv);
      fs.rmSync(dir, { recursive: true, force: true });
      if (!running) break;
      if (r.code === 0) {
        successes++;
        if (at === phase) inPhase++;
      } else failures.push({ phase: at, stderr: r.stderr.trim() });
    }
  };
  const workers = Array.from({ length: TRAFFIC_WORKERS }, (_, w) => worker(w));
  return {
    async expectSuccesses(count, name) {
      phase = name;
      inPhase = 0;
      const failed = (): TrafficFailure[] => failures.filter((f) => f.phase === name);
      await waitFor(
        () => inPhase >= count || failed().length > 0,
        `${count} clones in phase "${name}"`,
        PHASE_BOUND_MS,
      );
      if (failed().length > 0) throw new Error(`clones failed in phase "${name}": ${JSON.stringify(failed())}`);
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      return { successes, failures };
    },
  };
}
