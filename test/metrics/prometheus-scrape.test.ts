import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { it, type TestContext } from 'node:test';
import { gitOk, makeWorkTree } from '../helpers/git.js';
import { requireBinary } from '../helpers/nginx.js';
import { startGitward } from '../helpers/server.js';
import { apiRequest } from '../api/api-client.js';
import { SAFETY_NET_MS } from '../helpers/procs.js';

/** Safety net only: Prometheus scrapes every second; nothing below waits on this clock to decide. */
const OUTER_TIMEOUT_MS = SAFETY_NET_MS;
/** Pause between two queries of Prometheus' API, so the poll does not hog a shared machine. */
const POLL_PAUSE_MS = 200;
/** How long Prometheus gets to exit after SIGTERM before SIGKILL (it flushes its head block). */
const STOP_GRACE_MS = 10_000;

/** TCP ports `pid` listens on, from its socket inodes and /proc/net/tcp{,6} (state 0A = LISTEN). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // The fd closed while we looked.
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9] as string)) continue;
      ports.push(parseInt((f[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports;
}

function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      })
      .on('error', reject);
  });
}

/** Polls `check` until it returns a value (not undefined); fails after the outer safety net. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  deadline: number,
  detail: () => string,
): Promise<T> {
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}\n${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_PAUSE_MS));
  }
}

/** Starts Prometheus with its own config and storage in `dir`, on a loopback port chosen by the kernel. */
async function startPrometheus(
  t: TestContext,
  binary: string,
  dir: string,
  target: string,
  deadline: number,
): Promise<{ api: string; log: () => string }> {
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: gitward',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const storage = path.join(dir, 'tsdb');
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${storage}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.level=warn',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    },
  );
  let log = '';
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  });
  const pid = child.pid as number;
  const port = await until(
    'Prometheus to listen',
    async () => {
      if (child.exitCode !== null) throw new Error('exited');
      return listeningPorts(pid)[0];
    },
    deadline,
    () => log,
  );
  const api = `http://127.0.0.1:${port}`;
  await until(
    'Prometheus to be ready',
    async () => ((await getJson(`${api}/-/ready`)).status === 200 ? true : undefined),
    deadline,
    () => log,
  );
  return { api, log: () => log };
}

/** The value of an instant PromQL query returning one sample, or undefined while it returns none. */
async function queryOne(api: string, promql: string): Promise<number | undefined> {
  const r = await getJson(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const result = (r.body as { data?: { result?: { value: [number, string] }[] } }).data?.result ?? [];
  return result.length === 1 ? Number(result[0]?.value[1]) : undefined;
}

it('a real Prometheus scrapes gitward, and the clone counter moves after a git clone', async (t) => {
  const binary = requireBinary(t, 'prometheus');
  if (binary === null) return;
  const deadline = Date.now() + OUTER_TIMEOUT_MS;
  const gw = await startGitward(t, { users: { ann: 'ann-pw' }, config: { repos: { team: { '.admin': ['ann'] } } } });
  const made = await apiRequest(gw.origin, 'POST', '/_gitward/api/v1/repos', {
    user: { user: 'ann', password: 'ann-pw' },
    body: { name: 'team/app' },
  });
  assert.equal(made.status, 201, made.text);
  const work = path.join(gw.dir, 'work');
  await makeWorkTree(work, gw.gitEnv);
  await gitOk(['push', gw.url('team/app', { user: 'ann', password: 'ann-pw' }), 'main'], { cwd: work, env: gw.gitEnv });

  const prom = await startPrometheus(
    t,
    binary,
    fs.mkdtempSync(path.join(gw.dir, 'prom-')),
    `127.0.0.1:${gw.port}`,
    deadline,
  );
  // The first scrape: the target is up and the clone counter is known (0 before any clone).
  await until('the first scrape', () => queryOne(prom.api, 'up{job="gitward"} == 1'), deadline, prom.log);
  const clones = 'sum(gitward_requests_total{job="gitward",service="git-upload-pack",status="200"}) or vector(0)';
  const before = await until('the clone counter', () => queryOne(prom.api, clones), deadline, prom.log);

  await gitOk(
    ['clone', '--quiet', gw.url('team/app', { user: 'ann', password: 'ann-pw' }), path.join(gw.dir, 'clone')],
    { cwd: gw.dir, env: gw.gitEnv },
  );
  // A clone is an advertisement and an upload-pack POST: the counter moves by two.
  const after = await until(
    'the clone counter to move',
    async () => {
      const v = await queryOne(prom.api, clones);
      return v !== undefined && v >= before + 2 ? v : undefined;
    },
    deadline,
    prom.log,
  );
  assert.ok(after >= before + 2);
  const bytes = await until(
    'bytes out of the clone',
    async () => {
      const v = await queryOne(prom.api, 'sum(gitward_response_bytes_total{service="git-upload-pack"})');
      return v !== undefined && v > 0 ? v : undefined;
    },
    deadline,
    prom.log,
  );
  assert.ok(bytes > 0);
});
