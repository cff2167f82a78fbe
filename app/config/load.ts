import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { buildConfig } from './build-config.js';
import type { GitwardConfig } from './types.js';

/**
 * Largest config file read: a generated 10,000-repo config is about 0.5 MiB; this refuses a
 * wrong path (a log file, a device) before reading it into memory.
 */
export const MAX_CONFIG_BYTES = 32 * 1024 * 1024;

/**
 * Reads, parses and validates the YAML config at `file` completely; returns it frozen, with
 * defaults filled in and every path absolute. Throws ConfigError listing every problem as
 * `FILE:LINE: key.path: problem`. Keeps no state between calls, so a reload may call it at will.
 */
export async function loadConfig(file: string): Promise<GitwardConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    const st = await fs.stat(abs);
    if (!st.isFile()) throw new ConfigError([`${abs}:1: (file): not a regular file`]);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError([`${abs}:1: (file): larger than ${MAX_CONFIG_BYTES} bytes; is this the config file?`]);
    text = await fs.readFile(abs, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([`${abs}:1: (file): cannot read the config file (${code})`]);
  }
  return buildConfig(text, abs);
}

/**
 * Validates config `text` as if read from `file` (absolute; its folder anchors relative paths).
 * For tests and tools that hold the text already; same checks and result as `loadConfig`.
 */
export function loadConfigText(text: string, file: string): GitwardConfig {
  return buildConfig(text, path.resolve(file));
}
