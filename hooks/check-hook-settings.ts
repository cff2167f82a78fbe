import type { GitwardConfig, HookPluginSetting, RepoNode } from '../app/config/types.js';
import { knownNames, type KnownNames } from '../app/principals.js';
import { HookOptionsError, type HookLogger } from './hook-plugin.js';
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
 * dispatcher would at push time. Returns one problem per bad setting, as
 * `FILE:LINE: repos.web.hooks.branch-flow.flow: problem`, and the plugins' warnings (settings that
 * work but are almost surely wrong); empty lists when all is well. Used by `gitward check` and by
 * every load of `gitward serve` (start-up and reload, problems only), so a typo fails there rather
 * than on the next push.
 */
export async function checkHookSettings(config: GitwardConfig): Promise<HookSettingsReport> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const known = knownNames(config);
  const walk = async (node: RepoNode): Promise<void> => {
    for (const [name, setting] of node.hooks) {
      const checked = await checkOne(config, name, setting, `${node.node}.hooks.${name}`, known);
      if (checked.problem !== null) problems.push(checked.problem);
      warnings.push(...checked.warnings);
    }
    for (const child of node.children.values()) await walk(child);
  };
  await walk(config.repos);
  return { problems, warnings };
}

async function checkOne(
  config: GitwardConfig,
  name: string,
  setting: HookPluginSetting,
  keyPath: string,
  known: KnownNames,
): Promise<{ problem: string | null; warnings: string[] }> {
  try {
    const warnings: string[] = [];
    const loaded = await loadHookPlugins(new Map([[name, setting]]), config.hooks, config.dir, SILENT, known);
    for (const { plugin } of loaded) {
      if (typeof plugin.warnings === 'function') warnings.push(...plugin.warnings());
    }
    return { problem: null, warnings };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Plugins name the setting as `FILE:LINE: plugin.option: problem`; give it the whole key path,
    // as every other config problem has.
    const where = `${setting.where}: `;
    const short = `${where}${name}`;
    if (message.startsWith(short) && /^[.:[]/.test(message.slice(short.length)))
      return { problem: `${where}${keyPath}${message.slice(short.length)}`, warnings: [] };
    const rest = message.startsWith(where) ? message.slice(where.length) : message;
    // Other errors (a module that is not found, a factory that throws) may span lines: keep the first.
    const why = err instanceof HookOptionsError ? rest : `the plugin failed to load: ${rest.split('\n')[0]}`;
    return { problem: `${where}${keyPath}: ${why}`, warnings: [] };
  }
}
