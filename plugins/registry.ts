import type { AuthPluginFactory } from '../app/types.js';

/**
 * The built-in plugins by the name used in the config. Loaded lazily so that the hook dispatcher
 * does not pay for the authentication plugins, nor the server for the hook plugins.
 */
export const BUILTIN_AUTH_PLUGINS: Readonly<Record<string, () => Promise<AuthPluginFactory>>> = {
  htpasswd: async () => (await import('./auth/htpasswd.js')).createHtpasswdPlugin,
  'remote-user': async () => (await import('./auth/remote-user.js')).createRemoteUserPlugin,
};

/** Built-in hook plugins by name; the factory type lives with the dispatcher. */
export const BUILTIN_HOOK_PLUGINS: Readonly<Record<string, () => Promise<unknown>>> = {
  'branch-flow': async () => (await import('./hooks/branch-flow.js')).createBranchFlowPlugin,
  'branch-protect': async () => (await import('./hooks/branch-protect.js')).createBranchProtectPlugin,
};
