import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { redact } from '../app/log/redact.js';
import { hookLogFileName } from '../protocol/hook-protocol.js';
import type { HookLogger } from './hook-plugin.js';

/** Mode of a `hooks.log_file` the dispatcher creates (before the umask): owner and group read it. */
const LOG_FILE_MODE = 0o640;

/** Where hook log lines go, and the fields on every line. */
export interface HookLogOptions {
  /** `GITWARD_LOG_DIR`: gitward re-logs the files found here after the request, then removes them. */
  readonly dir: string | null;
  /**
   * Where lines go when there is neither `dir` nor a log file: only a push made on the server may
   * see them (a hook's stderr reaches the pusher), so null for HTTP pushes, which drops them.
   */
  readonly stderr: Writable | null;
  readonly hookName: string;
  readonly pid: number;
  readonly now: () => number;
  readonly fields: Record<string, unknown>;
}

/** A hook log that can gain fields once they are known (repo, user). */
export interface HookLog extends HookLogger {
  with(fields: Record<string, unknown>): HookLog;
  /**
   * Sets the config's `hooks.log_file` (null: none) once the config is known. It is used when
   * there is no `dir`; lines logged before the call are kept until then.
   */
  useFile(file: string | null): void;
  /** Writes out what is buffered; called once more when the run ends. Never throws. */
  flush(): void;
}

/**
 * Creates the dispatcher's log: one redacted JSON object per line (with the hook's pid), written as
 * it is logged (kept in memory only until the destination is known), to `<dir>/<hook>.<pid>.jsonl`, else appended to
 * `hooks.log_file` (opened O_APPEND, so lines of concurrent pushes never interleave; created 0640
 * before the umask), else to `stderr`. Writing never throws: a full disk, a removed directory or an
 * unwritable file must not break the push (a file that cannot be written falls back to `stderr`).
 */
export function createHookLog(options: HookLogOptions): HookLog {
  const dirFile = options.dir ? path.join(options.dir, hookLogFileName(options.hookName, options.pid)) : null;
  let logFile: string | null = null;
  // Until the config is known, a run without `dir` cannot tell where its lines go.
  let settled = dirFile !== null;
  // Lines logged before the destination is known (the config names hooks.log_file).
  let buffered: string[] = [];

  const line = (level: string, event: string, fields: Record<string, unknown>): string =>
    JSON.stringify(
      redact({
        time: new Date(options.now()).toISOString(),
        level,
        event,
        hook: options.hookName,
        pid: options.pid,
        ...fields,
      }),
    ) + '\n';
  const write = (text: string): void => {
    try {
      if (dirFile) {
        fs.appendFileSync(dirFile, text, { mode: 0o600 });
        return;
      }
      if (logFile) {
        try {
          appendOnce(logFile, text);
          return;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          text = line('warn', 'hook.log-file-failed', { ...options.fields, file: logFile, error: code }) + text;
        }
      }
      options.stderr?.write(text);
    } catch {
      // Logging is best effort by contract: the push's outcome never depends on it.
    }
  };
  const flush = (): void => {
    if (buffered.length === 0) return;
    const text = buffered.join('');
    buffered = [];
    write(text);
  };
  const make = (fields: Record<string, unknown>): HookLog => ({
    log(level, event, extra) {
      try {
        const text = line(level, event, { ...fields, ...(extra ?? {}) });
        // Once the destination is known every line is written as it comes: a plugin that crashes
        // the dispatcher (or a SIGKILL) must not take the lines logged before it along.
        if (settled) {
          flush();
          write(text);
          return;
        }
        buffered.push(text);
      } catch {
        // A field that cannot be serialised must not break the push either.
      }
    },
    with: (more) => make({ ...fields, ...more }),
    useFile(file) {
      logFile = file;
      settled = true;
      flush();
    },
    flush,
  });
  return make(options.fields);
}

/** Appends `text` to `file` with one write(2) on an O_APPEND descriptor (created if missing). */
function appendOnce(file: string, text: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, LOG_FILE_MODE);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}
