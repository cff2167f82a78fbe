import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseReceiveLine } from '../../hooks/receive-input.js';
import { isRefUpdatesFile } from '../../protocol/hook-protocol.js';
import type { Logger } from '../types.js';

/** Most bytes re-logged from one hook log file: hooks write a few lines, not dumps. */
const HOOK_LOG_MAX_BYTES = 256 * 1024;
/**
 * Most bytes read from one file of ref update lines (about 100 bytes a ref): the same bound as the
 * dispatcher's own input, so every ref of a push the pre-receive accepted gets its audit line.
 */
const HOOK_REFS_MAX_BYTES = 32 * 1024 * 1024;

/** The push the hooks ran for, as gitward decided it. */
export interface HookPush {
  readonly repo: string;
  readonly user: string | null;
}

/**
 * Re-logs what the hooks of one push left in `dir` (GITWARD_LOG_DIR), then removes `dir`, also
 * when reading fails: every line of a `*.jsonl` file as `hook.log` (the hook's event kept as
 * `hookEvent`), and for each line of a `post-receive.<pid>.refs` file (the ref update lines the
 * post-receive launcher kept verbatim) the audit line `hook.log` / `hook.ref-updated` with the repo
 * and user of `push`.
 */
export async function relogHookLogs(
  dir: string,
  logger: Logger,
  push: HookPush,
  onRefusal: (plugin: string) => void = () => undefined,
): Promise<void> {
  try {
    const names = (await fs.readdir(dir)).sort();
    for (const name of names) {
      const file = path.join(dir, name);
      const stat = await fs.lstat(file);
      if (!stat.isFile()) continue;
      if (isRefUpdatesFile(name)) await relogRefUpdates(file, name, stat, logger, push);
      else await relogJsonLines(file, name, stat.size, logger, onRefusal);
    }
  } catch (err) {
    logger.warn('hook.log_unreadable', { error: err instanceof Error ? err.message : String(err) });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function relogJsonLines(
  file: string,
  name: string,
  size: number,
  logger: Logger,
  onRefusal: (plugin: string) => void,
): Promise<void> {
  const handle = await fs.open(file, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(Math.min(size, HOOK_LOG_MAX_BYTES));
    await handle.read(buf, 0, buf.length, 0);
    text = buf.toString('utf8');
  } finally {
    await handle.close();
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let fields: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      fields =
        parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
          ? { ...(parsed as Record<string, unknown>) }
          : { line };
    } catch {
      fields = { line };
    }
    // The hook's own event name is kept as a field; the line's event is always hook.log, and a
    // hook cannot overwrite the request id, level or time of the line.
    if ('event' in fields) fields.hookEvent = fields.event;
    if (fields.event === 'hook.check' && fields.verdict === 'rejected') noteRefusals(fields, onRefusal);
    for (const key of ['event', 'requestId', 'level', 'timestamp', 'message']) delete fields[key];
    logger.info('hook.log', { ...fields, file: name });
  }
}

/** Reports each plugin that refused or failed in a `hook.check` line (hooks/pre-receive.ts). */
function noteRefusals(fields: Record<string, unknown>, onRefusal: (plugin: string) => void): void {
  const rejections = Array.isArray(fields.rejections) ? fields.rejections : [];
  for (const r of rejections) {
    const plugin = (r as { plugin?: unknown } | null)?.plugin;
    if (typeof plugin === 'string') onRefusal(plugin);
  }
  const failures = Array.isArray(fields.failures) ? fields.failures : [];
  for (const f of failures) if (typeof f === 'string') onRefusal(f);
}

/** The same audit line the dispatcher writes for a post-receive it runs itself (hooks/dispatch.ts). */
async function relogRefUpdates(
  file: string,
  name: string,
  stat: { mtime: Date; size: number },
  logger: Logger,
  push: HookPush,
): Promise<void> {
  const time = stat.mtime.toISOString();
  const lines = createInterface({
    input: createReadStream(file, { end: HOOK_REFS_MAX_BYTES - 1 }),
    crlfDelay: Infinity,
  });
  let bad = 0;
  for await (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (line === '') continue;
    let u;
    try {
      u = parseReceiveLine(line);
    } catch {
      bad++;
      continue;
    }
    logger.info('hook.log', {
      time,
      hookEvent: 'hook.ref-updated',
      hook: 'post-receive',
      repo: push.repo,
      user: push.user,
      ref: u.ref,
      old: u.oldSha,
      new: u.newSha,
      kind: u.kind,
      verdict: 'applied',
      file: name,
    });
  }
  if (bad > 0) logger.warn('hook.log_unreadable', { file: name, error: `${bad} malformed ref update line(s)` });
  if (stat.size > HOOK_REFS_MAX_BYTES)
    logger.warn('hook.log_unreadable', {
      file: name,
      error: `larger than ${HOOK_REFS_MAX_BYTES} bytes; the lines past that were not re-logged`,
    });
}
