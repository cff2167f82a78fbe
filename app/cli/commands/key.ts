import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { loadConfig } from '../../config/load.js';
import type { GitwardConfig } from '../../config/types.js';
import { ConfigError, UsageError } from '../../errors.js';
import { editHtpasswdFile, EditError } from '../../identity/htpasswd-edit.js';
import { compilePolicy } from '../../policy/compile.js';
import {
  checkWithKeygen,
  formatKey,
  KeyError,
  MAX_KEY_LINE_BYTES,
  parseKeyLine,
  parseKeysFile,
  renderAuthorizedKeys,
  SSH_USER_NAME,
  writeFileAtomic,
  type ForcedCommandTarget,
  type SshKey,
} from '../../ssh/ssh-keys.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';

const HELP = `usage: gitward key add|list|delete|sync [ARGS] [--config FILE]

  add USER [FILE|-]        add USER's public key (one line: TYPE BASE64 [COMMENT]) from FILE or stdin
  list [USER]              print the keys: user, fingerprint, type, comment
  delete USER FINGERPRINT  remove USER's key SHA256:…
  sync                     write authorized_keys again from the keys file

Keys live in ssh.keys_file; after every change authorized_keys (ssh.authorized_keys) is written
again, atomically. Accepted: ssh-ed25519, ecdsa-sha2-*, sk-* and ssh-rsa of 2048 bits or more,
without options in front. A key belongs to one user. Run it as the SSH account (it owns the files).
`;

const SPEC = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** `gitward key`: manage the users' SSH public keys. */
export const key: Command = async (argv, io: CliIO) => {
  const args = parseArgs(argv, SPEC);
  const [action, ...rest] = args.positionals;
  if (args.options.help || action === undefined) {
    (args.options.help ? io.stdout : io.stderr).write(HELP);
    return args.options.help ? EXIT.ok : EXIT.usage;
  }
  const config = await loadConfig(configPathFrom(args.options.config, io.env, io.cwd));
  const keysFile = config.ssh.keysFile;
  if (keysFile === null) {
    throw new ConfigError([`${config.file}:1: ssh.keys_file: not set; SSH keys need it (deploy/ssh/README.md)`]);
  }
  try {
    switch (action) {
      case 'add':
        return await add(config, keysFile, rest, io);
      case 'list':
        return list(keysFile, rest, io);
      case 'delete':
        return await remove(config, keysFile, rest, io);
      case 'sync':
        if (rest.length > 0) throw new UsageError('sync takes no arguments');
        syncAuthorizedKeys(config, readKeys(keysFile));
        return EXIT.ok;
      default:
        throw new UsageError(`unknown action "${action}" (add, list, delete, sync)`);
    }
  } catch (err) {
    if (err instanceof KeyError || err instanceof EditError) {
      io.stderr.write(`gitward key ${action}: ${err.message}\n`);
      return EXIT.failed;
    }
    throw err;
  }
};

