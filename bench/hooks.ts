/**
 * `node dist/bench/hooks.js [--runs N]`: what the hook dispatcher adds to a push (issue 5).
 *
 * Two bare repos with the same history, one with gitward's pre-receive and post-receive hooks
 * (both plugins configured for every ref), one without. Each run pushes 10 refs (fast-forwards)
 * to each repo, alternating which goes first, and the difference of the medians is the hooks'
 * cost, Node start-up of both hooks included. Local pushes (no HTTP), so nothing else differs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { dispatcherPath, installHooks } from '../app/cli/repo-admin.js';
import { fmtStats, stats, table, timedOk } from './measure.js';

/** Refs per push, as issue 5 states its goal. */
const REFS_PER_PUSH = 10;
/** Enough runs for a stable median on a noisy 2-core machine. */
const DEFAULT_RUNS = 25;

function gitIn(cwd: string, env: Record<string, string>, args: readonly string[]): string {
  return execFileSync('git', args as string[], { cwd, env, encoding: 'utf8' });
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : DEFAULT_RUNS;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-bench-hooks-'));
  try {
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'C',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Bench',
      GIT_AUTHOR_EMAIL: 'bench@example.org',
      GIT_COMMITTER_NAME: 'Bench',
      GIT_COMMITTER_EMAIL: 'bench@example.org',
    };
    const root = path.join(dir, 'repos');
    const config = path.join(dir, 'gitward.yaml');
    fs.writeFileSync(
      config,
      [
        'repo_root: ./repos',
        'repos:',
        '  .hooks:',
        '    branch-protect:',
        '      branches: {"b*": {push: [$local]}, main: {push: [$local]}}',
        '    branch-flow: {flow: [dev, staging, main]}',
        '',
      ].join('\n'),
    );
    const withHooks = path.join(root, 'with.git');
    const without = path.join(root, 'without.git');
    for (const repo of [withHooks, without]) gitIn(dir, env, ['init', '--quiet', '--bare', '--initial-branch=main', repo]);
    gitIn(withHooks, env, ['config', 'gitward.config', config]);
    installHooks(withHooks, dispatcherPath(), { force: false, now: Date.now() });

    // A linear chain: run i pushes commit i to all ten branches (a fast-forward each time).
    const work = path.join(dir, 'work');
    gitIn(dir, env, ['init', '--quiet', '--initial-branch=main', work]);
    const commits: string[] = [];
    for (let i = 0; i <= 2 * runs + 1; i++) {
      gitIn(work, env, ['commit', '--quiet', '--allow-empty', '-m', `c${i}`]);
      commits.push(gitIn(work, env, ['rev-parse', 'HEAD']).trim());
    }
    const refspecs = (sha: string): string[] => Array.from({ length: REFS_PER_PUSH }, (_, b) => `${sha}:refs/heads/b${b}`);
    for (const repo of [withHooks, without]) await timedOk('git', ['push', '--quiet', repo, ...refspecs(commits[0] as string)], { cwd: work, env });

    const samples: Record<'with' | 'without', number[]> = { with: [], without: [] };
    for (let i = 1; i <= runs; i++) {
      const order: Array<['with' | 'without', string]> = i % 2 === 0 ? [['with', withHooks], ['without', without]] : [['without', without], ['with', withHooks]];
      for (const [name, repo] of order) {
        samples[name].push(await timedOk('git', ['push', '--quiet', repo, ...refspecs(commits[i] as string)], { cwd: work, env }));
      }
    }
    const w = stats(samples.with);
    const wo = stats(samples.without);
    process.stdout.write(
      table(
        ['10-ref push (local)', 'median (min–max)'],
        [
          ['without hooks', fmtStats(wo)],
          ['with gitward pre-receive + post-receive', fmtStats(w)],
          ['added by the hooks (difference of medians)', `${(w.median - wo.median).toFixed(1)} ms`],
        ],
      ) + '\n',
    );
    const node = stats(
      await Promise.all([0]).then(async () => {
        const s: number[] = [];
        for (let i = 0; i < runs; i++) s.push(await timedOk(process.execPath, ['-e', '0'], { cwd: dir, env }));
        return s;
      }),
    );
    process.stdout.write(`for scale: \`node -e 0\` takes ${fmtStats(node)} here (the hooks start Node twice per push)\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
