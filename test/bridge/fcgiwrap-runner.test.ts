/**
 * server.backend_runner: fcgiwrap — reads run through gitward's own fcgiwrap workers, pushes still
 * spawn. With the real fcgiwrap (in CI it must be installed: a missing one fails, never skips).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { findFcgiwrap } from '../../app/backend/fcgiwrap-pool.js';
import { git, gitOk } from '../helpers/git.js';
import { cmdline, poolWorkersOf, procInfo, stillRunning, waitFor } from '../helpers/procs.js';
import { prepareGitwardFiles, spawnGitward, type SpawnedGitward } from '../helpers/server.js';

const HAVE_FCGIWRAP = findFcgiwrap() !== null;
const SKIP = !HAVE_FCGIWRAP && process.env.CI !== 'true' ? 'fcgiwrap is not installed (apt-get install fcgiwrap)' : false;
const ANN = { user: 'ann', password: 'ann-pw' };
const WORKERS = 2;
/** Workers die by their parent-death signal within milliseconds; generous for a loaded CI machine. */
const WORKER_DEATH_BOUND_MS = 10_000;

async function startWithFcgiwrap(t: TestContext, extra: Record<string, unknown> = {}): Promise<SpawnedGitward> {
  return spawnGitward(t, {
    users: { ann: ANN.password },
    repos: ['r'],
    config: { users: { ann: {} }, repos: { '.read': ['ann'], '.write': ['ann'] }, server: { backend_runner: 'fcgiwrap', fcgiwrap_workers: WORKERS, ...extra } },
  });
}

/** The fcgiwrap workers of gitward (found by their argv), live ones only. */
const workersOf = poolWorkersOf;

/** Audit lines after the first `from` that pass `keep`, once the server has written them all. */
async function waitForLines(gw: SpawnedGitward, from: number, keep: (l: Record<string, unknown>) => boolean): Promise<Array<Record<string, unknown>>> {
  // The client has exited, so every request is over; the last audit line follows within moments.
  let seen = -1;
  await waitFor(
    () => {
      const now = gw.stdoutLines.length;
      const settled = now === seen;
      seen = now;
      return settled;
    },
    'the audit lines of the command',
    10_000,
  );
  return gw.stdoutLines.slice(from).filter(keep);
}

async function seed(gw: SpawnedGitward): Promise<string> {
  const work = path.join(gw.dir, 'work');
  await gitOk(['init', '-q', '-b', 'main', work], { cwd: gw.dir, env: gw.gitEnv });
  fs.writeFileSync(path.join(work, 'a.txt'), 'one\n');
  await gitOk(['add', '.'], { cwd: work, env: gw.gitEnv });
  await gitOk(['commit', '-qm', 'one'], { cwd: work, env: gw.gitEnv });
  await gitOk(['push', '-q', gw.url('r', ANN), 'main'], { cwd: work, env: gw.gitEnv });
  return work;
}

