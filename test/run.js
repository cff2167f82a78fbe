#!/usr/bin/env node
'use strict';
// Runs every compiled test file under dist/test with Node's built-in test runner, longest first
// (test/test-files.js says why). Node's `--test` CLI sorts the files by name, so this calls its
// run() API, which keeps the order given; each file still runs in a process of its own.
// Optional arguments filter test files by substring: `node test/run.js identity bridge`.
const path = require('node:path');
const { run } = require('node:test');
const { spec } = require('node:test/reporters');
const { testFiles } = require('./test-files.js');

const root = path.join(__dirname, '..', 'dist', 'test');
const chosen = testFiles(root, process.argv.slice(2));
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Test files mostly wait on git, nginx and child processes, so more than one per core pays off.
const concurrency = Number(process.env.GITWARD_TEST_CONCURRENCY || '4');
// A safety net against a hung test only, never a limit a test is expected to meet: tests wait on
// events (test/helpers/procs.ts SAFETY_NET_MS), and a loaded machine stretches them many times.
const TEST_SAFETY_NET_MS = 20 * 60 * 1000;

let failed = false;
const stream = run({ files: chosen, concurrency, timeout: TEST_SAFETY_NET_MS });
// A failing todo test does not fail the run, as with `node --test`.
stream.on('test:fail', (data) => {
  if (!data.todo) failed = true;
});
stream.on('end', () => (process.exitCode = failed ? 1 : 0));
stream.compose(new spec()).pipe(process.stdout);
