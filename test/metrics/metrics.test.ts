import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import yaml from 'js-yaml';
import { metricsPeerAllowed } from '../../app/metrics/metrics.js';
import { git, gitOk, makeWorkTree } from '../helpers/git.js';
import { requireBinary } from '../helpers/nginx.js';
import { baseConfig, startGitward, type TestGitward } from '../helpers/server.js';
import { apiRequest } from '../api/api-client.js';

const PASSWORDS = { ann: 'ann-pw', ben: 'ben-pw' };

/** A server where ann administers and pushes to team/, and branch-protect guards main there. */
function metricsServer(t: TestContext, extra: Record<string, unknown> = {}): Promise<TestGitward> {
  return startGitward(t, {
    users: PASSWORDS,
    config: {
      repos: {
        team: {
          '.admin': ['ann'],
          '.read': ['ben'],
          '.hooks': { 'branch-protect': { branches: { main: { push: ['ben'] } } } },
        },
      },
      ...extra,
    },
  });
}

/** GET /metrics from the test (a loopback peer, no forwarding header). */
async function scrape(
  gw: TestGitward,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; type: string }> {
  const a = await apiRequest(gw.origin, 'GET', '/metrics', { headers });
  return { status: a.status, text: a.text, type: String(a.headers['content-type']) };
}

/** The value of one sample (`name{labels}` exactly as exposed, labels in prom-client's order), or null. */
function sample(text: string, series: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return null;
}

/** Runs `promtool check metrics` on `text`; its exit code and output. */
function promtoolCheck(promtool: string, text: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
  });
}

/** Creates team/app through the API, pushes one commit to `branch` as `user`; the push's result. */
async function createAndPush(
  gw: TestGitward,
  user: keyof typeof PASSWORDS,
  branch: string,
): Promise<{ code: number | null; stderr: string }> {
  const made = await apiRequest(gw.origin, 'POST', '/_gitward/api/v1/repos', {
    user: { user: 'ann', password: PASSWORDS.ann },
    body: { name: 'team/app' },
  });
  assert.equal(made.status, 201, made.text);
  const work = path.join(gw.dir, 'work');
  await makeWorkTree(work, gw.gitEnv);
  return git(['push', gw.url('team/app', { user, password: PASSWORDS[user] }), `main:${branch}`], {
    cwd: work,
    env: gw.gitEnv,
  });
}

/**
 * Waits until `count` audit lines match `pred`: the metrics are recorded where the audit line is
 * written, which for a push waits for the hook logs, after the client may already have finished.
 */
async function auditLines(
  gw: TestGitward,
  pred: (r: TestGitward['audit']['records'][number]) => boolean,
  count: number,
): Promise<void> {
  while (gw.audit.records.filter(pred).length < count) await new Promise((resolve) => setImmediate(resolve));
}

// The pack POST of a push (its advertisement has no body).
const pushLine = (r: TestGitward['audit']['records'][number]): boolean =>
  r.service === 'git-receive-pack' && r.requestBody !== null;

