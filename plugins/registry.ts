import type { BuiltinHookPluginName } from '../app/config/names.js';
import type { AuthPluginFactory } from '../app/types.js';

/*
 * Plugins load with a lazy require() rather than import(): in our CommonJS build, import() goes
 * through the ESM loader, which costs the hook dispatcher about 10 ms on every push.
 */

/**
 * The built-in plugins by the name used in the config. Loaded lazily so that the hook dispatcher
 * does not pay for the authentication plugins (the server loads the hook plugins only to validate
 * their settings at each config load).
 */
export const BUILTIN_AUTH_PLUGINS: Readonly<Record<string, () => Promise<AuthPluginFactory>>> = {
  htpasswd: async () => (require('./auth/htpasswd.js') as typeof import('./auth/htpasswd.js')).createHtpasswdPlugin,
  'remote-user': async () =>
    (require('./auth/remote-user.js') as typeof import('./auth/remote-user.js')).createRemoteUserPlugin,
};

/** Built-in hook plugins by name; the factory type lives with the dispatcher. */
export const BUILTIN_HOOK_PLUGINS: Readonly<Record<BuiltinHookPluginName, () => Promise<unknown>>> = {
  'branch-flow': async () =>
    (require('./hooks/branch-flow.js') as typeof import('./hooks/branch-flow.js')).createBranchFlowPlugin,
  'branch-protect': async () =>
    (require('./hooks/branch-protect.js') as typeof import('./hooks/branch-protect.js')).createBranchProtectPlugin,
};
