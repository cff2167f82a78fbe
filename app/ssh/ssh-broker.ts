import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { RuntimeHolder } from '../runtime.js';
import type { Logger } from '../types.js';
import type { CompiledPolicy, GitwardConfig } from '../config/types.js';
import { closeSshSession, openSshSession, type SshSessionResult } from './ssh-session.js';
import { findUserKey, SSH_USER_NAME } from './ssh-keys.js';

/**
 * The wire format between the forced command (app/ssh/ssh-relay.c) and the server: a message is
 * NUL-terminated `name=value` fields and one empty field at the end. sshd's strings hold no NUL,
 * and the relay needs no parser it would have to import (its start-up is paid by every fetch).
 *
 *   relay → server  gitward-ssh=1 user= key= [command=] [protocol=] [connection=] [path=] [home=]
 *   server → relay  refuse=MESSAGE  |  run=1 arg=… (argv, in order) env=K=V …
 *   relay → server  exit=CODE in=BYTES out=BYTES      (after git ended; run only)
 *   server → relay  done=1                            (the audit line is written)
 */
export const SSH_WIRE_VERSION = '1';

/** Largest message accepted from the relay: SSH_ORIGINAL_COMMAND is capped at 1 KiB, the rest is short. */
const MAX_MESSAGE_BYTES = 16 * 1024;
/** Mode of the socket: the owner (gitward) and the folder's group (the SSH account) only. */
const SOCKET_MODE = 0o660;
/** A key id as `gitward key` writes it into the forced command. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** What the SSH listener needs of the server: the config in force, and a reload when the file changed. */
export interface SshBrokerDeps {
  readonly runtime: RuntimeHolder & { reload(reason: string): Promise<boolean> };
  readonly logger: Logger;
  readonly now: () => number;
}

/** The SSH sessions' listener of a running gitward. */
export interface SshBroker {
  readonly socket: string;
  close(): Promise<void>;
}

/** The socket's folder lets others in, or is not a folder: gitward does not listen there. */
export class SshSocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshSocketError';
  }
}

/** Encodes one message of the wire format. */
export function encodeMessage(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.from(fields.map(([k, v]) => `${k}=${v}\0`).join('') + '\0', 'utf8');
}

/** Decodes one message (its fields in order), or null when `buf` does not hold a whole one yet. */
export function decodeMessage(buf: Buffer): Array<[string, string]> | null {
  const end = buf.indexOf('\0\0');
  if (end < 0) return null;
  const text = buf.subarray(0, end + 1).toString('utf8');
  return text
    .split('\0')
    .slice(0, -1)
    .map((f) => {
      const eq = f.indexOf('=');
      return eq < 0 ? [f, ''] : [f.slice(0, eq), f.slice(eq + 1)];
    });
}

/**
 * Listens on `socket` for the forced command's sessions (deploy/ssh/README.md). Who may connect is
 * who may claim any user's key, so the socket's folder is the boundary: it must be a real folder
 * with no access for others (0750: gitward and the SSH account's group), or gitward refuses to
 * start; the socket itself is 0660. Each session is decided with the config in force, reloaded
 * first when the file changed since the last session (a deleted user's key stops at once).
 */
