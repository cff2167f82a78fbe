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
import { FUZZ_ITERATIONS, forAll, forAllAsync, fuzzBudget, fuzzRng, mutate, type Rng } from '../helpers/fuzz.js';

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
const TOKENS = [':', '::', '\r', '\n', '\r\n', '\0', '#', ' ', '\t', '$2y$', '$apr1$', '{SHA}', '$', '=', '\u007f', 'é', 'x'.repeat(300)];

function genFile(rng: Rng): string {
  const lines = Array.from({ length: rng.range(1, 8) }, () => {
    const line = rng.pick(LINES);
    return rng.chance(0.6) ? mutate(rng, line, TOKENS) : line;
  });
  return lines.join(rng.pick(['\n', '\r\n', '\n\n'])) + (rng.chance(0.5) ? '\n' : '');
}

test('parseHtpasswd never throws and keeps only well-formed entries', { timeout: fuzzBudget('parseHtpasswd') }, () => {
  const rng = fuzzRng('parseHtpasswd');
  let kept = 0;
  forAll(rng, FUZZ_ITERATIONS * 2, () => genFile(rng), (text) => {
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
      if (hash.length >= 13 && !line.slice(0, colon).includes(hash)) assert.ok(!w.includes(hash), `warning shows a hash: ${w}`);
    }
    assert.ok(entries.size + warnings.length <= lines.length);
  });
  assert.ok(kept > 0, 'no entry ever kept');
});

test('verifyPassword (apr1, {SHA}, crypt) answers a boolean, never throws, never takes the hash as the password', { timeout: fuzzBudget('verifyPassword') }, async () => {
  const rng = fuzzRng('verifyPassword');
  const candidates = () => {
    const { entries } = parseHtpasswd(genFile(rng));
    return [...entries.values()].filter((e) => e.kind !== 'bcrypt');
  };
  await forAllAsync(rng, Math.ceil(FUZZ_ITERATIONS / 10), candidates, async (list) => {
    for (const e of list) {
      const password = rng.chance(0.3) ? 'pw' : mutate(rng, 'pw');
      const ok = await verifyPassword(e, password);
      assert.equal(typeof ok, 'boolean');
      assert.equal(await verifyPassword(e, e.hash), false, 'the stored hash worked as a password');
      assert.equal(await verifyPassword(e, ''), false, 'the empty password worked');
    }
  });
  // The generator does reach real entries: Apache's own lines verify.
  for (const line of LINES.slice(0, 3)) {
    const e = [...parseHtpasswd(line).entries.values()][0];
    assert.ok(e && (await verifyPassword(e, 'pw')), line);
  }
});
