import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_CONFIG_BYTES } from '../app/config/config-file.js';

/*
 * The last good text of each config file, so that a broken edit never takes pushes down: gitward
 * records the text of every config it loads, and the hook every text it loads itself; a hook whose
 * config file does not load falls back to the recorded text (parsed and validated again, so the
 * rules are that text's, nothing else's). Freshness comes from content: an entry holds the text
 * and its sha256, and is used only while it differs from the file's (broken) text.
 */

/** Bumped when the entry format changes. */
const FORMAT = 1;
/** Entries kept (one per config file); the least recently written go first beyond this. */
const MAX_ENTRIES = 256;
/** Largest entry read back: the config text (capped by the loader) in JSON. */
const MAX_ENTRY_BYTES = 2 * MAX_CONFIG_BYTES + 4096;

/** A recorded good config text. */
export interface LastGood {
  readonly file: string;
  readonly text: string;
  readonly sha256: string;
}

export function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/**
 * Where this user's records are kept: a folder of this user alone under the temp folder. gitward
 * and the hooks it runs share it; a push made on the server by the same user shares it too unless
 * gitward runs with a private /tmp (systemd PrivateTmp), where only that user's own earlier hook
 * loads are there. Null where there is no uid.
 */
export function lastGoodDir(): string | null {
  const uid = process.getuid?.();
  return uid === undefined ? null : path.join(os.tmpdir(), `gitward-last-good-${uid}`);
}

/** True when `dir` exists (creating it 0700 if not) as a real folder of this user that nobody else may use. */
function privateDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  }
  try {
    const st = fs.lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function entryFile(dir: string, file: string): string {
  return path.join(dir, `${sha256(path.resolve(file)).slice(0, 32)}.json`);
}

/** The recorded good text of `file` (checked against its sha256), or null. Never throws. */
export function readLastGood(dir: string | null, file: string): LastGood | null {
  if (dir === null || !privateDir(dir)) return null;
  const abs = path.resolve(file);
  try {
    const fd = fs.openSync(entryFile(dir, abs), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    let raw: string;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.uid !== process.getuid?.() || st.size > MAX_ENTRY_BYTES) return null;
      raw = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    const e = JSON.parse(raw) as { format?: unknown; file?: unknown; text?: unknown; sha256?: unknown };
    if (e.format !== FORMAT || e.file !== abs || typeof e.text !== 'string' || e.sha256 !== sha256(e.text)) return null;
    return { file: abs, text: e.text, sha256: e.sha256 };
  } catch {
    return null;
  }
}

/**
 * Records `text` as the last good text of `file` (atomically, 0600), unless it already is. Call it
 * only with a text that loaded. Never throws: without a record, a broken edit refuses pushes.
 */
export function recordLastGood(dir: string | null, file: string, text: string): void {
  if (dir === null || !privateDir(dir)) return;
  const abs = path.resolve(file);
  const hash = sha256(text);
  if (readLastGood(dir, abs)?.sha256 === hash) return;
  const target = entryFile(dir, abs);
  const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify({ format: FORMAT, file: abs, sha256: hash, text }), {
      mode: 0o600,
      flag: 'wx',
    });
    fs.renameSync(tmp, target);
    prune(dir);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** Keeps the MAX_ENTRIES most recently written entries (each test, checkout or config file adds one). */
function prune(dir: string): void {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const byAge = names.map((n) => ({ n, t: fs.statSync(path.join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - MAX_ENTRIES)) fs.rmSync(path.join(dir, n), { force: true });
}
