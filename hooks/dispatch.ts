import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ConfigError } from '../app/errors.js';
import { startConfigPath } from './config-path.js';
import { gitChildEnv } from './git-child-env.js';
import { createHookLog, type HookLog } from './hook-log.js';
import { HookOptionsError, type HookUpdate } from './hook-plugin.js';
import { isHttpPush } from './push-origin.js';
import { parseReceiveInput } from './receive-input.js';
import { Refusal } from './refusal.js';
import { createRepoReader } from './repo-reader.js';
import type { DispatchIO } from './dispatch-io.js';
import { shortWhere } from './run-checks.js';

// Start-up time matters (git waits for the hook on every push): this module loads only what
// every run needs. The config loader (js-yaml), the policy and the plugins are required lazily.

/** What git writes to a receive hook: one line per ref; a mirror push of 100k refs fits. */
const MAX_INPUT_BYTES = 32 * 1024 * 1024;

export type { DispatchIO } from './dispatch-io.js';

/** Bytes read at a time from the hook's stdin. */
const READ_CHUNK_BYTES = 64 * 1024;

async function readAll(input: Readable | number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const add = (b: Buffer): void => {
    size += b.length;
    if (size > MAX_INPUT_BYTES)
      throw new Refusal(`gitward: push refused: more than ${MAX_INPUT_BYTES} bytes of ref updates`);
    chunks.push(b);
  };
  if (typeof input === 'number') {
    // git gives hooks a blocking pipe: reading it directly spares a stream (and its start-up).
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    try {
      for (let n; (n = fs.readSync(input, buf, 0, buf.length, null)) > 0;) add(Buffer.from(buf.subarray(0, n)));
      return Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      // A non-blocking stdin (not git's): read the rest as a stream.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      input = process.stdin;
    }
  }
  for await (const chunk of input) add(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

function describeError(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { message: String(err) };
}

function loadPreReceive(): typeof import('./pre-receive.js') {
  return require('./pre-receive.js') as typeof import('./pre-receive.js');
}

/**
 * One audit line per applied update. Through gitward the repo and user come from the environment
 * (no config to load: post-receive runs while the pusher waits; the launcher normally does not even
 * start Node for it). Otherwise the config gives the repo (repo_root), `hooks.local_user` for a
 * local push, and `hooks.log_file`.
 */
async function postReceive(
  io: DispatchIO,
  updates: readonly HookUpdate[],
  configFile: () => Promise<string>,
  log: HookLog,
): Promise<number> {
  let user: string | null = io.env.GITWARD_USER || io.env.REMOTE_USER || null;
  let repo: string | null = io.env.GITWARD_REPO || null;
  if (!isHttpPush(io.env) || repo === null || !io.env.GITWARD_LOG_DIR) {
    try {
      const facts = await (require('./hook-config.js') as typeof import('./hook-config.js')).hookFacts(
        io,
        configFile,
        log,
      );
      repo = facts.repo;
      if (!isHttpPush(io.env)) user = facts.localUser;
      log.useFile(facts.logFile);
    } catch (err) {
      log.log('warn', 'hook.post-receive-config', { error: describeError(err) });
    }
  }
  for (const u of updates) {
    log.log('info', 'hook.ref-updated', {
      repo,
      user,
      ref: u.ref,
      old: u.oldSha,
      new: u.newSha,
      kind: u.kind,
      verdict: 'applied',
    });
  }
  return 0;
}

/**
 * Runs the dispatcher as `io.hookName`. pre-receive: every enabled plugin on every update; exit 1
 * (git refuses the whole push) when any update is rejected or anything fails. post-receive: one
 * audit line per applied update. Returns the exit code.
 */
export async function dispatch(io: DispatchIO): Promise<number> {
  const local = !isHttpPush(io.env);
  const log = createHookLog({
    dir: io.env.GITWARD_LOG_DIR || null,
    // A hook's stderr reaches the pusher: only an admin's push on the server may see log lines
    // (when the config names no hooks.log_file).
    stderr: local ? io.stderr : null,
    hookName: io.hookName,
    pid: io.pid,
    now: io.now,
    fields: io.env.GITWARD_REQUEST_ID ? { requestId: io.env.GITWARD_REQUEST_ID } : {},
  });
  const gitEnv = gitChildEnv(io.env);
  try {
    const updates = parseReceiveInput(await readAll(io.stdin));
    // git work starts before the rest of the dispatcher loads, and runs meanwhile (git waits).
    const configFile = startConfigPath(io, gitEnv);
    if (io.hookName === 'post-receive') return await postReceive(io, updates, configFile, log);
    if (io.hookName !== 'pre-receive')
      throw new Refusal(
        `gitward: push refused: the dispatcher runs as pre-receive or post-receive, not "${io.hookName}"`,
      );
    const git = createRepoReader(io.cwd, gitEnv);
    // Whether each moved ref is a fast-forward is what plugins ask first: git answers meanwhile.
    git.warm(updates);
    return await loadPreReceive().preReceive(io, updates, git, configFile, log);
  } catch (err) {
    log.log('error', 'hook.failed', { error: describeError(err) });
    if (io.hookName === 'post-receive') return 0;
    let line = 'gitward: push refused: the hook failed; the details are in the server log';
    if (err instanceof Refusal) line = err.message;
    else if (err instanceof ConfigError)
      line = 'gitward: push refused: the gitward config has errors (an admin can run `gitward check`)';
    else if (err instanceof HookOptionsError) {
      const where = shortWhere(err.message.split(': ')[0] ?? '');
      line = `gitward: push refused: a hook plugin is misconfigured (${where}); the details are in the server log`;
    }
    io.stderr.write(`${line}\n`);
    return 1;
  } finally {
    log.flush();
  }
}

/** Process entry point of `hooks/gitward-hook`: the hook name is the name it was invoked as. */
export function main(): void {
  const hookName = process.argv[2] ?? path.basename(process.argv[1] ?? '');
  dispatch({
    hookName,
    env: process.env,
    cwd: process.cwd(),
    stdin: 0,
    stderr: process.stderr,
    pid: process.pid,
    now: Date.now,
  })
    .then((code) => {
      process.exitCode = code;
    })
    .catch(() => {
      process.exitCode = 1;
    });
}