describe('server.backend_runner: fcgiwrap', { skip: SKIP }, () => {
  it('serves clone, protocol v2 ls-remote, shallow clone and fetch through the workers; pushes still spawn', { timeout: 60_000 }, async (t) => {
    const gw = await startWithFcgiwrap(t);
    await gw.waitForLog('backend.fcgiwrap_pool');
    assert.equal(workersOf(gw.child.pid as number).length, WORKERS, 'the workers run below gitward');
    for (const w of workersOf(gw.child.pid as number)) {
      const argv = cmdline(w.pid);
      assert.ok(argv.includes('-p'), `a worker may run only git-http-backend: ${argv.join(' ')}`);
    }
    const work = await seed(gw);
    const ls = await git(['-c', 'protocol.version=2', 'ls-remote', gw.url('r', ANN)], { cwd: gw.dir, env: { ...gw.gitEnv, GIT_TRACE_PACKET: '1' } });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stderr, /version 2/, 'protocol v2 negotiated');
    assert.match(ls.stdout, /refs\/heads\/main/);
    await gitOk(['clone', '-q', gw.url('r', ANN), path.join(gw.dir, 'full')], { cwd: gw.dir, env: gw.gitEnv });
    await gitOk(['clone', '-q', '--depth', '1', gw.url('r', ANN), path.join(gw.dir, 'shallow')], { cwd: gw.dir, env: gw.gitEnv });
    fs.writeFileSync(path.join(work, 'b.txt'), 'two\n');
    await gitOk(['add', '.'], { cwd: work, env: gw.gitEnv });
    await gitOk(['commit', '-qm', 'two'], { cwd: work, env: gw.gitEnv });
    await gitOk(['push', '-q', gw.url('r', ANN), 'main'], { cwd: work, env: gw.gitEnv });
    await gitOk(['fetch', '-q', 'origin'], { cwd: path.join(gw.dir, 'full'), env: gw.gitEnv });
    const fetched = await gitOk(['rev-parse', 'origin/main'], { cwd: path.join(gw.dir, 'full'), env: gw.gitEnv });
    assert.equal(fetched.trim(), (await gitOk(['rev-parse', 'HEAD'], { cwd: work, env: gw.gitEnv })).trim());
    // Audit: reads through fcgiwrap carry no exit code (fcgiwrap does not report it); pushes do.
    await waitFor(() => gw.stdoutLines.some((l) => l.service === 'git-receive-pack' && l.status === 200 && (l.bytesIn as number) > 0), 'the push audit line', 10_000);
    const push = gw.stdoutLines.find((l) => l.service === 'git-receive-pack' && l.need === 'write' && l.status === 200 && (l.bytesIn as number) > 0);
    assert.equal(push?.exitCode, 0);
    const read = gw.stdoutLines.find((l) => l.service === 'git-upload-pack' && l.status === 200);
    assert.equal(read?.exitCode, null);
  });

  it('more parallel clones than workers all succeed: the overflow is spawned', { timeout: 60_000 }, async (t) => {
    const gw = await startWithFcgiwrap(t);
    await seed(gw);
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => git(['clone', '-q', gw.url('r', ANN), path.join(gw.dir, `c${i}`)], { cwd: gw.dir, env: gw.gitEnv })));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    await waitFor(() => workersOf(gw.child.pid as number).length === WORKERS, 'the pool is back to its size', 10_000);
  });

  it('kill -9 of gitward takes its workers with it (parent-death signal); SIGTERM stops them too', { timeout: 60_000 }, async (t) => {
    const a = await startWithFcgiwrap(t);
    const workersA = workersOf(a.child.pid as number);
    assert.equal(workersA.length, WORKERS);
    a.child.kill('SIGKILL');
    await a.exited;
    await waitFor(() => workersA.every((w) => !stillRunning(w)), 'every worker is gone after kill -9', WORKER_DEATH_BOUND_MS, () => workersA.map((w) => JSON.stringify(procInfo(w.pid))).join('; '));

    const b = await startWithFcgiwrap(t);
    const workersB = workersOf(b.child.pid as number);
    await seed(b);
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, JSON.stringify(b.logLines.slice(-6)));
    await waitFor(() => workersB.every((w) => !stillRunning(w)), 'every worker is gone after SIGTERM', WORKER_DEATH_BOUND_MS);
  });

  it('a missing fcgiwrap stops start-up with exit 78 and names the setting', { timeout: 60_000 }, async (t) => {
    const files = await prepareGitwardFiles(t, { config: { server: { backend_runner: 'fcgiwrap', fcgiwrap_path: '/nonexistent/fcgiwrap' } } });
    const main = path.join(__dirname, '..', '..', 'app', 'main.js');
    const child = spawn(process.execPath, [main, 'serve', '--config', files.configFile], { cwd: files.dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: files.dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 78, stderr);
    assert.match(stderr, /server\.backend_runner: fcgiwrap, but \/nonexistent\/fcgiwrap is not an executable/);
  });

  it('the default runner (auto) uses the workers when fcgiwrap is installed', { timeout: 60_000 }, async (t) => {
    const gw = await spawnGitward(t, { users: { ann: ANN.password }, repos: ['r'], config: { users: { ann: {} }, repos: { '.read': ['ann'], '.write': ['ann'] } } });
    const chosen = await gw.waitForLog('backend.runner');
    assert.equal(chosen.runner, 'fcgiwrap', JSON.stringify(chosen));
    assert.equal(workersOf(gw.child.pid as number).length, 4, 'server.fcgiwrap_workers defaults to 4');
    await seed(gw);
    // Which runner served a read shows in its audit line: workers report no exit code.
    const linesOf = async (args: string[]): Promise<Array<Record<string, unknown>>> => {
      const before = gw.stdoutLines.length;
      await gitOk(args, { cwd: gw.dir, env: gw.gitEnv });
      return waitForLines(gw, before, (l) => l.service === 'git-upload-pack' && l.status === 200);
    };
    const clone = await linesOf(['-c', 'protocol.version=0', 'clone', '-q', gw.url('r', ANN), path.join(gw.dir, 'auto-clone')]);
    assert.deepEqual(clone.map((l) => [(l.bytesIn as number) > 0 ? 'POST' : 'GET', l.exitCode]), [['GET', null], ['POST', 0]], 'the advertisement went to a worker, the pack was spawned');
    const v2 = await linesOf(['-c', 'protocol.version=2', 'ls-remote', gw.url('r', ANN)]);
    assert.deepEqual(v2.map((l) => [(l.bytesIn as number) > 0 ? 'POST' : 'GET', l.exitCode]), [['GET', null], ['POST', null]], 'v2 ls-refs went to a worker too');
    const v2clone = await linesOf(['-c', 'protocol.version=2', 'clone', '-q', gw.url('r', ANN), path.join(gw.dir, 'auto-clone-v2')]);
    assert.deepEqual(v2clone.map((l) => [(l.bytesIn as number) > 0 ? 'POST' : 'GET', l.exitCode]), [['GET', null], ['POST', null], ['POST', 0]], 'v2: capabilities and ls-refs to workers, the fetch spawned');
  });

  it('auto falls back to spawning when fcgiwrap is not installed, and says so', { timeout: 60_000 }, async (t) => {
    const gw = await spawnGitward(t, { users: { ann: ANN.password }, repos: ['r'], config: { users: { ann: {} }, repos: { '.read': ['ann'], '.write': ['ann'] }, server: { fcgiwrap_path: '/nonexistent/fcgiwrap' } } });
    const chosen = await gw.waitForLog('backend.runner');
    assert.equal(chosen.runner, 'spawn');
    assert.match(String(chosen.reason), /\/nonexistent\/fcgiwrap is not installed/);
    assert.equal(workersOf(gw.child.pid as number).length, 0);
    await seed(gw);
    await gitOk(['clone', '-q', gw.url('r', ANN), path.join(gw.dir, 'spawn-clone')], { cwd: gw.dir, env: gw.gitEnv });
    assert.ok(gw.stdoutLines.some((l) => l.service === 'git-upload-pack' && l.status === 200 && l.exitCode === 0), 'spawned reads report git\'s exit code');
  });
});
