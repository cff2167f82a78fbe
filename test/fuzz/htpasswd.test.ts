/**
 * Fuzzing of the htpasswd parser (pure) and of the non-bcrypt password checks: mutations of real
 * htpasswd files (bcrypt, apr1, {SHA}, crypt, comments, CRLF). parseHtpasswd never throws, keeps
 * only entries whose user and hash fit the format, never names a hash in a warning, and
 * verifyPassword answers a boolean — never true for the stored hash itself (plaintext fallback).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashKindOf, parseHtpasswd, verifyPassword } from '../../app/identity/htpasswd-file.js';
import { userNameProblem } from '../../app/principals.js';
import fc from 'fast-check';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutated } from '../helpers/fuzz.js';

/** Lines made by Apache's htpasswd (-m, -s, -d, -B -C 4), all for the password "pw". */
const LINES = [
  'ann:$apr1$dxlPvgkr$Cvk4riyBM2nDHiwXahzvl0',
  'ben:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=',
  'cat:h0YDK.dgJlRGY',
  'dan:$2y$04$/QIpvfOlTx2KoFhL029nKem7aIy2pRja0q55SIwhteKWZvGF3qmQq',
  'eve:$2b$04$/QIpvfOlTx2KoFhL029nKem7aIy2pRja0q55SIwhteKWZvGF3qmQq:extra:fields',
  '# a comment',
  '',
  '   ',
  'plain:secret',
  'nohash:',
  'émile:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=',
];
const TOKENS = [
  ':',
  '::',
  '\r',
  '\n',
  '\r\n',
  '\0',
  '#',
  ' ',
  '\t',
  '$2y$',
  '$apr1$',
  '{SHA}',
  '$',
  '=',
  '\u007f',
  'é',
  'x'.repeat(300),
];

/** A line of Apache's, mutated six times in ten. */
const lineArb = fc.oneof(
  { arbitrary: fc.constantFrom(...LINES), weight: 2 },
  { arbitrary: mutated(fc.constantFrom(...LINES), TOKENS), weight: 3 },
);

/** A file of 1–8 such lines, with LF, CRLF or blank-line separators, with or without a last newline. */
const fileArb = fc
  .tuple(fc.array(lineArb, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n', '\n\n'), fc.boolean())
  .map(([lines, sep, last]) => lines.join(sep) + (last ? '\n' : ''));

test('parseHtpasswd never throws and keeps only well-formed entries', { timeout: FUZZ_TIMEOUT_MS }, () => {
  let kept = 0;
  fc.assert(
    fc.property(fileArb, (text) => {
      const { entries, warnings } = parseHtpasswd(text);
      const lines = text.split(/\r?\n/);
      for (const [user, e] of entries) {
        kept++;
        assert.equal(e.user, user);
        assert.equal(userNameProblem(user), null, `bad user ${JSON.stringify(user)} kept`);
        // eslint-disable-next-line no-control-regex -- a kept user name holds no control character
        assert.ok(!user.includes(':') && !/[\u0000-\u001f\u007f]/.test(user));
        assert.equal(hashKindOf(e.hash), e.kind, 'hash does not fit its kind (plaintext?)');
        assert.ok(e.line >= 1 && e.line <= lines.length);
        assert.ok((lines[e.line - 1] as string).startsWith(`${user}:${e.hash}`), 'entry is not what its line says');
        // The first line of a user wins: no earlier line parses to the same user with a good hash.
        for (let i = 0; i < e.line - 1; i++) {
          const earlier = parseHtpasswd(lines[i] as string).entries.get(user);
          assert.equal(earlier, undefined, `line ${i + 1} should have won for ${user}`);
        }
      }
      // A warning never repeats a hash (a line's second field) unless that text is also its user.
      for (const w of warnings) {
        const n = Number(/^line (\d+):/.exec(w)?.[1]);
        assert.ok(n >= 1 && n <= lines.length, `warning without a line: ${w}`);
        const line = (lines[n - 1] as string).replace(/[ \t\r]+$/, '');
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const hash = line.slice(colon + 1).split(':')[0] as string;
        if (hash.length >= 13 && !line.slice(0, colon).includes(hash))
          assert.ok(!w.includes(hash), `warning shows a hash: ${w}`);
      }
      assert.ok(entries.size + warnings.length <= lines.length);
    }),
    fuzzParams('parseHtpasswd', FUZZ_RUNS * 2),
  );
  assert.ok(kept > 0, 'no entry ever kept');
});

test(
  'verifyPassword (apr1, {SHA}, crypt) answers a boolean, never throws, never takes the hash as the password',
  { timeout: FUZZ_TIMEOUT_MS },
  async () => {
    const passwordArb = fc.oneof(
      { arbitrary: fc.constant('pw'), weight: 3 },
      { arbitrary: mutated(fc.constant('pw')), weight: 7 },
    );
    await fc.assert(
      fc.asyncProperty(fileArb, fc.array(passwordArb, { minLength: 8, maxLength: 8 }), async (text, passwords) => {
        const list = [...parseHtpasswd(text).entries.values()].filter((e) => e.kind !== 'bcrypt');
        for (const [i, e] of list.entries()) {
          const ok = await verifyPassword(e, passwords[i] as string);
          assert.equal(typeof ok, 'boolean');
          assert.equal(await verifyPassword(e, e.hash), false, 'the stored hash worked as a password');
          assert.equal(await verifyPassword(e, ''), false, 'the empty password worked');
        }
      }),
      fuzzParams('verifyPassword', Math.ceil(FUZZ_RUNS / 10)),
    );
    // The generator does reach real entries: Apache's own lines verify.
    for (const line of LINES.slice(0, 3)) {
      const e = [...parseHtpasswd(line).entries.values()][0];
      assert.ok(e && (await verifyPassword(e, 'pw')), line);
    }
  },
);
