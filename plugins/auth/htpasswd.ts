import path from 'node:path';
import type { AuthPlugin, AuthPluginContext, AuthPluginFactory } from '../../app/types.js';
import { createCredentialCache, type CredentialCache } from '../../app/identity/credential-cache.js';
import { bcryptCostOf, burnBcrypt, DEFAULT_BCRYPT_COST, hashPassword, verifyPassword } from '../../app/identity/htpasswd-file.js';
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
 * costs one bcrypt run against a dummy hash, like a wrong password.
 */
export const createHtpasswdPlugin: AuthPluginFactory = async (options, baseCtx): Promise<AuthPlugin> => {
  const ctx = baseCtx as HtpasswdPluginContext;
  checkOptions(options, { file: 'string' }, ['file']);
  const file = path.resolve(ctx.configDir, options.file as string);
  let users;
  try {
    users = await loadHtpasswdUsers(file, { logger: ctx.logger });
  } catch (err) {
    throw new Error(`cannot read htpasswd file ${file}: ${err instanceof Error ? err.message.replace(/^[A-Z]+: /, '') : String(err)}`);
  }
  const cache = ctx.credentialCache ?? createCredentialCache({ ttlSeconds: 0, maxEntries: 0 });
  // Dummy hashes by cost, made once: an unknown user runs bcrypt at the cost most users have.
  const dummies = new Map<number, Promise<string>>();
  const dummyFor = (cost: number): Promise<string> => {
    let d = dummies.get(cost);
    if (!d) {
      d = hashPassword('gitward-dummy-password', cost);
      dummies.set(cost, d);
    }
    return d;
  };
  const usualCost = (entries: ReadonlyMap<string, { hash: string }>): number => {
    const counts = new Map<number, number>();
    for (const e of entries.values()) {
      const c = bcryptCostOf(e.hash);
      if (c !== null) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    let best = DEFAULT_BCRYPT_COST;
    let n = 0;
    for (const [c, k] of counts) if (k > n || (k === n && c > best)) [best, n] = [c, k];
    return best;
  };
  let costMemo: { map: ReadonlyMap<string, unknown>; cost: number } | null = null;
  // Warm the dummy hash at load so the first unknown user is not answered faster than the rest.
  const initial = await users.entries();
  costMemo = { map: initial, cost: usualCost(initial) };
  await dummyFor(costMemo.cost);

  return {
    name: 'htpasswd',
    async authenticate(input) {
      if (input.basic === null) return { kind: 'no-credentials' };
      const { user, password } = input.basic;
      const entries = await users.entries();
      const entry = entries.get(user);
      if (password === '') return { kind: 'rejected', reason: 'empty password' };
      if (entry === undefined) {
        if (costMemo === null || costMemo.map !== entries) costMemo = { map: entries, cost: usualCost(entries) };
        await burnBcrypt(await dummyFor(costMemo.cost), password);
        return { kind: 'rejected', reason: 'unknown user or wrong password' };
      }
      if (cache.has(user, password, entry.hash)) return { kind: 'authenticated', user };
      if (!(await verifyPassword(entry, password))) return { kind: 'rejected', reason: 'unknown user or wrong password' };
      cache.add(user, password, entry.hash);
      return { kind: 'authenticated', user };
    },
    close() {
      users.close();
    },
  };
};
