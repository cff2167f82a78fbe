#!/usr/bin/env node
'use strict';
// Measures each compiled test file on its own: CPU seconds (user + sys of the test process and
// every child it waited for: git, nginx, sshd…, as /usr/bin/time reports them) and wall seconds.
// CPU time barely moves when other work shares the machine; wall time does. Prints the files
// slowest-CPU first as a Markdown table, then the totals.
//   node test/times.js [--write] [SUBSTR…]   GITWARD_TEST_CONCURRENCY (default 2) files at a time
// --write records each file's wall seconds in test/file-times.json, the order test/run.js starts
// files in (longest first; see test/test-files.js).
// GITWARD_TEST_DIST points at another compiled tree (e.g. a copy of dist from before a change).
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const { testFiles, TIMES } = require('./test-files.js');

const dist = process.env.GITWARD_TEST_DIST || path.join(__dirname, '..', 'dist');
const root = path.join(dist, 'test');
const write = process.argv.includes('--write');
const chosen = testFiles(
  root,
  process.argv.slice(2).filter((a) => a !== '--write'),
);
const concurrency = Number(process.env.GITWARD_TEST_CONCURRENCY || '2');
const rows = [];
let next = 0;

function runOne(file) {
  return new Promise((resolve) => {
    const args = ['-f', '@@TIME %U %S %e', process.execPath, '--test', '--test-reporter=dot', file];
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('exit', (code) => {
      const m = /@@TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(out);
      const rel = path.relative(root, file);
      if (!m) rows.push({ rel, cpu: NaN, wall: NaN, ok: false });
      else rows.push({ rel, cpu: Number(m[1]) + Number(m[2]), wall: Number(m[3]), ok: code === 0 });
      const last = rows[rows.length - 1];
      process.stderr.write(`${last.cpu.toFixed(1)}\t${last.wall.toFixed(1)}\t${rel}\n`);
      if (code !== 0) process.stderr.write(`FAILED ${rel}\n${out.slice(-3000)}\n`);
      resolve();
    });
  });
}

async function worker() {
  while (next < chosen.length) await runOne(chosen[next++]);
}

(async () => {
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  rows.sort((a, b) => b.cpu - a.cpu);
  console.log('| file | CPU s | wall s | ok |\n|---|---:|---:|---|');
  for (const r of rows)
    console.log(`| ${r.rel} | ${r.cpu.toFixed(1)} | ${r.wall.toFixed(1)} | ${r.ok ? 'yes' : 'NO'} |`);
  const cpu = rows.reduce((s, r) => s + (Number.isNaN(r.cpu) ? 0 : r.cpu), 0);
  console.log(`\n${rows.length} files, CPU ${cpu.toFixed(1)} s, elapsed ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (write) {
    let times = {};
    try {
      times = JSON.parse(fs.readFileSync(TIMES, 'utf8'));
    } catch {
      // no record yet
    }
    for (const r of rows) if (!Number.isNaN(r.wall)) times[r.rel] = Math.round(r.wall * 10) / 10;
    const sorted = Object.fromEntries(Object.entries(times).sort(([a], [b]) => (a < b ? -1 : 1)));
    fs.writeFileSync(TIMES, JSON.stringify(sorted, null, 2) + '\n');
  }
  process.exit(rows.every((r) => r.ok) ? 0 : 1);
})();
