'use strict';
// The compiled test files under `root` whose path below it (as `/test/hooks/x.test.js`) contains one
// of `filters` (all when none; a checkout's own path never matches): one
// definition for the runner (test/run.js) and the timer (test/times.js).
//
// Order: longest first, by the wall seconds `node test/times.js --write` last recorded in
// test/file-times.json, files it has not timed before all others (they may be long). The runner
// keeps four files going on two cores: a long file started last would run alone at the end while
// the cores idle (ssh/sshd.test.js, alphabetically late, took the last ~40 s of a run alone). The
// order only changes how long the whole run takes, never what a test sees.
const fs = require('node:fs');
const path = require('node:path');

const TIMES = path.join(__dirname, 'file-times.json');

/** { 'ssh/sshd.test.js': wall seconds, … } as last recorded; empty when there is no record. */
function recordedTimes() {
  try {
    return JSON.parse(fs.readFileSync(TIMES, 'utf8'));
  } catch {
    return {};
  }
}

function testFiles(root, filters) {
  const files = [];
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.js')) files.push(p);
    }
  })(root);
  const times = recordedTimes();
  const weight = (f) => times[path.relative(root, f)] ?? Infinity;
  return files
    .filter((f) => filters.length === 0 || filters.some((s) => `/test/${path.relative(root, f)}`.includes(s)))
    .sort((a, b) => weight(b) - weight(a) || (a < b ? -1 : a > b ? 1 : 0));
}

module.exports = { testFiles, TIMES };
