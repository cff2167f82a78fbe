import crypto from 'node:crypto';

/** Settings of the cache of verified credentials (config `credential_cache`). */
export interface CredentialCacheSettings {
  /** How long a verified credential is trusted without running the hash again; 0 turns the cache off. */
  readonly ttlSeconds: number;
  /** Most entries kept; the oldest goes first when full. */
  readonly maxEntries: number;
}

/**
 * Remembers credentials that verified, so a clone (several requests) runs bcrypt once. Only
 * successes are stored. Entries are keyed by an HMAC over user, password and stored hash under a
 * per-instance random key: no password is kept in memory, and a changed or deleted entry of the
 * htpasswd file changes the key, so it invalidates at once.
 */
export interface CredentialCache {
  /** True when this exact user, password and stored hash verified less than ttl ago. */
  has(user: string, password: string, storedHash: string): boolean;
  /** Records a successful verification. */
  add(user: string, password: string, storedHash: string): void;
  /** Number of live entries (for tests and metrics). */
  size(): number;
}

/** Length of the random HMAC key: the output size of SHA-256. */
const HMAC_KEY_BYTES = 32;

/** Creates a credential cache; `now` is the clock in ms (tests fake it). */
export function createCredentialCache(
  settings: CredentialCacheSettings,
  now: () => number = Date.now,
): CredentialCache {
  const key = crypto.randomBytes(HMAC_KEY_BYTES);
  const ttlMs = Math.max(0, settings.ttlSeconds) * 1000;
  const max = Math.max(0, Math.floor(settings.maxEntries));
  const off = ttlMs === 0 || max === 0;
  // A Map keeps insertion order: the first key is the oldest entry.
  const entries = new Map<string, number>();
  const keyOf = (user: string, password: string, storedHash: string): string => {
    const h = crypto.createHmac('sha256', key);
    // Length-prefixed fields: no choice of user and password can collide with another split.
    for (const part of [user, password, storedHash]) {
      const b = Buffer.from(part, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      h.update(len).update(b);
    }
    return h.digest('base64');
  };
  return {
    has(user, password, storedHash) {
      if (off) return false;
      const k = keyOf(user, password, storedHash);
      const at = entries.get(k);
      if (at === undefined) return false;
      if (now() - at >= ttlMs) {
        entries.delete(k);
        return false;
      }
      return true;
    },
    add(user, password, storedHash) {
      if (off) return;
      const k = keyOf(user, password, storedHash);
      entries.delete(k);
      entries.set(k, now());
      while (entries.size > max) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
      }
    },
    size() {
      const t = now();
      for (const [k, at] of entries) if (t - at >= ttlMs) entries.delete(k);
      return entries.size;
    },
  };
}