async function add(config: GitwardConfig, keysFile: string, rest: readonly string[], io: CliIO): Promise<number> {
  const [user, source = '-', ...extra] = rest;
  if (user === undefined || extra.length > 0) throw new UsageError('add USER [FILE|-]');
  checkUser(config, user);
  const text = source === '-' ? await readStdin(io.stdin) : fs.readFileSync(path.resolve(io.cwd, source), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  if (lines.length !== 1) throw new KeyError(`expected one key line, got ${lines.length}`);
  const parsed = parseKeyLine(lines[0] as string);
  const fingerprint = await checkWithKeygen(parsed);
  let keys: SshKey[] = [];
  await editHtpasswdFile(keysFile, (current) => {
    const { keys: now } = parseKeysFile(current ?? '', keysFile);
    const owner = now.find((k) => k.fingerprint === fingerprint);
    if (owner?.user === user) throw new KeyError(`${user} has this key already`);
    if (owner) throw new KeyError('this key belongs to another user; a key belongs to one user');
    const base = current === null || current === '' || current.endsWith('\n') ? (current ?? '') : `${current}\n`;
    const next = `${base}${formatKey({ user, ...parsed })}\n`;
    keys = parseKeysFile(next, keysFile).keys;
    return next;
  });
  syncAuthorizedKeys(config, keys);
  io.stdout.write(`added ${fingerprint} for ${user}\n`);
  return EXIT.ok;
}

function list(keysFile: string, rest: readonly string[], io: CliIO): number {
  const [user, ...extra] = rest;
  if (extra.length > 0) throw new UsageError('list [USER]');
  for (const k of readKeys(keysFile)) {
    if (user !== undefined && k.user !== user) continue;
    io.stdout.write(`${k.user} ${k.fingerprint} ${k.type}${k.comment ? ` ${k.comment}` : ''}\n`);
  }
  return EXIT.ok;
}

async function remove(config: GitwardConfig, keysFile: string, rest: readonly string[], io: CliIO): Promise<number> {
  const [user, fingerprint, ...extra] = rest;
  if (user === undefined || fingerprint === undefined || extra.length > 0) {
    throw new UsageError('delete USER FINGERPRINT');
  }
  let keys: SshKey[] = [];
  await editHtpasswdFile(keysFile, (current) => {
    if (current === null) throw new KeyError(`no keys file ${keysFile}`);
    const target = parseKeysFile(current, keysFile).keys.find((k) => k.user === user && k.fingerprint === fingerprint);
    if (!target) throw new KeyError(`${user} has no key ${fingerprint}`);
    const next = current
      .split('\n')
      .filter((_l, i) => i + 1 !== target.line)
      .join('\n');
    keys = parseKeysFile(next, keysFile).keys;
    return next;
  });
  syncAuthorizedKeys(config, keys);
  io.stdout.write(`deleted ${fingerprint} of ${user}\n`);
  return EXIT.ok;
}

/**
 * Keys may be added only for users the config knows (users: or an htpasswd file), with names a
 * forced command can carry.
 */
function checkUser(config: GitwardConfig, user: string): void {
  if (!SSH_USER_NAME.test(user)) {
    throw new KeyError(`user name "${user}": SSH keys need a name of A-Z a-z 0-9 . _ @ + -, first a letter or digit`);
  }
  if (!compilePolicy(config).knownUsers().includes(user)) {
    throw new KeyError(`no user "${user}" in the config (users:) or its htpasswd files`);
  }
}

function readKeys(keysFile: string): SshKey[] {
  let text: string;
  try {
    text = fs.readFileSync(keysFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new EditError(`cannot read ${keysFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseKeysFile(text, keysFile).keys;
}

/** Writes authorized_keys for `keys` (when the config names one), atomically. */
export function syncAuthorizedKeys(config: GitwardConfig, keys: readonly SshKey[]): void {
  if (config.ssh.authorizedKeys === null || config.ssh.keysFile === null) return;
  const target = forcedCommandTarget(config.ssh.socket);
  try {
    fs.accessSync(target.relay, fs.constants.X_OK);
  } catch {
    // Lines naming a missing program would refuse every session; say so now, to the admin.
    throw new KeyError(`${target.relay} is missing: run \`npm run build\`, then \`gitward key sync\``);
  }
  const text = renderAuthorizedKeys(keys, target, config.ssh.keysFile);
  writeFileAtomic(config.ssh.authorizedKeys, text);
}

/** The forced command of this checkout (dist/ssh-relay, built from app/ssh/ssh-relay.c), for `socket`. */
export function forcedCommandTarget(socket: string): ForcedCommandTarget {
  return { relay: path.resolve(__dirname, '..', '..', '..', 'ssh-relay'), socket };
}

async function readStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_KEY_LINE_BYTES) {
      throw new KeyError(`more than ${MAX_KEY_LINE_BYTES} bytes on stdin: give one key line`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
