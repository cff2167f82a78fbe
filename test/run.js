#!/usr/bin/env node
'use strict';
// Runs every compiled test file under dist/test with Node's built-in test runner.
// Optional arguments filter test files by substring: `node test/run.js identity bridge`.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist', 'test');
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
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
