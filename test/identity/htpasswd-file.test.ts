import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { hashKindOf, hashPassword, parseHtpasswd, verifyPassword } from '../../app/identity/htpasswd-file.js';
import { userNameProblem } from '../../app/principals.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const FIXTURE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'htpasswd', 'mixed-crlf.htpasswd');

describe('parseHtpasswd reads the mixed CRLF fixture', () => {
  const parsed = parseHtpasswd(fs.readFileSync(FIXTURE, 'utf8'));

  it('keeps one entry per supported hash scheme, with no CR left in any hash', () => {
    assert.deepEqual([...parsed.entries.keys()].sort(), [
      'apr1-user',
      'bcrypt-2a',
      'bcrypt-2b',
      'bcrypt-2y',
      'crypt-user',
      'sha-user',
    ]);
    for (const e of parsed.entries.values()) assert.ok(!e.hash.includes('\r'));
  });

  it('gives one warning per bad line (plaintext, no colon, empty user, empty hash, repeated user, unsupported hash)', () => {
    assert.equal(parsed.warnings.length, 6, parsed.warnings.join('\n'));
    const expect: Array<[number, RegExp]> = [
      [9, /plain-user.*plaintext or unsupported/],
      [10, /no ":"/],
      [11, /cannot be empty/],
      [12, /empty-hash.*no password hash/],
      [13, /bcrypt-2y.*appears again \(line 2 wins\)/],
      [14, /sha6-user.*unsupported/],
    ];
    for (const [line, re] of expect)
      assert.ok(
        parsed.warnings.some((w) => w.startsWith(`line ${line}: `) && re.test(w)),
        `line ${line}`,
      );
  });

  it('never puts a hash into a warning', () => {
    for (const w of parsed.warnings) assert.doesNotMatch(w, /\$2y\$|\$apr1\$|\{SHA\}/);
  });

  const passwords: Array<[string, string]> = [
    ['bcrypt-2y', 'pw-b'],
    ['bcrypt-2a', 'pw-2a'],
    ['bcrypt-2b', 'pw-2b'],
    ['apr1-user', 'pw-m'],
    ['sha-user', 'pw-s'],
    ['crypt-user', 'pw-d'],
  ];
  for (const [user, password] of passwords) {
    it(`verifies ${user} with its password and refuses a wrong one and an empty one`, async () => {
      const entry = parsed.entries.get(user);
      assert.ok(entry);
      assert.equal(await verifyPassword(entry, password), true);
      assert.equal(await verifyPassword(entry, password + 'x'), false);
      assert.equal(await verifyPassword(entry, ''), false);
    });
  }

  it("does not accept a stored hash as its own password (htpasswd-auth's plaintext fallback)", async () => {
    for (const user of ['crypt-user', 'apr1-user', 'sha-user', 'bcrypt-2y']) {
      const entry = parsed.entries.get(user);
      assert.ok(entry);
      assert.equal(await verifyPassword(entry, entry.hash), false, user);
    }
  });
});

describe('parseHtpasswd edge cases', () => {
  const cases: Array<[string, string, string[], number]> = [
    ['empty file', '', [], 0],
    ['only blank lines and comments', '\n\n   \n# x\n  # y\r\n', [], 0],
    ['LF file', 'a:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=\nb:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=\n', ['a', 'b'], 0],
    ['no final newline', 'a:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=', ['a'], 0],
    ['trailing spaces after the hash', 'a:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=  \r\n', ['a'], 0],
    [
      'extra fields after the hash (Apache ignores them)',
      'a:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=:Ann Example\n',
      ['a'],
      0,
    ],
    ['control character in the user', 'a\u0001b:{SHA}Ve878e5lOgwSjWid5/VhR4gReac=\n', [], 1],
    ['binary garbage', '\u0000\u0000\u00ff:::\n', [], 1],
    ['bcrypt with a truncated hash', 'a:$2y$10$abc\n', [], 1],
  ];
  for (const [what, text, users, warnings] of cases) {
    it(what, () => {
      const p = parseHtpasswd(text);
      assert.deepEqual([...p.entries.keys()], users);
      assert.equal(p.warnings.length, warnings, p.warnings.join('\n'));
    });
  }
});

describe('userNameProblem', () => {
  const cases: Array<[string, boolean]> = [
    ['ann', true],
    ['ann.example@corp', true],
    ['Ünïcode', true],
    ['', false],
    ['a:b', false],
    ['a\nb', false],
    ['a\u007fb', false],
    ['x'.repeat(256), false],
    ['ann smith', false],
    ['@eng', false],
    ['$authenticated', false],
    ['a\u00a0b', false],
  ];
  for (const [name, ok] of cases)
    it(`${JSON.stringify(name).slice(0, 20)} is ${ok ? 'valid' : 'refused'}`, () =>
      assert.equal(userNameProblem(name) === null, ok));
});

describe('hashPassword', () => {
  it('writes $2y$ bcrypt at the asked cost that verifies', async () => {
    const h = await hashPassword('s3cret', 5);
    assert.match(h, /^\$2y\$05\$/);
    assert.equal(hashKindOf(h), 'bcrypt');
    assert.equal(await verifyPassword({ user: 'u', hash: h, kind: 'bcrypt' }, 's3cret'), true);
  });
  it('refuses a cost outside 4..31', async () => {
    await assert.rejects(hashPassword('x', 3), RangeError);
    await assert.rejects(hashPassword('x', 32), RangeError);
  });
});

describe("cross-check with Apache's htpasswd (apache2-utils)", () => {
  const made: Array<[string, string[]]> = [
    ['-B (bcrypt)', ['-B', '-C', '5']],
    ['-m (apr1)', ['-m']],
    ['-s ({SHA})', ['-s']],
    ['-d (crypt)', ['-d']],
  ];
  for (const [what, flags] of made) {
    it(`a user made with htpasswd ${what} verifies, a wrong password does not`, async (t) => {
      const file = path.join(tempDir(t), 'users');
      await run('htpasswd', ['-c', '-b', ...flags, file, 'carl', 'pässword-1']);
      const p = parseHtpasswd(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(p.warnings, []);
      const entry = p.entries.get('carl');
      assert.ok(entry);
      // crypt only looks at the first 8 bytes of a password, so the wrong one differs early.
      assert.equal(await verifyPassword(entry, 'pässword-1'), true);
      assert.equal(await verifyPassword(entry, 'Pässword-1'), false);
    });
  }

  it('a hash written by hashPassword verifies with htpasswd -vb', async (t) => {
    const file = path.join(tempDir(t), 'users');
    fs.writeFileSync(file, `dora:${await hashPassword('correct horse', 5)}\n`);
    await run('htpasswd', ['-v', '-b', file, 'dora', 'correct horse']);
    await assert.rejects(run('htpasswd', ['-v', '-b', file, 'dora', 'wrong horse']));
  });
});
