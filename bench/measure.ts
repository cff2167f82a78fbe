import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';

/** What one command run took. */
export interface RunResult {
  readonly code: number | null;
  readonly ms: number;
  readonly stderr: string;
}

/** A bench command that hangs is a failure of that run, not a hung bench. */
const RUN_TIMEOUT_MS = 600_000;

/** Runs a command with stdin closed and times it from spawn to exit. */
export function timed(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args as string[], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Number(process.hrtime.bigint() - start) / 1e6, stderr: Buffer.concat(err).toString() });
    });
  });
}

/** Runs and throws when the command fails. */
export async function timedOk(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<number> {
  const r = await timed(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${String(r.code)}): ${r.stderr.slice(-2000)}`);
  return r.ms;
}

/** Median, min and max of samples. */
export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Summarises samples (ms or MB). */
export function stats(samples: readonly number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number, n: s.length };
}

/**
 * Samples a process's resident memory while `work` runs: resets its peak (`5 > clear_refs`, Linux)
 * first, polls VmRSS every few ms, and reads VmHWM at the end. Returns the larger, in MB.
 */
export async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  const status = `/proc/${pid}/status`;
  const field = (name: string): number => {
    try {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(status, 'utf8'));
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted: VmHWM then covers the whole life of the process; the polled max still holds.
  }
  let max = field('VmRSS');
  // Polling interval for VmRSS: fine enough to catch a buffer that lives for a fraction of a second.
  const poll = setInterval(() => (max = Math.max(max, field('VmRSS'))), 10);
  try {
    const result = await work();
    return { result, peakMb: Math.max(max, field('VmHWM')) };
  } finally {
    clearInterval(poll);
  }
}

/**
 * Mounts a tmpfs at `dir` for the client's clone directories (this machine's disk costs ~0.5 ms
 * per created file, which would swamp the server's share). Returns false when mounting is not
 * possible (not root, no permission): the caller says so in its output.
 */
export function mountTmpfs(dir: string, sizeMb: number): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Unmounts what mountTmpfs mounted. */
export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Formats ms: `2.14 s` above a second, `14.6 ms` below. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/** `median (min–max)`. */
export function fmtStats(s: Stats, unit: 'ms' | 'MB' = 'ms'): string {
  if (s.n === 0) return 'n/a';
  if (unit === 'MB') return `${s.median.toFixed(0)} MB (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  if (s.n === 1) return fmtMs(s.median);
  return `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})`;
}

/** A markdown table. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `1.03×` ratio of `x` to the anchor. */
export function ratio(x: Stats, anchor: Stats): string {
  if (x.n === 0 || anchor.n === 0 || anchor.median === 0) return 'n/a';
  return `${(x.median / anchor.median).toFixed(2)}×`;
}
