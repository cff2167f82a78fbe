import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { redact } from '../app/log/redact.js';
import type { HookLogger } from './hook-plugin.js';

/** Where hook log lines go, and the fields on every line. */
export interface HookLogOptions {
  /** `GITWARD_LOG_DIR`: gitward re-logs the files found here after the request, then removes them. */
  readonly dir: string | null;
  /** Used only when `dir` is null; null drops lines (a hook's stderr reaches the client). */
  readonly stderr: Writable | null;
  readonly hookName: string;
  readonly pid: number;
  readonly now: () => number;
  readonly fields: Record<string, unknown>;
}

/** A hook log that can gain fields once they are known (repo, user). */
export interface HookLog extends HookLogger {
  with(fields: Record<string, unknown>): HookLog;
}

/**
 * Creates the dispatcher's log: one redacted JSON object per line, appended synchronously to
 * `<dir>/<hook>.<pid>.jsonl`, or written to `stderr`. Writing never throws: a full disk or a
 * removed directory must not break the push.
 */
export function createHookLog(options: HookLogOptions): HookLog {
  const file = options.dir ? path.join(options.dir, `${options.hookName}.${options.pid}.jsonl`) : null;
  const make = (fields: Record<string, unknown>): HookLog => ({
    log(level, event, extra) {
      try {
        const line = JSON.stringify(redact({ time: new Date(options.now()).toISOString(), level, event, hook: options.hookName, ...fields, ...(extra ?? {}) })) + '\n';
        if (file) fs.appendFileSync(file, line, { mode: 0o600 });
        else options.stderr?.write(line);
      } catch {
        // Logging is best effort by contract: the push's outcome never depends on it.
      }
    },
    with: (more) => make({ ...fields, ...more }),
  });
  return make(options.fields);
}
