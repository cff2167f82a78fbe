import { BadRequest, Forbidden, NotFound, TooManyRequests, Unauthorized } from '../errors.js';
import { decide } from '../policy/decide.js';
import { resolveIdentity } from '../policy/identity.js';
import { parseBasicAuth } from '../request/basic-auth.js';
import { classify } from '../request/classify.js';
import { clientAddress } from '../request/client-address.js';
import { compileTrustedProxies } from '../request/trusted-proxies.js';
import { locateRepo } from '../request/repo-dir.js';
import type { Runtime } from '../runtime.js';
import type { Decision, GitRequest, Identity, Peer } from '../types.js';

/** One request as the authorizer sees it: no body, nothing express-specific. */
export interface AuthorizeInput {
  readonly method: string;
  /** Path and query as received, still percent-encoded (`/web/site.git/info/refs?service=…`). */
  readonly url: string;
  /** Request headers, lower-case names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly peer: Peer;
  /**
   * The client's address when the caller already derived it from this `peer` and `headers` with
   * the runtime's trusted proxies (the request middleware does, for the audit); derived here when
   * absent. Saves compiling the trusted-proxy list a second time per request.
   */
  readonly clientAddress?: string;
}

/** What authorize learned so far; filled as it goes, so a denial can still be audited. */
export interface AuthorizeProgress {
  clientAddress?: string;
  git?: GitRequest;
  identity?: Identity;
  decision?: Decision;
  /** What the identity chain answered: `rejected` and `throttled` are counted by the metrics. */
  authOutcome?: 'authenticated' | 'anonymous' | 'rejected' | 'throttled';
}

/**
 * Who is asking, by the one identity chain of git requests and the API: Basic credentials (a
 * malformed header is a counted failed login), trusted identity headers, plugins, with the
 * brute-force limits. Throws TooManyRequests (429) or Unauthorized (401, invalid credentials);
 * no credentials is the anonymous identity. Notes the outcome in `progress` as it goes.
 */
export async function identifyCaller(
  runtime: Runtime,
  input: { readonly headers: AuthorizeInput['headers']; readonly peer: Peer; readonly clientAddress: string },
  progress: AuthorizeProgress = {},
): Promise<Identity> {
  const { config, policy } = runtime;
  const auth = parseBasicAuth(input.headers.authorization);
  // A malformed header is a failed login (logged and counted), never a reason to try the plugins.
  const outcome =
    auth.kind === 'malformed'
      ? runtime.auth.rejectMalformedBasic(input.clientAddress)
      : await runtime.auth.identify({
          basic: auth.kind === 'basic' ? auth.credentials : null,
          headers: input.headers,
          peer: input.peer,
          clientAddress: input.clientAddress,
        });
  progress.authOutcome = outcome.kind;
  switch (outcome.kind) {
    case 'throttled':
      throw new TooManyRequests('too many failed logins from your address; try again later', outcome.retryAfterSeconds);
    case 'rejected':
      throw new Unauthorized(
        auth.kind === 'malformed' ? 'malformed Basic credentials' : 'invalid credentials',
        config.realm,
      );
    case 'anonymous':
      return resolveIdentity(policy, null, 'anonymous');
    case 'authenticated':
      return resolveIdentity(policy, outcome.user, outcome.source, outcome.groups);
  }
}

/** An allowed request. */
export interface Authorized {
  readonly git: GitRequest;
  readonly identity: Identity;
  readonly decision: Decision & { readonly allowed: true };
  readonly clientAddress: string;
  /** The repo directory (real path, under repo_root), or null when it does not exist. */
  readonly repoDir: string | null;
}

/**
 * The one-way pipeline up to the backend, shared by the git routes and the nginx sidecar:
 * classify → identify (runtime.auth) → resolveIdentity → decide → locate the repo. Returns the
 * allowed request, or throws the typed HttpError of ARCHITECTURE.md §3 (proxy column): 400/405 bad
 * request, 401 with WWW-Authenticate, 403, 404 (hidden, or a symlink leaving repo_root), 429.
 * A repo that is allowed but missing is returned with `repoDir: null`; the caller answers.
 */
export async function authorize(
  runtime: Runtime,
  input: AuthorizeInput,
  progress: AuthorizeProgress = {},
): Promise<Authorized> {
  const { config, policy } = runtime;
  const address =
    input.clientAddress ??
    clientAddress(input.peer, input.headers, compileTrustedProxies(config.server.trustedProxies));
  progress.clientAddress = address;
  const q = input.url.indexOf('?');
  const rawPath = q >= 0 ? input.url.slice(0, q) : input.url;
  const rawQuery = q >= 0 ? input.url.slice(q + 1) : '';
  if (!rawPath.startsWith('/')) throw new BadRequest('not a git URL');
  const git = classify(input.method, rawPath, rawQuery, { dumbHttp: config.dumbHttp, basePath: config.basePath });
  progress.git = git;

  const caller = { headers: input.headers, peer: input.peer, clientAddress: address };
  const identity = await identifyCaller(runtime, caller, progress);
  progress.identity = identity;

  const decision = decide(policy, identity, git.repo, git.need);
  progress.decision = decision;
  if (!decision.allowed) {
    switch (decision.status) {
      case 401:
        throw new Unauthorized(`authentication required for ${git.repo}`, config.realm);
      case 403:
        throw new Forbidden(git.need === 'write' ? `you may not push to ${git.repo}` : `you may not read ${git.repo}`);
      case 404:
        throw new NotFound(`repository ${git.repo} not found`);
    }
  }
  const location = locateRepo(config.repoRoot, git.repo);
  if (location.kind === 'outside') throw new NotFound(`repository ${git.repo} not found`);
  return { git, identity, decision, clientAddress: address, repoDir: location.kind === 'found' ? location.dir : null };
}