export async function startSshBroker(socket: string, deps: SshBrokerDeps): Promise<SshBroker> {
  const dir = path.dirname(socket);
  checkSocketDir(dir);
  await removeStaleSocket(socket);
  let configSeen = statSignature(deps.runtime.current().config.file);
  const keysCache = { signature: '', text: '' };
  const keyOnFile = (file: string, user: string, fingerprint: string): boolean => {
    const signature = statSignature(file);
    if (signature === null) return false;
    if (signature !== keysCache.signature) {
      try {
        keysCache.text = fs.readFileSync(file, 'utf8');
        keysCache.signature = signature;
      } catch {
        return false;
      }
    }
    return findUserKey(keysCache.text, user, fingerprint);
  };
  const freshRuntime = async () => {
    const now = statSignature(deps.runtime.current().config.file);
    if (now !== configSeen) {
      configSeen = now;
      await deps.runtime.reload('ssh session: config file changed');
    }
    return deps.runtime.current();
  };

  const server = net.createServer((conn) => {
    void serveConnection(conn, { deps, freshRuntime, keyOnFile, hookLogParent: dir }).catch((err: unknown) => {
      deps.logger.error('ssh.session_failed', { error: err instanceof Error ? err.message : String(err) });
      conn.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(socket, SOCKET_MODE);
  deps.logger.info('ssh.listening', { socket });
  return {
    socket,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface ConnectionContext {
  readonly deps: SshBrokerDeps;
  readonly freshRuntime: () => Promise<{ config: GitwardConfig; policy: CompiledPolicy }>;
  readonly keyOnFile: (file: string, user: string, fingerprint: string) => boolean;
  readonly hookLogParent: string;
}

/** One session: request, decision, (git runs in the relay), result, audit line. */
async function serveConnection(conn: net.Socket, c: ConnectionContext): Promise<void> {
  const messages = readMessages(conn);
  const request = await messages.next();
  if (request === null) return void conn.destroy();
  const field = (name: string): string | undefined => request.find(([k]) => k === name)?.[1];
  if (field('gitward-ssh') !== SSH_WIRE_VERSION) {
    conn.end(encodeMessage([['refuse', 'the forced command and the server are different versions']]));
    return;
  }
  const user = field('user') ?? '';
  const fingerprint = field('key') ?? '';
  const { config, policy } = await c.freshRuntime();
  const keysFile = config.ssh.keysFile;
  const session = openSshSession(
    {
      config,
      policy,
      keyOnFile: (u, fp) =>
        keysFile !== null && SSH_USER_NAME.test(u) && FINGERPRINT.test(fp) && c.keyOnFile(keysFile, u, fp),
      hookLogParent: c.hookLogParent,
      now: c.deps.now,
    },
    {
      user,
      fingerprint,
      originalCommand: field('command'),
      connection: field('connection'),
      gitProtocol: field('protocol'),
      processEnv: { PATH: field('path'), HOME: field('home') },
    },
  );
  if (session.kind === 'refuse') {
    await closeSshSession(session.state, null, c.deps.now);
    conn.end(encodeMessage([['refuse', session.message]]));
    return;
  }
  const reply: Array<[string, string]> = [['run', '1']];
  for (const a of session.argv) reply.push(['arg', a]);
  for (const [k, v] of Object.entries(session.env)) reply.push(['env', `${k}=${v}`]);
  conn.write(encodeMessage(reply));
  const result = await messages.next();
  await closeSshSession(session.state, result === null ? null : parseResult(result), c.deps.now);
  conn.end(encodeMessage([['done', '1']]));
}

/** The relay's report of git's end; absent or malformed numbers count as unknown (null) or 0. */
function parseResult(fields: ReadonlyArray<[string, string]>): SshSessionResult {
  const num = (name: string): number | null => {
    const v = fields.find(([k]) => k === name)?.[1];
    return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null;
  };
  return { exitCode: num('exit'), bytesIn: num('in') ?? 0, bytesOut: num('out') ?? 0 };
}

/** Reads whole messages off `conn` one at a time; null at the end of the stream or past the size cap. */
function readMessages(conn: net.Socket): { next(): Promise<Array<[string, string]> | null> } {
  let buf = Buffer.alloc(0);
  let ended = false;
  let wake: (() => void) | null = null;
  conn.on('data', (b: Buffer) => {
    buf = Buffer.concat([buf, b]);
    wake?.();
  });
  const stop = () => {
    ended = true;
    wake?.();
  };
  conn.on('end', stop);
  conn.on('close', stop);
  conn.on('error', stop);
  return {
    async next() {
      for (;;) {
        const msg = decodeMessage(buf);
        if (msg !== null) {
          buf = buf.subarray(buf.indexOf('\0\0') + 2);
          return msg;
        }
        if (ended || buf.length > MAX_MESSAGE_BYTES) return null;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
  };
}

/** `ino:size:mtime` of `file`, or null when it cannot be read: a change means read it again. */
function statSignature(file: string): string | null {
  try {
    const s = fs.statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return null;
  }
}

/** Refuses a socket folder that others may enter, or that is a symlink or not a folder. */
function checkSocketDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    throw new SshSocketError(`${dir}: the SSH socket's folder does not exist (deploy/ssh/README.md)`);
  }
  if (!st.isDirectory()) throw new SshSocketError(`${dir}: the SSH socket's folder is not a folder`);
  if ((st.mode & 0o007) !== 0) {
    const mode = (st.mode & 0o777).toString(8);
    const why = 'lets every local user claim any SSH key; use 0750 (deploy/ssh/README.md)';
    throw new SshSocketError(`${dir}: mode ${mode} ${why}`);
  }
}

/** Removes a socket file no server answers on; refuses when one does (another gitward). */
async function removeStaleSocket(socket: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socket);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new SshSocketError(`${socket}: a file that is not a socket is in the way`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered) throw new SshSocketError(`another server is listening on ${socket}`);
  fs.rmSync(socket, { force: true });
}
