import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Safe edits of an htpasswd file for `gitward user`: an exclusive lock (`FILE.lock`, created with
 * O_EXCL), then read → change → write a temp file in the same folder → fsync → rename over the
 * original → fsync the folder. Readers (gitward, nginx, Apache) see the old or the new file, never
 * half of one; concurrent editors queue on the lock, so none loses another's change. The file's
 * mode and owner are kept; lines the edit does not touch (comments, CRLF ends) are kept as they are.
 */

/** How long an editor waits for the lock before giving up: a human is waiting at the prompt. */
export const LOCK_WAIT_MS = 15_000;
/** A lock older than this whose holder cannot be checked is stale: no edit takes that long. */
const STALE_LOCK_MS = 60_000;
/** Pause between lock attempts (randomised up to twice this, so waiters do not march in step). */
const LOCK_RETRY_MS = 15;
/**
 * Mode of a file `user add` creates, with the group of its folder (/etc/gitward: root:gitward
 * 0750): the server, running as gitward, reads the hashes; nobody else does.
 */
export const NEW_FILE_MODE = 0o640;

/** An edit that cannot be done, with a message for the admin (exit code 1). */
export class EditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EditError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `lock` if its holder is gone (or it is very old); true when it removed it. */
function breakStaleLock(lock: string, now: number): boolean {
  let content: string;
  let st: fs.Stats;
  try {
    st = fs.statSync(lock);
    content = fs.readFileSync(lock, 'utf8');
  } catch {
    return false;
  }
  const [host, pidText] = content.trim().split(' ');
  const pid = Number(pidText);
  // A lock being written has no content yet: only its age can make it stale.
  const sameHost = host === hostId();
  const dead = content !== '' && sameHost && Number.isInteger(pid) && pid > 0 && !pidAlive(pid);
  if (!dead && now - st.mtimeMs < STALE_LOCK_MS) return false;
  try {
    // Remove only the lock we looked at: another editor may have replaced it in between.
    if (fs.readFileSync(lock, 'utf8') !== content || fs.statSync(lock).ino !== st.ino) return false;
    fs.unlinkSync(lock);
    return true;
  } catch {
    return false;
  }
}

/** Names this machine in lock files: a pid means nothing on another host sharing the folder. */
function hostId(): string {
  return os.hostname().replace(/\s/g, '') || 'localhost';
}

/** Takes `FILE.lock`, waiting up to `LOCK_WAIT_MS`; returns the release function. */
async function lock(file: string): Promise<() => void> {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      fs.writeSync(fd, `${hostId()} ${process.pid}\n`);
      fs.closeSync(fd);
      return () => {
        try {
          fs.unlinkSync(lockFile);
        } catch {
          // Already gone (broken as stale by someone else): nothing left to release.
        }
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new EditError(`no folder ${path.dirname(file)}`);
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
        throw new EditError(`cannot create the lock ${lockFile} (${code})`);
      if (code !== 'EEXIST') throw err;
    }
    if (breakStaleLock(lockFile, Date.now())) continue;
    if (Date.now() > deadline)
      throw new EditError(`${lockFile} is held by another edit; if none is running, remove it`);
    await sleep(LOCK_RETRY_MS + Math.random() * LOCK_RETRY_MS);
  }
}

/** Writes `text` to `file` atomically, keeping `like`'s mode and owner (or NEW_FILE_MODE and the folder's group). */
function writeAtomically(file: string, text: string, like: fs.Stats | null): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const mode = like ? like.mode & 0o7777 : NEW_FILE_MODE;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    try {
      fs.writeSync(fd, text);
      fs.fchmodSync(fd, mode);
      if (like === null) {
        // A new file takes its folder's group, as if the folder were setgid. A user who may not
        // give it that group (not root, not a member) keeps their own.
        const dirGid = fs.statSync(dir).gid;
        if (dirGid !== process.getgid?.()) {
          try {
            fs.fchownSync(fd, process.getuid?.() ?? -1, dirGid);
          } catch {
            // keep the creator's group
          }
        }
      } else if (like.uid !== process.getuid?.() || like.gid !== process.getgid?.()) {
        try {
          fs.fchownSync(fd, like.uid, like.gid);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          throw new EditError(
            `cannot keep the owner of ${file} (uid ${like.uid}, gid ${like.gid}): ${code}; run as its owner or root`,
          );
        }
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the folder is synced.
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/**
 * Edits `file` under the lock: `change` receives the current text (null when the file does not
 * exist) and returns the new text, or null to leave the file alone. Returns what `change`
 * returned. Throws EditError for problems an admin can fix.
 */
export async function editHtpasswdFile(
  file: string,
  change: (text: string | null) => string | null | Promise<string | null>,
): Promise<string | null> {
  const release = await lock(file);
  try {
    let st: fs.Stats | null = null;
    let text: string | null = null;
    try {
      st = fs.statSync(file);
      if (!st.isFile()) throw new EditError(`${file} is not a regular file`);
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof EditError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new EditError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const next = await change(text);
    if (next !== null) writeAtomically(file, next, st);
    return next;
  } finally {
    release();
  }
}

/** The user field of an htpasswd line (text before the first `:`), or null for blank/comment lines. */
function userOf(line: string): string | null {
  const l = line.replace(/\r$/, '');
  if (l.trim() === '' || l.trimStart().startsWith('#')) return null;
  const c = l.indexOf(':');
  return c < 0 ? null : l.slice(0, c);
}

/** True when `text` has a line for `user`. */
export function hasUser(text: string, user: string): boolean {
  return text.split('\n').some((l) => userOf(l) === user);
}

/** `text` with `user:hash` added at the end, in the file's own line-end style. */
export function addUserLine(text: string, user: string, hash: string): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const base = text === '' || text.endsWith('\n') ? text : text + eol;
  return `${base}${user}:${hash}${eol}`;
}

/** `text` with the hash of every line of `user` replaced; other lines untouched. */
export function replaceUserHash(text: string, user: string, hash: string): string {
  return text
    .split('\n')
    .map((l) => (userOf(l) === user ? `${user}:${hash}${l.endsWith('\r') ? '\r' : ''}` : l))
    .join('\n');
}

/**
 * `text` without the lines of `user`; other lines untouched. Deleting the last user leaves an
 * empty file, as Apache's `htpasswd -D` does; the server reads it as no users.
 */
export function removeUser(text: string, user: string): string {
  return text
    .split('\n')
    .filter((l) => userOf(l) !== user)
    .join('\n');
}
