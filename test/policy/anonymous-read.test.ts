import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { gitEnv } from '../helpers/git.js';
import { startGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Runs git with stdin closed from the start: test/helpers/git.ts writes to stdin after spawn, which
 * races with git exiting early (EPIPE as an uncaught exception).
 */
function git(
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr: stderr + stdout }));
  });
}

async function gitOk(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<string> {
  const child = spawn('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`git ${args.join(' ')} failed (${String(code)}): ${err}`);
  return out;
}

test('anonymous read with authenticated push: clone without credentials, push gets the 401 challenge, git retries with credentials', async (t) => {
  const gw = await startGitward(t, {
    users: { ann: 'ann-pw', ben: 'ben-pw' },
    config: {
      users: { ann: { groups: ['eng'] }, ben: {} },
      repos: { open: { '.read': ['$all'], '.write': ['@eng'] } },
    },
  });
  const dir = tempDir(t);
  const env = gitEnv(path.join(dir, 'home'));
  fs.mkdirSync(path.join(gw.repoRoot, 'open'), { recursive: true });
  await gitOk(['init', '--quiet', '--bare', '--initial-branch=main', path.join(gw.repoRoot, 'open', 'proj.git')], {
    cwd: dir,
    env,
  });
  const work = path.join(dir, 'work');
  await gitOk(['init', '--quiet', '--initial-branch=main', work], { cwd: dir, env });
  fs.writeFileSync(path.join(work, 'a.txt'), 'a\n');
  await gitOk(['add', '.'], { cwd: work, env });
  await gitOk(['commit', '--quiet', '-m', 'first'], { cwd: work, env });
  const sha = (await gitOk(['rev-parse', 'HEAD'], { cwd: work, env })).trim();

  // Anonymous push: the receive-pack advertisement answers 401, and with no credentials git gives up.
  const anon = await git(['push', gw.url('open/proj'), 'main'], { cwd: work, env });
  assert.notEqual(anon.code, 0);
  const challenged = gw.audit.records.find((r) => r.service === 'git-receive-pack' && r.user === null);
  assert.equal(challenged?.status, 401);
  // The advertisement itself, as git sees it: 401 with the Basic challenge, so git asks and retries.
  const advert = await fetch(`${gw.origin}/open/proj.git/info/refs?service=git-receive-pack`);
  assert.equal(advert.status, 401);
  assert.equal(advert.headers.get('www-authenticate'), 'Basic realm="gitward", charset="UTF-8"');
  await advert.arrayBuffer();
  // A read of the same repo needs no credentials.
  const readAdvert = await fetch(`${gw.origin}/open/proj.git/info/refs?service=git-upload-pack`);
  assert.equal(readAdvert.status, 200);
  assert.equal(readAdvert.headers.get('www-authenticate'), null);
  await readAdvert.arrayBuffer();

  // A credential helper answers git's question after the 401, as a person at a prompt would.
  const helper = path.join(dir, 'helper');
  fs.writeFileSync(
    helper,
    '#!/bin/sh\ntest "$1" = get && printf "username=%s\\npassword=%s\\n" "$GW_USER" "$GW_PASS"\nexit 0\n',
    { mode: 0o755 },
  );
  const withCreds = (user: string, pass: string) => ({ ...env, GW_USER: user, GW_PASS: pass });
  await gitOk(['-c', `credential.helper=${helper}`, 'push', gw.url('open/proj'), 'main'], {
    cwd: work,
    env: withCreds('ann', 'ann-pw'),
  });

  // Authenticated but not a writer: 403, and the ref does not move.
  fs.writeFileSync(path.join(work, 'more.txt'), 'more\n');
  await gitOk(['add', '.'], { cwd: work, env });
  await gitOk(['commit', '--quiet', '-m', 'more2'], { cwd: work, env });
  const benPush = await git(['-c', `credential.helper=${helper}`, 'push', gw.url('open/proj'), 'main'], {
    cwd: work,
    env: withCreds('ben', 'ben-pw'),
  });
  assert.notEqual(benPush.code, 0);
  assert.ok(gw.audit.records.some((r) => r.user === 'ben' && r.service === 'git-receive-pack' && r.status === 403));

  // Anonymous clone sees ann's push, never asked for credentials.
  const clone = path.join(dir, 'clone');
  await gitOk(['clone', '--quiet', gw.url('open/proj'), clone], { cwd: dir, env });
  assert.equal((await gitOk(['rev-parse', 'HEAD'], { cwd: clone, env })).trim(), sha);
  assert.ok(
    gw.audit.records.filter((r) => r.service === 'git-upload-pack').every((r) => r.user === null && r.status === 200),
  );
});
