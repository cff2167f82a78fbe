import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILTIN_AUTH_PLUGINS } from '../../plugins/registry.js';
import type { PluginSpec } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { AuthPlugin, AuthPluginContext, AuthPluginFactory, Logger } from '../types.js';
import type { CredentialCache } from './credential-cache.js';

/**
 * The export a third-party authentication plugin module must have: a factory
 * `createAuthPlugin(options, {logger, configDir})` returning (or resolving to)
 * `{name: string, authenticate(input): Promise<AuthResult>, close?(): void}`.
 */
export const AUTH_PLUGIN_EXPORT = 'createAuthPlugin';

/** A plugin factory that neither returns nor fails within this long is a broken plugin. */
const PLUGIN_LOAD_TIMEOUT_MS = 30_000;

/** What the loader needs besides the specs. */
export interface PluginLoadContext {
  readonly logger: Logger;
  readonly configDir: string;
  /** Handed to the built-in htpasswd plugin. */
  readonly credentialCache: CredentialCache;
  readonly now: () => number;
}

/** Module specifier of a third-party plugin: a path (relative to the config folder) or a package. */
function resolvePlugin(name: string, configDir: string): string {
  if (name.startsWith('./') || name.startsWith('../') || path.isAbsolute(name)) return path.resolve(configDir, name);
  if (!/^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(\/[A-Za-z0-9._~/-]+)?$/.test(name)) {
    throw new Error('is neither a built-in plugin, a path starting with ./ ../ or /, nor a package name');
  }
  // Packages are found from the config folder, as an admin who ran `npm install` there expects.
  return createRequire(path.join(configDir, 'gitward.config.js')).resolve(name);
}

async function loadFactory(name: string, configDir: string): Promise<AuthPluginFactory> {
  const builtin = Object.hasOwn(BUILTIN_AUTH_PLUGINS, name) ? BUILTIN_AUTH_PLUGINS[name] : undefined;
  if (builtin) return builtin();
  let file: string;
  try {
    file = resolvePlugin(name, configDir);
  } catch (err) {
    const notFound = err instanceof Error && (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new Error(notFound ? 'cannot find the module' : (err as Error).message, { cause: err });
  }
  // Said plainly: the import error would add the loader's own path and repeat the file's.
  if (!fs.existsSync(file)) throw new Error(`cannot find the module ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const first = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`cannot load ${file}: ${first}`, { cause: err });
  }
  const fromDefault = mod.default as Record<string, unknown> | undefined;
  const factory =
    mod[AUTH_PLUGIN_EXPORT] ??
    (fromDefault !== null && typeof fromDefault === 'object' ? fromDefault[AUTH_PLUGIN_EXPORT] : undefined);
  if (typeof factory !== 'function') throw new Error(`${file} does not export a function "${AUTH_PLUGIN_EXPORT}"`);
  return factory as AuthPluginFactory;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Checks what a factory returned; throws naming what is wrong. */
function checkShape(value: unknown): AuthPlugin {
  if (value === null || typeof value !== 'object') throw new Error('the factory did not return an object');
  const p = value as Record<string, unknown>;
  if (typeof p.name !== 'string' || p.name === '') throw new Error('the plugin has no "name" string');
  if (typeof p.authenticate !== 'function') throw new Error('the plugin has no "authenticate" function');
  if (p.close !== undefined && typeof p.close !== 'function')
    throw new Error('the plugin\'s "close" is not a function');
  if (p.warnings !== undefined && typeof p.warnings !== 'function') {
    throw new Error('the plugin\'s "warnings" is not a function');
  }
  const headerName = (h: unknown): boolean => typeof h === 'string' && HEADER_NAME.test(h);
  if (p.headers !== undefined && (!Array.isArray(p.headers) || !p.headers.every(headerName))) {
    throw new Error('the plugin\'s "headers" is not a list of header names');
  }
  return value as AuthPlugin;
}

/** A header name (an RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The loaded plugins of a config, in order, with what they declared. */
export interface LoadedAuthPlugins {
  readonly plugins: readonly AuthPlugin[];
  /** Lower-case names of every header a plugin declared it reads credentials from. */
  readonly headers: readonly string[];
  /** The plugins' warnings, each as `FILE:LINE: authentication[i].option: …`. */
  warnings(): string[];
}

/**
 * Loads every authentication plugin of the config, in order: built-ins from plugins/registry.ts,
 * else a module path (relative to the config folder) or a package name exporting
 * `createAuthPlugin`. Each is shape-checked (`headers`, when declared, must be header names).
 * Returns them with the union of their declared headers. Any failure closes what was loaded and throws one
 * ConfigError naming each failing entry's `where`: start-up fails closed.
 */
export async function loadAuthPlugins(
  specs: readonly PluginSpec[],
  ctx: PluginLoadContext,
): Promise<LoadedAuthPlugins> {
  const plugins: AuthPlugin[] = [];
  const problems: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const label = `${spec.where}: authentication[${i}]: plugin "${spec.plugin}"`;
    try {
      const factory = await loadFactory(spec.plugin, ctx.configDir);
      const pluginCtx: AuthPluginContext & { credentialCache: CredentialCache; now: () => number } = {
        logger: ctx.logger.child({ plugin: spec.plugin }),
        configDir: ctx.configDir,
        credentialCache: ctx.credentialCache,
        now: ctx.now,
      };
      const made = await withTimeout(
        Promise.resolve().then(() => factory({ ...spec.options }, pluginCtx)),
        PLUGIN_LOAD_TIMEOUT_MS,
        'the factory',
      );
      plugins.push(checkShape(made));
    } catch (err) {
      problems.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) {
    for (const p of plugins) {
      try {
        p.close?.();
      } catch {
        // Already failing start-up; a plugin that cannot close has nothing more to tell.
      }
    }
    throw new ConfigError(problems);
  }
  const headers = Object.freeze([...new Set(plugins.flatMap((p) => (p.headers ?? []).map((h) => h.toLowerCase())))]);
  return {
    plugins,
    headers,
    warnings: () =>
      plugins.flatMap((p, i) => {
        const at = `${(specs[i] as PluginSpec).where}: authentication[${i}]`;
        return (p.warnings?.() ?? []).map((w) => `${at}.${w}`);
      }),
  };
}
