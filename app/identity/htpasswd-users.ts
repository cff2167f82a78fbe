import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from '../types.js';
import { hashKindOf, parseHtpasswd, type HtpasswdEntry } from './htpasswd-file.js';

/**
 * An htpasswd file kept in memory and re-read when it changes. Every lookup first checks the
 * file (one `stat`); a changed file replaces the whole user map, so a deleted user is refused and
 * a changed password works on the very next request.
 */
export interface HtpasswdUsers {
  /** The current user map, re-read first when the file changed. */
  entries(): Promise<ReadonlyMap<string, HtpasswdEntry>>;
  /** Releases the file watcher. */
  close(): void;
}

/** Largest htpasswd file read: a million users fit; more is a mistake (or /dev/zero). */
const MAX_HTPASSWD_BYTES = 64 * 1024 * 1024;
/**
 * File timestamps are as coarse as the kernel clock tick (a few ms), so an edit made within the
 * same tick as our read keeps mtime and (for a same-length hash) size. Like git's "racy index",
 * while the file's mtime is this close to the time we read it, the content is compared too.
 */
const RACY_WINDOW_MS = 2_000;

interface Snapshot {
  readonly key: string;
  readonly digest: string;
  readonly readAt: number;
  readonly mtimeMs: number;
  readonly map: ReadonlyMap<string, HtpasswdEntry>;
}

/**
 * Why re-read htpasswd bytes are garbage rather than an edit, or null when they are a usable
 * file: not UTF-8 or holding NUL bytes (a binary file), no line of the user:hash form (not an
 * htpasswd file), or a last line without its newline whose hash is not a complete hash (a write
 * cut short). A single bad line among good ones, or a complete line with an unsupported hash,
 * stays a per-line refusal (parseHtpasswd), so that removing a user still takes effect next to
 * such a line. An empty file is usable and has no users: Apache's `htpasswd -D` leaves exactly
 * that when it deletes the last user, so it must refuse everyone (fail closed), never keep them.
 */
export function brokenHtpasswd(bytes: Buffer): string | null {
  if (bytes.includes(0)) return 'the file holds NUL bytes';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'the file is not UTF-8';
  }
  const lines = text.split(/\r?\n/);
  const content = lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (content.length > 0 && content.every((l) => !l.includes(':')))
    return 'no line has the user:hash form: not an htpasswd file';
  const last = lines[lines.length - 1] ?? '';
  if (
    last.trim() !== '' &&
    !last.trimStart().startsWith('#') &&
    hashKindOf(
      last
        .trim()
        .slice(last.trim().indexOf(':') + 1)
        .split(':')[0] ?? '',
    ) === null
  ) {
    return `line ${lines.length}: cut short (no newline, incomplete hash)`;
  }
  return null;
}

const statKey = (st: fs.BigIntStats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

/**
 * Loads `file` (throws when it cannot be read: fail closed at start-up) and returns the store.
 * Each ignored line is logged once per load as `htpasswd.line_ignored`. `wallClock` compares with
 * file timestamps, so it is the real clock unless a test says otherwise.
 */
export async function loadHtpasswdUsers(
  file: string,
  ctx: { logger: Logger; wallClock?: () => number },
): Promise<HtpasswdUsers> {
  const wallClock = ctx.wallClock ?? Date.now;
  const logger = ctx.logger;

  const parse = (snap: Omit<Snapshot, 'map'>, text: string): Snapshot => {
    const parsed = parseHtpasswd(text);
    for (const w of parsed.warnings) logger.warn('htpasswd.line_ignored', { file, problem: w });
    logger.info('htpasswd.loaded', { file, users: parsed.entries.size });
    return { ...snap, map: parsed.entries };
  };
  /** Reads the file as it is now; `st` is a stat taken before the read. */
  const readAfter = async (st: fs.BigIntStats): Promise<{ snap: Omit<Snapshot, 'map'>; bytes: Buffer }> => {
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    if (st.size > BigInt(MAX_HTPASSWD_BYTES)) throw new Error(`${file} is larger than ${MAX_HTPASSWD_BYTES} bytes`);
    const readAt = wallClock();
    const bytes = await fs.promises.readFile(file);
    const digest = crypto.createHash('sha256').update(bytes).digest('hex');
    return { snap: { key: statKey(st), digest, readAt, mtimeMs: Number(st.mtimeMs) }, bytes };
  };

  const first = await readAfter(await fs.promises.stat(file, { bigint: true }));
  let current = parse(first.snap, first.bytes.toString('utf8'));
  let missingLogged = false;
  let rejectedDigest: string | null = null;

  const refresh = async (): Promise<void> => {
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.stat(file, { bigint: true });
    } catch {
      // The file is gone: nobody can log in through it until it is back.
      if (!missingLogged) logger.error('htpasswd.missing', { file });
      missingLogged = true;
      current = { key: 'missing', digest: '', readAt: wallClock(), mtimeMs: 0, map: new Map() };
      return;
    }
    missingLogged = false;
    const racy = current.readAt - current.mtimeMs < RACY_WINDOW_MS;
    if (statKey(st) === current.key && !racy) return;
    try {
      const { snap, bytes } = await readAfter(st);
      // Unchanged content keeps the map (and logs nothing); changed content replaces it whole.
      if (snap.digest === current.digest) {
        current = { ...snap, map: current.map };
        return;
      }
      const broken = brokenHtpasswd(bytes);
      if (broken !== null) {
        // Garbage (a write cut short, a wrong file copied over it): keep the last good users,
        // as a broken config keeps the last good config. Remember this version so the error is
        // logged once, not on every request.
        if (snap.digest !== rejectedDigest)
          logger.error('htpasswd.reload_failed', { file, problem: broken, kept: 'last good version' });
        rejectedDigest = snap.digest;
        return;
      }
      rejectedDigest = null;
      current = parse(snap, bytes.toString('utf8'));
    } catch (err) {
      logger.error('htpasswd.read_failed', { file, error: err instanceof Error ? err.message : String(err) });
      current = { key: 'unreadable', digest: '', readAt: wallClock(), mtimeMs: 0, map: new Map() };
    }
  };

  return {
    async entries() {
      // Each lookup checks the file itself: sharing a check begun before an edit could miss it.
      await refresh();
      return current.map;
    },
    close() {
      // No watcher or timer: the file is checked on each lookup.
    },
  };
}
