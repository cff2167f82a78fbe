#!/usr/bin/env node
'use strict';
// Runs every compiled test file under dist/test with Node's built-in test runner.
// Optional arguments filter test files by substring: `node test/run.js identity bridge`.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { testFiles } = require('./test-files.js');

const root = path.join(__dirname, '..', 'dist', 'test');
const chosen = testFiles(root, process.argv.slice(2));
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Test files mostly wait on git, nginx and child processes, so more than one per core pays off.
const concurrency = process.env.GITWARD_TEST_CONCURRENCY || '4';
// A safety net against a hung test only, never a limit a test is expected to meet: tests wait on
// events (test/helpers/procs.ts SAFETY_NET_MS), and a loaded machine stretches them many times.
const TEST_SAFETY_NET_MS = 20 * 60 * 1000;
const r = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${TEST_SAFETY_NET_MS}`,
    '--test-reporter=spec',
    ...chosen,
  ],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status === null ? 1 : r.status);
