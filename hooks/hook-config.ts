import fs from 'node:fs';
import path from 'node:path';
import { parseRepoName } from '../app/request/repo-name.js';
import type { HookConfig } from './config-cache.js';
import type { DispatchIO } from './dispatch.js';
import type { HookLog } from './hook-log.js';

// The cache (and through it the loader) is required only when a run reads the config.
function configCache(): typeof import('./config-cache.js') {
  return require('./config-cache.js') as typeof import('./config-cache.js');
}

/** The config at `file`, validated completely (through the dispatcher's cache of good loads). */
export function loadHookConfig(file: string, log: HookLog): HookConfig {
  const { defaultCacheDir, loadConfigCached } = configCache();
  return loadConfigCached(file, defaultCacheDir(), (event, fields) => log.log('warn', event, fields)).config;
}

/**
 * The repo's canonical name: its directory relative to `repo_root` (both resolved with realpath),
 * without `.git`, valid as in URLs (`parseRepoName`). Null for a repo outside `repo_root` or with
 * a name gitward would not serve: its policy cannot be known, so the push is refused.
 */
export function repoNameFrom(cwd: string, repoRoot: string): string | null {
  const rel = path.relative(fs.realpathSync(repoRoot), fs.realpathSync(cwd));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || !rel.endsWith('.git')) return null;
  try {
    return parseRepoName(rel.split(path.sep).join('/'));
  } catch {
    return null;
  }
}

/** For a post-receive run by the dispatcher: the repo name, `hooks.local_user` and `hooks.log_file`. */
export async function hookFacts(io: DispatchIO, configFile: () => Promise<string>, log: HookLog): Promise<{ repo: string | null; localUser: string | null; logFile: string | null }> {
  const config = loadHookConfig(await configFile(), log);
  return { repo: repoNameFrom(io.cwd, config.repoRoot), localUser: config.hooks.localUser, logFile: config.hooks.logFile };
}

