import type { AuthPluginFactory } from '../../app/types.js';

/** Placeholder until the identity issue lands. */
export const createHtpasswdPlugin: AuthPluginFactory = () => {
  throw new Error('auth/htpasswd plugin is not implemented yet');
};
