import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The key types accepted, by their name in a key line, with what `ssh-keygen -l` calls them.
 * DSA and anything unknown are refused.
 */
const KEY_TYPES: Readonly<Record<string, string>> = Object.freeze({
  'ssh-ed25519': 'ED25519',
  'ssh-rsa': 'RSA',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
  'sk-ssh-ed25519@openssh.com': 'ED25519-SK',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK',
});

/** Smallest RSA modulus accepted, in bits: NIST SP 800-131A retired 1024-bit RSA. */
export const MIN_RSA_BITS = 2048;

/** Largest key line accepted: a 16384-bit RSA key is about 2.8 KB of base64. */
export const MAX_KEY_LINE_BYTES = 8192;

/**
 * User names that may own keys: they are written into a forced command that sshd runs through a
 * shell, so only characters that need no quoting there.
 */
export const SSH_USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;

/** How an authorized_keys option starts (sshd(8) AUTHORIZED_KEYS FILE FORMAT): never a key type. */
const KEY_OPTION = /^(restrict|command|from|environment|permit|no-|cert-authority|principals|tunnel|expiry-time)/;

/** One key of the keys file. */
export interface SshKey {
  readonly user: string;
  readonly type: string;
  /** The key blob, base64, as in a key line. */
  readonly blob: string;
  readonly comment: string;
  /** `SHA256:…`, as ssh-keygen and sshd print it. */
  readonly fingerprint: string;
  /** 1-based line in the keys file. */
  readonly line: number;
}

