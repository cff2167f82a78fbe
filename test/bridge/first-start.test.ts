/**
 * The first five minutes (issue 12): npm start's demo repo, --listen, a busy address, --version.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { DEMO_REPO, gitWithInput, seedDemoRepo } from '../../app/cli/demo-repo.js';
import { runCli } from '../../app/cli/main.js';
import { adminGitEnv, dispatcherPath, repoHooksState } from '../../app/cli/repo-admin.js';
import { loadConfigText } from '../../app/config/load.js';
import { git, gitEnv, gitOk } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const GITWARD = path.join(ROOT, 'app', 'gitward');

/** examples/gitward.yaml as npm start uses it, with its repos and htpasswd file in `dir`. */
function exampleConfig(dir: string) {
  fs.copyFileSync(path.join(ROOT, 'examples', 'users.htpasswd'), path.join(dir, 'users.htpasswd'));
  const file = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(
    file,
    fs.readFileSync(path.join(ROOT, 'examples', 'gitward.yaml'), 'utf8').replace(/^\$schema:.*$/m, ''),
  );
  return { file, config: loadConfigText(fs.readFileSync(file, 'utf8'), file) };
}

/** Runs `app/gitward ARGS` with TMPDIR in a folder of its own; resolves with its exit and output. */
function runGitward(args: string[], tmp: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(GITWARD, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr, stdout }));
  });
}

function listening(server: net.Server, where: number | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'number') server.listen(where, '127.0.0.1', () => resolve());
    else server.listen(where, () => resolve());
  });
}

describe('the first start', () => {
  it('a git that exits without reading its stdin (EPIPE) is an answer, not a crash of the demo seeding', async (t) => {
    const dir = tempDir(t);
    // 4 MiB is far more than a pipe holds, so the write is still pending when git exits: EPIPE.
    const out = await gitWithInput(['--version'], 'x'.repeat(4 << 20), adminGitEnv(process.env), dir);
    assert.match(out, /^git version /);
    await assert.rejects(
      gitWithInput(['no-such-command'], 'x'.repeat(4 << 20), adminGitEnv(process.env), dir),
      /git no-such-command failed/,
    );
  });

  it("the demo repo is made by repo create (hooks included) and examples/gitward.yaml's branch-flow refuses main before dev", async (t) => {
    const dir = tempDir(t);
    const { config } = exampleConfig(dir);
    assert.equal(await seedDemoRepo(config, adminGitEnv(process.env), dispatcherPath()), true);
    assert.equal(
      await seedDemoRepo(config, adminGitEnv(process.env), dispatcherPath()),
      false,
      'a second start leaves it alone',
    );
    const repo = path.join(config.repoRoot, `${DEMO_REPO}.git`);
    assert.equal(repoHooksState(repo, dispatcherPath()), 'installed');
    assert.deepEqual(fs.readdirSync(path.dirname(repo)), ['hello.git'], 'no .tmp repo beside it');
    const env = gitEnv(path.join(dir, 'home'));
    assert.equal(
      (await gitOk(['config', 'receive.fsckObjects'], { cwd: repo, env })).trim(),
      'true',
      'repo create settings applied',
    );
    const work = path.join(dir, 'work');
    await gitOk(['clone', '-q', repo, work], { cwd: dir, env });
    await gitOk(['commit', '-q', '--allow-empty', '-m', 'try'], { cwd: work, env });
    // A push on the server itself runs the same hook (hooks.local_user); main only through dev.
    const direct = await git(['push', 'origin', 'HEAD:main'], { cwd: work, env });
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /branch-flow/);
    await gitOk(['push', '-q', 'origin', 'HEAD:dev'], { cwd: work, env });
    await gitOk(['push', '-q', 'origin', 'HEAD:main'], { cwd: work, env });
  });

  it('a busy port: one line, exit 78, and nothing left in the temp directory', async (t) => {
    const dir = tempDir(t);
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    const { file } = exampleConfig(dir);
    const busy = net.createServer();
    await listening(busy, 0);
    t.after(() => busy.close());
    const port = (busy.address() as net.AddressInfo).port;
    for (const args of [['--listen', `127.0.0.1:${port}`], []]) {
      if (args.length === 0)
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^listen: .*$/m, `listen: 127.0.0.1:${port}`));
      const r = await runGitward(['serve', '--config', file, ...args], tmp);
      assert.equal(r.code, 78, r.stderr);
      const ours = r.stderr.split('\n').filter((l) => l.startsWith('gitward'));
      assert.equal(ours.length, 1, r.stderr);
      assert.match(
        ours[0] as string,
        new RegExp(
          `^gitward serve: (--listen 127\\.0\\.0\\.1:${port}|${file.replace(/[.]/g, '\\.')}: listen): address already in use$`,
        ),
      );
      assert.deepEqual(fs.readdirSync(tmp), []);
    }
  });

  it('a socket another server listens on: one line, exit 78, the socket left alone', async (t) => {
    const dir = tempDir(t);
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    const { file } = exampleConfig(dir);
    const sock = path.join(dir, 'gw.sock');
    const busy = net.createServer();
    await listening(busy, sock);
    t.after(() => busy.close());
    const r = await runGitward(['serve', '--config', file, '--listen', `unix:${sock}`], tmp);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /^gitward serve: --listen unix:\S+: another server is listening on \S+gw\.sock$/m);
    assert.ok(fs.lstatSync(sock).isSocket());
    assert.deepEqual(fs.readdirSync(tmp), []);
  });

  it('--listen picks the address without editing the config; a bad one is a usage error', async (t) => {
    const dir = tempDir(t);
    const { file } = exampleConfig(dir);
    const child = spawn(GITWARD, ['serve', '--config', file, '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    t.after(() => child.kill('SIGKILL'));
    let err = '';
    const address = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        err += c;
        const m = /server\.listening \{"address":"(127\.0\.0\.1:\d+)"/.exec(err);
        if (m) resolve(m[1] as string);
      });
      void exited.then(() => reject(new Error(`exited before listening:\n${err}`)));
    });
    assert.notEqual(address, '127.0.0.1:8080');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const bad = await runGitward(['serve', '--config', file, '--listen', 'nowhere'], dir);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^gitward serve: --listen: expected host:port, \[ipv6\]:port or unix:\/path, got "nowhere"$/m,
    );
  });

  it('gitward --version prints the version of package.json', async () => {
    const out = new PassThrough();
    let text = '';
    out.setEncoding('utf8').on('data', (c: string) => (text += c));
    const io = {
      stdout: out,
      stderr: new PassThrough(),
      stdin: new PassThrough(),
      env: {},
      cwd: ROOT,
      isTTY: false,
      onSignal: () => undefined,
    };
    assert.equal(await runCli(['--version'], io), 0);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(text, `gitward ${pkg.version}\n`);
  });
});
