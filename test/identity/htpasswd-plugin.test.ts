import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { createCredentialCache } from '../../app/identity/credential-cache.js';
import { hashPassword } from '../../app/identity/htpasswd-file.js';
import { brokenHtpasswd } from '../../app/identity/htpasswd-users.js';
import { createMemoryLogger } from '../../app/log/logger.js';
import type { AuthPlugin } from '../../app/types.js';
import { createHtpasswdPlugin } from '../../plugins/auth/htpasswd.js';
import { tempDir } from '../helpers/tmp.js';
import { basic, input } from './helpers.js';

const COST = 4;

async function setup(t: TestContext, users: Record<string, string>, cacheTtl = 60) {
  const dir = tempDir(t);
  const file = path.join(dir, 'users.htpasswd');
  const write = async (u: Record<string, string>) => {
    const lines = await Promise.all(Object.entries(u).map(async ([n, p]) => `${n}:${await hashPassword(p, COST)}\n`));
    fs.writeFileSync(file, lines.join(''));
  };
  await write(users);
  const logger = createMemoryLogger();
  const cache = createCredentialCache({ ttlSeconds: cacheTtl, maxEntries: 100 });
  const plugin = (await createHtpasswdPlugin({ file: 'users.htpasswd' }, {
    logger,
    configDir: dir,
    credentialCache: cache,
  } as never)) as AuthPlugin;
  t.after(() => plugin.close?.());
  const login = async (user: string, password: string) =>
    (await plugin.authenticate(input({ basic: basic(user, password) }))).kind;
  return { dir, file, write, logger, cache, plugin, login };
}

describe('the htpasswd plugin re-reads its file on change', () => {
  it('refuses a deleted user on the very next request, even with the password cached', async (t) => {
    const s = await setup(t, { ann: 'pw-ann', ben: 'pw-ben' });
    assert.equal(await s.login('ann', 'pw-ann'), 'authenticated');
    assert.equal(await s.login('ann', 'pw-ann'), 'authenticated');
    await s.write({ ben: 'pw-ben' });
    assert.equal(await s.login('ann', 'pw-ann'), 'rejected');
    assert.equal(await s.login('ben', 'pw-ben'), 'authenticated');
  });

  it('accepts a changed password (same file size, same inode) on the next request and refuses the old one', async (t) => {
    const s = await setup(t, { ann: 'old-password' });
    assert.equal(await s.login('ann', 'old-password'), 'authenticated');
    const ino = fs.statSync(s.file).ino;
    await s.write({ ann: 'new-password' });
    assert.equal(fs.statSync(s.file).ino, ino);
    assert.equal(await s.login('ann', 'new-password'), 'authenticated');
    assert.equal(await s.login('ann', 'old-password'), 'rejected');
  });

  it('picks up a file replaced by rename (as editors and `gitward user` do)', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    fs.writeFileSync(s.file + '.new', `carl:${await hashPassword('pw-c', COST)}\n`);
    fs.renameSync(s.file + '.new', s.file);
    assert.equal(await s.login('ann', 'pw'), 'rejected');
    assert.equal(await s.login('carl', 'pw-c'), 'authenticated');
  });

  it('refuses everyone while the file is missing, logs it, and recovers when it is back', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    const saved = fs.readFileSync(s.file);
    fs.rmSync(s.file);
    assert.equal(await s.login('ann', 'pw'), 'rejected');
    assert.ok(s.logger.lines.some((l) => l.event === 'htpasswd.missing'));
    fs.writeFileSync(s.file, saved);
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
  });

  it('refuses everyone once the file is emptied (as `htpasswd -D` leaves it after the last user), and recovers when users are back', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    fs.writeFileSync(s.file, '');
    assert.equal(await s.login('ann', 'pw'), 'rejected', 'the cached success must not outlive the user');
    assert.ok(
      !s.logger.lines.some((l) => l.event === 'htpasswd.reload_failed'),
      'an empty file is a good file with no users, not garbage',
    );
    assert.ok(s.logger.lines.some((l) => l.event === 'htpasswd.loaded' && l.users === 0));
    await s.write({ ann: 'pw' });
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
  });

  it('keeps the last good users when the file is replaced with garbage', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    fs.writeFileSync(s.file, Buffer.from([0x00, 0xff, 0x13, 0x37]));
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    assert.equal(s.logger.lines.filter((l) => l.event === 'htpasswd.reload_failed').length, 1);
  });

  it('logs a warning per bad line at each load and keeps the good users', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    fs.appendFileSync(s.file, 'plain:secret\r\ngarbage\r\n');
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    assert.equal(await s.login('plain', 'secret'), 'rejected');
    assert.equal(s.logger.lines.filter((l) => l.event === 'htpasswd.line_ignored').length, 2);
  });
});

describe('the htpasswd plugin and the credential cache', () => {
  it('caches a success, never a failure', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    assert.equal(await s.login('ann', 'wrong'), 'rejected');
    assert.equal(await s.login('nobody', 'pw'), 'rejected');
    assert.equal(s.cache.size(), 0);
    assert.equal(await s.login('ann', 'pw'), 'authenticated');
    assert.equal(s.cache.size(), 1);
  });

  it('answers from the cache only for the same stored hash', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    const entry = fs.readFileSync(s.file, 'utf8').trim().split(':')[1] as string;
    // A cache entry for the current hash answers without bcrypt: prove it with a password that
    // bcrypt would refuse, planted directly in the cache.
    s.cache.add('ann', 'planted', entry);
    assert.equal(await s.login('ann', 'planted'), 'authenticated');
    await s.write({ ann: 'pw' });
    assert.equal(await s.login('ann', 'planted'), 'rejected');
  });

  it('needs Basic credentials; without them it has no opinion', async (t) => {
    const s = await setup(t, { ann: 'pw' });
    assert.equal((await s.plugin.authenticate(input())).kind, 'no-credentials');
    assert.equal(await s.login('ann', ''), 'rejected');
  });
});

describe('brokenHtpasswd: garbage (keep the last good users) versus a file to load', () => {
  const bcryptLine = 'ann:$2y$04$' + 'a'.repeat(53);
  const cases: Array<[string, Buffer | string, RegExp | null]> = [
    ['an empty file (htpasswd -D of the last user): no users, not garbage', '', null],
    ['only a newline', '\n', null],
    ['only comments and blank lines', '# nobody\n\n', null],
    ['one complete bcrypt line', `${bcryptLine}\n`, null],
    ['a complete last line without its newline', bcryptLine, null],
    ['a bad line among good ones (a per-line refusal)', `${bcryptLine}\nplain:secret\n`, null],
    ['NUL bytes', Buffer.from([0x61, 0x00, 0x3a]), /NUL/],
    ['bytes that are not UTF-8', Buffer.from([0x61, 0x3a, 0xc3, 0x28, 0x0a]), /not UTF-8/],
    ['text without a colon', 'this is not an htpasswd file\nneither is this\n', /user:hash/],
    ['a last line cut short', `${bcryptLine}\nben:$2y$04$abc`, /cut short/],
  ];
  for (const [what, bytes, problem] of cases) {
    it(`${what} → ${problem === null ? 'loaded' : 'garbage'}`, () => {
      const got = brokenHtpasswd(Buffer.from(bytes));
      if (problem === null) assert.equal(got, null);
      else assert.match(String(got), problem);
    });
  }
});
