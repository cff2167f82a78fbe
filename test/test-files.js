'use strict';
// The compiled test files under `root` whose path contains one of `filters` (all when none),
// sorted: one definition for the runner (test/run.js) and the timer (test/times.js).
const fs = require('node:fs');
const path = require('node:path');

function testFiles(root, filters) {
  const files = [];
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.js')) files.push(p);
    }
  })(root);
  return files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
}

module.exports = { testFiles };
