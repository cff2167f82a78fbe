/**
 * Reproduces the uncaught EPIPE of test/helpers/git.ts `git()` (stdin.end('') racing git's exit):
 * 30 work trees in a row; before the fix about half of the runs die with "write EPIPE".
 * Pins the fix: the helper ignores the EPIPE of a git that exits without reading stdin.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { gitEnv, makeWorkTree } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';

test('makeWorkTree 30 times without an uncaught EPIPE', async (t) => {
  const dir = tempDir(t);
  const env = gitEnv(path.join(dir, 'home'));
  for (let i = 0; i < 30; i++) assert.match(await makeWorkTree(path.join(dir, `w${i}`), env, 1), /^[0-9a-f]{40}$/);
});
