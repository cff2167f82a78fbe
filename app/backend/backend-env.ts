import { SERVER_GIT_ENV } from '../git/server-git-env.js';
import type { GitRequest, Identity } from '../types.js';

/** What the full environment of git-http-backend is built from (ARCHITECTURE.md §5). */
export interface BackendEnvInput {
  /** The CGI meta-variables from `buildCgiEnv`. */
  readonly cgi: Readonly<Record<string, string>>;
  readonly git: GitRequest;
  readonly identity: Identity;
  /** GIT_PROJECT_ROOT: the config's repo_root. */
  readonly repoRoot: string;
  /** GITWARD_CONFIG: absolute path of the config file ('' when built in code). */
  readonly configFile: string;
  readonly requestId: string;
  /** GITWARD_LOG_DIR, for pushes; null otherwise. */
  readonly logDir: string | null;
  /** GITWARD_HOOK_PLAN (protocol/hook-protocol.ts), for pushes; null or absent otherwise. */
  readonly hookPlan?: string | null;
  /**
   * git settings for receive-pack on a push (hooks/ref-namespace.ts `receiveLocks`): git's own
   * locks behind the hook. Absent or empty for reads.
   */
  readonly receiveConfig?: ReadonlyArray<readonly [string, string]>;
  /** PATH, HOME and LANG of gitward's own environment, passed in explicitly. */
  readonly processEnv: Readonly<{ PATH?: string | undefined; HOME?: string | undefined; LANG?: string | undefined }>;
  /** Also set the GIT4NGINX_* names (compat.git4nginx_env). */
  readonly git4nginxEnv: boolean;
}

/**
 * Most bytes git-http-backend buffers of one upload-pack request body, and of a gzip body before
 * inflating it (GIT_HTTP_MAX_REQUEST_BUFFER): a fetch negotiation with many haves fits in a few
 * MiB. git's own default, stated here so the bound is ours and visible.
 */
export const GIT_HTTP_MAX_REQUEST_BUFFER_BYTES = 10 * 1024 * 1024;

/**
 * git settings given per request through GIT_CONFIG_COUNT/KEY/VALUE (git ≥ 2.31), so repos need
 * no server-side config: partial clone (`--filter`) and fetching the missing blobs afterwards.
 */
const READ_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['uploadpack.allowFilter', 'true'],
  ['uploadpack.allowReachableSHA1InWant', 'true'],
];

/**
 * gitward has already decided this push is allowed; git-http-backend would otherwise refuse
 * receive-pack when REMOTE_USER is empty (an allowed anonymous push).
 */
const WRITE_CONFIG: ReadonlyArray<readonly [string, string]> = [['http.receivepack', 'true']];

/**
 * `text` with each run of control characters replaced by one space, trimmed. A NUL would make
 * spawn throw (a 500 on every request of that user); CR/LF have no place in an ident line.
 */
function withoutControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/**
 * The whole environment of git-http-backend, built from scratch: the CGI variables, the git
 * variables (SERVER_GIT_ENV last, so nothing overrides it), gitward's own (and optionally
 * git4nginx's) names. Nothing else is inherited.
 */
export function buildBackendEnv(input: BackendEnvInput): Record<string, string> {
  const { identity } = input;
  const env: Record<string, string> = { ...input.cgi };
  env.GIT_PROJECT_ROOT = input.repoRoot;
  env.GIT_HTTP_EXPORT_ALL = '1';
  env.GIT_HTTP_MAX_REQUEST_BUFFER = String(GIT_HTTP_MAX_REQUEST_BUFFER_BYTES);
  for (const name of ['PATH', 'HOME', 'LANG'] as const) {
    const value = input.processEnv[name];
    if (value !== undefined) env[name] = value;
  }
  const name = typeof identity.info.name === 'string' ? withoutControls(identity.info.name) : '';
  const email = typeof identity.info.email === 'string' ? withoutControls(identity.info.email) : '';
  if (name) env.GIT_COMMITTER_NAME = name;
  if (email) env.GIT_COMMITTER_EMAIL = email;

  const settings =
    input.git.need === 'write' ? [...READ_CONFIG, ...WRITE_CONFIG, ...(input.receiveConfig ?? [])] : READ_CONFIG;
  env.GIT_CONFIG_COUNT = String(settings.length);
  settings.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });

  const own: Record<string, string> = {
    CONFIG: input.configFile,
    USER: identity.user ?? '',
    GROUPS: JSON.stringify(identity.groups),
    INFO: JSON.stringify(identity.info),
    REPO: input.git.repo,
    REQUEST_ID: input.requestId,
  };
  if (input.logDir !== null) own.LOG_DIR = input.logDir;
  if (input.hookPlan) own.HOOK_PLAN = input.hookPlan;
  for (const [key, value] of Object.entries(own)) env[`GITWARD_${key}`] = value;
  if (input.git4nginxEnv) {
    for (const key of ['CONFIG', 'GROUPS', 'INFO', 'LOG_DIR'] as const) {
      const value = own[key];
      if (value !== undefined) env[`GIT4NGINX_${key}`] = value;
    }
  }
  Object.assign(env, SERVER_GIT_ENV);
  return env;
}
