/**
 * Fuzzing of parseBasicAuth (pure): valid headers, mutations of their text and of the decoded
 * credentials, and random bytes. It never throws, never returns a user with `:` or control
 * characters, and returns exactly the credentials of a well-formed header.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_AUTHORIZATION_BYTES, parseBasicAuth } from '../../app/request/basic-auth.js';
import { FUZZ_ITERATIONS, forAll, fuzzBudget, fuzzRng, mutate, mutateBytes, type Rng } from '../helpers/fuzz.js';

// eslint-disable-next-line no-control-regex -- the characters the parser must refuse
const CONTROL = /[\u0000-\u001f\u007f]/;
const USER_CHARS = ['a', 'b', 'Z', '0', '.', '-', '_', '@', 'é', 'ß', '日', '😀', ' ', '+', '/', '='];
const PASSWORD_CHARS = [...USER_CHARS, ':', '%', '"', '\\', '!'];

function header(user: string | Buffer, password: string | Buffer, scheme = 'Basic'): string {
  const raw = Buffer.concat([Buffer.from(user), Buffer.from(':'), Buffer.from(password)]);
  return `${scheme} ${raw.toString('base64')}`;
}

function gen(rng: Rng): string | string[] | undefined {
  const user = rng.string(USER_CHARS, 12) || 'u';
  const password = rng.string(PASSWORD_CHARS, 20);
  switch (rng.int(7)) {
    case 0:
      return header(user, password, rng.pick(['Basic', 'basic', 'BASIC', 'BaSiC']));
    case 1:
      return mutate(rng, header(user, password));
    case 2:
      // Mutate the credentials' bytes, then encode them properly.
      return `Basic ${mutateBytes(rng, Buffer.from(`${user}:${password}`), [Buffer.from(':'), Buffer.from([0]), Buffer.from([0xc0, 0xba]), Buffer.from([0xff])]).toString('base64')}`;
    case 3:
      return `${rng.pick(['Basic', 'Bearer', 'Digest', 'B', ''])}${rng.pick([' ', '  ', '\t', ''])}${rng.string('ABCabc012+/=:%. ', 40)}`;
    case 4:
      return rng.chance(0.5) ? [header(user, password), header('x', 'y')] : undefined;
    case 5:
      return `Basic ${'QUFB'.repeat(rng.range(MAX_AUTHORIZATION_BYTES / 4 - 4, MAX_AUTHORIZATION_BYTES / 4 + 4))}`;
    default:
      return rng.bytes(rng.range(0, 40)).toString('latin1');
  }
}

test('parseBasicAuth never throws and never returns what RFC 7617 (and gitward) forbid', { timeout: fuzzBudget('parseBasicAuth') }, () => {
  const rng = fuzzRng('parseBasicAuth');
  const kinds = new Map<string, number>();
  forAll(rng, FUZZ_ITERATIONS * 5, () => gen(rng), (h) => {
    const r = parseBasicAuth(h);
    kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
    assert.ok(['none', 'basic', 'other-scheme', 'malformed'].includes(r.kind));
    if (r.kind !== 'basic') return;
    const { user, password } = r.credentials;
    assert.equal(typeof h, 'string');
    assert.ok(Buffer.byteLength(h as string) <= MAX_AUTHORIZATION_BYTES);
    assert.ok(user.length > 0, 'empty user');
    assert.ok(!user.includes(':'), 'user contains ":"');
    assert.doesNotMatch(user, CONTROL);
    assert.doesNotMatch(password, CONTROL);
    assert.ok(!user.includes('\ufffd') && !password.includes('\ufffd'), 'invalid UTF-8 was replaced, not refused');
    // Round trip: the header is exactly these credentials, base64-encoded.
    const token = (h as string).trim().split(/ +/)[1] as string;
    assert.equal(Buffer.from(token, 'base64').toString('utf8'), `${user}:${password}`);
  });
  assert.ok((kinds.get('basic') ?? 0) > 0 && (kinds.get('malformed') ?? 0) > 0, JSON.stringify([...kinds]));
});

test('parseBasicAuth returns exactly the credentials of every well-formed header', { timeout: fuzzBudget('parseBasicAuth-valid') }, () => {
  const rng = fuzzRng('parseBasicAuth-valid');
  forAll(
    rng,
    FUZZ_ITERATIONS,
    () => ({ user: (rng.string(USER_CHARS, 12) || 'u').replace(/^\s+|\s+$/g, '') || 'u', password: rng.string(PASSWORD_CHARS, 30) }),
    ({ user, password }) => {
      assert.deepEqual(parseBasicAuth(header(user, password)), { kind: 'basic', credentials: { user, password } });
    },
  );
});
