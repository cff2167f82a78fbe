/**
 * `kill -9` gitward in the middle of 16 concurrent pushes, then start it again on the same files:
 * nothing acknowledged is lost, nothing is corrupted, nothing blocks the next push, and the
 * git-http-backend children that outlived gitward finish on their own.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, prepareGitwardFiles } from '../helpers/server.js';
import { backendsOf, descendantsOf, describeProcs, lockFiles, processesWithEnv, waitFor, type ProcInfo } from '../helpers/procs.js';
import { addCommit, allRefs, fsckStrict, noiseTree, pushAccepted, refSha, runGit, serveChild } from './fault-kit.js';

const REPOS = ['k0', 'k1', 'k2', 'k3'];
const PUSHES = 16;
/**
 * Push sizes from 1 to 8 MB of noise: the small ones finish (acknowledged) while the large ones
 * are still being received when the kill comes.
 */
const pushBytes = (i: number): number => (1 + (i % 8)) * 1024 * 1024;
/**
 * git-http-backend runs in its own process group, so it survives gitward's SIGKILL; with its
 * stdin and stdout pipes gone it must stop by itself (EOF / EPIPE). Bound on that wait.
 */
const ORPHAN_EXIT_BOUND_MS = 15_000;
/** Orphans that stop by themselves do so within a second (EOF / EPIPE); wait this long. */
const ORPHAN_SELF_EXIT_MS = 5_000;
/** Bound on waiting for the first push to be acknowledged while others run. */
const FIRST_ACK_BOUND_MS = 40_000;

/** Pushes acknowledged before the kill: enough that losing one would show. */
const MIN_ACKED_BEFORE_KILL = 3;

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

const USER = { user: 'ann', password: 'ann-pw' };

