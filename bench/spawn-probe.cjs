// Preload for measuring where gitward's event loop goes (bench/RESULTS.md, run 6c):
//   NODE_OPTIONS='--require ./bench/spawn-probe.cjs' app/gitward serve …; kill -USR2 PID prints (to $ELD_OUT) and resets.
// Times every child_process.spawn() (synchronous in Node: fork + wait for exec), event-loop delay, GC, utilization.
const { monitorEventLoopDelay } = require('node:perf_hooks');
const cp = require('node:child_process');
const fs = require('node:fs');
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
const spawns = [];
const orig = cp.spawn;
cp.spawn = function (...a) {
  const t = performance.now();
  const c = orig.apply(this, a);
  spawns.push(performance.now() - t);
  return c;
};
let gcMs = 0;
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
let busyStart = performance.eventLoopUtilization();
process.on('SIGUSR2', () => {
  const s = [...spawns].sort((x, y) => x - y);
  const sum = s.reduce((x, y) => x + y, 0);
  const elu = performance.eventLoopUtilization(busyStart);
  fs.appendFileSync(
    process.env.ELD_OUT || '/tmp/core-exp/eld.out',
    JSON.stringify({
      rssMB: Math.round(process.memoryUsage().rss / 1e6),
      spawns: s.length,
      spawnSyncTotalMs: +sum.toFixed(1),
      spawnP50: +(s[Math.floor(s.length / 2)] || 0).toFixed(2),
      spawnP90: +(s[Math.floor(s.length * 0.9)] || 0).toFixed(2),
      eldMaxMs: +(h.max / 1e6).toFixed(1),
      eldP99Ms: +(h.percentile(99) / 1e6).toFixed(1),
      eldMeanMs: +(h.mean / 1e6).toFixed(2),
      gcMs: +gcMs.toFixed(1),
      eluActiveMs: +elu.active.toFixed(0),
      eluIdleMs: +elu.idle.toFixed(0),
      utilization: +elu.utilization.toFixed(2),
    }) + '\n',
  );
  spawns.length = 0;
  h.reset();
  gcMs = 0;
  busyStart = performance.eventLoopUtilization();
});
