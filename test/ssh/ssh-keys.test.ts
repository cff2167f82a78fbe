import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import {
  findUserKey,
  fingerprintOf,
  formatKey,
  KeyError,
  parseKeyLine,
  parseKeysFile,
  renderAuthorizedKeys,
} from '../../app/ssh/ssh-keys.js';

/** An ed25519 public key line made in-process (no ssh-keygen needed for the pure parts). */
function ed25519Line(comment = 'c'): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const name = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([u32(name.length), name, u32(raw.length), raw]).toString('base64');
  return `ssh-ed25519 ${blob} ${comment}`;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

test('parseKeyLine refuses options smuggled in front of a key, other types and mismatched blobs', () => {
  const line = ed25519Line();
  assert.equal(parseKeyLine(line).type, 'ssh-ed25519');
  const refused: ReadonlyArray<[string, RegExp]> = [
    [`command="id" ${line}`, /options in front of a key/],
    [`restrict ${line}`, /options in front of a key/],
    [`no-pty,permitopen="x:1" ${line}`, /options in front of a key/],
    [`environment="LD_PRELOAD=/x" ${line}`, /options in front of a key/],
    [line.replace('ssh-ed25519', 'ssh-dss'), /key type "ssh-dss" is not accepted/],
    [line.replace('ssh-ed25519', 'ssh-rsa'), /not a ssh-rsa key/],
    [`${line}\nssh-ed25519 AAAA`, /control characters/],
    ['ssh-ed25519 not*base64', /not valid base64/],
    ['ssh-ed25519', /expected "TYPE BASE64/],
  ];
  for (const [text, why] of refused)
    assert.throws(
      () => parseKeyLine(text),
      (e: unknown) => e instanceof KeyError && why.test(e.message),
      text,
    );
});

test('the keys file: one key belongs to one user, bad lines are named with file:line', () => {
  const a = ed25519Line('a');
  const b = ed25519Line('b');
  const text = `# keys\n${formatKey({ user: 'ann', ...parseKeyLine(a) })}\nben ${a}\nben ${b}\n$x ${b}\n`;
  const { keys, problems } = parseKeysFile(text, 'keys');
  assert.deepEqual(
    keys.map((k) => k.user),
    ['ann', 'ben'],
  );
  assert.match(problems[0] ?? '', /^keys:3: key SHA256:\S+ is already on line 2 \(ann\); a key belongs to one user$/);
  assert.match(problems[1] ?? '', /^keys:5: bad user name "\$x"$/);
  const fp = fingerprintOf(parseKeyLine(b).blob);
  assert.equal(findUserKey(text, 'ben', fp), true);
  assert.equal(findUserKey(text, 'ann', fp), false);
  assert.equal(findUserKey(text, 'be', fp), false);
});

test('authorized_keys lines carry restrict and a forced command naming user and key; unsafe paths are refused', () => {
  const { keys } = parseKeysFile(`ann ${ed25519Line()}\n`, 'k');
  const target = { relay: '/opt/gitward/dist/ssh-relay', socket: '/run/gitward-ssh/gitward.sock' };
  const text = renderAuthorizedKeys(keys, target, '/etc/gitward/ssh-keys');
  const line = text.split('\n')[1] ?? '';
  assert.equal(
    line,
    `restrict,command="/opt/gitward/dist/ssh-relay /run/gitward-ssh/gitward.sock ann ${keys[0]?.fingerprint ?? ''}" ${keys[0]?.type ?? ''} ${keys[0]?.blob ?? ''}`,
  );
  assert.throws(() => renderAuthorizedKeys(keys, { ...target, socket: '/run/x y/g.sock' }, 'k'), KeyError);
  assert.throws(() => renderAuthorizedKeys(keys, { ...target, relay: '/opt/x";id;"/ssh-relay' }, 'k'), KeyError);
});
