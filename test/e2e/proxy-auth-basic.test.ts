// End-to-end through the shipped deploy/nginx/gitward-proxy-auth-basic.conf: nginx checks the
// password (auth_basic) and hands the user to gitward in X-Remote-User, which only authorises.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BUFFERED_REQUEST_LOG, requireBinary, watchTempDir } from '../helpers/nginx.js';
import { writePseudoRandomFile } from './scenarios.js';
import { E2E_USERS, startStack, type Stack } from './stack.js';

/** Above git's 1 MiB http.postBuffer (so the push goes chunked) and nginx's 16 KiB body buffer. */
const CHUNKED_PUSH_BYTES = 3 * 1024 * 1024;

const ann = { user: 'ann', password: E2E_USERS.ann as string };
const ben = { user: 'ben', password: E2E_USERS.ben as string };

let stack: Stack | null = null;
let skipped = false;
const cleanups: Array<() => unknown> = [];
before(async () => {
  const nginx = requireBinary({ skip: () => (skipped = true) }, 'nginx');
  if (nginx === null) return;
  stack = await startStack({ after: (fn) => cleanups.push(fn) }, 'proxy-auth-basic', { nginx, fcgiwrap: null });
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

function get(t: { skip(m?: string): void }): Stack | null {
  if (stack === null) {
    assert.ok(skipped, 'the stack did not start');
    t.skip('nginx is not installed');
  }
  return stack;
}

async function commitIn(s: Stack, name: string): Promise<string> {
  const dir = path.join(s.work, name);
  fs.mkdirSync(dir);
  for (const args of [
    ['init', '--quiet', '--initial-branch=main', '.'],
    ['commit', '--quiet', '--allow-empty', '-m', name],
  ]) {
    const r = await s.git(args, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  }
  return dir;
}

test('auth-basic: nginx checks the password, gitward authorises the user it names', async (t) => {
  const s = get(t);
  if (!s) return;
  const none = await s.git(['ls-remote', s.url('private')]);
  assert.notEqual(none.code, 0);
  const wrong = await s.git(['ls-remote', s.url('private', { user: 'ann', password: 'wrong' })]);
  assert.notEqual(wrong.code, 0);
  const clone = await s.git(['clone', s.url('private', ann), 'ab-clone']);
  assert.equal(clone.code, 0, clone.stderr);
  const dir = await commitIn(s, 'ab-push');
  const push = await s.git(['push', s.url('private', ann), 'main:ab-branch'], { cwd: dir });
  assert.equal(push.code, 0, push.stderr);
  // ben may read private but not write it: gitward decides on the user nginx named.
  const benPush = await s.git(['push', s.url('private', ben), 'main:ben-branch'], { cwd: dir });
  assert.notEqual(benPush.code, 0);
  assert.match(benPush.stderr, /403/);
});

test('auth-basic: a client-supplied X-Remote-User is replaced by the user nginx authenticated', async (t) => {
  const s = get(t);
  if (!s) return;
  const dir = await commitIn(s, 'ab-forge');
  // admin may write everything; ben may not write private.
  const forged = await s.git(
    ['-c', 'http.extraHeader=X-Remote-User: admin', 'push', s.url('private', ben), 'main:forged'],
    { cwd: dir },
  );
  assert.notEqual(forged.code, 0);
  assert.match(forged.stderr, /403/);
  const refs = await s.git(['ls-remote', s.url('private', ann)]);
  assert.doesNotMatch(refs.stdout, /refs\/heads\/forged/);
});

test('auth-basic: a chunked push goes to gitward as it arrives, never into a temp file', async (t) => {
  const s = get(t);
  if (!s) return;
  const dir = await commitIn(s, 'ab-chunked');
  writePseudoRandomFile(path.join(dir, 'blob.bin'), CHUNKED_PUSH_BYTES, 7);
  for (const args of [
    ['add', 'blob.bin'],
    ['commit', '--quiet', '-m', 'blob'],
  ]) {
    const r = await s.git(args, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  }
  const before = s.accessLog().length;
  const logBefore = s.nginx.errorLog().length;
  const temp = watchTempDir(s.nginx.pid, s.clientBodyTemp);
  let push;
  try {
    push = await s.git(['push', s.url('private', ann), 'main:ab-chunked'], { cwd: dir });
  } finally {
    // proxy_request_buffering off: nginx would otherwise spool the body first.
    assert.deepEqual(temp.stop(), [], 'nginx spooled the push body to client_body_temp_path');
  }
  assert.equal(push.code, 0, push.stderr);
  assert.ok(!s.nginx.errorLog().slice(logBefore).includes(BUFFERED_REQUEST_LOG), s.nginx.errorLog().slice(logBefore));
  const lines = s.accessLog().slice(before);
  assert.ok(
    lines.some((l) => /^POST \/private\.git\/git-receive-pack 200 te=chunked$/.test(l)),
    lines.join('\n'),
  );
});
