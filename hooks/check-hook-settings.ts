import type { GitwardConfig, RepoNode } from '../app/config/types.js';
import type { HookLogger } from './hook-plugin.js';
import { loadHookPlugins } from './load-hook-plugins.js';

const SILENT: HookLogger = { log: () => undefined };

/** What `gitward check` learns from the hook plugin settings. */
export interface HookSettingsReport {
  /** One per bad setting (`file:line: …`): the dispatcher would refuse pushes to those repos. */
  readonly problems: string[];
  /** Settings that work but are almost surely wrong (HookPlugin.warnings), such as a rule that never applies. */
  readonly warnings: string[];
}

/**
 * Validates every hook plugin setting in the `repos:` tree by creating the plugin from it, as the
 * dispatcher would at push time. Meant for `gitward check`, so a typo fails there rather than on
 * the next push; empty lists when all is well.
 */
export async function checkHookSettings(config: GitwardConfig): Promise<HookSettingsReport> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const walk = async (node: RepoNode): Promise<void> => {
    for (const [name, setting] of node.hooks) {
      try {
        for (const { plugin } of await loadHookPlugins(new Map([[name, setting]]), config.hooks, config.dir, SILENT)) {
          if (typeof plugin.warnings === 'function') warnings.push(...plugin.warnings());
        }
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    for (const child of node.children.values()) await walk(child);
  };
  await walk(config.repos);
  return { problems, warnings };
}
