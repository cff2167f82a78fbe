import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { stopGroup, waitReady } from './nginx.js';

/** A running fcgiwrap. */
export interface FcgiwrapInstance {
  /** Its unix socket (what nginx's `fastcgi_pass unix:…` points at). */
  readonly socket: string;
  readonly pid: number;
  /** Stops fcgiwrap and every CGI child it still has. */
  stop(): Promise<void>;
}

/**
 * Starts Debian's fcgiwrap on a unix socket: `fcgiwrap -f -c N -s unix:PATH` (`-f` sends the
 * CGI's stderr to nginx's error log). Resolves when the socket exists. nginx runs as the same
 * user in tests, so the socket's default mode is enough.
 */
export async function startFcgiwrap(opts: {
  socket: string;
  children?: number;
  fcgiwrapPath?: string;
}): Promise<FcgiwrapInstance> {
  fs.rmSync(opts.socket, { force: true });
  const child = spawn(
    opts.fcgiwrapPath ?? 'fcgiwrap',
    ['-f', '-c', String(opts.children ?? 2), '-s', `unix:${opts.socket}`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      // fcgiwrap hands the CGI only nginx's fastcgi_params; its own environment stays minimal.
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    },
  );
  let spawnError = '';
  child.on('error', (err) => (spawnError = err.message));
  const stderr: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => stderr.push(b));
  await waitReady(
    child,
    () => fs.existsSync(opts.socket),
    () => `fcgiwrap did not start: ${spawnError} ${Buffer.concat(stderr).toString()}`,
  );
  return { socket: opts.socket, pid: child.pid as number, stop: () => stopGroup(child) };
}
