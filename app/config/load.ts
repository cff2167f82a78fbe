import fs from 'node:fs/promises';
import path from 'node:path';
import { buildConfig } from './build-config.js';
import { asConfigError, checkConfigStat } from './config-file.js';
import type { GitwardConfig } from './types.js';

export { MAX_CONFIG_BYTES } from './config-file.js';

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
    checkConfigStat(st, abs);
    text = await fs.readFile(abs, 'utf8');
  } catch (err) {
    throw asConfigError(err, abs);
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
