import fs from 'node:fs';
import path from 'node:path';
import { checkHookSettings } from '../hooks/check-hook-settings.js';
import { lastGoodDir, recordLastGood, sha256 } from '../protocol/last-good.js';
import { loadConfig } from './config/load.js';
import { ConfigError } from './errors.js';
import { createBruteForceLimiter, type BruteForceLimiter } from './identity/brute-force.js';
import { createAuthChain } from './identity/chain.js';
import { compilePolicy } from './policy/compile.js';
import type { GitwardConfig } from './config/types.js';
import type { ReloadFailure, Runtime, RuntimeHolder } from './runtime.js';
import type { Logger } from './types.js';

/**
 * Editors write a file in several steps (truncate, write, rename); changes closer together than
 * this are one reload.
 */
export const RELOAD_DEBOUNCE_MS = 200;

/**
 * Settings that serve applies once, at start-up (the listening socket, the logger, the HTTP
 * server's timeouts): a reload cannot change them. Each with its config key and how to read it.
 */
const STARTUP_ONLY: ReadonlyArray<readonly [string, (c: GitwardConfig) => unknown]> = [
  ['listen', (c) => c.listen],
  ['log.level', (c) => c.log.level],
  ['log.format', (c) => c.log.format],
  ['log.audit', (c) => c.log.audit],
  ['server.headers_timeout_seconds', (c) => c.server.headersTimeoutSeconds],
  ['server.idle_timeout_seconds', (c) => c.server.idleTimeoutSeconds],
  // The SSH sessions' socket is opened at start when SSH is on (app/ssh/ssh-broker.ts).
  ['ssh.socket', (c) => (c.ssh.keysFile === null ? null : c.ssh.socket)],
];

/** The start-up-only settings (config keys) whose value in `next` differs from the one `started` applied. */
export function startupOnlyChanges(started: GitwardConfig, next: GitwardConfig): string[] {
  return STARTUP_ONLY.filter(([, get]) => JSON.stringify(get(started)) !== JSON.stringify(get(next))).map(
    ([key]) => key,
  );
}

/** What building a Runtime needs. */
export interface RuntimeDeps {
  readonly logger: Logger;
  readonly now: () => number;
  /** Where the last good config text is recorded for the hooks (hooks/last-good.ts); default: lastGoodDir(). */
  readonly lastGoodDir?: string | null;
}

/**
 * Records the text of the config in force as the last good one, for the hooks of pushes made on
 * the server while a broken edit is on disk. The file is read again; a text that changed meanwhile
 * (not the one loaded) is not recorded.
 */
function recordInForce(config: GitwardConfig, deps: RuntimeDeps): void {
  if (config.file === '') return;
  try {
    const text = fs.readFileSync(config.file, 'utf8');
    if (sha256(text) === config.hash)
      recordLastGood(deps.lastGoodDir === undefined ? lastGoodDir() : deps.lastGoodDir, config.file, text);
  } catch {
    // Unreadable now: the next good load records it.
  }
}

/**
 * Builds one Runtime from the config file: loadConfig → checkHookSettings → compilePolicy →
 * createAuthChain, whose chain counts failed logins in `limiter` (owned by the caller, so they
 * outlive this Runtime). Throws ConfigError (every problem) or whatever a failing plugin throws:
 * nothing half-built escapes, and `limiter` is not changed. Serve start-up and every reload come
 * through here, so they accept exactly what `gitward check` accepts.
 */
export async function loadRuntime(file: string, deps: RuntimeDeps, limiter: BruteForceLimiter): Promise<Runtime> {
  const config = await loadConfig(file);
  // Hook plugins run in the dispatcher, not here; creating each one from its setting now means a
  // bad setting is refused at load (keeping the last good config) instead of failing every push.
  const { problems: hookProblems } = await checkHookSettings(config);
  if (hookProblems.length > 0) throw new ConfigError(hookProblems);
  const policy = compilePolicy(config);
  const auth = await createAuthChain(config, { logger: deps.logger, now: deps.now, limiter });
  for (const warning of [...config.warnings, ...auth.warnings()]) deps.logger.warn('config.warning', { warning });
  return Object.freeze({ config, policy, auth, loadedAt: deps.now() });
}

