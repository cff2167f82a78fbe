import type { AuthPluginFactory } from '../../app/types.js';

/** Placeholder until the identity issue lands. */
export const createRemoteUserPlugin: AuthPluginFactory = () => {
  throw new Error('auth/remote-user plugin is not implemented yet');
};
