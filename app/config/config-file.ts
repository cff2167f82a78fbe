import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';

/**
 * Largest config file read: a generated 10,000-repo config is about 0.5 MiB; this refuses a
 * wrong path (a log file, a device) before reading it into memory.
 */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;

/** Throws ConfigError unless `st` is a regular file of at most MAX_CONFIG_BYTES. */
export function checkConfigStat(st: { isFile(): boolean; size: number }, abs: string): void {
  if (!st.isFile()) throw new ConfigError([`${abs}:1: (file): not a regular file`]);
  if (st.size > MAX_CONFIG_BYTES)
    throw new ConfigError([`${abs}:1: (file): larger than ${MAX_CONFIG_BYTES} bytes; is this the config file?`]);
}

/** `err` of reading the config file `abs` as the ConfigError every reader throws. */
export function asConfigError(err: unknown, abs: string): ConfigError {
  if (err instanceof ConfigError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new ConfigError([`${abs}:1: (file): cannot read the config file (${code})`]);
}

/**
 * Reads the config file's text as `loadConfig` does, synchronously, throwing the same ConfigError.
 * Separate from load.ts so that a caller holding the text needs neither js-yaml nor the loader
 * unless it parses (the hook dispatcher's cache).
 */
export function readConfigTextSync(file: string): string {
  const abs = path.resolve(file);
  try {
    checkConfigStat(fs.statSync(abs), abs);
    return fs.readFileSync(abs, 'utf8');
  } catch (err) {
    throw asConfigError(err, abs);
  }
}
