#!/usr/bin/env node
'use strict';
// Runs every compiled test file under dist/test with Node's built-in test runner, longest first
// (test/test-files.js says why). Node's `--test` CLI sorts the files by name, so this calls its
// run() API, which keeps the order given; each file still runs in a process of its own.
// Optional arguments filter test files by substring: `node test/run.js identity bridge`.
// `--with-checks` (npm test) also runs the static checks, `npm run lint:deps` then `npm run lint`,
// beside the tests rather than before them: they are single-threaded and would leave one core idle
// for ~30 s; their output is printed at the end, and either failing fails the run.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { run } = require('node:test');
const { spec } = require('node:test/reporters');
const { testFiles } = require('./test-files.js');

const root = path.join(__dirname, '..', 'dist', 'test');
const args = process.argv.slice(2);
const withChecks = args.includes('--with-checks');
const chosen = testFiles(
  root,
  args.filter((a) => a !== '--with-checks'),
);
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Test files mostly wait on git, nginx and child processes, so more than one per core pays off.
const concurrency = Number(process.env.GITWARD_TEST_CONCURRENCY || '4');
// A safety net against a hung test only, never a limit a test is expected to meet: tests wait on
// events (test/helpers/procs.ts SAFETY_NET_MS), and a loaded machine stretches them many times.
const TEST_SAFETY_NET_MS = 20 * 60 * 1000;

/** Runs `npm run --silent NAME` and resolves with its exit code and output. */
function npmRun(name) {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('close', (code) => resolve({ name, code, out }));
  });
}

const checks = withChecks
  ? npmRun('lint:deps').then(async (deps) => (deps.code === 0 ? [deps, await npmRun('lint')] : [deps]))
  : Promise.resolve([]);

let failed = false;
const stream = run({ files: chosen, concurrency, timeout: TEST_SAFETY_NET_MS });
// A failing todo test does not fail the run, as with `node --test`.
stream.on('test:fail', (data) => {
  if (!data.todo) failed = true;
});
const report = stream.compose(new spec());
report.pipe(process.stdout);
report.on('end', async () => {
  for (const c of await checks) {
    process.stdout.write(`\n${c.code === 0 ? '✔' : '✖'} npm run ${c.name}\n${c.code === 0 ? '' : c.out}`);
    if (c.code !== 0) failed = true;
  }
  process.exitCode = failed ? 1 : 0;
});
