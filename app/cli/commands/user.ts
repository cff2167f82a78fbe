import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { loadConfig } from '../../config/load.js';
import { ConfigError, UsageError } from '../../errors.js';
import {
  addUserLine,
  editHtpasswdFile,
  EditError,
  hasUser,
  removeUser,
  replaceUserHash,
} from '../../identity/htpasswd-edit.js';
import {
  DEFAULT_BCRYPT_COST,
  hashPassword,
  MAX_BCRYPT_COST,
  MIN_BCRYPT_COST,
  parseHtpasswd,
  verifyPassword,
} from '../../identity/htpasswd-file.js';
import { userNameProblem } from '../../principals.js';
import { findNameMentions } from '../../config/name-mentions.js';
import { configPathFrom, parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';

/** Longest password read from stdin: bcrypt uses 72 bytes; more than this is a wrong pipe. */
const MAX_PASSWORD_BYTES = 4096;

const HELP = `usage: gitward user add|passwd|delete|list|verify [USER] [options]

  add USER       add a user (creates the file if it does not exist)
  passwd USER    change a user's password
  delete USER    remove a user
  list           print the user names, one per line
  verify USER    check a password; exit 0 when it matches, 1 when not

options:
  --file FILE        the htpasswd file (default: the first htpasswd plugin's file of the config)
  --config FILE      the config (default: $GITWARD_CONFIG, then ./gitward.yaml)
  --cost N           bcrypt cost of new hashes (${MIN_BCRYPT_COST}-${MAX_BCRYPT_COST}, default ${DEFAULT_BCRYPT_COST})
  --password-stdin   read the password from stdin (one line) instead of a no-echo prompt

Passwords are never taken from the command line. Hashes are bcrypt ($2y$, as htpasswd -B).
Edits are atomic and locked (FILE.lock); the file keeps its mode and owner.
`;

const SPEC = {
  file: { type: 'string' },
  config: { type: 'string' },
  cost: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Reads the whole of stdin (for --password-stdin); strips one final line end. */
async function readPasswordFromStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_PASSWORD_BYTES)
      throw new UsageError(`the password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`);
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const firstLine = text.replace(/\r?\n$/, '');
  if (firstLine.includes('\n')) throw new UsageError('--password-stdin takes one line');
  return firstLine;
}

interface RawModeStream extends Readable {
  setRawMode?(mode: boolean): unknown;
}

/** Prompts on stderr and reads one line from the terminal without echoing it. */
function promptNoEcho(stdin: RawModeStream, stderr: Writable, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (typeof stdin.setRawMode !== 'function') {
      reject(new UsageError('stdin is not a terminal that can hide input; use --password-stdin'));
      return;
    }
    stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err: Error | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new EditError('interrupted'));
        if (ch === '\u0004') return value === '' ? done(new EditError('no password given')) : done(null);
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Gets the password: --password-stdin, else a no-echo prompt (twice for a new password). */
async function getPassword(io: CliIO, fromStdin: boolean, confirm: boolean): Promise<string> {
  let password: string;
  if (fromStdin) password = await readPasswordFromStdin(io.stdin);
  else {
    if (!io.isTTY) throw new UsageError('no terminal to ask for the password; use --password-stdin');
    password = await promptNoEcho(io.stdin as RawModeStream, io.stderr, 'Password: ');
    if (confirm && (await promptNoEcho(io.stdin as RawModeStream, io.stderr, 'Retype password: ')) !== password) {
      throw new EditError('the passwords do not match');
    }
  }
  if (password === '') throw new EditError('an empty password is refused');
  // The Basic credentials parser refuses control characters, so such a password could never log in.
  if (/\p{Cc}/u.test(password)) throw new EditError('a password cannot contain control characters');
  return password;
}

/** The htpasswd file to edit (--file, else the first htpasswd plugin's file of the config) and that config. */
async function filesFrom(
  options: Record<string, string | boolean | undefined>,
  io: CliIO,
): Promise<{ file: string; config: string | null }> {
  if (typeof options.file === 'string') {
    if (options.config !== undefined) throw new UsageError('give --file or --config, not both');
    if (options.file === '') throw new UsageError('--file needs a path');
    return { file: path.resolve(io.cwd, options.file), config: null };
  }
  const configFile = configPathFrom(options.config, io.env, io.cwd);
  const config = await loadConfig(configFile);
  const spec = config.authentication.find((s) => s.plugin === 'htpasswd');
  if (!spec || typeof spec.options.file !== 'string') {
    throw new ConfigError([`${configFile}: authentication: no htpasswd plugin with a file; use --file`]);
  }
  return { file: path.resolve(config.dir, spec.options.file), config: configFile };
}

/**
 * After a delete: the places the config still names the user, so the admin can remove them (a
 * grant naming a user no longer in users: or an htpasswd file makes the next reload fail).
 */
