import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGitward, type TestGitward } from '../helpers/server.js';
import { eventually, git, gitOk } from './git-run.js';
import { alive, processGroup, within } from './proc.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

/**
 * Safety net on the backend and its git children being gone after the client leaves (issue 2
 * asks for 2 s; how soon is a figure for bench/, not a time limit a loaded machine can trip).
 */
const CHILD_GONE_DEADLINE_MS = SAFETY_NET_MS;

const pkt = (s: string): string => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
const ZERO = '0'.repeat(40);
const ann = { user: 'ann', password: 'ann-pw' };
const annHeader = `Basic ${Buffer.from('ann:ann-pw').toString('base64')}`;

/** The body of GET /healthz. */
interface Health {
  ok: boolean;
  configHash: string;
  loadedAt: string;
  lastFailure: { at: string; problems: string[] } | null;
}

describe('lifecycle: reload, healthz, aborts, hook logs', () => {
  const cleanups: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let gw: TestGitward;
  let bigSha: string;
  let pack: Buffer;
  let packTip: string;
  const config = {
    users: { ann: { groups: ['eng'] }, ben: { groups: ['qa'] } },
    repos: { '.read': ['@eng', '@qa'], '.write': ['@eng'] },
  };

  before(async () => {
    gw = await startGitward(t, { users: { ann: 'ann-pw', ben: 'ben-pw' }, config, repos: ['big', 'r', 'hooked'] });
    const env = gw.gitEnv;
    const src = path.join(gw.dir, 'src');
    await gitOk(['init', '-q', '-b', 'main', src], { cwd: gw.dir, env });
    fs.writeFileSync(path.join(src, 'random.bin'), randomBytes(8 * 1024 * 1024));
    await gitOk(['add', '.'], { cwd: src, env });
    await gitOk(['commit', '-qm', 'big'], { cwd: src, env });
    bigSha = (await gitOk(['rev-parse', 'HEAD'], { cwd: src, env })).trim();
    await gitOk(['push', '-q', path.join(gw.repoRoot, 'big.git'), 'main'], {
      cwd: gw.dir,
      env: { ...env, GIT_DIR: path.join(src, '.git') },
    });
    await gitOk(['push', '-q', path.join(gw.repoRoot, 'r.git'), 'main'], {
      cwd: gw.dir,
      env: { ...env, GIT_DIR: path.join(src, '.git') },
    });
    // A second commit that r.git does not have, packed for the aborted push.
    fs.writeFileSync(path.join(src, 'more.bin'), randomBytes(3 * 1024 * 1024));
    await gitOk(['add', '.'], { cwd: src, env });
    await gitOk(['commit', '-qm', 'more'], { cwd: src, env });
    packTip = (await gitOk(['rev-parse', 'HEAD'], { cwd: src, env })).trim();
    const packFile = path.join(gw.dir, 'push.pack');
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('git', ['pack-objects', '--revs', '--stdout'], {
      cwd: src,
      env,
      input: `${packTip}\n^${bigSha}\n`,
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, String(r.stderr));
    pack = r.stdout;
    fs.writeFileSync(packFile, pack);
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  /** Starts a raw request, waits for the backend to spawn and for `ready`, then destroys it. */
  async function abortAfterSpawn(
    method: string,
    p: string,
    headers: Record<string, string>,
    body: Buffer,
    waitForResponse: boolean,
  ): Promise<number> {
    const spawnedBefore = gw.logs.lines.filter((l) => l.event === 'backend.spawned').length;
    const req = http.request({ host: '127.0.0.1', port: gw.port, method, path: p, headers, agent: false });
    req.on('error', () => undefined);
    const gotResponse = new Promise<void>((resolve) => {
      req.on('response', (res) => {
        res.once('data', () => {
          res.pause();
          resolve();
        });
      });
    });
    req.write(body);
    const spawned = await eventually(
      () => gw.logs.lines.filter((l) => l.event === 'backend.spawned')[spawnedBefore],
      'the backend to spawn',
    );
    if (waitForResponse) await gotResponse;
    req.destroy();
    return Number(spawned.pid);
  }

  it('kills the backend and its git children when a clone is aborted', async () => {
    const body = Buffer.from(`${pkt(`want ${bigSha}\n`)}0000${pkt('done\n')}`);
    const pid = await abortAfterSpawn(
      'POST',
      '/big.git/git-upload-pack',
      {
        'content-type': 'application/x-git-upload-pack-request',
        authorization: annHeader,
        'content-length': String(body.length),
      },
      body,
      true,
    );
    assert.equal(
      await within(CHILD_GONE_DEADLINE_MS, () => !alive(pid) && processGroup(pid).length === 0),
      true,
      `left: ${processGroup(pid).join(' ')}`,
    );
  });

  it('an aborted push leaves the repo unchanged and fsck-clean, with no process left', async () => {
    const repo = path.join(gw.repoRoot, 'r.git');
    const refsBefore = await gitOk(['--git-dir', repo, 'for-each-ref'], { cwd: gw.dir, env: gw.gitEnv });
    const head = Buffer.from(`${pkt(`${ZERO} ${packTip} refs/heads/aborted\0report-status\n`)}0000`);
    const half = Buffer.concat([head, pack.subarray(0, Math.floor(pack.length / 2))]);
    const pid = await abortAfterSpawn(
      'POST',
      '/r.git/git-receive-pack',
      {
        'content-type': 'application/x-git-receive-pack-request',
        authorization: annHeader,
        'transfer-encoding': 'chunked',
      },
      half,
      false,
    );
    assert.equal(
      await within(CHILD_GONE_DEADLINE_MS, () => !alive(pid) && processGroup(pid).length === 0),
      true,
      `left: ${processGroup(pid).join(' ')}`,
    );
    assert.equal(await gitOk(['--git-dir', repo, 'for-each-ref'], { cwd: gw.dir, env: gw.gitEnv }), refsBefore);
    await gitOk(['--git-dir', repo, 'fsck', '--strict', '--no-dangling'], { cwd: gw.dir, env: gw.gitEnv });
    const leftovers = fs
      .readdirSync(path.join(repo, 'objects'))
      .filter((n) => n.startsWith('incoming-') || n.startsWith('tmp'));
    assert.deepEqual(leftovers, [], JSON.stringify(gw.logs.lines.filter((l) => String(l.event).startsWith('backend'))));
    assert.equal(
      await git(['--git-dir', repo, 'cat-file', '-e', packTip], { cwd: gw.dir, env: gw.gitEnv }).then((r) => r.code),
      1,
      'the pushed commit must not be in the repo',
    );
  });

  it('re-logs what hooks write into GITWARD_LOG_DIR as hook.log with the request id, then removes the dir', async () => {
    const repo = path.join(gw.repoRoot, 'hooked.git');
    const seen = path.join(gw.dir, 'seen-log-dir');
    fs.writeFileSync(
      path.join(repo, 'hooks', 'pre-receive'),
      `#!/bin/sh\ncat >/dev/null\nprintf '%s' "$GITWARD_LOG_DIR" > '${seen}'\nenv > '${seen}.env'\necho '{"event":"branch-flow.accept","ref":"refs/heads/main"}' > "$GITWARD_LOG_DIR/pre-receive.log"\necho 'not json' >> "$GITWARD_LOG_DIR/pre-receive.log"\n`,
      { mode: 0o755 },
    );
    const dir = path.join(gw.dir, 'hooked-work');
    await gitOk(['init', '-q', '-b', 'main', dir], { cwd: gw.dir, env: gw.gitEnv });
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'x'], { cwd: dir, env: gw.gitEnv });
    await gitOk(
      [
        '-c',
        'http.extraHeader=X-Remote-User: root',
        '-c',
        'http.extraHeader=Cookie: session=1',
        'push',
        '-q',
        gw.url('hooked', ann),
        'main',
      ],
      { cwd: dir, env: gw.gitEnv },
    );
    const push = await eventually(
      () => gw.audit.records.find((a) => a.repo === 'hooked' && a.service === 'git-receive-pack' && a.bytesIn > 4),
      'the push',
    );
    const lines = await eventually(() => {
      const l = gw.logs.lines.filter((x) => x.event === 'hook.log' && x.requestId === push.requestId);
      return l.length === 2 ? l : undefined;
    }, 'two hook.log lines');
    assert.equal(lines[0]?.hookEvent, 'branch-flow.accept');
    assert.equal(lines[0]?.ref, 'refs/heads/main');
    assert.equal(lines[1]?.line, 'not json');
    const hookEnv = new Map(
      fs
        .readFileSync(`${seen}.env`, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    assert.equal(hookEnv.get('GITWARD_USER'), 'ann');
    assert.equal(hookEnv.get('GITWARD_REPO'), 'hooked');
    assert.equal(hookEnv.get('GITWARD_REQUEST_ID'), push.requestId);
    assert.equal(hookEnv.get('GITWARD_GROUPS'), '["eng"]');
    assert.equal(hookEnv.get('GITWARD_CONFIG'), gw.configFile);
    assert.equal(hookEnv.get('REMOTE_USER'), 'ann');
    for (const name of ['HTTP_AUTHORIZATION', 'HTTP_X_REMOTE_USER', 'HTTP_COOKIE', 'HTTP_PROXY', 'GIT4NGINX_CONFIG'])
      assert.equal(hookEnv.has(name), false, name);
    const logDir = fs.readFileSync(seen, 'utf8');
    assert.ok(logDir.length > 0);
    assert.equal(fs.existsSync(logDir), false, 'GITWARD_LOG_DIR is removed after the push');
  });

  it('hot reload: a new grant works on the next request; a broken edit changes nothing and shows on /healthz', async () => {
    const env = gw.gitEnv;
    const dir = path.join(gw.dir, 'reload-work');
    await gitOk(['clone', '-q', gw.url('r', ann), dir], { cwd: gw.dir, env });
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'by ben'], { cwd: dir, env });
    const benUrl = gw.url('r', { user: 'ben', password: 'ben-pw' });
    const denied = await git(['push', benUrl, 'HEAD:refs/heads/ben'], { cwd: dir, env });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /403/);

    const initial = (await (await fetch(`${gw.origin}/healthz`)).json()) as Health;
    gw.runtime.watch();
    const reloadsBefore = gw.logs.lines.filter((l) => l.event === 'config.reloaded').length;
    gw.writeConfig({ ...config, repos: { ...config.repos, '.write': ['@eng', 'ben'] } });
    await eventually(
      () => (gw.logs.lines.filter((l) => l.event === 'config.reloaded').length > reloadsBefore ? true : undefined),
      'the file watcher to reload',
    );
    await gitOk(['push', '-q', benUrl, 'HEAD:refs/heads/ben'], { cwd: dir, env });

    const good = (await (await fetch(`${gw.origin}/healthz`)).json()) as Health;
    assert.equal(good.ok, true);
    assert.equal(good.lastFailure, null);
    assert.notEqual(good.configHash, initial.configHash);
    assert.ok(
      Date.parse(good.loadedAt) > Date.parse(initial.loadedAt),
      `loadedAt ${initial.loadedAt} -> ${good.loadedAt}`,
    );
    assert.equal(good.loadedAt, new Date(gw.runtime.current().loadedAt).toISOString());

    fs.writeFileSync(gw.configFile, 'repo_root: ./repos\nbogus_key: 1\n');
    assert.equal(await gw.reload(), false);
    const failures = gw.logs.lines.filter((l) => l.event === 'config.reload_failed');
    assert.ok(failures.length > 0);
    const health = (await (await fetch(`${gw.origin}/healthz`)).json()) as Health;
    assert.equal(health.ok, false);
    assert.equal(health.configHash, good.configHash);
    assert.equal(health.loadedAt, good.loadedAt, 'a broken edit leaves the time of the last good load');
    assert.ok(
      health.lastFailure?.problems.some((p) => p.includes('bogus_key')),
      JSON.stringify(health.lastFailure),
    );
    // The last good config is still in force: ben still pushes.
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'again'], { cwd: dir, env });
    await gitOk(['push', '-q', benUrl, 'HEAD:refs/heads/ben'], { cwd: dir, env });
  });

  it('a reload with a bad hook plugin setting keeps the last good config and shows the problem on /healthz', async (t) => {
    const base = { users: { ann: { groups: ['eng'] } }, repos: { '.read': ['@eng'] } };
    const g = await startGitward(t, { users: { ann: 'ann-pw' }, config: base });
    const health = async () => (await (await fetch(`${g.origin}/healthz`)).json()) as Health;
    const before = await health();
    assert.equal(before.ok, true);

    // `gitward check` refuses this (branch-flow needs two branches); so must a reload.
    g.writeConfig({ ...base, repos: { ...base.repos, web: { '.hooks': { 'branch-flow': { flow: ['main'] } } } } });
    const line =
      fs
        .readFileSync(g.configFile, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('branch-flow')) + 1;
    assert.equal(await g.reload(), false);
    const broken = await health();
    assert.equal(broken.ok, false);
    assert.equal(broken.configHash, before.configHash);
    assert.equal(broken.loadedAt, before.loadedAt);
    assert.deepEqual(broken.lastFailure?.problems, [
      `${g.configFile}:${line}: repos.web.hooks.branch-flow.flow: a list of at least two branch names is required`,
    ]);
    assert.equal(g.runtime.current().config.repos.children.has('web'), false, 'the bad config is not in force');
    assert.ok(
      g.logs.lines.some(
        (l) => l.event === 'config.reload_failed' && JSON.stringify(l.problems).includes('branch-flow.flow'),
      ),
    );

    g.writeConfig({
      ...base,
      repos: { ...base.repos, web: { '.hooks': { 'branch-flow': { flow: ['dev', 'main'] } } } },
    });
    assert.equal(await g.reload(), true);
    const fixed = await health();
    assert.equal(fixed.ok, true);
    assert.notEqual(fixed.configHash, before.configHash);
    assert.equal(g.runtime.current().config.repos.children.get('web')?.hooks.has('branch-flow'), true);
  });
});
