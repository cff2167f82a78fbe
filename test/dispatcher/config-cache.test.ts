/**
 * The dispatcher's cache of good config loads (hooks/config-cache.ts): the same result and the same
 * errors as loadConfig, reused only while every input is byte for byte the same.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { loadConfig } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { hookSettingsFor } from '../../app/policy/hook-settings.js';
import { ConfigError } from '../../app/errors.js';
import { fromJson, loadConfigCached, toJson } from '../../hooks/config-cache.js';
import { tempDir } from '../helpers/tmp.js';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'config');

const CONFIG = `repo_root: ./repos
authentication: [{plugin: htpasswd, file: users.htpasswd}]
users: {ann: {groups: [eng], info: {name: Ann}}}
groups: {staff: ["@eng", bob]}
repos:
  .write: [bob]
  .hooks:
    branch-protect: {branches: {main: {push: ["@staff"]}}}
  web:
    site.git: {.hooks: {branch-flow: {flow: [dev, main]}}}
hooks: {local_user: ann, log_file: hooks.jsonl}
`;

interface Case {
  readonly dir: string;
  readonly file: string;
  readonly cache: string;
  load(): ReturnType<typeof loadConfigCached>;
}

function setup(t: TestContext, text = CONFIG): Case {
  const dir = tempDir(t, 'gitward-config-cache-');
  const file = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(file, text);
  fs.writeFileSync(path.join(dir, 'users.htpasswd'), 'bob:$2y$05$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzABCDE\n');
  const cache = path.join(dir, 'cache');
  return { dir, file, cache, load: () => loadConfigCached(file, cache) };
}

async function problemsOf(load: () => unknown): Promise<string[]> {
  try {
    await load();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('the config cache of the hook dispatcher', () => {
  it('keeps the Maps and everything else of every valid fixture through JSON, frozen', async () => {
    for (const name of fs.readdirSync(FIXTURES).filter((f) => f.startsWith('valid-') && f.endsWith('.yaml'))) {
      const config = await loadConfig(path.join(FIXTURES, name));
      const back = fromJson(JSON.parse(JSON.stringify(toJson(config))) as ReturnType<typeof toJson>);
      assert.deepStrictEqual(back, config, name);
      assert.ok(Object.isFrozen(back) && Object.isFrozen(back.repos) && Object.isFrozen(back.hooks), name);
    }
  });

  it('returns what loadConfig returns, from the file first and from the cache after', async (t) => {
    const c = setup(t);
    const first = c.load();
    assert.equal(first.from, 'file');
    const second = c.load();
    assert.equal(second.from, 'cache');
    assert.deepStrictEqual(second.config.full(), await loadConfig(c.file));
    assert.equal(fs.statSync(c.cache).mode & 0o777, 0o700);
    for (const n of fs.readdirSync(c.cache)) assert.equal(fs.statSync(path.join(c.cache, n)).mode & 0o777, 0o600);
  });

  it('from the cache, builds only what is asked for, as the whole config would give it', async (t) => {
    const c = setup(t);
    const fromFile = c.load();
    const cached = c.load();
    assert.equal(cached.from, 'cache');
    const policy = compilePolicy(await loadConfig(c.file));
    for (const repo of ['web/site', 'web/other', 'site', 'web', 'x/y/z']) {
      const want = [...hookSettingsFor(policy, repo)];
      assert.deepStrictEqual([...cached.config.settingsFor(repo)], want, repo);
      assert.deepStrictEqual([...fromFile.config.settingsFor(repo)], want, repo);
      for (const [, s] of cached.config.settingsFor(repo)) assert.ok(Object.isFrozen(s) && Object.isFrozen(s.options), repo);
    }
    assert.deepStrictEqual(cached.config.hooks, policy.config.hooks);
    assert.ok(Object.isFrozen(cached.config.hooks));
    assert.deepStrictEqual([cached.config.file, cached.config.dir, cached.config.repoRoot], [policy.config.file, policy.config.dir, policy.config.repoRoot]);
  });

  it('reads the file again when the config text changes', async (t) => {
    const c = setup(t);
    c.load();
    fs.writeFileSync(c.file, CONFIG.replace('local_user: ann', 'local_user: bob'));
    const r = c.load();
    assert.equal(r.from, 'file');
    assert.equal(r.config.hooks.localUser, 'bob');
    assert.equal(c.load().from, 'cache');
  });

  it('reads the file again when an htpasswd file it read changed, and fails as loadConfig does when one is gone', async (t) => {
    const c = setup(t);
    c.load();
    fs.appendFileSync(path.join(c.dir, 'users.htpasswd'), 'carl:$2y$05$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzABCDE\n');
    const r = c.load();
    assert.equal(r.from, 'file');
    assert.deepEqual(r.config.full().htpasswdUsers, ['bob', 'carl']);
    fs.rmSync(path.join(c.dir, 'users.htpasswd'));
    const expected = await problemsOf(() => loadConfig(c.file));
    assert.ok(expected.length > 0);
    assert.deepEqual(await problemsOf(() => c.load()), expected);
  });

  it('never keeps a broken config: the same problems as loadConfig, every time', async (t) => {
    const c = setup(t, `${CONFIG}repos_typo: {}\n`);
    const expected = await problemsOf(() => loadConfig(c.file));
    assert.equal(expected.length, 1);
    assert.deepEqual(await problemsOf(() => c.load()), expected);
    assert.deepEqual(await problemsOf(() => c.load()), expected);
    assert.deepEqual(fs.readdirSync(c.cache), []);
    fs.rmSync(c.file);
    assert.deepEqual(await problemsOf(() => c.load()), await problemsOf(() => loadConfig(c.file)));
  });

  it('ignores an entry made by other loader code', (t) => {
    const c = setup(t);
    c.load();
    const [entry] = fs.readdirSync(c.cache);
    const file = path.join(c.cache, entry as string);
    fs.writeFileSync(file, JSON.stringify({ ...(JSON.parse(fs.readFileSync(file, 'utf8')) as object), code: 'another version' }));
    assert.equal(c.load().from, 'file');
    assert.equal(c.load().from, 'cache');
  });

  it('keeps one entry per config file, with that file\'s own file:line', (t) => {
    const c = setup(t);
    const copy = path.join(c.dir, 'other.yaml');
    fs.copyFileSync(c.file, copy);
    c.load();
    loadConfigCached(copy, c.cache);
    const a = c.load();
    const b = loadConfigCached(copy, c.cache);
    assert.deepEqual([a.from, b.from], ['cache', 'cache']);
    assert.match(a.config.full().repos.where, /gitward\.yaml:\d+$/);
    assert.match(b.config.settingsFor('web/site').get('branch-flow')?.where ?? '', /other\.yaml:\d+$/);
  });

  it('does not keep what JSON cannot carry exactly (.inf in plugin options)', (t) => {
    const c = setup(t, CONFIG.replace('flow: [dev, main]', 'flow: [dev, main], n: .inf'));
    assert.equal(c.load().from, 'file');
    const r = c.load();
    assert.equal(r.from, 'file');
    assert.equal(r.config.settingsFor('web/site').get('branch-flow')?.options.n, Infinity);
  });

  it('is not used in a folder that others may enter, nor through a symlink', (t) => {
    const c = setup(t);
    fs.mkdirSync(c.cache, { mode: 0o755 });
    fs.chmodSync(c.cache, 0o755);
    const warnings: string[] = [];
    const load = (dir: string) => loadConfigCached(c.file, dir, (event) => warnings.push(event));
    assert.equal(load(c.cache).from, 'file');
    assert.equal(load(c.cache).from, 'file');
    assert.deepEqual(fs.readdirSync(c.cache), []);
    const real = path.join(c.dir, 'real-cache');
    fs.mkdirSync(real, { mode: 0o700 });
    fs.symlinkSync(real, path.join(c.dir, 'link-cache'));
    assert.equal(load(path.join(c.dir, 'link-cache')).from, 'file');
    assert.equal(load(path.join(c.dir, 'link-cache')).from, 'file');
    assert.deepEqual(warnings, ['hook.config-cache-unsafe', 'hook.config-cache-unsafe', 'hook.config-cache-unsafe', 'hook.config-cache-unsafe']);
  });

  it('without a cache folder, simply loads', (t) => {
    const c = setup(t);
    assert.equal(loadConfigCached(c.file, null).from, 'file');
    assert.equal(loadConfigCached(c.file, null).from, 'file');
  });
});
