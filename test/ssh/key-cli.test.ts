import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '../helpers/nginx.js';
import { makeKey } from '../helpers/sshd.js';
import { tempDir } from '../helpers/tmp.js';

const MAIN = path.resolve(__dirname, '..', '..', 'app', 'main.js');

function cli(args: readonly string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

test('gitward key: validated keys, one owner per key, known users only, atomic authorized_keys', async (t) => {
  if (requireBinary(t, 'ssh-keygen') === null) return;
  const dir = tempDir(t, 'gitward-key-');
  const cfg = path.join(dir, 'gitward.yaml');
  const ak = path.join(dir, 'authorized_keys');
  fs.mkdirSync(path.join(dir, 'repos'));
  fs.writeFileSync(
    cfg,
    `repo_root: ./repos\nlog: {audit: ./audit.log}\nusers: {ann: {}, ben: {}}\nssh: {keys_file: ./ssh-keys, authorized_keys: ${ak}}\n`,
  );
  const ed = await makeKey(path.join(dir, 'ed'), 'ed25519');
  const rsa = await makeKey(path.join(dir, 'rsa'), 'rsa', 3072);
  const weak = await makeKey(path.join(dir, 'weak'), 'rsa', 1024);
  const ecdsa = await makeKey(path.join(dir, 'ec'), 'ecdsa', 256);

  assert.equal((await cli(['key', 'add', 'ann', '-', '--config', cfg], ed)).code, 0);
  assert.equal((await cli(['key', 'add', 'ann', path.join(dir, 'rsa.pub'), '--config', cfg])).code, 0);
  assert.equal((await cli(['key', 'add', 'ben', '-', '--config', cfg], ecdsa)).code, 0);
  const refusals: ReadonlyArray<[readonly string[], string, RegExp]> = [
    [['ben'], ed, /belongs to another user/],
    [['ann'], ed, /has this key already/],
    [['ann'], weak, /RSA key of 1024 bits: at least 2048/],
    [['ann'], `command="id" ${rsa}`, /options in front of a key/],
    [['nobody'], rsa, /no user "nobody"/],
    [['ann'], `${ed}\n${rsa}\n`, /expected one key line, got 2/],
  ];
  for (const [who, input, why] of refusals) {
    const r = await cli(['key', 'add', ...who, '-', '--config', cfg], input);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, why);
  }
  const listed = (await cli(['key', 'list', '--config', cfg])).stdout.trim().split('\n');
  assert.equal(listed.length, 3);
  assert.match(listed[0] ?? '', /^ann SHA256:\S+ ssh-ed25519 test-ed$/);
  const lines = fs.readFileSync(ak, 'utf8').trim().split('\n').slice(1);
  assert.equal(lines.length, 3);
  for (const l of lines)
    assert.match(l, /^restrict,command="\/\S+\/dist\/ssh-relay \S+\.sock (ann|ben) SHA256:\S+" \S+ \S+$/);
  assert.equal(fs.statSync(ak).mode & 0o777, 0o600);
  const fp = listed[1]?.split(' ')[1] ?? '';
  assert.equal((await cli(['key', 'delete', 'ann', fp, '--config', cfg])).code, 0);
  assert.equal(fs.readFileSync(ak, 'utf8').trim().split('\n').length, 3);
  assert.equal((await cli(['key', 'list', 'ann', '--config', cfg])).stdout.trim().split('\n').length, 1);
  // ben leaves the config: check warns about his key (and still passes: it is refused at login).
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('ben: {}', 'carl: {}'));
  const check = await cli(['check', '--config', cfg]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stderr, /ssh-keys:\d+: warning: key SHA256:\S+ of "ben", who is not in the config: it is refused/);
});
