import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { loadConfig } from '../config/load.js';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import { buildBackendEnv } from '../backend/backend-env.js';
import { decide } from '../policy/decide.js';
import { compilePolicy } from '../policy/compile.js';
import { resolveIdentity } from '../policy/identity.js';
import { locateRepo } from '../request/repo-dir.js';
import { HttpError } from '../errors.js';
import type { AuditRecord, GitService, Logger } from '../types.js';
import { parseSshCommand, type SshCommand } from './ssh-command.js';
import { findUserKey } from './ssh-keys.js';

/** What one SSH session is handed by sshd and the forced command. */
export interface SshSessionInput {
  /** Absolute path of the config (the forced command's --config). */
  readonly configFile: string;
  /** The key's owner and fingerprint, as written into the forced command by `gitward key`. */
  readonly user: string;
  readonly fingerprint: string;
  /** SSH_ORIGINAL_COMMAND; undefined when the client asked for a shell. */
  readonly originalCommand: string | undefined;
  /** SSH_CONNECTION (`client-ip client-port server-ip server-port`), for the audit line. */
  readonly connection: string | undefined;
  /** GIT_PROTOCOL as the client sent it (sshd's AcceptEnv). */
  readonly gitProtocol: string | undefined;
  /** PATH, HOME and LANG of the session, for git and the hooks. */
  readonly processEnv: Readonly<{ PATH?: string | undefined; HOME?: string | undefined; LANG?: string | undefined }>;
  readonly stdin: Readable;
  readonly stdout: Writable;
  /** The client's stderr: one line for a refusal; git's and the hooks' own lines. */
  readonly stderr: Writable;
  readonly now: () => number;
}

/** The SSH audit line: the HTTP line's fields, with the key that authenticated the session. */
export interface SshAuditRecord extends AuditRecord {
  readonly keyFingerprint: string;
}

/** Mode of an audit file the session creates (before the umask), as gitward's own. */
const AUDIT_FILE_MODE = 0o640;
/** Prefix of the private temp dir handed to hooks as GITWARD_LOG_DIR. */
const HOOK_LOG_DIR_PREFIX = 'gitward-hooks-';
/** What GIT_PROTOCOL may hold (`version=2`, colon-separated key=value): anything else is dropped. */
const GIT_PROTOCOL_VALUE = /^[A-Za-z0-9._=:-]{1,256}$/;
/** The one line a session whose key or user is gone gets: never which of the two. */
const KEY_REFUSED = 'this key is not (or no longer) accepted';

/** The git subcommand each service runs. */
const GIT_SUBCOMMAND: Readonly<Record<SshCommand['service'], string>> = {
  'git-upload-pack': 'upload-pack',
  'git-receive-pack': 'receive-pack',
  'git-upload-archive': 'upload-archive',
};

/**
 * Serves one SSH session: checks that the key still belongs to an existing user, parses the
 * command, decides with the HTTP policy, runs git with the environment HTTP pushes give the hooks,
 * streams both ways counting bytes, and writes one audit line. Resolves with the exit code for
 * sshd (git's own, or 1 for a refusal). Refusals are one line on stderr; nothing reaches a shell.
 */
