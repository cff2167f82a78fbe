/**
 * Policy benchmark (issue 4): a generated config of 2,000 users, 300 groups and 10,000 repos in
 * 3 levels. Measures load+compile time and decide() p50/p99. Run: `node dist/bench/policy.js`.
 * Goals: compile under 1 s, decide p99 under 20 µs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../app/config/load.js';
import { compilePolicy } from '../app/policy/compile.js';
import { decide } from '../app/policy/decide.js';
import { resolveIdentity } from '../app/policy/identity.js';
import type { Identity } from '../app/types.js';

const USERS = 2000;
const GROUPS = 300;
/** 20 top groups × 25 subgroups × 20 repos = 10,000 repos, 3 levels deep. */
const TOP = 20;
const SUB = 25;
const REPOS_PER_SUB = 20;
/** Loads measured; the median is reported. */
const LOAD_RUNS = 5;
/** decide() calls measured one by one (after a warm-up of the same size). */
const DECIDE_CALLS = 200000;

/** A small seeded generator, so every run measures the same config. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function generate(): string {
  const r = rng(42);
  const pick = (n: number): number => Math.floor(r() * n);
  const lines: string[] = ['repo_root: ./repos', 'users:'];
  for (let u = 0; u < USERS; u++) {
    const gs = new Set<string>();
    for (let k = 0, n = 1 + pick(3); k < n; k++) gs.add(`g${100 + pick(GROUPS - 100)}`);
    lines.push(`  u${u}: {groups: [${[...gs].join(', ')}], info: {email: u${u}@example.org}}`);
  }
  lines.push('groups:');
  // g0..g99 are groups of groups (each holds 3 others above it in numbering: no cycles).
  for (let g = 0; g < 100; g++)
    lines.push(`  g${g}: ["@g${g + 1 + pick(50)}", "@g${100 + pick(200)}", "@g${100 + pick(200)}", u${pick(USERS)}]`);
  lines.push('repos:', '  .read: ["@g0"]');
  for (let t = 0; t < TOP; t++) {
    lines.push(`  top${t}:`, `    .read: ["@g${pick(GROUPS)}", "@g${pick(GROUPS)}"]`);
    if (t % 5 === 0) lines.push('    .inherit: false');
    for (let s = 0; s < SUB; s++) {
      lines.push(`    sub${s}:`, `      .write: ["@g${pick(GROUPS)}"]`);
      if (s % 7 === 0) lines.push(`      .hooks: {branch-flow: {flow: [dev, main]}}`);
      for (let k = 0; k < REPOS_PER_SUB; k++) {
        const grants: string[] = [];
        if (k % 3 === 0) grants.push(`.write: [u${pick(USERS)}, u${pick(USERS)}]`);
        if (k % 4 === 0) grants.push(`.read: ["@g${pick(GROUPS)}", $authenticated]`);
        if (k % 11 === 0) grants.push('.inherit: false');
        lines.push(`      repo${k}.git: {${grants.join(', ')}}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

function percentile(sorted: BigInt64Array | bigint[], p: number): bigint {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] as bigint;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-bench-policy-'));
  try {
    const file = path.join(dir, 'gitward.yaml');
    const text = generate();
    fs.writeFileSync(file, text);
    const loads: number[] = [];
    const compiles: number[] = [];
    let policy = compilePolicy(await loadConfig(file));
    for (let i = 0; i < LOAD_RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const config = await loadConfig(file);
      const t1 = process.hrtime.bigint();
      policy = compilePolicy(config);
      const t2 = process.hrtime.bigint();
      loads.push(Number(t1 - t0) / 1e6);
      compiles.push(Number(t2 - t1) / 1e6);
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const total = loads.map((l, i) => l + (compiles[i] as number));

    const r = rng(7);
    const pick = (n: number): number => Math.floor(r() * n);
    const ids: Identity[] = [];
    for (let i = 0; i < 500; i++) ids.push(resolveIdentity(policy, `u${pick(USERS)}`, 'bench'));
    ids.push(resolveIdentity(policy, null, 'anonymous'));
    const repos: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const named = `top${pick(TOP)}/sub${pick(SUB)}/repo${pick(REPOS_PER_SUB)}`;
      // One in five is not named in the tree (its nodes above decide).
      repos.push(i % 5 === 0 ? `top${pick(TOP)}/sub${pick(SUB)}/other${i}` : named);
    }
    const needs = ['read', 'write'] as const;
    const samples = new BigInt64Array(DECIDE_CALLS);
    let allowed = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < DECIDE_CALLS; i++) {
        const id = ids[i % ids.length] as Identity;
        const repo = repos[(i * 7) % repos.length] as string;
        const t0 = process.hrtime.bigint();
        const d = decide(policy, id, repo, needs[i & 1] as 'read' | 'write');
        samples[i] = process.hrtime.bigint() - t0;
        if (d.allowed) allowed++;
      }
    }
    samples.sort();
    const us = (ns: bigint): string => (Number(ns) / 1000).toFixed(2);
    const out = [
      `policy bench: ${USERS} users, ${GROUPS} groups, ${policy.repos().length} repos in 3 levels, ${(text.length / 1024).toFixed(0)} KiB of YAML`,
      `load (read+parse+validate) median ${med(loads).toFixed(0)} ms, compile median ${med(compiles).toFixed(0)} ms, load+compile median ${med(total).toFixed(0)} ms (min ${Math.min(...total).toFixed(0)}, max ${Math.max(...total).toFixed(0)}; ${LOAD_RUNS} runs; goal < 1000 ms)`,
      `decide: p50 ${us(percentile(samples, 50))} µs, p99 ${us(percentile(samples, 99))} µs, p99.9 ${us(percentile(samples, 99.9))} µs, max ${us(samples[samples.length - 1] as bigint)} µs over ${DECIDE_CALLS} calls (${((allowed / (2 * DECIDE_CALLS)) * 100).toFixed(0)}% allowed; goal p99 < 20 µs)`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/policy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
