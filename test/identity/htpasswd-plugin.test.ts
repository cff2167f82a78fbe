import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { createCredentialCache } from '../../app/identity/credential-cache.js';
import { hashPassword } from '../../app/identity/htpasswd-file.js';
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
  const plugin = (await createHtpasswdPlugin({ file: 'users.htpasswd' }, { logger, configDir: dir, credentialCache: cache } as never)) as AuthPlugin;
  t.after(() => plugin.close?.());
  const login = async (user: string, password: string) => (await plugin.authenticate(input({ basic: basic(user, password) }))).kind;
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
