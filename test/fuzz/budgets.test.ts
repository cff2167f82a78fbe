/**
 * The fuzz suite's time bound (issue 7: under 60 s in all, in CI): every fuzz test runs under a
 * budget of its own (test/helpers/fuzz.ts FUZZ_BUDGETS_MS) as its `timeout` (and, in forAll, as a
 * CPU-time limit), each budget is used by exactly one test, and the budgets, with each file's
 * start-up, add up to less than the bound.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createRng, forAll, forAllAsync, FUZZ_BUDGETS_MS, FUZZ_FILE_OVERHEAD_MS, FUZZ_SUITE_BOUND_MS, fuzzBudget } from '../helpers/fuzz.js';

// The sources live in the source tree; tests run from dist/test/fuzz.
const SOURCES = path.resolve(__dirname, '..', '..', '..', 'test', 'fuzz');

test('every fuzz test has a budget of its own, and the budgets add up to less than the suite\'s bound', { timeout: fuzzBudget('fuzz-budgets') }, () => {
  const files = fs.readdirSync(SOURCES).filter((f) => f.endsWith('.test.ts'));
  assert.ok(files.includes('budgets.test.ts') && files.length >= 8, files.join(' '));
  const used = new Map<string, string>();
  for (const file of files) {
    const text = fs.readFileSync(path.join(SOURCES, file), 'utf8');
    const calls = text.split('\n').filter((l) => /^\s*(test|it)\(/.test(l));
    assert.ok(calls.length > 0, `${file} has no tests`);
    for (const line of calls) {
      const m = /\{ timeout: fuzzBudget\('([^']+)'\) \}/.exec(line);
      assert.ok(m, `${file}: a fuzz test without { timeout: fuzzBudget(…) }: ${line.trim()}`);
      const name = m[1] as string;
      assert.ok(name in FUZZ_BUDGETS_MS, `${file}: no budget named ${name}`);
      assert.ok(!used.has(name), `budget ${name} used by ${used.get(name)} and ${file}`);
      used.set(name, file);
    }
    // No test left out through a different spelling (t.test, describe blocks, test.only…).
    assert.doesNotMatch(text, /\b(describe|t\.test|test\.only|it\.only)\(/, `${file}: a test the budget check cannot see`);
  }
  assert.deepEqual([...used.keys()].sort(), Object.keys(FUZZ_BUDGETS_MS).sort(), 'budgets without a test');
  const total = Object.values(FUZZ_BUDGETS_MS).reduce((a, b) => a + b, 0) + files.length * FUZZ_FILE_OVERHEAD_MS;
  assert.ok(total < FUZZ_SUITE_BOUND_MS, `budgets and file overheads add up to ${total} ms, not under ${FUZZ_SUITE_BOUND_MS} ms`);
});

test('forAll stops a test that has spent its budget, naming the seed and how far it got', { timeout: fuzzBudget('fuzz-deadline') }, async () => {
  let ran = 0;
  // A budget already spent: stopped after the first input.
  const spent = createRng(7, -1);
  assert.throws(() => forAll(spent, 1_000, () => 0, () => void ran++), /^Error: seed 7: over its budget of -1 ms of CPU time after 1 of 1000 inputs/);
  assert.equal(ran, 1);
  await assert.rejects(forAllAsync(spent, 1_000, () => 0, async () => void ran++), /over its budget of -1 ms of CPU time after 1 of 1000 inputs/);
  // A small budget and work that takes longer: stopped once the CPU time is spent, not before.
  const small = createRng(8, 50);
  assert.throws(() => forAll(small, 1_000_000, () => 0, () => void crypto.createHash('sha256').update(Buffer.alloc(64 * 1024)).digest()), /over its budget of 50 ms/);
  assert.ok(small.spentMs() >= 50, `stopped after ${small.spentMs()} ms`);
  // Without a budget (createRng alone) nothing stops early.
  forAll(createRng(7), 1_000, () => 0, () => void ran++);
  assert.equal(ran, 1_002);
});
