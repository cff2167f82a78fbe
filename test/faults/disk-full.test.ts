/**
 * A full disk during a push: repo_root on a 20 MB tmpfs (a loop-mounted ext4 image where tmpfs
 * cannot be mounted), a push bigger than that. The push fails with a message the user can act
 * on, the repo keeps its refs and passes fsck, and once there is room a small push succeeds.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { prepareGitwardFiles } from '../helpers/server.js';
import { backendsOf, SAFETY_NET_MS, waitFor } from '../helpers/procs.js';
import {
  addCommit,
  allRefs,
  fsckStrict,
  gitOk,
  noise,
  noiseTree,
  pushAccepted,
  runGit,
  serveChild,
} from './fault-kit.js';

/** Size of the small disk: room for a few small repos, not for the big push. */
const DISK_SIZE = '20m';
/** The push that does not fit: half again the disk. */
const TOO_BIG_BYTES = 30 * 1024 * 1024;
/** Safety net on gitward reaping the failed push's backend. */
const CLEANUP_BOUND_MS = SAFETY_NET_MS;
/** CI providers set CI=true (GitHub, GitLab) or CI=1; there the small disk must be mounted. */
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Mounts a DISK_SIZE filesystem at `dir`: tmpfs, else a loop-mounted ext4 image (the caller
 * unmounts it). Returns how it was mounted, or null: a local run without root or `mount` skips,
 * while in CI (CI=true or CI=1) that is a failure, so the test cannot pass by not running.
 */