describe('GET /metrics', () => {
  it('after a push and a clone, the exposition passes promtool check metrics and the series moved', async (t) => {
    const promtool = requireBinary(t, 'promtool');
    if (promtool === null) return;
    const gw = await metricsServer(t);
    const push = await createAndPush(gw, 'ann', 'dev');
    assert.equal(push.code, 0, push.stderr);
    await gitOk(
      ['clone', '--quiet', gw.url('team/app', { user: 'ben', password: PASSWORDS.ben }), path.join(gw.dir, 'clone')],
      { cwd: gw.dir, env: gw.gitEnv },
    );
    await auditLines(gw, pushLine, 1);
    await auditLines(gw, (r) => r.service === 'git-upload-pack' && r.status === 200, 2);
    const m = await scrape(gw);
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    const check = await promtoolCheck(promtool, m.text);
    assert.equal(check.code, 0, check.out);
    assert.ok(
      (sample(m.text, 'gitward_requests_total{service="git-upload-pack",mode="proxy",status="200"}') ?? 0) >= 2,
      m.text,
    );
    assert.ok(
      (sample(m.text, 'gitward_requests_total{service="git-receive-pack",mode="proxy",status="200"}') ?? 0) >= 1,
      m.text,
    );
    assert.equal(sample(m.text, 'gitward_requests_total{service="api",mode="proxy",status="201"}'), 1);
    assert.ok((sample(m.text, 'gitward_backend_duration_seconds_count{service="git-upload-pack"}') ?? 0) >= 2);
    assert.ok((sample(m.text, 'gitward_response_bytes_total{service="git-upload-pack"}') ?? 0) > 0);
    assert.ok((sample(m.text, 'gitward_request_bytes_total{service="git-receive-pack"}') ?? 0) > 0);
    assert.equal(sample(m.text, 'gitward_backend_processes'), 0);
    assert.equal(sample(m.text, 'gitward_config_last_reload_ok'), 1);
    assert.ok((sample(m.text, 'gitward_config_age_seconds') ?? -1) >= 0);
    // No user or repo names unless the operator asks.
    assert.doesNotMatch(m.text, /ann|ben|team\/app/);
  });

  it('counts failed logins, throttled requests, hook refusals by plugin and config reload results', async (t) => {
    const gw = await metricsServer(t, { brute_force: { max_failures: 2, window_seconds: 600 } });
    const refused = await createAndPush(gw, 'ann', 'main');
    assert.notEqual(refused.code, 0, 'branch-protect refuses ann on main');
    await auditLines(gw, pushLine, 1);
    let m = await scrape(gw);
    assert.equal(sample(m.text, 'gitward_hook_refusals_total{plugin="branch-protect"}'), 1, m.text);
    assert.equal(sample(m.text, 'gitward_auth_throttled_addresses'), 0);

    const bad = { user: { user: 'ann', password: 'wrong' } };
    for (let i = 0; i < 2; i++)
      assert.equal(
        (await apiRequest(gw.origin, 'GET', '/team/app.git/info/refs?service=git-upload-pack', bad)).status,
        401,
      );
    assert.equal((await apiRequest(gw.origin, 'GET', '/_gitward/api/v1/repos', bad)).status, 429);

    await auditLines(gw, (r) => r.status === 401, 2);
    await auditLines(gw, (r) => r.status === 429, 1);
    fs.writeFileSync(gw.configFile, 'repo_root: [broken\n');
    assert.equal(await gw.reload(), false);
    m = await scrape(gw);
    assert.equal(sample(m.text, 'gitward_auth_failures_total'), 2);
    assert.equal(sample(m.text, 'gitward_auth_throttled_total'), 1);
    // The one client address is refused now: the gauge counts addresses, the counter requests.
    assert.equal(sample(m.text, 'gitward_auth_throttled_addresses'), 1);
    assert.equal(sample(m.text, 'gitward_config_reloads_total{result="failed"}'), 1);
    assert.equal(sample(m.text, 'gitward_config_last_reload_ok'), 0);
    gw.writeConfig({ repos: {} });
    assert.equal(await gw.reload(), true);
    m = await scrape(gw);
    assert.equal(sample(m.text, 'gitward_config_reloads_total{result="ok"}'), 1);
    assert.equal(sample(m.text, 'gitward_config_last_reload_ok'), 1);
  });

  it('label_users and label_repos add the names only when the operator turns them on', async (t) => {
    const gw = await metricsServer(t, { metrics: { label_users: true, label_repos: true } });
    assert.equal((await createAndPush(gw, 'ann', 'dev')).code, 0);
    await auditLines(gw, pushLine, 1);
    const m = await scrape(gw);
    assert.ok(
      (sample(
        m.text,
        'gitward_requests_total{service="git-receive-pack",mode="proxy",status="200",user="ann",repo="team/app"}',
      ) ?? 0) >= 1,
      m.text,
    );
  });

  it('is refused (404) to a request a proxy forwarded, to peers metrics.allow does not name, and when disabled', async (t) => {
    const gw = await metricsServer(t);
    assert.equal((await scrape(gw)).status, 200);
    for (const h of ['x-forwarded-for', 'x-real-ip', 'forwarded'])
      assert.equal((await scrape(gw, { [h]: '127.0.0.1' })).status, 404, h);
    gw.writeConfig({ metrics: { allow: ['10.0.0.0/8'] } });
    assert.equal(await gw.reload(), true);
    assert.equal((await scrape(gw)).status, 404);
    gw.writeConfig({ metrics: { allow: ['127.0.0.1'] } });
    assert.equal(await gw.reload(), true);
    // An address entry trusts the peer alone, forwarding headers or not.
    assert.equal((await scrape(gw, { 'x-forwarded-for': '192.0.2.1' })).status, 200);
    gw.writeConfig({ metrics: { enabled: false } });
    assert.equal(await gw.reload(), true);
    assert.equal((await scrape(gw)).status, 404);
  });

  it('metricsPeerAllowed: local is a unix peer or a loopback one without forwarding headers', () => {
    const cases: [readonly string[], Parameters<typeof metricsPeerAllowed>[1], Record<string, string>, boolean][] = [
      [['local'], { kind: 'unix' }, {}, true],
      // A request a proxy passed on is never local, whatever its peer (isLocalDirectPeer).
      [['local'], { kind: 'unix' }, { 'x-forwarded-for': '1.2.3.4' }, false],
      [['local'], { kind: 'ip', address: '127.0.0.1' }, {}, true],
      [['local'], { kind: 'ip', address: '127.8.9.10' }, {}, true],
      [['local'], { kind: 'ip', address: '::1' }, {}, true],
      [['local'], { kind: 'ip', address: '127.0.0.1' }, { 'x-forwarded-for': '127.0.0.1' }, false],
      [['local'], { kind: 'ip', address: '192.0.2.7' }, {}, false],
      [['unix'], { kind: 'ip', address: '127.0.0.1' }, {}, false],
      [['192.0.2.0/24'], { kind: 'ip', address: '192.0.2.7' }, { 'x-real-ip': '10.0.0.1' }, true],
      [['192.0.2.0/24'], { kind: 'ip', address: '198.51.100.1' }, {}, false],
      [['2001:db8::/32'], { kind: 'ip', address: '192.0.2.7' }, {}, false],
      [[], { kind: 'unix' }, {}, false],
    ];
    for (const [allow, peer, headers, want] of cases)
      assert.equal(
        metricsPeerAllowed(allow, peer, headers),
        want,
        `${JSON.stringify(allow)} ${JSON.stringify(peer)} ${JSON.stringify(headers)}`,
      );
  });

  it('a bad metrics.allow entry is a config error naming file:line', async (t) => {
    const gw = await metricsServer(t);
    fs.writeFileSync(gw.configFile, yaml.dump({ ...baseConfig(), metrics: { allow: ['local', 'everyone'] } }));
    assert.equal(await gw.reload(), false);
    const failure = gw.runtime.lastFailure();
    assert.match(
      failure?.problems.join('\n') ?? '',
      /gitward\.yaml:\d+: metrics\.allow\[1\]: "everyone" is not "unix"/,
    );
  });
});
