/**
 * A client that goes away mid-request leaves nothing behind in gitward: no backend child (or its
 * git children), no open fd, no half-received objects in the repo proper.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { prepareGitwardFiles } from '../helpers/server.js';
import {
  backendsOf,
  cmdline,
  descendantsOf,
  describeProcs,
  envOf,
  fdKinds,
  openFds,
  SAFETY_NET_MS,
  waitFor,
} from '../helpers/procs.js';
import { allRefs, fsckStrict, noiseTree, pushAccepted, runGit, serveChild, type ServeChild } from './fault-kit.js';

/** Big enough that the push is still streaming when the client is killed. */
const BIG_PUSH_BYTES = 24 * 1024 * 1024;
/** Safety net on gitward's cleanup after a disconnect (SIGTERM, then SIGKILL after 1 s: run-backend). */
const CLEANUP_BOUND_MS = SAFETY_NET_MS;
/** Safety net on waiting for the request to reach the backend. */
const IN_FLIGHT_BOUND_MS = SAFETY_NET_MS;

const PASSWORD = 'ann-pw';

interface Fixture {
  gw: ServeChild;
  port: number;
  files: Awaited<ReturnType<typeof prepareGitwardFiles>>;
  url(repo: string): string;
  baselineFds: number;
  /** gitward's log lines before this index were written before the test began. */
  logFrom: number;
}

/**
 * One gitward for the three tests, started by the first: starting `gitward serve` (a Node process
 * and its CGI spawner) and warming it up cost more CPU than a test's own requests. Each test
 * takes its own baseline (no children, a settled fd count) when it begins, and must leave
 * gitward back at it. Cleanups of the shared files and server run after the last test.
 */
const cleanups: Array<() => unknown> = [];
const fileScope: Pick<TestContext, 'after'> = {
  after: (fn) => void cleanups.unshift(fn as () => unknown),
};
after(async () => {
  for (const fn of cleanups) await fn();
});
let shared: Promise<Omit<Fixture, 'baselineFds' | 'logFrom'>> | null = null;

async function startShared(): Promise<Omit<Fixture, 'baselineFds' | 'logFrom'>> {
  const files = await prepareGitwardFiles(fileScope, {
    users: { ann: PASSWORD },
    repos: ['d'],
    config: {
      listen: '127.0.0.1:0',
      log: { level: 'info', format: 'json', audit: null },
      users: { ann: {} },
      repos: { '.read': ['ann'], '.write': ['ann'] },
    },
  });
  const gw = await serveChild(fileScope, files);
  const port = gw.port;
  const url = (repo: string): string => `http://ann:${PASSWORD}@127.0.0.1:${port}/${repo}.git`;
  // Warm up: one complete push and clone, so that fds gitward opens once (and keeps) are open.
  const warm = path.join(files.dir, 'warm');
  await noiseTree(warm, files.gitEnv, 'main', 64 * 1024);
  const p = await runGit(['push', '--porcelain', url('d'), 'main:refs/heads/main'], warm, files.gitEnv);
  assert.ok(pushAccepted(p, 'refs/heads/main'), `warm-up push: ${p.stderr}`);
  const c = await runGit(['clone', '--quiet', url('d'), path.join(files.dir, 'warm-clone')], files.dir, files.gitEnv);
  assert.equal(c.code, 0, c.stderr);
  return { gw, port, files, url };
}

async function setUp(): Promise<Fixture> {
  shared ??= startShared();
  const f = await shared;
  await waitFor(() => backendsOf(f.gw.pid).length === 0, 'no children before the test', CLEANUP_BOUND_MS);
  return { ...f, baselineFds: await settledFdCount(f.gw.pid), logFrom: f.gw.logLines.length };
}

/** Polls between readings of a settling fd count; a closed keep-alive socket goes in one poll. */
const FD_SETTLE_POLL_MS = 100;
/** Readings in a row that must agree before a count is taken as settled. */
const FD_SETTLE_READINGS = 3;

/**
 * gitward's fd count once it has stopped changing: the last client's keep-alive socket and the
 * fcgiwrap workers' spare connections open and close a moment after a request ends.
 */
async function settledFdCount(pid: number): Promise<number> {
  const deadline = Date.now() + CLEANUP_BOUND_MS;
  let last = openFds(pid).length;
  let same = 1;
  while (same < FD_SETTLE_READINGS && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, FD_SETTLE_POLL_MS));
    const now = openFds(pid).length;
    same = now === last ? same + 1 : 1;
    last = now;
  }
  return last;
}

/** Waits until gitward is back to its baseline: no children, no more fds than before. */
async function assertNothingLeft(t: TestContext, f: Fixture): Promise<void> {
  await waitFor(
    () => backendsOf(f.gw.pid).length === 0,
    'every backend child of gitward has exited',
    CLEANUP_BOUND_MS,
    () => describeProcs(backendsOf(f.gw.pid)),
  );
  await waitFor(
    () => openFds(f.gw.pid).length <= f.baselineFds,
    `gitward's fds are back to the ${f.baselineFds} it had before`,
    CLEANUP_BOUND_MS,
    () => JSON.stringify(fdKinds(openFds(f.gw.pid))),
  );
  t.diagnostic(
    `fds before: ${f.baselineFds}, after: ${openFds(f.gw.pid).length} ${JSON.stringify(fdKinds(openFds(f.gw.pid)))}`,
  );
  const dir = path.join(f.files.repoRoot, 'd.git');
  const fsck = await fsckStrict(dir, f.files.gitEnv);
  assert.equal(fsck.code, 0, `fsck --strict: ${fsck.stdout}${fsck.stderr}`);
}

