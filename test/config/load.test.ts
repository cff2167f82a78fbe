import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../app/errors.js';
import { loadConfig } from '../../app/config/load.js';
import { tempDir } from '../helpers/tmp.js';

test('loadConfig fills defaults, makes paths absolute and freezes the result', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'users.htpasswd'), '# comment\n\ndemo:$2y$05$abcdefghijklmnopqrstuv\nzed:{SHA}xyz\n');
  const file = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(
    file,
    [
      'repo_root: ./repos',
      'authentication:',
      '  - {plugin: htpasswd, file: users.htpasswd}',
      '  - plugin: ./plugins/x.js',
      '    url: http://127.0.0.1:9/',
      'log: {audit: logs/audit.log}',
      'repos: {.read: [demo, zed]}',
      '',
    ].join('\n'),
  );
  const c = await loadConfig(file);
  assert.equal(c.file, file);
  assert.equal(c.dir, dir);
  assert.equal(c.repoRoot, path.join(dir, 'repos'));
  assert.deepEqual(c.listen, { kind: 'tcp', host: '127.0.0.1', port: 8080 });
  assert.equal(c.basePath, '/');
  assert.equal(c.realm, 'gitward');
  assert.equal(c.hideExistence, true);
  assert.equal(c.dumbHttp, false);
  assert.deepEqual(c.server, {
    headersTimeoutSeconds: 60,
    idleTimeoutSeconds: 300,
    shutdownGraceSeconds: 30,
    trustedProxies: ['unix'],
  });
  assert.deepEqual(c.log, { level: 'info', format: 'json', audit: path.join(dir, 'logs/audit.log') });
  assert.deepEqual(c.credentialCache, { ttlSeconds: 60, maxEntries: 10000 });
  assert.deepEqual(c.bruteForce, { maxFailures: 10, windowSeconds: 300 });
  assert.deepEqual(c.sidecar, { enabled: false, path: '/_gitward/auth' });
  assert.deepEqual(c.hooks.order, ['branch-protect', 'branch-flow']);
  assert.deepEqual(c.repoDefaults, {
    initialBranch: 'main',
    denyNonFastForwards: true,
    denyDeletes: true,
    installHooks: true,
  });
  assert.deepEqual(c.authentication, [
    { plugin: 'htpasswd', options: { file: 'users.htpasswd' }, where: `${file}:3` },
    { plugin: path.join(dir, 'plugins/x.js'), options: { url: 'http://127.0.0.1:9/' }, where: `${file}:4` },
  ]);
  assert.deepEqual(c.htpasswdUsers, ['demo', 'zed']);
  assert.match(c.hash, /^[0-9a-f]{64}$/);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.server.trustedProxies));
  assert.throws(() => {
    (c as { realm: string }).realm = 'x';
  }, TypeError);
});

test('loadConfig parses listen forms', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'g.yaml');
  const cases: [string, unknown][] = [
    ['"[::1]:9000"', { kind: 'tcp', host: '::1', port: 9000 }],
    ['0.0.0.0:0', { kind: 'tcp', host: '0.0.0.0', port: 0 }],
    ['unix:run/g.sock', { kind: 'unix', path: path.join(dir, 'run/g.sock'), mode: 0o660 }],
  ];
  for (const [listen, expected] of cases) {
    fs.writeFileSync(file, `repo_root: /srv/git\nlisten: ${listen}\n`);
    assert.deepEqual((await loadConfig(file)).listen, expected);
  }
});

test('loadConfig reports every problem at once, with file:line and key path', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(
    file,
    [
      'repo_root: /srv/git',
      'hide_existance: true',
      'repos:',
      '  .read: "@eng"',
      '  web:',
      '    .write: [nobody]',
      '',
    ].join('\n'),
  );
  await assert.rejects(loadConfig(file), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      `${file}:2: hide_existance: unknown key (did you mean "hide_existence"?)`,
      `${file}:4: repos.read: expected a list, got a string ("@eng") (write a list: ["@eng"])`,
      `${file}:6: repos.web.write[0]: unknown user "nobody" (not in users: or any htpasswd file)`,
    ]);
    return true;
  });
});

test('loadConfig: a missing file is a ConfigError', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(loadConfig(path.join(dir, 'nope.yaml')), ConfigError);
});

test('loadConfig keeps no state between calls: two loads of two files are independent', async (t) => {
  const dir = tempDir(t);
  const a = path.join(dir, 'a.yaml');
  const b = path.join(dir, 'b.yaml');
  fs.writeFileSync(a, 'repo_root: /srv/a\nusers: {ann: {}}\nrepos: {.read: [ann]}\n');
  fs.writeFileSync(b, 'repo_root: /srv/b\nrepos: {.read: [ann]}\n');
  const first = await loadConfig(a);
  await assert.rejects(loadConfig(b), ConfigError);
  const again = await loadConfig(a);
  assert.deepEqual(again, first);
  assert.notEqual(again, first);
  assert.equal(first.repoRoot, '/srv/a');
});

test('loadConfig: a __proto__ key in plugin options or user info stays a plain key', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'g.yaml');
  fs.writeFileSync(
    file,
    'repo_root: /srv/git\nauthentication:\n  - {plugin: remote-user, __proto__: {polluted: true}}\nusers:\n  ann: {info: {__proto__: x}}\n',
  );
  const c = await loadConfig(file);
  const options = c.authentication[0]?.options as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(options), Object.prototype);
  assert.deepEqual(Object.keys(options), ['__proto__']);
  assert.equal((options as { polluted?: unknown }).polluted, undefined);
  assert.equal(Object.getPrototypeOf(c.users.get('ann')?.info), Object.prototype);
});