function warnStillNamed(configFile: string, user: string, io: CliIO): void {
  const mentions = findNameMentions(fs.readFileSync(configFile, 'utf8'), user);
  if (mentions.length === 0) return;
  const head = `gitward user: warning: ${configFile} still names "${user}"`;
  io.stderr.write(`${head}; remove it there before the next reload:\n`);
  for (const m of mentions) io.stderr.write(`${configFile}:${m.line}: ${m.keyPath}\n`);
}

function costFrom(option: string | boolean | undefined): number {
  if (option === undefined) return DEFAULT_BCRYPT_COST;
  const n = Number(option);
  if (typeof option !== 'string' || !/^\d+$/.test(option) || n < MIN_BCRYPT_COST || n > MAX_BCRYPT_COST) {
    throw new UsageError(`--cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`);
  }
  return n;
}

function readExisting(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EditError(
      code === 'ENOENT'
        ? `no such file ${file} (gitward user add creates it)`
        : `cannot read ${file} (${code ?? 'error'})`,
    );
  }
}

/**
 * `gitward user add|passwd|delete|list|verify`: manages an htpasswd file. Exit 0 on success,
 * 1 when the operation fails (unknown user, missing file, wrong password on verify), 2 on usage
 * errors (including a bad user name), 78 on a bad config.
 */
export const user: Command = async (argv, io) => {
  const { positionals, options } = parseArgs(argv, SPEC);
  if (options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  const [action, name, ...extra] = positionals;
  const actions = ['add', 'passwd', 'delete', 'list', 'verify'];
  if (action === undefined || !actions.includes(action))
    throw new UsageError(`expected one of ${actions.join('|')}\n${HELP}`);
  if (action === 'list') {
    if (name !== undefined) throw new UsageError('list takes no user name');
  } else {
    if (name === undefined) throw new UsageError(`${action} needs a USER`);
    const problem = userNameProblem(name);
    if (problem !== null) throw new UsageError(`bad user name ${JSON.stringify(name)}: ${problem}`);
  }
  if (extra.length > 0)
    throw new UsageError(`unexpected argument "${extra[0]}" (passwords are never taken from the command line)`);
  const cost = costFrom(options.cost);
  if (options.cost !== undefined && action !== 'add' && action !== 'passwd')
    throw new UsageError(`--cost is for add and passwd`);
  const fromStdin = options['password-stdin'] === true;
  if (fromStdin && (action === 'list' || action === 'delete')) throw new UsageError(`${action} needs no password`);

  try {
    const files = await filesFrom(options, io);
    const file = files.file;
    const user = name as string;
    switch (action) {
      case 'list': {
        const parsed = parseHtpasswd(readExisting(file));
        for (const w of parsed.warnings) io.stderr.write(`gitward user: ${file}: ${w}\n`);
        io.stdout.write([...parsed.entries.keys()].map((u) => `${u}\n`).join(''));
        return EXIT.ok;
      }
      case 'verify': {
        const entry = parseHtpasswd(readExisting(file)).entries.get(user);
        const password = await getPassword(io, fromStdin, false);
        if (entry === undefined) throw new EditError(`no user "${user}" in ${file}`);
        if (!(await verifyPassword(entry, password))) {
          io.stderr.write(`gitward user: the password of "${user}" does not match\n`);
          return EXIT.failed;
        }
        io.stdout.write(`password of "${user}" is correct\n`);
        return EXIT.ok;
      }
      case 'delete': {
        await editHtpasswdFile(file, (text) => {
          if (text === null) throw new EditError(`no such file ${file}`);
          if (!hasUser(text, user)) throw new EditError(`no user "${user}" in ${file}`);
          return removeUser(text, user);
        });
        io.stdout.write(`deleted user "${user}" from ${file}\n`);
        if (files.config !== null) warnStillNamed(files.config, user, io);
        return EXIT.ok;
      }
      case 'add':
      case 'passwd': {
        // Check what can be checked before asking for a password; checked again under the lock.
        if (action === 'passwd' && !hasUser(readExisting(file), user))
          throw new EditError(`no user "${user}" in ${file}`);
        if (action === 'add' && fs.existsSync(file) && hasUser(readExisting(file), user)) {
          throw new EditError(`user "${user}" already exists in ${file}; use gitward user passwd`);
        }
        // Hash before taking the lock: bcrypt is slow, and other editors are waiting.
        const hash = await hashPassword(await getPassword(io, fromStdin, true), cost);
        await editHtpasswdFile(file, (text) => {
          if (action === 'add') {
            if (text !== null && hasUser(text, user))
              throw new EditError(`user "${user}" already exists in ${file}; use gitward user passwd`);
            return addUserLine(text ?? '', user, hash);
          }
          if (text === null) throw new EditError(`no such file ${file}`);
          if (!hasUser(text, user)) throw new EditError(`no user "${user}" in ${file}`);
          return replaceUserHash(text, user, hash);
        });
        io.stdout.write(`${action === 'add' ? 'added' : 'changed the password of'} user "${user}" in ${file}\n`);
        return EXIT.ok;
      }
    }
    return EXIT.usage;
  } catch (err) {
    if (err instanceof EditError) {
      io.stderr.write(`gitward user: ${err.message}\n`);
      return EXIT.failed;
    }
    throw err;
  }
};
