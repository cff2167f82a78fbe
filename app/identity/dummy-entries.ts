import crypto from 'node:crypto';
import { bcryptCostOf, DEFAULT_BCRYPT_COST, type HtpasswdEntry } from './htpasswd-file.js';

/**
 * What a password check costs is fixed by the stored hash's class: its kind, and for bcrypt its
 * cost (`bcrypt:10`, `apr1`, `sha1`, `crypt`). An unknown user must cost what a wrong password
 * costs, so it is checked against a dummy entry of a class the file's users have.
 */
export type HashClass = `bcrypt:${number}` | 'apr1' | 'sha1' | 'crypt';

/** The dummy entries of one version of an htpasswd file. */
export interface DummyEntries {
  /**
   * The entry an unknown `user` is checked against with verifyPassword. The same name gets the
   * same entry for as long as the file is unchanged.
   */
  entryFor(user: string): HtpasswdEntry;
  /** The classes dummies are drawn from, with how many of the file's users have each. */
  readonly classes: ReadonlyMap<HashClass, number>;
}

/** The class of an entry's hash (see HashClass). */
export function hashClassOf(entry: Pick<HtpasswdEntry, 'hash' | 'kind'>): HashClass {
  return entry.kind === 'bcrypt' ? `bcrypt:${bcryptCostOf(entry.hash) ?? DEFAULT_BCRYPT_COST}` : entry.kind;
}

/** The characters of crypt(3)'s and bcrypt's base-64 alphabet. */
const CRYPT64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function crypt64(n: number): string {
  // 64 characters: a byte's low six bits pick one uniformly.
  return [...crypto.randomBytes(n)].map((b) => CRYPT64[b & 63]).join('');
}

/**
 * A well-formed hash of class `cls` made of random salt and digest characters. Checking a
 * password against it costs exactly what checking one against a real hash of that class costs
 * (the verifier's work depends on the password, the salt and the cost, never on the stored
 * digest), and no password matches it that anyone knows.
 */
export function dummyHash(cls: HashClass): string {
  if (cls === 'apr1') return `$apr1$${crypt64(8)}$${crypt64(22)}`;
  if (cls === 'sha1') return `{SHA}${crypto.randomBytes(20).toString('base64')}`;
  if (cls === 'crypt') return crypt64(13);
  const cost = Number(cls.slice('bcrypt:'.length));
  return `$2y$${String(cost).padStart(2, '0')}$${crypt64(53)}`;
}

/** The user name of dummy entries; a valid name, so the check takes the path a real user's takes. */
const DUMMY_USER = 'gitward-dummy';

/**
 * Makes the dummy entries for one version of an htpasswd file (call it once per load). An unknown
 * name is checked against a dummy of one of the file's hash classes, chosen by a keyed hash of the
 * name in proportion to how many users have each class: in a file where all users share a class
 * that is the class; in a mixed file, an unknown name costs what a real user of some class costs,
 * as often as real users do, so the time of a wrong password does not tell a name in the file
 * from one that is not. The key is derived from the file's hashes (secret to clients, the same
 * after a restart), so a name's class does not change from one try or one restart to the next.
 * A file with no users gets bcrypt at the default cost.
 */
export function createDummyEntries(entries: ReadonlyMap<string, Pick<HtpasswdEntry, 'hash' | 'kind'>>): DummyEntries {
  const counts = new Map<HashClass, number>();
  const key = crypto.createHash('sha256').update('gitward dummy-entry key\0');
  for (const e of entries.values()) {
    const cls = hashClassOf(e);
    counts.set(cls, (counts.get(cls) ?? 0) + 1);
    key.update(`${e.hash}\n`);
  }
  if (counts.size === 0) counts.set(`bcrypt:${DEFAULT_BCRYPT_COST}`, 1);
  const secret = key.digest();
  // A fixed order, so the same name maps to the same class for the same file.
  const classes = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const total = classes.reduce((n, [, c]) => n + c, 0);
  const dummies = new Map(
    classes.map(([cls]) => [
      cls,
      {
        user: DUMMY_USER,
        hash: dummyHash(cls),
        kind: cls.startsWith('bcrypt:') ? 'bcrypt' : cls,
        line: 0,
      } as HtpasswdEntry,
    ]),
  );
  const only = classes.length === 1 ? (dummies.get((classes[0] as [HashClass, number])[0]) as HtpasswdEntry) : null;
  return {
    classes: new Map(classes),
    entryFor(user) {
      if (only !== null) return only;
      // 48 bits of HMAC modulo the user count: the bias is below 2^-28 for a million users.
      let at = crypto.createHmac('sha256', secret).update(user, 'utf8').digest().readUIntBE(0, 6) % total;
      for (const [cls, n] of classes) {
        if (at < n) return dummies.get(cls) as HtpasswdEntry;
        at -= n;
      }
      return dummies.get((classes[classes.length - 1] as [HashClass, number])[0]) as HtpasswdEntry;
    },
  };
}
