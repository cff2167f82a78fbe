/**
 * Fuzzing of parseBasicAuth (pure): valid headers, mutations of their text and of the decoded
 * credentials, and random bytes. It never throws, never returns a user with `:` or control
 * characters, and returns exactly the credentials of a well-formed header.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_AUTHORIZATION_BYTES, parseBasicAuth } from '../../app/request/basic-auth.js';
import fc from 'fast-check';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutated, mutatedBytes } from '../helpers/fuzz.js';

// eslint-disable-next-line no-control-regex -- the characters the parser must refuse
const CONTROL = /[\u0000-\u001f\u007f]/;
const USER_CHARS = ['a', 'b', 'Z', '0', '.', '-', '_', '@', 'é', 'ß', '日', '😀', ' ', '+', '/', '='];
const PASSWORD_CHARS = [...USER_CHARS, ':', '%', '"', '\\', '!'];

function header(user: string | Buffer, password: string | Buffer, scheme = 'Basic'): string {
  const raw = Buffer.concat([Buffer.from(user), Buffer.from(':'), Buffer.from(password)]);
  return `${scheme} ${raw.toString('base64')}`;
}

const userArb = fc.string({ unit: fc.constantFrom(...USER_CHARS), maxLength: 12 }).map((u) => u || 'u');
const passwordArb = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...PASSWORD_CHARS), maxLength });
const credentials = fc.record({ user: userArb, password: passwordArb(20) });

/** Authorization header values: well-formed, mutated as text or as credential bytes, other schemes, lists, oversized, bytes. */
const headerArb: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  fc
    .tuple(credentials, fc.constantFrom('Basic', 'basic', 'BASIC', 'BaSiC'))
    .map(([c, scheme]) => header(c.user, c.password, scheme)),
  mutated(credentials.map((c) => header(c.user, c.password))),
  // Mutate the credentials' bytes, then encode them properly.
  mutatedBytes(
    credentials.map((c) => Buffer.from(`${c.user}:${c.password}`)),
    [Buffer.from(':'), Buffer.from([0]), Buffer.from([0xc0, 0xba]), Buffer.from([0xff])],
  ).map((b) => `Basic ${b.toString('base64')}`),
  fc
    .tuple(
      fc.constantFrom('Basic', 'Bearer', 'Digest', 'B', ''),
      fc.constantFrom(' ', '  ', '\t', ''),
      fc.string({ unit: fc.constantFrom(...'ABCabc012+/=:%. '), maxLength: 40 }),
    )
    .map(([scheme, gap, rest]) => `${scheme}${gap}${rest}`),
  fc.oneof(
    credentials.map((c) => [header(c.user, c.password), header('x', 'y')]),
    fc.constant(undefined),
  ),
  fc
    .integer({ min: MAX_AUTHORIZATION_BYTES / 4 - 4, max: MAX_AUTHORIZATION_BYTES / 4 + 4 })
    .map((n) => `Basic ${'QUFB'.repeat(n)}`),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
);

test(
  'parseBasicAuth never throws and never returns what RFC 7617 (and gitward) forbid',
  { timeout: FUZZ_TIMEOUT_MS },
  () => {
    const kinds = new Map<string, number>();
    fc.assert(
      fc.property(headerArb, (h) => {
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
      }),
      fuzzParams('parseBasicAuth', FUZZ_RUNS * 5),
    );
    assert.ok((kinds.get('basic') ?? 0) > 0 && (kinds.get('malformed') ?? 0) > 0, JSON.stringify([...kinds]));
  },
);

test('parseBasicAuth returns exactly the credentials of every well-formed header', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const wellFormed = fc.record({
    user: userArb.map((u) => u.replace(/^\s+|\s+$/g, '') || 'u'),
    password: passwordArb(30),
  });
  fc.assert(
    fc.property(wellFormed, ({ user, password }) => {
      assert.deepEqual(parseBasicAuth(header(user, password)), { kind: 'basic', credentials: { user, password } });
    }),
    fuzzParams('parseBasicAuth-valid'),
  );
});
