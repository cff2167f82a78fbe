/**
 * `node dist/bench/hooks.js [--runs N]`: what the hook dispatcher adds to a push (issue 5).
 *
 * Bare repos with the same history: one without hooks, the others with gitward's pre-receive and
 * post-receive hooks (both plugins configured for every ref). Each run pushes 10 refs
 * (fast-forwards) to every repo, rotating which goes first; the difference of the medians is the
 * hooks' cost, Node start-up included. The pushes are local (no HTTP), so nothing else differs;
 * the hooked repos differ in how the hook is reached:
 *
 * - **through gitward**: the environment gitward gives git-http-backend for a push
 *   (`buildBackendEnv`: GITWARD_CONFIG, GITWARD_USER, GITWARD_GROUPS, GITWARD_INFO, GITWARD_REPO,
 *   GITWARD_REQUEST_ID, GITWARD_HOOK_PLAN, a fresh GITWARD_LOG_DIR per push, the CGI variables);
 * - **local**: an admin's push on the server, the config found through `git config gitward.config`.
 *
 * and in the config: a 7-line one, and a realistic one (300 users, 30 groups, 400 repos in 20
 * project groups, about 40 KiB of YAML, an htpasswd file of 300 users); the realistic one once
 * more for a local push with the config edited before each push (so no cached load serves).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildBackendEnv } from '../app/backend/backend-env.js';
import { dispatcherPath, installHooks } from '../app/cli/repo-admin.js';
import { loadConfig } from '../app/config/load.js';
import { compilePolicy } from '../app/policy/compile.js';
import { resolveIdentity } from '../app/policy/identity.js';
import { encodeHookPlan } from '../protocol/hook-protocol.js';
import { parseRepoName } from '../app/request/repo-name.js';
import { fmtStats, stats, table, timedOk } from './measure.js';

/** Refs per push, as issue 5 states its goal. */
const REFS_PER_PUSH = 10;
/** Enough runs for a stable median on a noisy 2-core machine. */
const DEFAULT_RUNS = 25;
/** The realistic config: users, groups, project groups and repos per project group. */
const BIG_USERS = 300;
const BIG_GROUPS = 30;
const BIG_TEAMS = 20;
const BIG_REPOS_PER_TEAM = 20;

/** Branch rules that every pushed ref goes through (b0…b9 are fast-forwards of `b*`). */
const HOOKS_YAML = [
  '  .hooks:',
  '    branch-protect:',
  '      branches: {"b*": {push: [$local, "@pushers"]}, main: {push: [$local, "@pushers"], force: [], delete: []}}',
  '    branch-flow: {flow: [dev, staging, main]}',
];

function smallConfig(): string {
  return ['repo_root: ../repos', 'users:', '  bench: {groups: [pushers]}', 'repos:', ...HOOKS_YAML, ''].join('\n');
}

/** A config of the size teams run: every section filled, the bench repos among 400 others. */
function bigConfig(): string {
  const lines = [
    'repo_root: ../repos',
    'authentication:',
    '  - plugin: htpasswd',
    '    file: users.htpasswd',
    'users:',
    '  bench: {groups: [pushers], info: {name: Bench, email: bench@example.org}}',
  ];
  for (let u = 0; u < BIG_USERS; u++)
    lines.push(
      `  u${u}: {groups: [g${u % BIG_GROUPS}, g${(u * 7) % BIG_GROUPS}], info: {name: User ${u}, email: u${u}@example.org}}`,
    );
  lines.push('groups:', '  pushers: ["@g1", "@g2"]');
  for (let g = 0; g < 5; g++) lines.push(`  staff${g}: ["@g${g}", "@g${g + 5}", u${g}]`);
  lines.push('repos:', '  .read: [$authenticated]', ...HOOKS_YAML);
  for (let t = 0; t < BIG_TEAMS; t++) {
    lines.push(
      `  team${t}:`,
      `    .read: ["@g${t % BIG_GROUPS}", "@staff${t % 5}"]`,
      `    .write: ["@g${(t + 1) % BIG_GROUPS}", u${t}]`,
    );
    if (t % 4 === 0)
      lines.push(
        '    .hooks:',
        '      branch-protect:',
        '        branches: {main: {push: ["@staff0"]}, "release/**": {push: ["@staff1"]}}',
      );
    for (let r = 0; r < BIG_REPOS_PER_TEAM; r++) {
      lines.push(`    repo${r}.git:`, `      .write: [u${(t * BIG_REPOS_PER_TEAM + r) % BIG_USERS}]`);
      if (r % 5 === 0) lines.push('      .hooks:', '        branch-flow: {flow: [dev, main]}');
    }
  }
  lines.push('hooks: {order: [branch-protect, branch-flow]}', '');
  return lines.join('\n');
}

function gitIn(cwd: string, env: Record<string, string>, args: readonly string[]): string {
  return execFileSync('git', args as string[], { cwd, env, encoding: 'utf8' });
}

/** One way of reaching the hooks: a repo, and the extra environment of a push to it. */
interface Variant {
  readonly label: string;
  readonly repo: string;
  /** The push's extra environment (called once per push: a fresh GITWARD_LOG_DIR each time). */
  env(): { extra: Record<string, string>; done(): void };
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
    fs.mkdirSync(root);
    const configs = {
      small: path.join(dir, 'small', 'gitward.yaml'),
      big: path.join(dir, 'big', 'gitward.yaml'),
      edited: path.join(dir, 'edited', 'gitward.yaml'),
    };
    for (const [name, text] of [
      ['small', smallConfig()],
      ['big', bigConfig()],
      ['edited', bigConfig()],
    ] as const) {
      fs.mkdirSync(path.dirname(configs[name]));
      fs.writeFileSync(configs[name], text);
      fs.writeFileSync(
        path.join(path.dirname(configs[name]), 'users.htpasswd'),
        Array.from({ length: BIG_USERS }, (_, u) => `u${u}:$2y$05$${'x'.repeat(53)}\n`).join(''),
      );
    }