test('kill -9 during 16 concurrent pushes loses no acknowledged push and leaves every repo clean and pushable', { timeout: 120_000 }, async (t) => {
  const port = await freePort();
  const files = await prepareGitwardFiles(t, {
    users: { ann: USER.password },
    repos: REPOS,
    config: { listen: `127.0.0.1:${port}`, log: { level: 'info', format: 'json', audit: null }, users: { ann: {} }, repos: { '.read': ['ann'], '.write': ['ann'] } },
  });
  const env = files.gitEnv;
  const url = (repo: string): string => `http://ann:${USER.password}@127.0.0.1:${port}/${repo}.git`;

  const pushes = await Promise.all(
    Array.from({ length: PUSHES }, async (_, i) => {
      const repo = REPOS[i % REPOS.length] as string;
      const branch = `b${i}`;
      const dir = path.join(files.dir, 'work', `w${i}`);
      const sha = await noiseTree(dir, env, branch, pushBytes(i));
      return { i, repo, branch, ref: `refs/heads/${branch}`, dir, sha };
    }),
  );

  const gw = await serveChild(t, files);
  // Whatever happens, no git process of this test outlives it (a spinning orphan would eat CI).
  t.after(() => {
    for (const p of processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot)) signal(p.pid, 'SIGKILL');
  });
  let killedAt = 0;
  const results = pushes.map((p) =>
    runGit(['push', '--porcelain', url(p.repo), `${p.branch}:${p.ref}`], p.dir, env).then((r) => ({ ...p, r, endedAt: Date.now() })),
  );
  const settled: Array<Awaited<(typeof results)[number]>> = [];
  for (const r of results) void r.then((x) => settled.push(x));

  // Kill once at least one push is acknowledged while backends are still receiving others.
  let inFlight: ProcInfo[] = [];
  await waitFor(
    () => {
      inFlight = descendantsOf(gw.pid).filter((p) => p.state !== 'Z');
      const acked = settled.filter((s) => pushAccepted(s.r, s.ref)).length;
      return acked >= MIN_ACKED_BEFORE_KILL && inFlight.some((p) => p.comm.startsWith('git'));
    },
    'one push acknowledged while others are in flight',
    FIRST_ACK_BOUND_MS,
    () => `settled: ${settled.map((s) => `${s.branch}=${s.r.code}`).join(' ')}`,
  );
  gw.child.kill('SIGKILL');
  killedAt = Date.now();
  await gw.exited;
  const orphans = processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot);
  t.diagnostic(`right after the kill: ${orphans.length} git processes of the killed gitward still run: ${describeProcs(orphans)}`);
  const all = await Promise.all(results);
  const ackedBeforeKill = all.filter((p) => p.endedAt < killedAt && pushAccepted(p.r, p.ref));
  const failed = all.filter((p) => !pushAccepted(p.r, p.ref));
  t.diagnostic(`acknowledged before the kill: ${ackedBeforeKill.length}, acknowledged in all: ${all.length - failed.length}, failed: ${failed.length}`);
  assert.ok(failed.length > 0, 'the kill came while some pushes were in flight');

  // Backends that outlived gitward mostly stop by themselves (stdin EOF / stdout EPIPE). One that
  // was still reading a body with a CONTENT_LENGTH does not: git 2.39's http-backend
  // (pipe_fixed_length) loops forever on read() = 0, at full CPU. Nothing in gitward can stop a
  // process after gitward is dead; the supervisor does: systemd's default KillMode=control-group
  // sends KillSignal (SIGTERM) to what is left of the unit's cgroup before a restart. Do the same
  // here after the bound, then require that every one of them is gone.
  const orphansLeft = async (): Promise<ProcInfo[]> => {
    try {
      await waitFor(() => processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot).length === 0, 'orphans exit', ORPHAN_SELF_EXIT_MS);
    } catch {
      // Some did not exit by themselves.
    }
    return processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot);
  };
  const stuck = await orphansLeft();
  if (stuck.length > 0) {
    t.diagnostic(`still running ${ORPHAN_SELF_EXIT_MS} ms after the kill, sent SIGTERM as systemd would: ${describeProcs(stuck)}`);
    for (const p of stuck) signal(p.pid, 'SIGTERM');
  }
  await waitFor(
    () => processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot).length === 0,
    'every git process of the killed gitward has exited',
    ORPHAN_EXIT_BOUND_MS,
    () => describeProcs(processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot)),
  );

  // Every acknowledged push is there with its exact sha; an unacknowledged one either landed
  // whole (the ref update happened, the report was lost) or not at all.
  for (const p of all) {
    const now = await refSha(path.join(files.repoRoot, `${p.repo}.git`), p.ref, env);
    if (pushAccepted(p.r, p.ref)) assert.equal(now, p.sha, `${p.repo} ${p.ref} was acknowledged as ${p.sha}`);
    else assert.ok(now === null || now === p.sha, `${p.repo} ${p.ref} after a failed push is ${String(now)}, neither absent nor ${p.sha}`);
  }
  for (const repo of REPOS) {
    const dir = path.join(files.repoRoot, `${repo}.git`);
    const fsck = await fsckStrict(dir, env);
    assert.equal(fsck.code, 0, `git fsck --strict ${repo}: ${fsck.stdout}${fsck.stderr}`);
    assert.deepEqual(lockFiles(dir), [], `no lock files left in ${repo}`);
    const leftovers = fs.readdirSync(path.join(dir, 'objects')).filter((n) => n.startsWith('incoming-') || n.startsWith('tmp_'));
    const packLeft = fs.readdirSync(path.join(dir, 'objects', 'pack')).filter((n) => n.startsWith('tmp_'));
    // receive-pack killed by SIGPIPE (its peer gone) leaves its quarantine behind (git 2.39):
    // unreferenced objects that never reach the repo proper; `git prune` removes them. Reported,
    // not asserted: gitward cannot clean up for a process that died with it.
    if (leftovers.length + packLeft.length > 0) t.diagnostic(`${repo}: left by killed receive-packs: ${[...leftovers, ...packLeft].join(' ')}`);
  }

  // Start again on the same files and push on top of every branch.
  const again = await serveChild(t, files);
  const next = await Promise.all(
    all.map(async (p) => {
      const sha = await addCommit(p.dir, env, `after-kill-${p.i}`);
      const r = await runGit(['push', '--porcelain', url(p.repo), `${p.branch}:${p.ref}`], p.dir, env);
      return { ...p, sha, r };
    }),
  );
  for (const p of next) assert.ok(pushAccepted(p.r, p.ref), `push to ${p.repo} ${p.ref} after the restart: ${p.r.stdout}${p.r.stderr}`);
  for (const repo of REPOS) {
    const dir = path.join(files.repoRoot, `${repo}.git`);
    const refs = await allRefs(dir, env);
    for (const p of next.filter((x) => x.repo === repo)) assert.equal(refs[p.ref], p.sha, `${repo} ${p.ref} after the restart`);
    const fsck = await fsckStrict(dir, env);
    assert.equal(fsck.code, 0, `git fsck --strict ${repo} after the restart: ${fsck.stdout}${fsck.stderr}`);
  }
  await waitFor(() => backendsOf(again.pid).length === 0, 'the restarted gitward has no children left', ORPHAN_EXIT_BOUND_MS, () => describeProcs(backendsOf(again.pid)));
});
