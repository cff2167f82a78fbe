import path from 'node:path';
import type { HookPluginSetting, HooksSettings } from '../app/config/types.js';
import type { KnownNames } from '../app/principals.js';
import { BUILTIN_HOOK_PLUGINS } from '../plugins/registry.js';
import { HookOptionsError, type HookLogger, type HookPluginFactory } from './hook-plugin.js';
import type { LoadedHookPlugin } from './run-checks.js';

/**
 * The enabled plugins in the order they run: first those named in `hooks.order`, then any other
 * enabled plugin by name (so a plugin left out of `order` still runs: fail closed).
 */
export function orderPlugins(settings: ReadonlyMap<string, HookPluginSetting>, order: readonly string[]): string[] {
  const names = order.filter((n) => settings.has(n));
  for (const n of [...settings.keys()].sort()) if (!names.includes(n)) names.push(n);
  return names;
}

async function factoryFor(
  name: string,
  hooks: Pick<HooksSettings, 'plugins'>,
  configDir: string,
  where: string,
): Promise<HookPluginFactory> {
  const builtin = (BUILTIN_HOOK_PLUGINS as Readonly<Record<string, (() => Promise<unknown>) | undefined>>)[name];
  if (builtin) return (await builtin()) as HookPluginFactory;
  const spec = hooks.plugins.get(name);
  if (spec === undefined)
    throw new HookOptionsError(`${where}: unknown hook plugin "${name}" (not built in, not in hooks.plugins)`);
  const target = spec.startsWith('.') || path.isAbsolute(spec) ? path.resolve(configDir, spec) : spec;
  const mod = require(require.resolve(target, { paths: [configDir] })) as Record<string, unknown>;
  const f = (mod.createHookPlugin ?? mod.default ?? mod) as unknown;
  if (typeof f !== 'function')
    throw new HookOptionsError(`${where}: hook plugin "${name}" (${spec}) exports no factory (createHookPlugin)`);
  return f as HookPluginFactory;
}

/**
 * Creates every enabled plugin for a repo, in run order. `enable` is stripped from the options
 * (and must be a boolean); a factory's option errors name the setting's `file:line`. `known`: the
 * config's users and groups, when loading the config (see HookPluginContext.known).
 */
export async function loadHookPlugins(
  settings: ReadonlyMap<string, HookPluginSetting>,
  hooks: Pick<HooksSettings, 'order' | 'plugins'>,
  configDir: string,
  logger: HookLogger,
  known?: KnownNames,
): Promise<LoadedHookPlugin[]> {
  const out: LoadedHookPlugin[] = [];
  for (const name of orderPlugins(settings, hooks.order)) {
    const setting = settings.get(name) as HookPluginSetting;
    const { enable, ...options } = setting.options;
    if (enable !== undefined && typeof enable !== 'boolean')
      throw new HookOptionsError(`${setting.where}: ${name}.enable: true or false is required`);
    if (enable === false) continue;
    const factory = await factoryFor(name, hooks, configDir, setting.where);
    const context = { name, where: setting.where, configDir, logger, ...(known ? { known } : {}) };
    const plugin = await factory(options, context);
    if (!plugin || typeof plugin.check !== 'function' || typeof plugin.name !== 'string') {
      throw new HookOptionsError(`${setting.where}: hook plugin "${name}" returned no {name, check}`);
    }
    out.push({ plugin, where: setting.where });
  }
  return out;
}
