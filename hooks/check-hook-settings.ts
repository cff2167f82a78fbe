import type { GitwardConfig, HookPluginSetting, RepoNode } from '../app/config/types.js';
import { HookOptionsError, type HookLogger } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';

const SILENT: HookLogger = { log: () => undefined };

/**
 * Validates every hook plugin setting in the `repos:` tree by creating the plugin from it, as the
 * dispatcher would at push time. Returns one problem per bad setting, as
 * `FILE:LINE: repos.web.hooks.branch-flow.flow: problem`, empty when all are good. Used by
 * `gitward check` and by every load of `gitward serve` (start-up and reload), so a typo fails there
 * rather than on the next push.
 */
export async function checkHookSettings(config: GitwardConfig): Promise<string[]> {
  const problems: string[] = [];
  const walk = async (node: RepoNode): Promise<void> => {
    for (const [name, setting] of node.hooks) {
      const problem = await checkOne(config, name, setting, `${node.node}.hooks.${name}`);
      if (problem !== null) problems.push(problem);
    }
    for (const child of node.children.values()) await walk(child);
  };
  await walk(config.repos);
  return problems;
}

async function checkOne(config: GitwardConfig, name: string, setting: HookPluginSetting, keyPath: string): Promise<string | null> {
  try {
    await loadHookPlugins(new Map([[name, setting]]), config.hooks, config.dir, SILENT);
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Plugins name the setting as `FILE:LINE: plugin.option: problem`; give it the whole key path,
    // as every other config problem has.
    const where = `${setting.where}: `;
    const short = `${where}${name}`;
    if (message.startsWith(short) && /^[.:[]/.test(message.slice(short.length))) return `${where}${keyPath}${message.slice(short.length)}`;
    const rest = message.startsWith(where) ? message.slice(where.length) : message;
    // Other errors (a module that is not found, a factory that throws) may span lines: keep the first.
    return `${where}${keyPath}: ${err instanceof HookOptionsError ? rest : `the plugin failed to load: ${rest.split('\n')[0]}`}`;
  }
}
