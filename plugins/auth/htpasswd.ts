import path from 'node:path';
import type { AuthPlugin, AuthPluginContext, AuthPluginFactory } from '../../app/types.js';
import { createCredentialCache, type CredentialCache } from '../../app/identity/credential-cache.js';
import { createDummyEntries, type DummyEntries } from '../../app/identity/dummy-entries.js';
import { verifyPassword, type HtpasswdEntry } from '../../app/identity/htpasswd-file.js';
import { loadHtpasswdUsers } from '../../app/identity/htpasswd-users.js';
import { checkOptions } from '../../app/identity/plugin-options.js';

/**
 * What the authentication chain hands the built-in htpasswd plugin besides the common context:
 * the chain's cache of verified credentials (config `credential_cache`) and its clock.
 */
export interface HtpasswdPluginContext extends AuthPluginContext {
  readonly credentialCache?: CredentialCache;
  readonly now?: () => number;
}

/**
 * The `htpasswd` plugin: `{plugin: htpasswd, file: users.htpasswd}` (path relative to the config
 * folder). Users in an Apache htpasswd file; bcrypt, apr1, {SHA} and crypt hashes; the file is
 * re-read when it changes. Only requests with Basic credentials are its business. An unknown user
 * costs what a wrong password costs: one check against a dummy entry of a hash kind and cost the
 * file's users have (createDummyEntries).
 */
export const createHtpasswdPlugin: AuthPluginFactory = async (options, baseCtx): Promise<AuthPlugin> => {
  const ctx = baseCtx as HtpasswdPluginContext;
  checkOptions(options, { file: 'string' }, ['file']);
  const file = path.resolve(ctx.configDir, options.file as string);
  let users;
  try {
    users = await loadHtpasswdUsers(file, { logger: ctx.logger });
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^[A-Z]+: /, '') : String(err);
    throw new Error(`cannot read htpasswd file ${file}: ${why}`, { cause: err });
  }
  const cache = ctx.credentialCache ?? createCredentialCache({ ttlSeconds: 0, maxEntries: 0 });
  // The dummy entries of the file version last seen, made once per load (see createDummyEntries).
  let dummies: { map: ReadonlyMap<string, HtpasswdEntry>; entries: DummyEntries } | null = null;
  const dummiesFor = (map: ReadonlyMap<string, HtpasswdEntry>): DummyEntries => {
    if (dummies === null || dummies.map !== map) dummies = { map, entries: createDummyEntries(map) };
    return dummies.entries;
  };
  dummiesFor(await users.entries());

  return {
    name: 'htpasswd',
    async authenticate(input) {
      if (input.basic === null) return { kind: 'no-credentials' };
      const { user, password } = input.basic;
      const entries = await users.entries();
      const entry = entries.get(user);
      // For every name, before the branch: the first request after a reload, and the choice of
      // a dummy (an HMAC in a mixed file), cost the same whether the user exists or not.
      const dummy = dummiesFor(entries).entryFor(user);
      if (password === '') return { kind: 'rejected', reason: 'empty password' };
      if (entry === undefined) {
        // The same check a wrong password gets, against a dummy of a hash class the users have.
        await verifyPassword(dummy, password);
        return { kind: 'rejected', reason: 'unknown user or wrong password' };
      }
      if (cache.has(user, password, entry.hash)) return { kind: 'authenticated', user };
      if (!(await verifyPassword(entry, password)))
        return { kind: 'rejected', reason: 'unknown user or wrong password' };
      cache.add(user, password, entry.hash);
      return { kind: 'authenticated', user };
    },
    close() {
      users.close();
    },
  };
};
