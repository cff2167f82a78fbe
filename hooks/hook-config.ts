import fs from 'node:fs';
import path from 'node:path';
import { parseRepoName } from '../app/request/repo-name.js';
import type { GitwardConfig } from '../app/config/types.js';
import { ConfigError } from '../app/errors.js';
import type { DispatchIO } from './dispatch-io.js';
import type { HookLog } from './hook-log.js';
import { lastGoodDir, readLastGood, recordLastGood, sha256 } from '../protocol/last-good.js';

/**
 * The config at `file`, parsed and validated completely (the loader, js-yaml included, is required
 * only here: a push through gitward with its plan never comes here). A text that loads is recorded
 * as the last good one (hooks/last-good.ts). A text that does not load falls back to the last good
 * text recorded for that file, by gitward or an earlier hook run, loaded again: a broken edit keeps
 * the last good rules (a `hook.config-last-good` line says so) instead of refusing every push.
 * With no good text recorded, the file's ConfigError is thrown (the push is refused: fail closed).
 */
export function loadHookConfig(file: string, log: HookLog, dir: string | null = lastGoodDir()): GitwardConfig {
  const { readConfigTextSync } =
    require('../app/config/config-file.js') as typeof import('../app/config/config-file.js');
  const { buildConfig } = require('../app/config/build-config.js') as typeof import('../app/config/build-config.js');
  const abs = path.resolve(file);
  let text: string | null = null;
  try {
    text = readConfigTextSync(abs);
    const config = buildConfig(text, abs);
    recordLastGood(dir, abs, text);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const good = readLastGood(dir, abs);
    if (good === null || (text !== null && good.sha256 === sha256(text))) throw err;
    let config: GitwardConfig;
    try {
      config = buildConfig(good.text, abs);
    } catch {
      // The recorded text no longer loads either (an htpasswd file it names changed): fail closed.
      throw err;
    }
    log.log('warn', 'hook.config-last-good', {
      file: abs,
      fileSha256: text === null ? null : sha256(text),
      runningSha256: good.sha256,
      problems: err.problems.slice(0, 20),
    });
    return config;
  }
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
export async function hookFacts(
  io: DispatchIO,
  configFile: () => Promise<string>,
  log: HookLog,
): Promise<{ repo: string | null; localUser: string | null; logFile: string | null }> {
  const config = loadHookConfig(await configFile(), log);
  return {
    repo: repoNameFrom(io.cwd, config.repoRoot),
    localUser: config.hooks.localUser,
    logFile: config.hooks.logFile,
  };
}
