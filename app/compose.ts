import http from 'node:http';
import type { ListenAddress } from './config/types.js';
import type { AuditSink } from './deps.js';
import { createReloadingRuntime, type ReloadingRuntime } from './reload.js';
import { configureServer, createApp, listenOn, type AppOptions } from './server.js';
import type { Logger } from './types.js';

/** What the composition root is built from: everything outside gitward that it talks to. */
export interface ComposeOptions {
  /** The config file; the runtime loads it (and reloads it on demand). */
  readonly configFile: string;
  readonly logger: Logger;
  readonly audit: AuditSink;
  /** Absolute path of git-http-backend. */
  readonly backendPath: string;
  /** PATH, HOME and LANG handed to git. */
  readonly processEnv: NonNullable<AppOptions['processEnv']>;
  readonly now?: () => number;
  /** Where to listen instead of the config's `listen` (tests: 127.0.0.1 port 0, read back). */
  readonly listen?: ListenAddress;
  /** Where the last good config text is recorded for the hooks (default: protocol/last-good.ts's). */
  readonly lastGoodDir?: string | null;
}

/** A running gitward: its runtime (reload, close), its HTTP server and the address it listens on. */
export interface ComposedServer {
  readonly runtime: ReloadingRuntime;
  readonly server: http.Server;
  /** `host:port` (the port read back from the socket) or `unix:/path`. */
  readonly address: string;
  /** The TCP port, read back from the socket; null for a unix socket. */
  readonly port: number | null;
}

/**
 * The composition root, written once: config → runtime (policy, auth chain) → app → HTTP server
 * with serve's timeouts → listening. `gitward serve`, the test server and the regression harness
 * all start gitward through here. Nothing half-built is left when a step fails.
 */
export async function startGitwardServer(o: ComposeOptions): Promise<ComposedServer> {
  const now = o.now ?? Date.now;
  const runtime = await createReloadingRuntime(o.configFile, { logger: o.logger, now, ...(o.lastGoodDir === undefined ? {} : { lastGoodDir: o.lastGoodDir }) });
  try {
    const config = runtime.current().config;
    const app = createApp({ runtime, logger: o.logger, audit: o.audit, now }, { backendPath: o.backendPath, processEnv: o.processEnv });
    const server = http.createServer(app);
    configureServer(server, config.server);
    const address = await listenOn(server, o.listen ?? config.listen);
    const bound = server.address();
    return { runtime, server, address, port: bound !== null && typeof bound === 'object' ? bound.port : null };
  } catch (err) {
    runtime.close();
    throw err;
  }
}
