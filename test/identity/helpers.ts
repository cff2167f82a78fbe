import type { GitwardConfig, PluginSpec } from '../../app/config/types.js';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../app/log/logger.js';
import type { AuthInput, BasicCredentials, Logger, Peer } from '../../app/types.js';

/** A config built in code with only what the authentication chain reads. */
export function authConfig(
  dir: string,
  authentication: Array<{ plugin: string; [k: string]: unknown }>,
  extra: Partial<Pick<GitwardConfig, 'credentialCache' | 'bruteForce'>> = {},
): GitwardConfig {
  const specs: PluginSpec[] = authentication.map(({ plugin, ...options }, i) => ({
    plugin,
    options,
    where: `${dir}/gitward.yaml:${10 + i}`,
  }));
  return {
    file: `${dir}/gitward.yaml`,
    dir,
    authentication: specs,
    credentialCache: extra.credentialCache ?? { ttlSeconds: 60, maxEntries: 100 },
    bruteForce: extra.bruteForce ?? { maxFailures: 10, windowSeconds: 300 },
  } as unknown as GitwardConfig;
}

/** An AuthInput as the route builds it. */
export function input(
  opts: {
    basic?: BasicCredentials | null;
    headers?: Record<string, string | string[]>;
    peer?: Peer;
    client?: string;
  } = {},
): AuthInput {
  const peer = opts.peer ?? { kind: 'ip', address: '127.0.0.1' };
  return {
    basic: opts.basic ?? null,
    headers: opts.headers ?? {},
    peer,
    clientAddress: opts.client ?? (peer.kind === 'unix' ? 'unix' : peer.address),
  };
}

/** Basic credentials. */
export const basic = (user: string, password: string): BasicCredentials => ({ user, password });

/**
 * The production logger (`createLogger`, as `serve` builds it from `log.*`, at debug) writing JSON
 * lines into memory, for tests that check what reaches a real log line. `written()` resolves with
 * everything written once a last marker line has come through winston.
 */
export function productionLog(): { logger: Logger; written(): Promise<string> } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
  });
  const logger = createLogger({ level: 'debug', format: 'json', stream });
  return {
    logger,
    written() {
      logger.info('test.written');
      return new Promise((resolve) => {
        const check = (): void => {
          if (text.includes('"event":"test.written"')) resolve(text);
          else stream.once('data', check);
        };
        check();
      });
    },
  };
}