/** A key line that is not acceptable, with a one-line reason. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

/** `SHA256:` and the unpadded base64 of the blob's sha256, as OpenSSH prints fingerprints. */
export function fingerprintOf(blob: string): string {
  const digest = crypto.createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/**
 * Parses one public key line (`TYPE BASE64 [COMMENT]`) without trusting it: a line with options
 * in front (`command="…" ssh-ed25519 …`, `restrict,…`), an unknown or retired type, a blob whose
 * own type name differs, or control characters are refused. Size is checked by `checkWithKeygen`.
 */
export function parseKeyLine(text: string): { type: string; blob: string; comment: string } {
  const line = text.replace(/\r?\n$/, '');
  if (Buffer.byteLength(line, 'utf8') > MAX_KEY_LINE_BYTES) {
    throw new KeyError(`key line longer than ${MAX_KEY_LINE_BYTES} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(line)) throw new KeyError('control characters in the key line');
  const m = /^([^\s]+)[ \t]+([^\s]+)(?:[ \t]+(.*))?$/.exec(line.trim());
  if (!m) throw new KeyError('expected "TYPE BASE64 [COMMENT]"');
  const [, type = '', blob = '', comment = ''] = m;
  if (!Object.prototype.hasOwnProperty.call(KEY_TYPES, type)) {
    if (/[=",]/.test(type) || KEY_OPTION.test(type)) {
      throw new KeyError('options in front of a key are not accepted; give the bare public key');
    }
    const accepted = `ssh-ed25519, ecdsa-sha2-*, ssh-rsa of ${MIN_RSA_BITS}+ bits, sk-*`;
    throw new KeyError(`key type "${type}" is not accepted (${accepted})`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) throw new KeyError('the key is not valid base64');
  const raw = Buffer.from(blob, 'base64');
  const nameLength = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (nameLength < 0 || 4 + nameLength > raw.length || raw.subarray(4, 4 + nameLength).toString('latin1') !== type) {
    throw new KeyError(`the key data is not a ${type} key`);
  }
  return { type, blob, comment: comment.trim() };
}

/**
 * Asks `ssh-keygen -l` to read the key (OpenSSH's own parser decides whether it is a key at all)
 * and checks its type and size. Resolves with the fingerprint; rejects with a KeyError.
 */
export async function checkWithKeygen(key: { type: string; blob: string }, keygen = 'ssh-keygen'): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-key-'));
  const file = path.join(dir, 'key.pub');
  try {
    fs.writeFileSync(file, `${key.type} ${key.blob}\n`, { mode: 0o600 });
    const out = await new Promise<string>((resolve, reject) => {
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' };
      execFile(keygen, ['-l', '-E', 'sha256', '-f', file], { env }, (err, stdout) => {
        if (err) reject(new KeyError('ssh-keygen does not read this as a public key'));
        else resolve(stdout.trim());
      });
    });
    const m = /^(\d+) (SHA256:[A-Za-z0-9+/]+) .*\(([A-Z0-9-]+)\)$/.exec(out);
    if (!m) throw new KeyError('ssh-keygen does not read this as a public key');
    const [, bits = '0', fingerprint = '', kind = ''] = m;
    if (kind !== KEY_TYPES[key.type]) throw new KeyError(`ssh-keygen reads a ${kind} key, not ${key.type}`);
    if (kind === 'RSA' && Number(bits) < MIN_RSA_BITS) {
      throw new KeyError(`RSA key of ${bits} bits: at least ${MIN_RSA_BITS} are needed`);
    }
    if (fingerprint !== fingerprintOf(key.blob)) {
      throw new KeyError('ssh-keygen and gitward disagree about the fingerprint');
    }
    return fingerprint;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Parses the keys file: `USER TYPE BASE64 [COMMENT]` a line, `#` comments and blank lines
 * ignored. Problems are returned as `FILE:LINE: problem`, never thrown, so `gitward check` can list
 * them all; a bad line is skipped (its key does not work).
 */
export function parseKeysFile(text: string, file: string): { keys: SshKey[]; problems: string[] } {
  const keys: SshKey[] = [];
  const problems: string[] = [];
  const seen = new Map<string, SshKey>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const at = `${file}:${i + 1}`;
    const space = line.indexOf(' ');
    const user = space < 0 ? line : line.slice(0, space);
    if (!SSH_USER_NAME.test(user)) {
      problems.push(`${at}: bad user name "${user}"`);
      return;
    }
    try {
      const k = parseKeyLine(line.slice(space + 1));
      const key: SshKey = { user, ...k, fingerprint: fingerprintOf(k.blob), line: i + 1 };
      const other = seen.get(key.fingerprint);
      if (other) {
        const where = `line ${other.line} (${other.user})`;
        problems.push(`${at}: key ${key.fingerprint} is already on ${where}; a key belongs to one user`);
        return;
      }
      seen.set(key.fingerprint, key);
      keys.push(key);
    } catch (err) {
      problems.push(`${at}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return { keys, problems };
}

/** The keys file line of `key`. */
export function formatKey(key: Pick<SshKey, 'user' | 'type' | 'blob' | 'comment'>): string {
  return `${key.user} ${key.type} ${key.blob}${key.comment ? ` ${key.comment}` : ''}`;
}

/**
 * Looks up the key `fingerprint` of `user` in the keys file's text, hashing only that user's lines
 * (with 10,000 keys on file, hashing them all would cost every connection milliseconds).
 */
export function findUserKey(text: string, user: string, fingerprint: string): boolean {
  const prefix = `${user} `;
  let from = 0;
  for (;;) {
    const at = text.indexOf(prefix, from);
    if (at < 0) return false;
    const end = text.indexOf('\n', at);
    from = end < 0 ? text.length : end + 1;
    if (at !== 0 && text[at - 1] !== '\n') continue;
    const line = text.slice(at, end < 0 ? text.length : end).replace(/\r$/, '');
    const fields = line.split(/[ \t]+/);
    if (fields.length >= 3 && fingerprintOf(fields[2] as string) === fingerprint) return true;
  }
}

/** What a forced command line needs to name. */
export interface ForcedCommandTarget {
  /** Absolute path of the forced command, dist/ssh-relay of this checkout (app/ssh/ssh-relay.c). */
  readonly relay: string;
  /** The socket `gitward serve` listens on for SSH sessions (ssh.socket). */
  readonly socket: string;
}

/** Characters a path may have to stand unquoted in a forced command (sshd runs it through a shell). */
const SAFE_PATH = /^\/[A-Za-z0-9._+/-]*$/;

/**
 * The authorized_keys text for `keys`: one line per key with `restrict` (no pty, no forwarding, no
 * agent, no X11, no ~/.ssh/rc) and a forced command that names the user and the key, so that the
 * server checks at every connection that both still exist. Throws when a path could not stand in
 * a command unquoted.
 */
export function renderAuthorizedKeys(keys: readonly SshKey[], target: ForcedCommandTarget, keysFile: string): string {
  for (const p of [target.relay, target.socket]) {
    if (!SAFE_PATH.test(p)) throw new KeyError(`"${p}": paths in a forced command may use only A-Z a-z 0-9 / . _ + -`);
  }
  const lines = [`# Written by gitward key from ${keysFile}; edits here are overwritten. See deploy/ssh/README.md.`];
  for (const k of keys) {
    if (!SSH_USER_NAME.test(k.user)) continue;
    const command = `${target.relay} ${target.socket} ${k.user} ${k.fingerprint}`;
    lines.push(`restrict,command="${command}" ${k.type} ${k.blob}`);
  }
  return lines.join('\n') + '\n';
}

/** Writes `text` to `file` atomically (a temp file in the same folder, then rename), mode 0600. */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text, { mode, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