function mountSmallDisk(t: TestContext, dir: string, scratch: string): string | null {
  const attempts: Array<[string, () => void]> = [
    ['tmpfs', () => execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_SIZE}`, 'tmpfs', dir], { stdio: 'pipe' })],
    [
      'loop ext4',
      () => {
        const img = path.join(scratch, 'disk.img');
        execFileSync('truncate', ['-s', DISK_SIZE.toUpperCase(), img], { stdio: 'pipe' });
        execFileSync('mkfs.ext4', ['-q', '-F', img], { stdio: 'pipe' });
        execFileSync('mount', ['-o', 'loop', img, dir], { stdio: 'pipe' });
      },
    ],
  ];
  const errors: string[] = [];
  for (const [kind, mount] of attempts) {
    try {
      mount();
      return kind;
    } catch (err) {
      errors.push(`${kind}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  if (IN_CI) throw new Error(`cannot mount a small disk in CI (root and mount are required): ${errors.join('; ')}`);
  t.skip(`cannot mount a small disk: ${errors.join('; ')}`);
  return null;
}

test('a push that fills the disk fails clearly, leaves the repo intact, and a push fits once there is room', async (t) => {
  // Outside the test's temp dir: that one is removed by an earlier after-hook than the unmount.
  const disk = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-disk-')));
  t.after(() => {
    try {
      execFileSync('umount', ['-l', disk], { stdio: 'pipe' });
    } catch {
      // Not mounted (skipped) or already unmounted.
    }
    fs.rmSync(disk, { recursive: true, force: true });
  });
  const files = await prepareGitwardFiles(t, {
    users: { ann: 'ann-pw' },
    config: {
      repo_root: disk,
      listen: '127.0.0.1:0',
      log: { level: 'info', format: 'json', audit: null },
      users: { ann: {} },
      repos: { '.read': ['ann'], '.write': ['ann'] },
    },
  });
  const kind = mountSmallDisk(t, disk, files.dir);
  if (kind === null) return;
  t.diagnostic(`repo_root on a ${DISK_SIZE} ${kind}`);
  const repo = path.join(disk, 'full.git');
  await gitOk(['init', '--quiet', '--bare', '--initial-branch=main', repo], { cwd: disk, env: files.gitEnv });
  const gw = await serveChild(t, files);
  const url = `http://ann:ann-pw@127.0.0.1:${gw.port}/full.git`;

  const work = path.join(files.dir, 'work');
  const seed = await noiseTree(work, files.gitEnv, 'main', 1024);
  const first = await runGit(['push', '--porcelain', url, 'main:refs/heads/main'], work, files.gitEnv);
  assert.ok(pushAccepted(first, 'refs/heads/main'), first.stderr);
  const refsBefore = await allRefs(repo, files.gitEnv);
  assert.equal(refsBefore['refs/heads/main'], seed);

  // Too big: on a branch of its own and as a new commit on main. What git tells the user each
  // time: receive-pack's report and the backend's message on the side band.
  const big = path.join(files.dir, 'big');
  await noiseTree(big, files.gitEnv, 'big', TOO_BIG_BYTES);
  const r = await runGit(['push', '--porcelain', url, 'big:refs/heads/big'], big, files.gitEnv);
  t.diagnostic(`client saw (new branch): ${JSON.stringify(r.stdout + r.stderr)}`);
  assert.notEqual(r.code, 0, 'the push that does not fit fails');
  assert.ok(!pushAccepted(r, 'refs/heads/big'), 'git does not report it accepted');
  assert.match(r.stdout, /\[remote rejected\] \(unpacker error\)/, 'the ref is reported rejected');
  assert.match(r.stderr, /No space left on device/, 'the client is told the server disk is full');
  await waitFor(() => backendsOf(gw.pid).length === 0, 'the failed push has no process left', CLEANUP_BOUND_MS);

  // On a side branch of the work tree, so that main there stays what the server has.
  await gitOk(['checkout', '--quiet', '-b', 'big-main'], { cwd: work, env: files.gitEnv });
  fs.writeFileSync(path.join(work, 'big.bin'), noise(`${work}:big-main`, TOO_BIG_BYTES));
  await gitOk(['add', 'big.bin'], { cwd: work, env: files.gitEnv });
  await gitOk(['commit', '--quiet', '-m', 'too big for the disk'], { cwd: work, env: files.gitEnv });
  const onMain = await runGit(['push', '--porcelain', url, 'big-main:refs/heads/main'], work, files.gitEnv);
  t.diagnostic(`client saw (commit on main): ${JSON.stringify(onMain.stdout + onMain.stderr)}`);
  assert.notEqual(onMain.code, 0, 'the commit on main that does not fit fails');
  assert.ok(!pushAccepted(onMain, 'refs/heads/main'), 'git does not report main updated');
  assert.match(onMain.stdout, /\[remote rejected\] \(unpacker error\)/, 'main is reported rejected');
  assert.match(onMain.stderr, /No space left on device/, 'the client is told the server disk is full');
  await gitOk(['checkout', '--quiet', 'main'], { cwd: work, env: files.gitEnv });

  await waitFor(() => backendsOf(gw.pid).length === 0, 'the failed push has no process left', CLEANUP_BOUND_MS);
  assert.deepEqual(await allRefs(repo, files.gitEnv), refsBefore, 'refs unchanged: no big branch, main still the seed');
  const fsck = await fsckStrict(repo, files.gitEnv);
  assert.equal(fsck.code, 0, `fsck --strict: ${fsck.stdout}${fsck.stderr}`);
  const leftovers = fs
    .readdirSync(path.join(repo, 'objects'))
    .filter((n) => n.startsWith('tmp_objdir') || n.startsWith('incoming'));
  t.diagnostic(`quarantine left after the failed push: ${leftovers.join(' ') || '(none)'}`);
  // Free the space (what an admin does: remove what the failed push left, if anything).
  for (const l of leftovers) fs.rmSync(path.join(repo, 'objects', l), { recursive: true, force: true });
  for (const p of fs.readdirSync(path.join(repo, 'objects', 'pack')).filter((n) => n.startsWith('tmp_')))
    fs.rmSync(path.join(repo, 'objects', 'pack', p));

  const next = await addCommit(work, files.gitEnv, 'small-after-full');
  const again = await runGit(['push', '--porcelain', url, 'main:refs/heads/main'], work, files.gitEnv);
  assert.ok(pushAccepted(again, 'refs/heads/main'), `a small push once there is room: ${again.stderr}`);
  assert.equal((await allRefs(repo, files.gitEnv))['refs/heads/main'], next);
  const fsck2 = await fsckStrict(repo, files.gitEnv);
  assert.equal(fsck2.code, 0, `fsck --strict after: ${fsck2.stdout}${fsck2.stderr}`);
});
