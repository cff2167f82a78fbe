import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseKeysFile, renderAuthorizedKeys } from '../../app/ssh/ssh-keys.js';
import { keyLookupProblem } from '../../app/cli/commands/check.js';
import { keyLookupForSshd } from '../helpers/sshd.js';
import { tempDir } from '../helpers/tmp.js';

/** The shipped AuthorizedKeysCommand (app/ssh/ssh-key-lookup.c), as `npm run build` made it. */
const LOOKUP = path.resolve(__dirname, '..', '..', 'ssh-key-lookup');
const TARGET = { relay: '/opt/gitward/dist/ssh-relay', socket: '/run/gitward-ssh/gitward.sock' };

function ed25519Line(comment: string): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const name = Buffer.from('ssh-ed25519');
  const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  return `ssh-ed25519 ${Buffer.concat([u32(name.length), name, u32(raw.length), raw]).toString('base64')} ${comment}`;
}

function lookup(file: string, fingerprint: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(LOOKUP, [file, fingerprint], { encoding: 'utf8', env: {} });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('ssh-key-lookup prints exactly the line whose forced command names the fingerprint, as grep -F found it', (t) => {
  const dir = tempDir(t);
  const users = Array.from({ length: 200 }, (_, i) => `u${i}`);
  const { keys } = parseKeysFile(users.map((u) => `${u} ${ed25519Line(u)}`).join('\n') + '\n', 'k');
  const file = path.join(dir, 'authorized_keys');
  const text = renderAuthorizedKeys(keys, TARGET, 'k');
  fs.writeFileSync(file, text);
  const lines = text.split('\n');
  for (const k of [keys[0]!, keys[99]!, keys[199]!]) {
    const r = lookup(file, k.fingerprint);
    assert.equal(r.status, 0, r.stderr);
    const expected = lines.filter((l) => l.includes(` ${k.user} ${k.fingerprint}"`));
    assert.equal(expected.length, 1);
    assert.equal(r.stdout, `${expected[0]}\n`);
    // The same line grep -F of the fingerprint, the lookup shipped before, finds.
    const grep = spawnSync('grep', ['-F', '-e', k.fingerprint, file], { encoding: 'utf8' });
    assert.equal(r.stdout, grep.stdout);
  }
});

test('ssh-key-lookup: a fingerprint that is not the key id of a line finds nothing (exit 1)', (t) => {
  const dir = tempDir(t);
  const { keys } = parseKeysFile(`ann ${ed25519Line('ann')}\nben ${ed25519Line('ben')}\n`, 'k');
  const file = path.join(dir, 'authorized_keys');
  const text = renderAuthorizedKeys(keys, TARGET, 'k');
  const ann = keys[0]!.fingerprint;
  // ann's fingerprint in a comment line, in a key's comment, and in a line without a forced command.
  const decoys = [
    `# ${ann}" old key`,
    `restrict,command="/opt/gitward/dist/ssh-relay s ben X" ssh-ed25519 AAAA ben ${ann}" x`,
    `ssh-ed25519 AAAA x ${ann}" y`,
  ];
  fs.writeFileSync(file, `${text.replace(` ann ${ann}"`, ' ann X"')}${decoys.join('\n')}\n`);
  const r = lookup(file, ann);
  assert.deepEqual([r.status, r.stdout], [1, '']);
  const other = `SHA256:${crypto.randomBytes(32).toString('base64').replace(/=+$/, '')}`;
  assert.deepEqual([lookup(file, other).status, lookup(file, other).stdout], [1, '']);
  // An empty file and a last line without its newline.
  fs.writeFileSync(file, '');
  assert.deepEqual([lookup(file, ann).status, lookup(file, ann).stdout], [1, '']);
  const one = renderAuthorizedKeys([keys[1]!], TARGET, 'k').trimEnd();
  fs.writeFileSync(file, one);
  assert.equal(lookup(file, keys[1]!.fingerprint).stdout, `${one.split('\n')[1]!}\n`);
});

test('ssh-key-lookup refuses anything but a SHA256 fingerprint, and a missing file, with one line (exit 2)', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'authorized_keys');
  fs.writeFileSync(file, 'x\n');
  const good = `SHA256:${'A'.repeat(43)}`;
  for (const bad of [
    '',
    'SHA256:',
    `${good}A`,
    good.slice(0, -1),
    `MD5:${'A'.repeat(43)}`,
    `SHA256:${'A'.repeat(42)}"`,
  ]) {
    const r = lookup(file, bad);
    assert.equal(r.status, 2, bad);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^ssh-key-lookup: not a SHA256 key fingerprint: .*\n$/);
  }
  const missing = lookup(path.join(dir, 'nope'), good);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^ssh-key-lookup: cannot open: .*nope\n$/);
  const usage = spawnSync(LOOKUP, [file], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /^ssh-key-lookup: usage: /);
});

test('gitward check names the folder for which sshd would refuse to run the key lookup (Unsafe AuthorizedKeysCommand)', (t) => {
  // The copy the sshd tests hand to a real sshd (root's folder under /run, 0755): accepted there,
  // so it must pass here too (as root; otherwise the copy is the test user's and must be named).
  const safe = keyLookupForSshd();
  if (process.getuid?.() === 0) assert.equal(keyLookupProblem(safe), null);
  else assert.match(keyLookupProblem(safe) ?? '', /is owned by uid \d+/);
  // A folder writable by its group: sshd refuses, and the folder is named with its mode.
  const loose = fs.mkdtempSync('/run/gitward-test-loose-');
  t.after(() => fs.rmSync(loose, { recursive: true, force: true }));
  fs.chmodSync(loose, 0o775);
  fs.copyFileSync(LOOKUP, path.join(loose, 'ssh-key-lookup'));
  fs.chmodSync(path.join(loose, 'ssh-key-lookup'), 0o755);
  assert.match(
    keyLookupProblem(path.join(loose, 'ssh-key-lookup')) ?? '',
    new RegExp(`: ${loose} is owned by uid \\d+ with mode 0775`),
  );
  // A program in a folder under /tmp (sticky, world-writable): /tmp is named.
  const inTmp = path.join(tempDir(t), 'ssh-key-lookup');
  fs.copyFileSync(LOOKUP, inTmp);
  fs.chmodSync(inTmp, 0o755);
  assert.match(keyLookupProblem(inTmp) ?? '', /: \/tmp is owned by uid 0 with mode 1777/);
  assert.match(keyLookupProblem(path.join(loose, 'none')) ?? '', /is missing or not executable/);
});
