import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GitwardConfig } from '../config/types.js';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import { buildBackendEnv } from '../backend/backend-env.js';
import { decide } from '../policy/decide.js';
import type { CompiledPolicy } from '../config/types.js';
import { resolveIdentity } from '../policy/identity.js';
import { locateRepo } from '../request/repo-dir.js';
import { HttpError } from '../errors.js';
import type { AuditRecord, GitService, Logger } from '../types.js';
import { parseSshCommand, type SshCommand } from './ssh-command.js';

/** What one SSH session asks for: the forced command's key id and what sshd put in its environment. */
export interface SshSessionRequest {
  /** The key's owner and fingerprint, as written into the forced command by `gitward key`. */
  readonly user: string;
  readonly fingerprint: string;
  /** SSH_ORIGINAL_COMMAND; undefined when the client asked for a shell. */
  readonly originalCommand: string | undefined;
  /** SSH_CONNECTION (`client-ip client-port server-ip server-port`), for the audit line. */
  readonly connection: string | undefined;
  /** GIT_PROTOCOL as the client sent it (sshd's AcceptEnv). */
  readonly gitProtocol: string | undefined;
  /** PATH and HOME of the session (the SSH account's, set by sshd), for git and the hooks. */
  readonly processEnv: Readonly<{ PATH?: string | undefined; HOME?: string | undefined }>;
}

/** What a session is decided with: the config and policy in force, and the key lookup. */
export interface SshSessionContext {
  readonly config: GitwardConfig;
  readonly policy: CompiledPolicy;
  /** True when the keys file holds this key for this user now. */
  readonly keyOnFile: (user: string, fingerprint: string) => boolean;
  /** Folder for the hooks' private log dir (GITWARD_LOG_DIR): one the SSH account can write in. */
  readonly hookLogParent: string;
  readonly now: () => number;
}

/** The SSH audit line: the HTTP line's fields, with the key that authenticated the session. */
export interface SshAuditRecord extends AuditRecord {
  readonly keyFingerprint: string;
}

/** A decided session: refused with one line, or git to run with this argv and environment. */
export type SshSession =
  | { readonly kind: 'refuse'; readonly message: string; readonly state: SessionState }
  | {
      readonly kind: 'run';
      readonly argv: readonly string[];
      readonly env: Readonly<Record<string, string>>;
      readonly state: SessionState;
    };

/** What closing a session needs; opaque to the transport. */
export interface SessionState {
  readonly record: Mutable<SshAuditRecord>;
  readonly startedAt: number;
  readonly auditFile: string | null;
  readonly logDir: string | null;
  readonly hookLogFile: string | null;
}

/** How a session's git ended, as the forced command reports it. */
export interface SshSessionResult {
  readonly exitCode: number | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Mode of an audit file the session creates (before the umask), as gitward's own. */
const AUDIT_FILE_MODE = 0o640;
/** The hooks' log dir: the SSH account (group) writes into it, gitward reads and removes it. */
const HOOK_LOG_DIR_MODE = 0o2770;
/** Prefix of the private temp dir handed to hooks as GITWARD_LOG_DIR. */
const HOOK_LOG_DIR_PREFIX = 'hooks-';
/** What GIT_PROTOCOL may hold (`version=2`, colon-separated key=value): anything else is dropped. */
const GIT_PROTOCOL_VALUE = /^[A-Za-z0-9._=:-]{1,256}$/;
/** The one line a session whose key or user is gone gets: never which of the two. */
export const KEY_REFUSED = 'this key is not (or no longer) accepted';

/** The git subcommand each service runs. */
const GIT_SUBCOMMAND: Readonly<Record<SshCommand['service'], string>> = {
  'git-upload-pack': 'upload-pack',
  'git-receive-pack': 'receive-pack',
  'git-upload-archive': 'upload-archive',
};

/**
 * Decides one SSH session inside the server: checks that the key still belongs to an existing
 * user, parses the command, decides with the HTTP policy, and builds git's argv and the
 * environment HTTP pushes give the hooks. A refusal is one line for the client; nothing reaches a
 * shell. `closeSshSession` writes the session's one audit line, whatever happened.
 */
export function openSshSession(ctx: SshSessionContext, input: SshSessionRequest): SshSession {
  const { config, policy } = ctx;
  const startedAt = ctx.now();
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
  const state = { record, startedAt, auditFile: config.log.audit, logDir: null, hookLogFile: null };
  const refuse = (status: number, decision: AuditRecord['decision'], message: string): SshSession => {
    record.status = status;
    record.decision = decision;
    record.exitCode = 1;
    return { kind: 'refuse', message, state };
  };
  if (config.ssh.keysFile === null) return refuse(403, 'denied', 'SSH access is not enabled on this server');
  if (!policy.knownUsers().includes(input.user) || !ctx.keyOnFile(input.user, input.fingerprint)) {
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
  const logDir = isPush ? makeHookLogDir(ctx.hookLogParent) : null;
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
  const hookLogFile = config.hooks.logFile ?? config.log.audit;
  const argv = ['git', GIT_SUBCOMMAND[command.service], location.dir];
  return { kind: 'run', argv, env, state: { record, startedAt, auditFile: config.log.audit, logDir, hookLogFile } };
}

/**
 * Ends a session: relogs the hooks' lines of a push, then appends the one audit line with git's
 * exit code and the bytes the forced command counted (null: the forced command went away first).
 */
export async function closeSshSession(
  state: SessionState,
  result: SshSessionResult | null,
  now: () => number,
): Promise<void> {
  const { record } = state;
  if (result !== null) {
    record.exitCode = result.exitCode;
    record.bytesIn = result.bytesIn;
    record.bytesOut = result.bytesOut;
  } else if (record.decision === 'allowed') {
    record.exitCode = null;
  }
  try {
    if (state.logDir !== null) {
      const { relogHookLogs } = require('../routes/hook-logs.js') as typeof import('../routes/hook-logs.js');
      const logger = fileLogger(state.hookLogFile, record.requestId);
      await relogHookLogs(state.logDir, logger, { repo: record.repo ?? '', user: record.user });
    }
  } finally {
    record.durationMs = Math.max(0, now() - state.startedAt);
    if (state.auditFile !== null) writeAudit(state.auditFile, record);
  }
}

/** A fresh hooks' log dir under `parent`, writable by the group (the SSH account runs the hooks). */
function makeHookLogDir(parent: string): string {
  const dir = fs.mkdtempSync(path.join(parent, HOOK_LOG_DIR_PREFIX));
  fs.chmodSync(dir, HOOK_LOG_DIR_MODE);
  return dir;
}

/** The hook plan's encoder, loaded for the first push only. */
function loadHookPlan(): typeof import('../../protocol/hook-protocol.js') {
  return require('../../protocol/hook-protocol.js') as typeof import('../../protocol/hook-protocol.js');
}

/** git's receive locks (plugin settings in force), loaded for the first push only, like the hook plan. */
function loadReceiveLocks(): typeof import('../policy/receive-locks-for.js') {
  return require('../policy/receive-locks-for.js') as typeof import('../policy/receive-locks-for.js');
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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
  const write =
    (level: string) =>
    (event: string, fields: Record<string, unknown> = {}): void => {
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
