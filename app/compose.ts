import http from 'node:http';
import type { ListenAddress } from './config/types.js';
import type { AuditSink } from './deps.js';
import { createReloadingRuntime, type ReloadingRuntime } from './reload.js';
import { loadConfig } from './config/load.js';
import { startCgiSpawner, type CgiSpawner } from './backend/cgi-spawner.js';
import { configureServer, createApp, listenOn, shutdownServer, type AppOptions } from './server.js';
import type { Logger } from './types.js';
import { startSshBroker } from './ssh/ssh-broker.js';

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

/** The address could not be bound (in use, a file in the socket's place, no permission): `cause` says why. */
export class ListenError extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(cause.code === 'EADDRINUSE' && cause.syscall === 'listen' ? 'address already in use' : cause.message);
    this.name = 'ListenError';
  }
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
 * The composition root, written once: config → HTTP server with serve's timeouts, listening →
 * runtime (policy, auth chain) → app. `gitward serve`, the test server and the regression harness
 * all start gitward through here. The address is bound first, so a busy port or socket fails
 * before anything else is started or recorded (the error's `code` is `EADDRINUSE`); a request
 * that arrives before the app is ready gets 503 with Retry-After. Nothing half-built is left when
 * a step fails.
 */
export async function startGitwardServer(o: ComposeOptions): Promise<ComposedServer> {
  const now = o.now ?? Date.now;
  const first = await loadConfig(o.configFile);
  let handle: http.RequestListener = (_req, res) => {
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
    res.end('gitward is starting\n');
  };
  const server = http.createServer((req, res) => handle(req, res));
  configureServer(server, first.server);
  let address: string;
  try {
    address = await listenOn(server, o.listen ?? first.listen);
  } catch (err) {
    throw new ListenError(err as NodeJS.ErrnoException);
  }
  let runtime: ReloadingRuntime;
  try {
    const lastGood = o.lastGoodDir === undefined ? {} : { lastGoodDir: o.lastGoodDir };
    runtime = await createReloadingRuntime(o.configFile, { logger: o.logger, now, ...lastGood });
  } catch (err) {
    await shutdownServer(server, 0);
    throw err;
  }
  let spawner: CgiSpawner;
  try {
    spawner = await startCgiSpawner(o.logger);
  } catch (err) {
    runtime.close();
    await shutdownServer(server, 0);
    throw err;
  }
  // In-flight requests have finished (or been cut) by the time the server closes.
  server.once('close', () => void spawner.close());
  if (first.ssh.keysFile !== null) {
    // git over SSH: the forced command hands each session to this server (app/ssh/ssh-broker.ts).
    try {
      const broker = await startSshBroker(first.ssh.socket, { runtime, logger: o.logger, now });
      server.once('close', () => void broker.close());
    } catch (err) {
      runtime.close();
      await shutdownServer(server, 0);
      throw err;
    }
  }
  const deps = { runtime, logger: o.logger, audit: o.audit, now };
  handle = createApp(deps, { backendPath: o.backendPath, processEnv: o.processEnv, spawner });
  const bound = server.address();
  return { runtime, server, address, port: bound !== null && typeof bound === 'object' ? bound.port : null };
}
