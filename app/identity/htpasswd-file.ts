import { authenticate as htpasswdAuthenticate } from 'htpasswd-auth';
import bcrypt from 'bcryptjs';
import { userNameProblem } from '../principals.js';

/**
 * The htpasswd adapter: the ONLY importer of `htpasswd-auth`. That package (2.0.1) is defective,
 * so this file parses htpasswd text itself and uses the package only for the hash checks it gets
 * right (apr1, {SHA}, crypt):
 * - it rejects `$2a$`/`$2b$` bcrypt hashes  → bcrypt is verified here with bcryptjs;
 * - it splits on `\n` only, so CRLF files break → lines are split on `\r?\n` here;
 * - it accepts plaintext entries (`digest === password`) → such entries are refused at parse;
 * - it accepts empty passwords → refused before any check;
 * - its apr1 and crypt code hashes UTF-16 code units, not the UTF-8 bytes Apache's `htpasswd`
 *   hashed → non-ASCII passwords are handed to it as a binary (latin1) string of their UTF-8 bytes.
 */

/** The kinds of stored hash gitward accepts. */
export type HashKind = 'bcrypt' | 'apr1' | 'sha1' | 'crypt';

/** One usable line of an htpasswd file. */
export interface HtpasswdEntry {
  readonly user: string;
  readonly hash: string;
  readonly kind: HashKind;
  /** 1-based line number in the file. */
  readonly line: number;
}

/** What `parseHtpasswd` makes of a file: the usable entries and a warning per bad line. */
export interface ParsedHtpasswd {
  /** Usable entries by user name (the first line of a user wins, as in Apache). */
  readonly entries: ReadonlyMap<string, HtpasswdEntry>;
  /** One human-readable warning per ignored line, `line N: problem` (never the hash itself). */
  readonly warnings: readonly string[];
}

/** Default bcrypt cost of new hashes: Apache's `htpasswd -B` default is 5, 10 is today's floor. */
export const DEFAULT_BCRYPT_COST = 10;
/** Lowest and highest bcrypt cost the format allows (4 is too weak to be useful, 31 takes days). */
export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 31;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$/;
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
const CRYPT = /^[./A-Za-z0-9]{13}$/;

/** Classifies a stored hash; null for plaintext and for schemes gitward does not support. */
export function hashKindOf(hash: string): HashKind | null {
  if (BCRYPT.test(hash)) return 'bcrypt';
  if (APR1.test(hash)) return 'apr1';
  if (SHA1.test(hash)) return 'sha1';
  if (CRYPT.test(hash)) return 'crypt';
  return null;
}

/** The cost of a bcrypt hash, or null when `hash` is not bcrypt. */
export function bcryptCostOf(hash: string): number | null {
  const m = BCRYPT.exec(hash);
  return m ? Number(m[1]) : null;
}

/**
 * Parses htpasswd text (LF or CRLF). Blank lines and `#` comments are skipped; a malformed line,
 * a plaintext or unsupported hash, or a repeated user is skipped with a warning. Never throws.
 */
export function parseHtpasswd(text: string): ParsedHtpasswd {
  const entries = new Map<string, HtpasswdEntry>();
  const warnings: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/[ \t\r]+$/, '');
    if (content.trim() === '' || content.trimStart().startsWith('#')) return;
    const colon = content.indexOf(':');
    if (colon < 0) {
      warnings.push(`line ${line}: no ":" between user and hash; line ignored`);
      return;
    }
    const user = content.slice(0, colon);
    // Apache reads the hash up to the next ":"; anything after it is ignored (extra fields).
    const hash = content.slice(colon + 1).split(':')[0] as string;
    const nameProblem = userNameProblem(user);
    if (nameProblem !== null) {
      warnings.push(`line ${line}: ${nameProblem}; line ignored`);
      return;
    }
    const kind = hashKindOf(hash);
    if (kind === null) {
      warnings.push(
        hash === ''
          ? `line ${line}: user "${user}" has no password hash; user refused`
          : `line ${line}: user "${user}" has a plaintext or unsupported password hash ` +
              '(use bcrypt: gitward user passwd); user refused',
      );
      return;
    }
    if (entries.has(user)) {
      warnings.push(
        `line ${line}: user "${user}" appears again (line ${entries.get(user)?.line ?? 0} wins); line ignored`,
      );
      return;
    }
    entries.set(user, { user, hash, kind, line });
  });
  return { entries, warnings };
}

/**
 * Checks `password` against a stored hash of a known kind. Empty passwords never match. bcrypt
 * runs in bcryptjs; apr1, {SHA} and crypt go through htpasswd-auth with a one-line file.
 */
export async function verifyPassword(
  entry: Pick<HtpasswdEntry, 'user' | 'hash' | 'kind'>,
  password: string,
): Promise<boolean> {
  if (password === '') return false;
  if (entry.kind === 'bcrypt') {
    // bcryptjs knows $2a$/$2b$; $2y$ is the same algorithm under PHP's/Apache's name.
    const normalized = entry.hash.startsWith('$2y$') ? '$2b$' + entry.hash.slice(4) : entry.hash;
    return bcrypt.compare(password, normalized);
  }
  if (hashKindOf(entry.hash) !== entry.kind || userNameProblem(entry.user) !== null) return false;
  // htpasswd-auth's plaintext fallback would accept the hash itself as the password.
  if (password === entry.hash) return false;
  // {SHA} goes through node:crypto, which encodes strings as UTF-8 itself.
  const given = entry.kind === 'sha1' ? password : Buffer.from(password, 'utf8').toString('latin1');
  try {
    return (await htpasswdAuthenticate(entry.user, given, `${entry.user}:${entry.hash}`)) === true;
  } catch {
    return false;
  }
}

/** Hashes `password` with bcrypt under Apache's `$2y$` prefix, as `htpasswd -B` does. */
export async function hashPassword(password: string, cost: number = DEFAULT_BCRYPT_COST): Promise<string> {
  if (!Number.isInteger(cost) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    throw new RangeError(`bcrypt cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`);
  }
  const hash = await bcrypt.hash(password, await bcrypt.genSalt(cost));
  return '$2y$' + hash.slice(4);
}
