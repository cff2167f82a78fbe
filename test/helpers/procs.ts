/**
 * Process and file-descriptor inspection through /proc (Linux), for fault tests and the load
 * bench: which children a process has, which fds it holds, how much memory it peaked at, and
 * which processes still work on a given repo root after their parent died.
 *
 *   const before = openFds(gw.child.pid);
 *   … disconnect a client mid-push …
 *   await waitFor(() => descendantsOf(pid).length === 0, 'backend children gone');
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The one outer time-out of every wait in a test: a safety net against a hang, never what a test
 * checks. Generous, because on a shared two-core machine under load a wait of milliseconds
 * stretched to tens of seconds; a test states what must happen, never how soon.
 */
export const SAFETY_NET_MS = 300_000;

/** How often `waitFor` polls: /proc reads are cheap; 50 ms keeps tests quick without spinning. */
const POLL_INTERVAL_MS = 50;

/** One process as /proc/PID/stat describes it. */
export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  /** Process group id. */
  readonly pgid: number;
  /** The command name (at most 15 characters, as the kernel keeps it). */
  readonly comm: string;
  /** State letter: R, S, D, Z (zombie), T, … */
  readonly state: string;
  /** Start time in clock ticks since boot: with pid, identifies a process across pid reuse. */
  readonly startTime: number;
}

/**
 * Parses the text of /proc/PID/stat. The command name sits in parentheses and may itself contain
 * spaces and parentheses, so the fields are read after the last `)`. Returns null for text that
 * does not have that shape. Pure.
 */
export function parseStat(text: string): ProcInfo | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // After the name: state(3) ppid(4) pgrp(5) … starttime(22); rest[0] is field 3.
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgid = Number(rest[2]);
  const startTime = Number(rest[19]);
  if (
    !Number.isInteger(pid) ||
    state === undefined ||
    !Number.isInteger(ppid) ||
    !Number.isInteger(pgid) ||
    !Number.isFinite(startTime)
  )
    return null;
  return { pid, ppid, pgid, comm: text.slice(open + 1, close), state, startTime };
}

/** Reads /proc/PID/stat; null when the process is gone. */
export function procInfo(pid: number): ProcInfo | null {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Every process visible in /proc right now. */
export function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info) out.push(info);
  }
  return out;
}

/** Direct children of `pid` (zombies included: an unreaped child is a leak too). */
export function childrenOf(pid: number): ProcInfo[] {
  return allProcesses().filter((p) => p.ppid === pid);
}

/** Every descendant of `pid` (children, their children, …), zombies included. */
export function descendantsOf(pid: number): ProcInfo[] {
  const all = allProcesses();
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of all) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const out: ProcInfo[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of byParent.get(next) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/** Whether `pid` is gitward's CGI spawner (app/backend/cgi-spawner.py), which lives as long as gitward. */
function isCgiSpawner(pid: number): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .some((arg) => arg.endsWith('/cgi-spawner.py'));
  } catch {
    return false;
  }
}

/**
 * What a request of gitward may leave behind: every descendant of `pid` (a zombie counts too)
 * except the CGI spawner itself, whose children (the CGI programs) do count.
 */
export function backendsOf(pid: number): ProcInfo[] {
  return descendantsOf(pid).filter((p) => !(p.ppid === pid && isCgiSpawner(p.pid)));
}

/** True while `info` (pid + start time) is still the same live, non-zombie process. */
export function stillRunning(info: Pick<ProcInfo, 'pid' | 'startTime'>): boolean {
  const now = procInfo(info.pid);
  return now !== null && now.startTime === info.startTime && now.state !== 'Z';
}

/** One open file descriptor of a process. */
export interface OpenFd {
  readonly fd: number;
  /** readlink of /proc/PID/fd/N: a path, `socket:[inode]`, `pipe:[inode]`, `anon_inode:…`. */
  readonly target: string;
}

/** The open fds of `pid` (empty when it is gone). Root may read any process's fds. */
export function openFds(pid: number): OpenFd[] {
  let names: string[];
  try {
    names = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const out: OpenFd[] = [];
  for (const n of names) {
    try {
      out.push({ fd: Number(n), target: fs.readlinkSync(`/proc/${pid}/fd/${n}`) });
    } catch {
      // Closed between readdir and readlink.
    }
  }
  return out.sort((a, b) => a.fd - b.fd);
}

/** Counts of an fd list by kind (`socket`, `pipe`, `anon_inode`, `file`), for readable diffs. */
export function fdKinds(fds: readonly OpenFd[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { target } of fds) {
    const kind = target.startsWith('socket:')
      ? 'socket'
      : target.startsWith('pipe:')
        ? 'pipe'
        : target.startsWith('anon_inode:')
          ? 'anon_inode'
          : 'file';
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/** Memory of a process from /proc/PID/status, in KiB: current (VmRSS) and peak (VmHWM). */
export function memoryKiB(pid: number): { rss: number; peak: number } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/**
 * Processes whose environment holds exactly `KEY=value` (e.g. `GIT_PROJECT_ROOT=<repo_root>`:
 * git-http-backend and the git commands it runs for that root, whoever their parent is now).
 * Zombies have no readable environment and are not listed.
 */
export function processesWithEnv(key: string, value: string): ProcInfo[] {
  const needle = Buffer.from(`${key}=${value}\0`);
  const out: ProcInfo[] = [];
  for (const p of allProcesses()) {
    if (p.pid === process.pid) continue;
    let env: Buffer;
    try {
      env = fs.readFileSync(`/proc/${p.pid}/environ`);
    } catch {
      continue;
    }
    // Match whole entries: at the start or after a NUL.
    let at = env.indexOf(needle);
    while (at > 0 && env[at - 1] !== 0) at = env.indexOf(needle, at + 1);
    if (at >= 0) out.push(p);
  }
  return out;
}

/** The command line of `pid` as its argv (empty when gone or a zombie). */
export function cmdline(pid: number): string[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s !== '');
  } catch {
    return [];
  }
}

/** The environment of a live process (empty when it is gone). */
export function envOf(pid: number): Record<string, string> {
  try {
    return Object.fromEntries(
      fs
        .readFileSync(`/proc/${pid}/environ`, 'latin1')
        .split('\0')
        .filter((e) => e.includes('='))
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

/** A readable one-line description of processes, for assertion messages. */
export function describeProcs(list: readonly ProcInfo[]): string {
  return list.map((p) => `${p.pid} ${p.state} ${p.comm} [${cmdline(p.pid).join(' ')}]`).join('; ') || '(none)';
}

/**
 * Polls `check` every POLL_INTERVAL_MS until it returns true; throws `what` (plus `detail()`)
 * after `timeoutMs` (the safety net). A bound on waiting, not a timing assertion: the condition
 * is what is tested.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number = SAFETY_NET_MS,
  detail: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${timeoutMs} ms ${detail()}`);
    await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
  }
}

/** Every `*.lock` file under `dir` (recursively), as paths relative to `dir`. */
export function lockFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.lock')) out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