export async function runSshSession(input: SshSessionInput): Promise<number> {
  const startedAt = input.now();
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16);
  const record: Mutable<SshAuditRecord> = {
    time: new Date(startedAt).toISOString(),
    requestId,
    user: input.user,
    authSource: 'ssh-key',
    remoteAddr: (input.connection ?? '').split(' ')[0] ?? '',
    repo: null,
    service: null,
    need: null,
    decision: 'invalid',
    status: 0,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
    exitCode: null,
    mode: 'ssh',
    requestBody: null,
    keyFingerprint: input.fingerprint,
  };
  let auditFile: string | null = null;
  const finish = (code: number): number => {
    record.durationMs = Math.max(0, input.now() - startedAt);
    if (auditFile !== null) writeAudit(auditFile, record);
    return code;
  };
  const refuse = (status: number, decision: AuditRecord['decision'], message: string): number => {
    record.status = status;
    record.decision = decision;
    input.stderr.write(`gitward: ${message}\n`);
    return finish(1);
  };

  let loaded;
  try {
    loaded = await loadConfig(input.configFile);
  } catch {
    // The details are for the admin (`gitward check`), not for whoever holds a key.
    input.stderr.write(`gitward: the server's configuration cannot be loaded (request ${requestId})\n`);
    return 1;
  }
  const config = loaded;
  auditFile = config.log.audit;
  if (config.ssh.keysFile === null) return refuse(403, 'denied', 'SSH access is not enabled on this server');
  const policy = compilePolicy(config);
  if (!policy.knownUsers().includes(input.user) || !keyOnFile(config.ssh.keysFile, input.user, input.fingerprint)) {
    record.user = null;
    record.authSource = 'none';
    return refuse(401, 'denied', KEY_REFUSED);
  }

  let command: SshCommand;
  try {
    command = parseSshCommand(input.originalCommand);
  } catch (err) {
    return refuse(400, 'invalid', err instanceof HttpError ? err.message : 'bad command');
  }
  record.repo = command.repo;
  record.service = command.service;
  record.need = command.need;

  const identity = resolveIdentity(policy, input.user, 'ssh-key');
  const decision = decide(policy, identity, command.repo, command.need);
  const notFound = `repository ${command.repo} not found`;
  if (!decision.allowed) {
    if (decision.status === 404) return refuse(404, 'denied', notFound);
    const words = command.need === 'write' ? `you may not push to ${command.repo}` : `you may not read ${command.repo}`;
    return refuse(403, 'denied', words);
  }
  const location = locateRepo(config.repoRoot, command.repo);
  if (location.kind !== 'found') return refuse(404, 'allowed', notFound);
  record.decision = 'allowed';
  record.status = 200;

  const isPush = command.service === 'git-receive-pack';
  const logDir = isPush ? fs.mkdtempSync(path.join(os.tmpdir(), HOOK_LOG_DIR_PREFIX)) : null;
  const env = buildBackendEnv({
    cgi: {},
    git: { repo: command.repo, service: command.service as GitService, need: command.need, kind: 'rpc', suffix: '' },
    identity,
    repoRoot: config.repoRoot,
    configFile: config.file,
    requestId,
    logDir,
    hookPlan: isPush ? loadHookPlan().encodeHookPlan(policy, command.repo) : null,
    // git's own second lock behind the hook, exactly as for a push over HTTP.
    receiveConfig: isPush ? loadReceiveLocks().receiveLocksFor(policy, command.repo) : [],
    processEnv: input.processEnv,
    git4nginxEnv: config.compat.git4nginxEnv,
  });
  // The CGI server's variables mean nothing to git over SSH.
  for (const key of ['GIT_PROJECT_ROOT', 'GIT_HTTP_EXPORT_ALL', 'GIT_HTTP_MAX_REQUEST_BUFFER']) delete env[key];
  // Replace objects off and grafts ignored, as for every server-side git (buildBackendEnv sets
  // them too; said again here so that no edit above can lose them).
  Object.assign(env, SERVER_GIT_ENV);
  const protocol = input.gitProtocol;
  if (protocol !== undefined && GIT_PROTOCOL_VALUE.test(protocol)) env.GIT_PROTOCOL = protocol;

  try {
    record.exitCode = await runGit(['git', GIT_SUBCOMMAND[command.service], location.dir], env, input, record);
  } finally {
    if (logDir !== null) {
      const { relogHookLogs } = require('../routes/hook-logs.js') as typeof import('../routes/hook-logs.js');
      const logger = fileLogger(config.hooks.logFile ?? auditFile, requestId);
      await relogHookLogs(logDir, logger, { repo: command.repo, user: input.user });
    }
  }
  return finish(record.exitCode ?? 1);
}

/** The hook plan's encoder, loaded for pushes only: every ls-remote and fetch pays this process's start-up. */
function loadHookPlan(): typeof import('../../protocol/hook-protocol.js') {
  return require('../../protocol/hook-protocol.js') as typeof import('../../protocol/hook-protocol.js');
}

/** git's receive locks (plugin settings in force), loaded for pushes only, like the hook plan. */
function loadReceiveLocks(): typeof import('../policy/receive-locks-for.js') {
  return require('../policy/receive-locks-for.js') as typeof import('../policy/receive-locks-for.js');
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** True when the keys file still holds this key for this user (read afresh on every session). */
function keyOnFile(file: string, user: string, fingerprint: string): boolean {
  try {
    return findUserKey(fs.readFileSync(file, 'utf8'), user, fingerprint);
  } catch {
    return false;
  }
}

/** Runs git with the session's stdin and stdout streamed through, counting bytes; resolves with its exit code. */
function runGit(
  argv: readonly string[],
  env: Record<string, string>,
  input: SshSessionInput,
  record: Mutable<SshAuditRecord>,
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'inherit'] });
    child.on('error', reject);
    input.stdin.on('data', (b: Buffer) => (record.bytesIn += b.length));
    child.stdout.on('data', (b: Buffer) => (record.bytesOut += b.length));
    input.stdin.pipe(child.stdin);
    // git may exit before reading all of stdin (a refused push); the EPIPE is not our failure.
    child.stdin.on('error', () => undefined);
    child.stdout.pipe(input.stdout, { end: false });
    child.on('close', (code, signal) => {
      input.stdin.unpipe(child.stdin);
      input.stdin.destroy();
      // Everything git wrote must reach sshd before the session ends.
      const done = (): void => resolve(signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : code);
      if (input.stdout.writableNeedDrain) input.stdout.once('drain', done);
      else done();
    });
  });
}

/** Appends `record` as one JSON line to the audit file (O_APPEND: concurrent sessions never interleave). */
function writeAudit(file: string, record: SshAuditRecord): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${JSON.stringify(record)}\n`, { mode: AUDIT_FILE_MODE });
  } catch {
    // The session's outcome stands; a missing audit line shows as a gap the admin can see.
  }
}

/** A Logger that appends JSON lines to `file` (hook lines of an SSH push; null drops them). */
function fileLogger(file: string | null, requestId: string): Logger {
  const write = (level: string) => (event: string, fields: Record<string, unknown> = {}): void => {
    if (file === null) return;
    try {
      const line = { timestamp: new Date().toISOString(), level, event, requestId, transport: 'ssh', ...fields };
      fs.appendFileSync(file, `${JSON.stringify(line)}\n`, { mode: AUDIT_FILE_MODE });
    } catch {
      // As for the audit line.
    }
  };
  const logger: Logger = {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: () => undefined,
    child: () => logger,
  };
  return logger;
}
