/**
 * The sh launcher hooks/gitward-hook: it follows its own symlink to dist/, fails closed in one
 * line when the dispatcher cannot run, and under gitward keeps post-receive's input with `cat`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { dispatcherPath } from '../../app/cli/repo-admin.js';
import { asUser, CONFIG, createPushFixture, gitwardLines, type PushFixture } from '../hooks/push-fixture.js';

/** Points the fixture repo's pre-receive and post-receive at `target` (a path or a relative link). */
function linkHooks(f: PushFixture, target: string): void {
  for (const h of ['pre-receive', 'post-receive']) {
    const link = path.join(f.bare, 'hooks', h);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(target, link);
  }
}

/** A folder holding only links to the programs named, for a PATH without node. */
function binWith(dir: string, programs: readonly string[]): string {
  const bin = path.join(dir, 'bin-without-node');
  fs.mkdirSync(bin);
  for (const p of programs) {
    const found = (process.env.PATH ?? '/usr/bin:/bin')
      .split(':')
      .map((d) => path.join(d, p))
      .find((x) => fs.existsSync(x));
    assert.ok(found, `${p} is on PATH`);
    fs.symlinkSync(found, path.join(bin, p));
  }
  return bin;
}

describe('the hook launcher (hooks/gitward-hook, POSIX sh)', () => {
  it('follows a chain of symlinks (relative ones too) to the checkout it belongs to', async (t) => {
    const f = await createPushFixture(t, CONFIG, { hooks: false });
    const hop = path.join(f.dir, 'hop');
    fs.mkdirSync(hop);
    fs.symlinkSync(dispatcherPath(), path.join(hop, 'gitward-hook'));
    linkHooks(f, path.relative(path.join(f.bare, 'hooks'), path.join(hop, 'gitward-hook')));
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/main`], asUser(f, 'ann'));
    assert.notEqual(r.code, 0);
    assert.match(gitwardLines(r.stderr)[0] ?? '', /^gitward: refs\/heads\/main rejected by branch-protect/);
  });

  it('without a built dist/, refuses the push in one plain line and applies nothing', async (t) => {
    const f = await createPushFixture(t, CONFIG, { hooks: false });
    const checkout = path.join(f.dir, 'unbuilt-checkout', 'hooks');
    fs.mkdirSync(checkout, { recursive: true });
    fs.copyFileSync(dispatcherPath(), path.join(checkout, 'gitward-hook'));
    fs.chmodSync(path.join(checkout, 'gitward-hook'), 0o755);
    linkHooks(f, path.join(checkout, 'gitward-hook'));
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], asUser(f, 'ann'));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr), [
      'gitward: push refused: the gitward hook dispatcher could not be loaded (is gitward built?)',
    ]);
    assert.equal((await f.refs()).size, 0);
  });

  it('with a dist/ that does not load (a half-built checkout), refuses in one plain line, no stack trace', async (t) => {
    const f = await createPushFixture(t, CONFIG, { hooks: false });
    const checkout = path.join(f.dir, 'broken-checkout');
    fs.mkdirSync(path.join(checkout, 'hooks'), { recursive: true });
    fs.mkdirSync(path.join(checkout, 'dist', 'hooks'), { recursive: true });
    fs.copyFileSync(dispatcherPath(), path.join(checkout, 'hooks', 'gitward-hook'));
    fs.chmodSync(path.join(checkout, 'hooks', 'gitward-hook'), 0o755);
    // The entry without the dispatcher it loads.
    fs.copyFileSync(
      path.join(path.dirname(dispatcherPath()), '..', 'dist', 'hooks', 'hook-main.js'),
      path.join(checkout, 'dist', 'hooks', 'hook-main.js'),
    );
    linkHooks(f, path.join(checkout, 'hooks', 'gitward-hook'));
    const c1 = await f.commit('one');
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], asUser(f, 'ann'));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr), [
      'gitward: push refused: the gitward hook dispatcher could not be loaded (is gitward built?)',
    ]);
    assert.doesNotMatch(r.stderr, /at |Error/);
    assert.equal((await f.refs()).size, 0);
  });

  it('without node on PATH, refuses the push in one plain line and applies nothing', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    const PATH = binWith(f.dir, ['git', 'readlink', 'cat']);
    const r = await f.git(['push', 'origin', `${c1}:refs/heads/dev`], asUser(f, 'ann', { PATH }));
    assert.notEqual(r.code, 0);
    assert.deepEqual(gitwardLines(r.stderr), [
      'gitward: push refused: the gitward hook dispatcher needs Node.js, and node is not on PATH',
    ]);
    assert.equal((await f.refs()).size, 0);
  });

  it('under gitward, post-receive keeps the ref update lines verbatim with cat (no Node start-up)', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const logDir = path.join(f.dir, 'hooklog');
    fs.mkdirSync(logDir);
    const c1 = await f.commit('one');
    const r = await f.git(
      ['push', 'origin', `${c1}:refs/heads/dev`, `${c1}:refs/heads/topic`],
      asUser(f, 'ann', { GITWARD_LOG_DIR: logDir, GITWARD_REPO: 'web/site' }),
    );
    assert.equal(r.code, 0, r.stderr);
    const refs = fs.readdirSync(logDir).filter((n) => /^post-receive\.\d+\.refs$/.test(n));
    assert.equal(refs.length, 1, fs.readdirSync(logDir).join(' '));
    const zero = '0'.repeat(40);
    assert.deepEqual(
      fs
        .readFileSync(path.join(logDir, refs[0] as string), 'utf8')
        .split('\n')
        .filter(Boolean)
        .sort(),
      [`${zero} ${c1} refs/heads/dev`, `${zero} ${c1} refs/heads/topic`],
    );
    assert.deepEqual(
      fs.readdirSync(logDir).filter((n) => n.startsWith('post-receive.') && n.endsWith('.jsonl')),
      [],
      'no Node post-receive ran',
    );
  });

  it('under gitward, a post-receive that cannot write its file is silent and never fails the push', async (t) => {
    const f = await createPushFixture(t, CONFIG);
    const c1 = await f.commit('one');
    const r = await f.git(
      ['push', 'origin', `${c1}:refs/heads/dev`],
      asUser(f, 'ann', { GITWARD_LOG_DIR: path.join(f.dir, 'gone'), GITWARD_REPO: 'web/site' }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(gitwardLines(r.stderr), []);
    assert.doesNotMatch(r.stderr, /cannot create|No such file/);
    assert.equal((await f.refs()).get('refs/heads/dev'), c1);
  });
});
