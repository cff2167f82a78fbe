import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, git, gitOk } from './git-run.js';
import { startGitward, type TestGitward } from '../helpers/server.js';

/**
 * The git protocol through gitward with the real git CLI, on one shared server: clone, fetch,
 * pull, push (branch, tag, delete, non-fast-forward), v0/v2, gzip, shallow, partial, chunked.
 */
describe('git over smart HTTP through gitward', () => {
  const cleanups: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let gw: TestGitward;
  let env: Record<string, string>;
  let work: string;
  const ann = { user: 'ann', password: 'ann-pw' };
  const n = (() => {
    let i = 0;
    return (p: string) => path.join(work, `${p}-${++i}`);
  })();

  before(async () => {
    gw = await startGitward(t, {
      users: { ann: ann.password },
      config: {
        users: { ann: { groups: ['eng'], info: { name: 'Ann Example', email: 'ann@example.org' } } },
        repos: { '.read': ['$all'], '.write': ['@eng'] },
        // Branch deletes are git's to refuse only where the config says so (no branch rules here).
        repo_defaults: { deny_deletes: false },
      },
      repos: ['proj/main', 'proj/nff', 'proj/big'],
    });
    env = gw.gitEnv;
    work = path.join(gw.dir, 'work');
    fs.mkdirSync(work);
    // Seed proj/main with three commits on main.
    const seed = path.join(work, 'seed');
    await gitOk(['init', '-q', '-b', 'main', seed], { cwd: work, env });
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(seed, `f${i}.txt`), `file ${i}\n`.repeat(50));
      await gitOk(['add', '.'], { cwd: seed, env });
      await gitOk(['commit', '-qm', `seed ${i}`], { cwd: seed, env });
    }
    // Straight into the bare repos: set-up, not a push under test (those come below).
    for (const repo of ['proj/main', 'proj/nff'])
      await gitOk(['push', '-q', path.join(gw.repoRoot, `${repo}.git`), 'main'], { cwd: seed, env });
    await gitOk(
      ['--git-dir', path.join(gw.repoRoot, 'proj/nff.git'), 'config', 'receive.denyNonFastforwards', 'true'],
      { cwd: work, env },
    );
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('clones anonymously (read for $all) and the content is there', async () => {
    const dir = n('clone');
    await gitOk(['clone', '-q', gw.url('proj/main'), dir], { cwd: work, env });
    assert.equal(fs.readFileSync(path.join(dir, 'f2.txt'), 'utf8'), 'file 2\n'.repeat(50));
    assert.equal((await gitOk(['rev-list', '--count', 'HEAD'], { cwd: dir, env })).trim(), '3');
  });

  it('the URL works without .git too', async () => {
    const out = await gitOk(['ls-remote', `${gw.origin}/proj/main`], { cwd: work, env });
    assert.match(out, /\trefs\/heads\/main\n/);
  });

  it('pushes a new branch and a tag, fetches and pulls them, deletes the branch', async () => {
    const a = n('a');
    const b = n('b');
    await gitOk(['clone', '-q', gw.url('proj/main', ann), a], { cwd: work, env });
    await gitOk(['clone', '-q', gw.url('proj/main', ann), b], { cwd: work, env });
    await gitOk(['switch', '-qc', 'feature'], { cwd: a, env });
    fs.writeFileSync(path.join(a, 'feature.txt'), 'feature\n');
    await gitOk(['add', '.'], { cwd: a, env });
    await gitOk(['commit', '-qm', 'feature'], { cwd: a, env });
    await gitOk(['tag', '-a', 'v1.0', '-m', 'release'], { cwd: a, env });
    await gitOk(['push', '-q', 'origin', 'feature', 'v1.0'], { cwd: a, env });
    const refs = await gitOk(['ls-remote', gw.url('proj/main')], { cwd: work, env });
    assert.match(refs, /\trefs\/heads\/feature\n/);
    assert.match(refs, /\trefs\/tags\/v1\.0\n/);

    await gitOk(['fetch', '-q', 'origin'], { cwd: b, env });
    assert.equal(
      (await gitOk(['rev-parse', 'origin/feature'], { cwd: b, env })).trim(),
      (await gitOk(['rev-parse', 'HEAD'], { cwd: a, env })).trim(),
    );
    await gitOk(['switch', '-q', 'main'], { cwd: a, env });
    fs.writeFileSync(path.join(a, 'more.txt'), 'more\n');
    await gitOk(['add', '.'], { cwd: a, env });
    await gitOk(['commit', '-qm', 'more'], { cwd: a, env });
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: a, env });
    await gitOk(['pull', '-q', '--ff-only', 'origin', 'main'], { cwd: b, env });
    assert.equal(fs.readFileSync(path.join(b, 'more.txt'), 'utf8'), 'more\n');

    await gitOk(['push', '-q', 'origin', ':refs/heads/feature'], { cwd: a, env });
    assert.doesNotMatch(await gitOk(['ls-remote', gw.url('proj/main')], { cwd: work, env }), /refs\/heads\/feature/);
  });

  it('refuses a non-fast-forward push when the repo says receive.denyNonFastforwards', async () => {
    const dir = n('nff');
    await gitOk(['clone', '-q', gw.url('proj/nff', ann), dir], { cwd: work, env });
    const before = (await gitOk(['ls-remote', gw.url('proj/nff'), 'refs/heads/main'], { cwd: work, env })).split(
      '\t',
    )[0];
    await gitOk(['reset', '-q', '--hard', 'HEAD~1'], { cwd: dir, env });
    fs.writeFileSync(path.join(dir, 'diverge.txt'), 'x\n');
    await gitOk(['add', '.'], { cwd: dir, env });
    await gitOk(['commit', '-qm', 'diverge'], { cwd: dir, env });
    const r = await git(['push', '--force', 'origin', 'main'], { cwd: dir, env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /non-fast-forward/);
    const afterRef = (await gitOk(['ls-remote', gw.url('proj/nff'), 'refs/heads/main'], { cwd: work, env })).split(
      '\t',
    )[0];
    assert.equal(afterRef, before);
  });

  it('negotiates protocol v2 when asked, v0 when asked', async () => {
    const v2 = await git(['-c', 'protocol.version=2', 'ls-remote', gw.url('proj/main')], {
      cwd: work,
      env: { ...env, GIT_TRACE_PACKET: '1' },
    });
    assert.equal(v2.code, 0);
    assert.match(v2.stderr, /< version 2/);
    const v0 = await git(['-c', 'protocol.version=0', 'ls-remote', gw.url('proj/main')], {
      cwd: work,
      env: { ...env, GIT_TRACE_PACKET: '1' },
    });
    assert.equal(v0.code, 0);
    assert.doesNotMatch(v0.stderr, /< version 2/);
    assert.match(v0.stdout, /refs\/heads\/main/);
  });

  it('accepts gzip request bodies (a fetch with many haves)', async () => {
    const dir = n('haves');
    await gitOk(['clone', '-q', gw.url('proj/main', ann), dir], { cwd: work, env });
    // Many local commits the server does not have: the negotiation lists them as haves, and git
    // gzips a request body over 1 KiB.
    const head = (await gitOk(['rev-parse', 'HEAD'], { cwd: dir, env })).trim();
    let stream = '';
    for (let i = 0; i < 400; i++) {
      const msg = `local ${i}\n`;
      stream += `commit refs/heads/local\ncommitter T <t@example.org> ${1700000000 + i} +0000\ndata ${msg.length}\n${msg}`;
      if (i === 0) stream += `from ${head}\n`;
      stream += '\n';
    }
    await gitOk(['fast-import', '--quiet'], { cwd: dir, env, input: stream });
    const other = n('other');
    await gitOk(['clone', '-q', gw.url('proj/main', ann), other], { cwd: work, env });
    fs.writeFileSync(path.join(other, 'new.txt'), 'new\n');
    await gitOk(['add', '.'], { cwd: other, env });
    await gitOk(['commit', '-qm', 'new'], { cwd: other, env });
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: other, env });
    const r = await git(['fetch', 'origin'], {
      cwd: dir,
      env: { ...env, GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Send header: Content-Encoding: gzip/);
    assert.equal(
      (await gitOk(['rev-parse', 'origin/main'], { cwd: dir, env })).trim(),
      (await gitOk(['rev-parse', 'HEAD'], { cwd: other, env })).trim(),
    );
  });

  it('serves shallow clones and deepens them', async () => {
    const dir = n('shallow');
    await gitOk(['clone', '-q', '--depth', '1', gw.url('proj/main'), dir], { cwd: work, env });
    assert.equal((await gitOk(['rev-list', '--count', 'HEAD'], { cwd: dir, env })).trim(), '1');
    await gitOk(['fetch', '-q', '--deepen', '1'], { cwd: dir, env });
    assert.equal((await gitOk(['rev-list', '--count', 'HEAD'], { cwd: dir, env })).trim(), '2');
  });

  it('serves partial clones (--filter=blob:none) and the blobs fetched later', async () => {
    const dir = n('partial');
    await gitOk(['clone', '-q', '--filter=blob:none', '--no-checkout', gw.url('proj/main'), dir], { cwd: work, env });
    assert.equal((await gitOk(['config', 'remote.origin.promisor'], { cwd: dir, env })).trim(), 'true');
    const missing = (await gitOk(['rev-list', '--objects', '--all', '--missing=print'], { cwd: dir, env }))
      .split('\n')
      .filter((l) => l.startsWith('?'));
    assert.ok(missing.length > 0, 'blobs should be missing after a blob:none clone');
    await gitOk(['checkout', '-q', 'main'], { cwd: dir, env });
    assert.equal(fs.readFileSync(path.join(dir, 'f0.txt'), 'utf8'), 'file 0\n'.repeat(50));
  });

  it('takes a chunked push over 1 MiB (no Content-Length) and clones it back intact', async () => {
    const dir = n('chunked');
    await gitOk(['init', '-q', '-b', 'main', dir], { cwd: work, env });
    const data = randomBytes(3 * 1024 * 1024);
    fs.writeFileSync(path.join(dir, 'random.bin'), data);
    await gitOk(['add', '.'], { cwd: dir, env });
    await gitOk(['commit', '-qm', 'big'], { cwd: dir, env });
    const r = await git(['push', gw.url('proj/big', ann), 'main'], {
      cwd: dir,
      env: { ...env, GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Send header: Transfer-Encoding: chunked/);
    // git first probes with a 4-byte POST, then sends the pack chunked: take the biggest.
    const push = await eventually(
      () =>
        gw.audit.records.find(
          (a) => a.repo === 'proj/big' && a.service === 'git-receive-pack' && a.bytesIn > 1024 * 1024,
        ),
      'the audit line of the push',
    );
    assert.ok(push && push.bytesIn > 3 * 1024 * 1024, JSON.stringify(push));
    assert.equal(push?.exitCode, 0);
    const back = n('chunked-back');
    await gitOk(['clone', '-q', gw.url('proj/big'), back], { cwd: work, env });
    assert.ok(fs.readFileSync(path.join(back, 'random.bin')).equals(data));
    await gitOk(['--git-dir', path.join(gw.repoRoot, 'proj/big.git'), 'fsck', '--strict'], { cwd: work, env });
  });

  it('writes one audit line per request with the fields of DESIGN.md §2', async () => {
    const dir = n('audit');
    await gitOk(['clone', '-q', gw.url('proj/main'), dir], { cwd: work, env });
    const before = gw.audit.records.length;
    // Nothing to push: only the receive-pack advertisement is asked for.
    await gitOk(['push', '-q', gw.url('proj/main', ann), 'main'], { cwd: dir, env });
    const lines = await eventually(
      () => (gw.audit.records.length >= before + 2 ? gw.audit.records.slice(before) : undefined),
      'two audit lines',
    );
    // git asks anonymously first, gets 401, then retries with the password.
    assert.deepEqual(
      lines.map((l) => [l.status, l.decision, l.user, l.authSource]),
      [
        [401, 'denied', null, 'anonymous'],
        [200, 'allowed', 'ann', 'htpasswd'],
      ],
    );
    const ok = lines[1] as (typeof lines)[number];
    assert.deepEqual(
      Object.keys(ok).sort(),
      [
        'authSource',
        'bytesIn',
        'bytesOut',
        'decision',
        'durationMs',
        'exitCode',
        'mode',
        'need',
        'remoteAddr',
        'repo',
        'requestBody',
        'requestId',
        'service',
        'status',
        'time',
        'user',
      ].sort(),
    );
    assert.equal(ok.repo, 'proj/main');
    assert.equal(ok.service, 'git-receive-pack');
    assert.equal(ok.need, 'write');
    assert.equal(ok.remoteAddr, '127.0.0.1');
    assert.equal(ok.exitCode, 0);
    assert.ok(ok.bytesOut > 0);
    assert.equal(ok.mode, 'proxy');
  });
});