/**
 * Waits until gitward runs the `git <service> --stateless-rpc` of a POST: the pack exchange, not
 * a push's probe POST nor the ref advertisement (`--advertise-refs` / `--http-backend-info-refs`) that a real client's
 * GET info/refs starts first and that ends within milliseconds.
 */
async function backendRunning(f: Fixture, service: string, fdsBefore = f.baselineFds): Promise<void> {
  const isPackExchange = (pid: number): boolean => {
    const argv = cmdline(pid);
    return (
      argv.includes(service) &&
      argv.includes('--stateless-rpc') &&
      !argv.includes('--advertise-refs') &&
      !argv.includes('--http-backend-info-refs') &&
      // Not the 4-byte probe POST a push over http.postBuffer sends first: answered at once, it
      // would have the client killed before its upload starts (git's env reaches receive-pack).
      envOf(pid).CONTENT_LENGTH !== '4'
    );
  };
  await waitFor(
    () => descendantsOf(f.gw.pid).some((p) => p.state !== 'Z' && isPackExchange(p.pid)),
    `a ${service} pack exchange is running under gitward`,
    IN_FLIGHT_BOUND_MS,
    () =>
      `${describeProcs(descendantsOf(f.gw.pid))}; gitward's last log lines: ${f.gw.logLines
        .slice(-8)
        .map((l) => JSON.stringify(l))
        .join(
          ' ',
        )}; its audit lines: ${f.gw.auditLines.map((l) => `${String(l.service)} ${String(l.status)}`).join(', ')}`,
  );
  // Otherwise "back to the baseline" below would prove nothing.
  assert.ok(openFds(f.gw.pid).length > fdsBefore, 'gitward holds more fds while the request is in flight');
}

test('a git push killed mid-transfer leaves no child, no fd and no ref change behind', async (t) => {
  const f = await setUp();
  const refsBefore = await allRefs(path.join(f.files.repoRoot, 'd.git'), f.files.gitEnv);
  const work = path.join(f.files.dir, 'big');
  await noiseTree(work, f.files.gitEnv, 'big', BIG_PUSH_BYTES);
  // Its own process group, so that git and git-remote-http die together, as a closed laptop would.
  const client = spawn('git', ['push', f.url('d'), 'big:refs/heads/big'], {
    cwd: work,
    env: f.files.gitEnv,
    stdio: 'ignore',
    detached: true,
  });
  const clientExit = new Promise((r) => client.once('exit', r));
  t.after(() => {
    try {
      process.kill(-(client.pid as number), 'SIGKILL');
    } catch {
      // gone
    }
  });
  await backendRunning(f, 'receive-pack');
  process.kill(-(client.pid as number), 'SIGKILL');
  await clientExit;
  await assertNothingLeft(t, f);
  assert.deepEqual(await allRefs(path.join(f.files.repoRoot, 'd.git'), f.files.gitEnv), refsBefore, 'refs unchanged');
  assert.ok(
    f.gw.logLines.slice(f.logFrom).some((l) => l.event === 'backend.client_gone'),
    'gitward noticed the client leaving (backend.client_gone)',
  );
});

test('a raw receive-pack POST cut off mid-body leaves no child and no fd behind', async (t) => {
  const f = await setUp();
  const sock = net.connect({ host: '127.0.0.1', port: f.port });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.on('error', () => undefined);
  const auth = Buffer.from(`ann:${PASSWORD}`).toString('base64');
  sock.write(
    'POST /d.git/git-receive-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: Basic ${auth}\r\nContent-Type: application/x-git-receive-pack-request\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n',
  );
  // The start of a push: one command pkt-line and a flush, then a pack header, never finished.
  const zero = '0'.repeat(40);
  const cmd = `${zero} ${'1'.repeat(40)} refs/heads/cut\0 report-status\n`;
  const body = `${(cmd.length + 4).toString(16).padStart(4, '0')}${cmd}0000PACK\0\0\0\x02\0\0\0\x05`;
  sock.write(`${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`);
  await backendRunning(f, 'receive-pack');
  sock.destroy();
  await assertNothingLeft(t, f);
  const refs = await allRefs(path.join(f.files.repoRoot, 'd.git'), f.files.gitEnv);
  assert.equal(refs['refs/heads/cut'], undefined, 'the cut-off push created no ref');
});

test('a clone killed mid-transfer leaves no child and no fd behind', async (t) => {
  const f = await setUp();
  // Make the repo big enough that the clone is still streaming when it is killed.
  const work = path.join(f.files.dir, 'fill');
  await noiseTree(work, f.files.gitEnv, 'fill', BIG_PUSH_BYTES);
  // Straight into the bare repo, not through gitward: this push is set-up, not under test.
  const repo = path.join(f.files.repoRoot, 'd.git');
  const p = await runGit(['push', '--porcelain', repo, 'fill:refs/heads/fill'], work, f.files.gitEnv);
  assert.ok(pushAccepted(p, 'refs/heads/fill'), p.stderr);
  const fdsBefore = f.baselineFds;
  const raw = net.connect({ host: '127.0.0.1', port: f.port });
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  raw.on('error', () => undefined);
  const auth = Buffer.from(`ann:${PASSWORD}`).toString('base64');
  // A v0 upload-pack request that wants the big branch, sent by a client that never reads.
  const refs = await allRefs(path.join(f.files.repoRoot, 'd.git'), f.files.gitEnv);
  const want = `want ${refs['refs/heads/fill'] as string} side-band-64k ofs-delta\n`;
  const body = `${(want.length + 4).toString(16).padStart(4, '0')}${want}00000009done\n`;
  raw.write(
    'POST /d.git/git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `Authorization: Basic ${auth}\r\nContent-Type: application/x-git-upload-pack-request\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  raw.pause();
  await backendRunning(f, 'upload-pack', fdsBefore);
  raw.destroy();
  await assertNothingLeft(t, f);
});