    const without = path.join(root, 'without.git');
    gitIn(dir, env, ['init', '--quiet', '--bare', '--initial-branch=main', without]);
    const variants: Variant[] = [];
    for (const config of ['small', 'big'] as const) {
      const file = configs[config];
      const loaded = await loadConfig(file);
      const policy = compilePolicy(loaded);
      const identity = resolveIdentity(policy, 'bench', 'htpasswd');
      for (const via of ['gitward', 'local'] as const) {
        const repo = path.join(root, `${via}-${config}.git`);
        gitIn(dir, env, ['init', '--quiet', '--bare', '--initial-branch=main', repo]);
        installHooks(repo, dispatcherPath(), { force: false, now: Date.now() });
        const label = `${via === 'gitward' ? 'through gitward' : 'local push'}, ${config === 'small' ? '7-line config' : 'realistic config'}`;
        if (via === 'local') {
          gitIn(repo, env, ['config', 'gitward.config', file]);
          variants.push({ label, repo, env: () => ({ extra: {}, done: () => undefined }) });
          continue;
        }
        const repoName = `${via}-${config}`;
        let n = 0;
        variants.push({
          label,
          repo,
          env() {
            const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-hooks-'));
            const cgi = {
              GATEWAY_INTERFACE: 'CGI/1.1',
              REQUEST_METHOD: 'POST',
              REMOTE_USER: 'bench',
              REMOTE_ADDR: '127.0.0.1',
              PATH_INFO: `/${repoName}.git/git-receive-pack`,
              QUERY_STRING: '',
              CONTENT_TYPE: 'application/x-git-receive-pack-request',
            };
            const backend = buildBackendEnv({
              cgi,
              git: {
                repo: parseRepoName(repoName),
                service: 'git-receive-pack',
                need: 'write',
                kind: 'rpc',
                suffix: '/git-receive-pack',
              },
              identity,
              repoRoot: root,
              configFile: file,
              requestId: `bench-${++n}`,
              logDir,
              hookPlan: encodeHookPlan(policy, repoName),
              processEnv: { PATH: env.PATH, HOME: home, LANG: 'C' },
              git4nginxEnv: false,
            });
            const extra = Object.fromEntries(
              Object.entries(backend).filter(([k]) => k.startsWith('GITWARD_') || k in cgi),
            );
            return { extra, done: () => fs.rmSync(logDir, { recursive: true, force: true }) };
          },
        });
      }
    }

    // Every local push parses the config (there is no cache since issue 13); editing it before each
    // push adds recording the new text as the last good one (hooks/last-good.ts).
    const edited = path.join(root, 'local-edited.git');
    gitIn(dir, env, ['init', '--quiet', '--bare', '--initial-branch=main', edited]);
    installHooks(edited, dispatcherPath(), { force: false, now: Date.now() });
    gitIn(edited, env, ['config', 'gitward.config', configs.edited]);
    let edits = 0;
    variants.push({
      label: 'local push, realistic config edited before each push',
      repo: edited,
      env() {
        fs.appendFileSync(configs.edited, `# edit ${++edits}\n`);
        return { extra: {}, done: () => undefined };
      },
    });

    // A linear chain: run i pushes commit i to all ten branches (a fast-forward each time).
    const work = path.join(dir, 'work');
    gitIn(dir, env, ['init', '--quiet', '--initial-branch=main', work]);
    const commits: string[] = [];
    for (let i = 0; i <= runs + 1; i++) {
      gitIn(work, env, ['commit', '--quiet', '--allow-empty', '-m', `c${i}`]);
      commits.push(gitIn(work, env, ['rev-parse', 'HEAD']).trim());
    }
    const refspecs = (sha: string): string[] =>
      Array.from({ length: REFS_PER_PUSH }, (_, b) => `${sha}:refs/heads/b${b}`);
    const all: Array<{ label: string; repo: string; env(): { extra: Record<string, string>; done(): void } }> = [
      { label: 'without hooks', repo: without, env: () => ({ extra: {}, done: () => undefined }) },
      ...variants,
    ];
    const push = async (v: (typeof all)[number], sha: string): Promise<number> => {
      const e = v.env();
      try {
        return await timedOk('git', ['push', '--quiet', v.repo, ...refspecs(sha)], {
          cwd: work,
          env: { ...env, ...e.extra },
        });
      } finally {
        e.done();
      }
    };
    for (const v of all) await push(v, commits[0] as string);

    const samples = all.map(() => [] as number[]);
    for (let i = 1; i <= runs; i++) {
      for (let k = 0; k < all.length; k++) {
        const j = (k + i) % all.length;
        (samples[j] as number[]).push(await push(all[j] as (typeof all)[number], commits[i] as string));
      }
    }
    const base = stats(samples[0] as number[]);
    const rows = all.map((v, j) => {
      const s = stats(samples[j] as number[]);
      return [v.label, fmtStats(s), j === 0 ? '' : `${(s.median - base.median).toFixed(1)} ms`];
    });
    process.stdout.write(
      table([`${REFS_PER_PUSH}-ref push, median of ${runs}`, 'median (min–max)', 'added by the hooks'], rows) + '\n',
    );
    const node: number[] = [];
    for (let i = 0; i < runs; i++) node.push(await timedOk(process.execPath, ['-e', '0'], { cwd: dir, env }));
    process.stdout.write(
      `for scale: \`node -e 0\` takes ${fmtStats(stats(node))} here; realistic config: ${(fs.statSync(configs.big).size / 1024).toFixed(0)} KiB\n`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
