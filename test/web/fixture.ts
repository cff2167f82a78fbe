/**
 * A gitward with the web view on and three repos:
 *   pub/site.git     — everyone reads ($all); README.md, a Python file, three commits
 *   team/tools.git   — @eng reads (ann and ben)
 *   team/secret.git  — ann alone reads
 * so anonymous sees one repo, ben two and ann three.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { gitEnv, gitOk, initBare } from '../helpers/git.js';
import { isCI } from '../helpers/nginx.js';
import { startGitward, type TestGitward } from '../helpers/server.js';

/** Debian's cgit CGI program (package cgit). */
export const CGIT_CGI = '/usr/lib/cgit/cgit.cgi';

export const PASSWORDS = { ann: 'ann-pw', ben: 'ben-pw' } as const;

export const README = '# Site\n\nThis is **the site**.\n\n- one\n- two\n\n```python\nprint("hi")\n```\n';
export const PY_FILE = 'def greet(name):\n    """Say hello."""\n    return f"hello {name}"\n';

/** Whether cgit is here; in CI its absence fails the test (requireBinary), elsewhere it skips. */
export function haveCgit(t: TestContext): boolean {
  if (fs.existsSync(CGIT_CGI)) return true;
  if (isCI(process.env))
    throw new Error(`${CGIT_CGI} is missing: CI must run the web view tests (.ci/run installs cgit)`);
  t.skip('cgit is not installed');
  return false;
}

export interface WebFixture {
  readonly gw: TestGitward;
  /** Commit ids of pub/site, oldest first. */
  readonly siteCommits: readonly string[];
}

/** Starts gitward with the web view and the three repos; `web` keys replace the defaults, `top` adds top-level keys. */
export async function startWebFixture(
  t: TestContext,
  web: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Promise<WebFixture> {
  const gw = await startGitward(t, {
    users: { ...PASSWORDS },
    config: {
      users: { ann: { groups: ['eng'] }, ben: { groups: ['eng'] } },
      repos: {
        pub: { '.read': ['$all'] },
        team: { '.read': ['@eng'], 'secret.git': { '.inherit': false, '.read': ['ann'] } },
      },
      web: { enabled: true, site_title: 'gitward test site', clone_urls: ['https://git.example.org/'], ...web },
      ...top,
    },
  });
  const built = await (seed ??= buildSeed());
  for (const repo of REPOS)
    fs.cpSync(path.join(built.root, `${repo}.git`), path.join(gw.repoRoot, `${repo}.git`), { recursive: true });
  return { gw, siteCommits: built.siteCommits };
}

const REPOS = ['pub/site', 'team/tools', 'team/secret'] as const;

/**
 * The three repos, built once per test process and copied for each fixture: building them takes
 * about 25 git processes, each forked from this (large) test process, and a copy takes none.
 */
let seed: Promise<{ root: string; siteCommits: readonly string[] }> | null = null;

async function buildSeed(): Promise<{ root: string; siteCommits: readonly string[] }> {
  // Not tempDir: the seed outlives the test that builds it; removed when the process exits.
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-web-seed-')));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'repos');
  const env = gitEnv(path.join(dir, 'home'));
  const siteCommits: string[] = [];
  for (const repo of REPOS) {
    const bare = path.join(root, `${repo}.git`);
    await initBare(bare, env);
    fs.writeFileSync(path.join(bare, 'description'), `the ${repo} repository\n`);
    const work = path.join(dir, repo.replace('/', '-'));
    await gitOk(['init', '--quiet', '--initial-branch=main', work], { cwd: dir, env });
    const files: Array<Record<string, string>> =
      repo === 'pub/site'
        ? [{ 'README.md': README }, { 'src/greet.py': PY_FILE }, { 'src/greet.py': `${PY_FILE}\n# second version\n` }]
        : [{ 'README.md': `# ${repo}\n\nmarker-${repo.replace('/', '-')}\n` }];
    for (const [i, change] of files.entries()) {
      for (const [file, text] of Object.entries(change)) {
        fs.mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
        fs.writeFileSync(path.join(work, file), text);
      }
      await gitOk(['add', '.'], { cwd: work, env });
      await gitOk(['commit', '--quiet', '-m', `${repo} change ${i}`], { cwd: work, env });
      if (repo === 'pub/site') siteCommits.push((await gitOk(['rev-parse', 'HEAD'], { cwd: work, env })).trim());
    }
    await gitOk(['push', '--quiet', bare, 'main'], { cwd: work, env });
  }
  return { root, siteCommits };
}

export interface Page {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** GETs `target` (a path and query, sent as given) from gitward, optionally as a user. */
export function get(
  gw: TestGitward,
  target: string,
  user?: keyof typeof PASSWORDS,
  headers: Record<string, string> = {},
): Promise<Page> {
  const auth = user ? { authorization: `Basic ${Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64')}` } : {};
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: gw.port, path: target, method: 'GET', headers: { ...auth, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
