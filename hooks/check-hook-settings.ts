import type { GitwardConfig, RepoNode } from '../app/config/types.js';
import type { HookLogger } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';

const SILENT: HookLogger = { log: () => undefined };

/**
 * Validates every hook plugin setting in the `repos:` tree by creating the plugin from it, as the
 * dispatcher would at push time. Returns one problem per bad setting (`file:line: …`), empty when
 * all are good. Meant for `gitward check`, so a typo fails there rather than on the next push.
 */
export async function checkHookSettings(config: GitwardConfig): Promise<string[]> {
  const problems: string[] = [];
  const walk = async (node: RepoNode): Promise<void> => {
    for (const [name, setting] of node.hooks) {
      try {
        await loadHookPlugins(new Map([[name, setting]]), config.hooks, config.dir, SILENT);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    for (const child of node.children.values()) await walk(child);
  };
  await walk(config.repos);
  return problems;
}
