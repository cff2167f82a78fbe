import winston from 'winston';
import type { Writable } from 'node:stream';
import type { Logger } from '../types.js';
import { redact, redactText } from './redact.js';

/** Options of `createLogger`. */
export interface LoggerOptions {
  readonly level?: 'error' | 'warn' | 'info' | 'debug';
  readonly format?: 'json' | 'text';
  /** Where lines go; default stderr (stdout is for CLI output). */
  readonly stream?: Writable;
  /** Fields added to every line. */
  readonly fields?: Record<string, unknown>;
}

const redactFormat = winston.format((info) => {
  const clean = redact({ ...info }) as Record<string | symbol, unknown>;
  for (const key of Object.keys(info)) {
    if (key !== 'level') (info as Record<string, unknown>)[key] = clean[key];
  }
  if (typeof info.message === 'string') info.message = redactText(info.message);
  return info;
});

function wrap(w: winston.Logger): Logger {
  const at = (level: string) => (event: string, fields?: Record<string, unknown>) => {
    // winston formats (redaction, timestamp, JSON) every line before its transport drops the ones
    // below the level; a debug line on every request would cost that work for nothing.
    if (!w.isLevelEnabled(level)) return;
    w.log(level, event, { event, ...(fields ?? {}) });
  };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (fields) => wrap(w.child(fields)),
  };
}

/**
 * Creates the operator log: winston, one JSON object per line by default, a timestamp and the
 * event name on every line, and a redaction step that removes passwords, hashes and
 * Authorization headers wherever they appear.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const format =
    options.format === 'text'
      ? winston.format.combine(
          redactFormat(),
          winston.format.timestamp(),
          winston.format.printf((i) => {
            const { level, message, timestamp, event: _event, ...rest } = i as Record<string, unknown>;
            const extra = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${String(level)} ${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json());
  const w = winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: options.fields,
    format,
    transports: [new winston.transports.Stream({ stream })],
  });
  return wrap(w);
}

/** A logger that drops everything, for tests that do not look at logs. */
export function createNullLogger(): Logger {
  const nop = () => undefined;
  const l: Logger = { error: nop, warn: nop, info: nop, debug: nop, child: () => l };
  return l;
}

/**
 * A logger that keeps lines in memory (already redacted), for tests that assert on log output.
 */
export function createMemoryLogger(): Logger & { readonly lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const make = (base: Record<string, unknown>): Logger => {
    const at = (level: string) => (event: string, fields?: Record<string, unknown>) => {
      lines.push(redact({ level, event, ...base, ...(fields ?? {}) }) as Record<string, unknown>);
    };
    return {
      error: at('error'),
      warn: at('warn'),
      info: at('info'),
      debug: at('debug'),
      child: (f) => make({ ...base, ...f }),
    };
  };
  return Object.assign(make({}), { lines });
}
