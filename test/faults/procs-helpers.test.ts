/**
 * The /proc helpers the fault tests and the load bench rely on: a wrong parse would make "no
 * child left" or "no fd left" pass for the wrong reason.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { test } from 'node:test';
import { childrenOf, descendantsOf, openFds, parseStat, procInfo, processesWithEnv, stillRunning, waitFor } from '../helpers/procs.js';

test('parseStat reads the fields after the last ")" of the command name', () => {
  const cases: Array<[string, ReturnType<typeof parseStat>]> = [
    ['42 (node) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 11 0 12345 0 0', { pid: 42, ppid: 1, pgid: 42, comm: 'node', state: 'S', startTime: 12345 }],
    ['7 (a b) c) (d) R 3 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0', { pid: 7, ppid: 3, pgid: 5, comm: 'a b) c) (d', state: 'R', startTime: 99 }],
    ['9 (git-http-backen) Z 8 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0', { pid: 9, ppid: 8, pgid: 9, comm: 'git-http-backen', state: 'Z', startTime: 5 }],
    ['no parentheses here', null],
    ['1 (x) S', null],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseStat(text), want, text);
});

test('the /proc helpers see a real child, its environment and its fds, and notice it is gone', async (t) => {
  const marker = `gitward-procs-test-${process.pid}`;
  const child = spawn('sleep', ['30'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GITWARD_MARKER: marker }, stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid as number;
  await waitFor(() => procInfo(pid)?.comm === 'sleep', 'sleep has exec()ed', 5_000);
  const info = procInfo(pid);
  assert.ok(info);
  assert.equal(info.ppid, process.pid);
  assert.ok(childrenOf(process.pid).some((p) => p.pid === pid));
  assert.ok(descendantsOf(process.pid).some((p) => p.pid === pid));
  assert.deepEqual(processesWithEnv('GITWARD_MARKER', marker).map((p) => p.pid), [pid]);
  assert.deepEqual(processesWithEnv('GITWARD_MARKER', marker.slice(1)), [], 'only whole KEY=value entries match');
  assert.ok(openFds(pid).some((f) => f.fd === 0 && (f.target.startsWith('pipe:') || f.target.startsWith('socket:'))));
  assert.ok(openFds(process.pid).length > 0);
  assert.ok(stillRunning(info));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(stillRunning(info), false);
  assert.deepEqual(openFds(pid), []);
  assert.ok(fs.existsSync('/proc/self/stat'));
});