/** A RuntimeHolder that reloads its config on demand, on file changes and (via serve) on SIGHUP. */
export interface ReloadingRuntime extends RuntimeHolder {
  /** Reloads now; resolves true when a new Runtime is in force, false when the last good one stays. */
  reload(reason: string): Promise<boolean>;
  /** Starts watching the config file's folder (debounced). */
  watch(): void;
  /**
   * Start-up-only settings (config keys) that the config in force sets differently from what the
   * server applied at start: they take effect only after a restart. Empty when none.
   */
  restartRequired(): readonly string[];
  /** Stops watching and closes the auth chain in force. */
  close(): void;
  /** Reloads since start by result (the metrics' gitward_config_reloads_total). */
  reloadCounts(): { readonly ok: number; readonly failed: number };
  /** Client addresses the brute-force limiter refuses now (the metrics' gitward_auth_throttled_addresses). */
  throttledAddresses(): number;
}

/**
 * Loads the config at `file` (throwing when the first load fails: fail closed) and returns a holder
 * that swaps the whole Runtime atomically on each good reload. A broken edit keeps the last good
 * Runtime, logs every problem as `config.reload_failed` and is reported by `lastFailure()` until a
 * good reload clears it. Reloads never overlap. Failed-login counts live in one limiter created
 * here and shared by every Runtime's chain: a reload keeps them, and the `brute_force` settings
 * of the new config apply to them from its first request on.
 */
export async function createReloadingRuntime(file: string, deps: RuntimeDeps): Promise<ReloadingRuntime> {
  const limiter = createBruteForceLimiter(deps.now);
  let current = await loadRuntime(file, deps, limiter);
  const started = current.config;
  recordInForce(started, deps);
  let restartRequired: readonly string[] = [];
  let failure: ReloadFailure | null = null;
  let queue: Promise<boolean> = Promise.resolve(true);
  let watcher: fs.FSWatcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  const counts = { ok: 0, failed: 0 };

  const doReload = async (reason: string): Promise<boolean> => {
    let next: Runtime;
    try {
      next = await loadRuntime(file, deps, limiter);
    } catch (err) {
      const problems =
        err instanceof ConfigError
          ? [...err.problems]
          : [`${file}: ${err instanceof Error ? err.message : String(err)}`];
      failure = Object.freeze({ at: deps.now(), problems });
      counts.failed++;
      // The running policy is not the file's from here on, for reads and pushes alike: say which it is.
      const running = { configInForce: 'last-good', runningConfigSha256: current.config.hash };
      deps.logger.error('config.reload_failed', { reason, file, problems, ...running });
      return false;
    }
    const previous = current;
    current = next;
    failure = null;
    counts.ok++;
    previous.auth.close();
    recordInForce(next.config, deps);
    deps.logger.info('config.reloaded', { reason, file, configSha256: next.config.hash });
    const changed = startupOnlyChanges(started, next.config);
    // Said on every reload that leaves one different: a silent no-op is what this guards against.
    if (changed.length > 0) deps.logger.warn('config.restart_required', { file, settings: changed });
    restartRequired = Object.freeze(changed);
    return true;
  };

  const holder: ReloadingRuntime = {
    current: () => current,
    lastFailure: () => failure,
    reloadCounts: () => ({ ...counts }),
    throttledAddresses: () => limiter.throttledCount(current.config.bruteForce),
    restartRequired: () => restartRequired,
    reload(reason) {
      queue = queue.then(() => doReload(reason));
      return queue;
    },
    watch() {
      if (watcher) return;
      const base = path.basename(file);
      watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, name) => {
        if (name !== null && name.toString() !== base) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          timer = null;
          void holder.reload('file changed');
        }, RELOAD_DEBOUNCE_MS);
      });
      watcher.on('error', (err) => deps.logger.warn('config.watch_failed', { file, error: err.message }));
    },
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
      watcher = null;
      current.auth.close();
    },
  };
  return holder;
}
