import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { SERVER_GIT_ENV } from '../../git/server-git-env.js';
import { DOCTOR_PROBE_PREFIX, doctorProbePattern } from '../../../protocol/doctor-probe.js';
import { BODY_FRAMING_HEADER } from '../../request/body-framing.js';
import { parseArgs } from '../args.js';
import { EXIT, type CliIO, type Command } from '../io.js';
import type { CheckLevel, CheckResult } from './doctor-result.js';

export type { CheckLevel, CheckResult } from './doctor-result.js';

const HELP = `usage: gitward doctor URL

Checks a deployment end to end, as a git user would, through nginx and everything behind it:
  1. a request without credentials gets 401 with a Basic challenge
  2. git ls-remote negotiates protocol v2
  3. a (shallow) clone
  4. a push of over 1 MiB (git sends it chunked) to the probe ref refs/gitward/doctor/*, which
     gitward's pre-receive hook refuses by design: the pack goes the whole way and the hook
     runs, but no ref is written, so there is nothing to delete afterwards
  5. that the push reached gitward chunked, not buffered by nginx (gitward's X-Gitward-Body
     answer header; WARN in sidecar mode, where the body goes to fcgiwrap and cannot be seen)
  6. that the refusal came from gitward's hook (else this repo's hooks are not gitward's)
  7. a fetch whose negotiation git sends gzip'd
  8. that no probe ref was left behind, checked with ls-remote
For each failure it names the setting that is the likely cause. URL is a repo URL such as
https://ann@git.example.org/web/site.git. Without a password in it, doctor asks git for one:
your credential helper, else GIT_ASKPASS, else a prompt on the terminal. Either way the password
reaches doctor's git runs through their environment, never their command line (which other local
users can read). The repo must be writable by that user. An ssh:// URL (git over SSH, with the key from GIT_SSH_COMMAND or your ssh
config) gets the SSH checks: protocol v2, a shallow clone, a push of a scratch branch and its
deletion. Each check prints ok, WARN (could not be checked) or FAIL. Exit 0 when nothing failed,
1 when a check failed.
`;

/** A step that takes longer than this is reported as hung (a timeout somewhere on the way). */
const STEP_TIMEOUT_MS = 120_000;
/** Size of the scratch push: above git's 1 MiB http.postBuffer, so git streams it chunked. */
export const DOCTOR_PUSH_BYTES = 2 * 1024 * 1024;
/** git's default http.postBuffer, set for the push so that no local setting makes it unchunked. */
const POST_BUFFER_BYTES = 1024 * 1024;
/**
 * Local commits the server lacks: their "have" lines make the negotiation body big enough (>1 KiB) for git
 * to gzip it.
 */
const NEGOTIATION_COMMITS = 100;
/** Environment variables of the user that git may need here (never the whole environment). */
const PASSED_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'XDG_CONFIG_HOME',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;
/** …and those that `git credential fill` may use to ask for a password. */
const ASKPASS_ENV = ['GIT_ASKPASS', 'SSH_ASKPASS', 'DISPLAY', 'WAYLAND_DISPLAY', 'TERM'] as const;

/** What one git run left: exit code, output, and whether doctor killed it for hanging. */
export interface GitRun {
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly timedOut: boolean;
}

/**
 * The likely cause of a failed git run, from git's stderr: the HTTP status or curl error it names,
 * mapped to the nginx or gitward setting an admin should look at. Null when nothing is recognised.
 * Pure.
 */
export function diagnose(text: string, timedOut = false): string | null {
  // GIT_TRACE_CURL lines (timestamped) talk about SSL and headers of every request: not errors.
  const stderr = text
    .split('\n')
    .filter((l) => !/^\d\d:\d\d:\d\d\.\d+ /.test(l))
    .join('\n');
  const status =
    /(?:HTTP|returned error:|error: RPC failed; HTTP) (\d{3})/.exec(stderr)?.[1] ??
    /The requested URL returned error: (\d{3})/.exec(stderr)?.[1];
  if (timedOut) {
    return (
      'timeouts: the request hung; look at proxy_read_timeout/proxy_send_timeout (fastcgi_read_timeout/' +
      "fastcgi_send_timeout in sidecar mode), which must outlast git-http-backend's silent phases"
    );
  }
  switch (status) {
    case '413':
      return 'body size limit: nginx refused the push body; set `client_max_body_size 0;` in the git server/location';
    case '411':
      return (
        'chunked request body refused: git streams pushes over 1 MiB chunked; use `proxy_http_version 1.1;` ' +
        'with `proxy_request_buffering off;` (fastcgi_request_buffering off in sidecar mode)'
      );
    case '504':
      return (
        'timeouts: nginx gave up waiting for the backend; raise proxy_read_timeout/proxy_send_timeout ' +
        '(fastcgi_read_timeout/fastcgi_send_timeout in sidecar mode)'
      );
    case '502':
      return (
        'backend unreachable: gitward (or fcgiwrap in sidecar mode) is not running or nginx cannot open its ' +
        'socket (permissions of /run/gitward)'
      );
    case '500':
      return (
        'server error: if only the big push fails, nginx could not buffer the body (request buffering): set ' +
        '`proxy_request_buffering off;` / `fastcgi_request_buffering off;` and check client_body_temp_path; ' +
        'otherwise see the nginx and gitward logs'
      );
    case '401':
      return 'authentication failed: wrong or missing credentials (put them in the URL or your credential helper)';
    case '403':
      return 'forbidden: this user may not do this here (gitward access USER REPO write explains why)';
    case '404':
      return 'not found: wrong URL, base_path, or a repo this user may not read';
    default:
      break;
  }
  // No HTTP status: the answer had begun (200 and headers) and was cut off: nginx drops the connection when the
  // backend stays silent longer than its read timeout, e.g. while a pre-receive hook runs.
  const cutOff = [
    'curl 18 ',
    'transfer closed with outstanding read data remaining',
    'unexpected disconnect while reading sideband packet',
  ];
  if (cutOff.some((s) => stderr.includes(s))) {
    return (
      'timeouts: the answer was cut off mid-stream, most often because proxy_read_timeout (fastcgi_read_timeout ' +
      'in sidecar mode) is shorter than a silent phase of git-http-backend (a slow pre-receive hook, index-pack ' +
      'of a big push); otherwise gitward or git-http-backend died (see their logs)'
    );
  }
  if (/Authentication failed/i.test(stderr))
    return 'authentication failed: wrong or missing credentials, or git never saw a challenge (see the 401 check)';
  if (/SSL|certificate/i.test(stderr)) {
    return (
      'TLS: git does not trust the server certificate ' +
      '(GIT_SSL_CAINFO, or the certificate chain in ssl_certificate)'
    );
  }
  if (/Operation timed out|timed out/i.test(stderr)) return 'timeouts: see proxy_read_timeout/proxy_send_timeout';
  if (/Could not resolve host|Connection refused|Failed to connect/i.test(stderr))
    return 'connection: nginx is not reachable at this address and port';
  return null;
}

function lastLines(text: string, n = 2): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(?:\d\d:\d\d:\d\d\.\d+ |=>|<=|\s*trace|packet:)/.test(l))
    .slice(-n)
    .join(' | ');
}

/** The URL with its password hidden, for output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Runs every check of `gitward doctor` against `url` in a temp dir, with `env` for git. Never
 * throws for a failing deployment: each failure is a CheckResult.
 */
export async function runDoctor(url: string, env: Record<string, string>, tmp: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const gitEnv: Record<string, string> = { ...env, GIT_TERMINAL_PROMPT: '0', LANG: 'C', LC_ALL: 'C' };
  const git = (args: string[], cwd: string, extra: Record<string, string> = {}) =>
    runGit(args, cwd, { ...gitEnv, ...extra });
  const fail = (name: string, r: GitRun, fallback: string): CheckResult => failed(name, r, fallback);

  // 1. The challenge: git only sends credentials after a 401 that carries WWW-Authenticate.
  results.push(await checkChallenge(url, env));

  // 2. Protocol v2 through the whole stack.
  const ls = await git(['-c', 'protocol.version=2', 'ls-remote', url], tmp, { GIT_TRACE_PACKET: '1' });
  if (ls.code !== 0) results.push(fail('ls-remote (protocol v2)', ls, 'see the nginx error log'));
  else if (!/git< version 2/.test(ls.stderr))
    results.push({
      name: 'ls-remote (protocol v2)',
      level: 'fail',
      detail: 'the server answered with protocol v0',
      cause:
        'Git-Protocol not passed: nginx must forward the Git-Protocol header (proxy_set_header Git-Protocol ' +
        '$http_git_protocol; in sidecar mode it arrives as HTTP_GIT_PROTOCOL unless fastcgi_pass_request_headers ' +
        'is off)',
    });
  else results.push({ name: 'ls-remote (protocol v2)', level: 'ok', detail: 'protocol v2 negotiated' });

  // 3. A clone (shallow: the check is about the path, not the repo's size).
  const clone = path.join(tmp, 'clone');
  const cl = await git(['clone', '--quiet', '--depth', '1', '--no-checkout', url, clone], tmp);
  if (cl.code !== 0) {
    results.push(fail('clone', cl, 'see the nginx error log'));
    return results;
  }
  results.push({ name: 'clone', level: 'ok', detail: 'shallow clone done' });
  // The index of a --no-checkout clone is empty; fill it from HEAD (fails harmlessly on an empty repo).
  await git(['reset', '--quiet'], clone);

  // 4.–6. A chunked push to the probe ref, which gitward's hook refuses by design.
  const ref = `${DOCTOR_PROBE_PREFIX}${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(path.join(clone, 'gitward-doctor.bin'), randomBytes(DOCTOR_PUSH_BYTES));
  const ident = {
    GIT_AUTHOR_NAME: 'gitward doctor',
    GIT_AUTHOR_EMAIL: 'doctor@gitward.invalid',
    GIT_COMMITTER_NAME: 'gitward doctor',
    GIT_COMMITTER_EMAIL: 'doctor@gitward.invalid',
  };
  const add = await git(['add', 'gitward-doctor.bin'], clone);
  const commit = add.code === 0 ? await git(['commit', '--quiet', '-m', 'gitward doctor probe'], clone, ident) : add;
  if (commit.code !== 0) {
    results.push({
      name: 'push over 1 MiB (chunked)',
      level: 'fail',
      detail: lastLines(commit.stderr),
      cause: 'local git problem (not the server)',
    });
    return results;
  }
  const push = await git(['-c', `http.postBuffer=${POST_BUFFER_BYTES}`, 'push', '--quiet', url, `HEAD:${ref}`], clone, {
    GIT_TRACE_CURL: '1',
    GIT_TRACE_CURL_NO_DATA: '1',
  });
  results.push(...pushChecks(push, ref));

  // 7. A gzip'd negotiation: a fresh repo with local commits the server lacks fetches what the
  // server has; the "have" lines make the request body big enough for git to gzip it.
  const target = fetchTarget(ls.code === 0 ? ls.stdout : '');
  const negotiation = "gzip'd negotiation";
  const emptyRepo = 'not checked: the repo is empty (push a first commit and run doctor again)';
  if (target === null) results.push({ name: negotiation, level: 'warn', detail: emptyRepo });
  else {
    const neg = path.join(tmp, 'negotiate');
    const init = await git(['init', '--quiet', neg], tmp);
    const made = init.code === 0 ? await makeCommits(neg, NEGOTIATION_COMMITS, { ...gitEnv, ...ident }) : false;
    if (!made)
      results.push({
        name: "gzip'd negotiation",
        level: 'fail',
        detail: 'could not make local commits',
        cause: 'local git problem (not the server)',
      });
    else {
      const trace = { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' };
      results.push(negotiationCheck(await git(['fetch', '--quiet', url, target], neg, trace)));
    }
  }

  // 8. Nothing left behind: ls-remote does not list the probe ref.
  results.push(await leftBehindCheck(url, ref, git, tmp));
  return results;
}

/**
 * What the negotiation check fetches, from ls-remote's output: HEAD, else the first ref; null for
 * an empty repo. Pure.
 */
export function fetchTarget(lsRemote: string): string | null {
  const refs = lsRemote
    .split('\n')
    .map((l) => l.split('\t')[1])
    .filter((r): r is string => r !== undefined && r !== '' && !r.endsWith('^{}'));
  if (refs.includes('HEAD')) return 'HEAD';
  return refs[0] ?? null;
}

/** A failed check from a git run: git's last lines and the diagnosed cause (or `fallback`). */
function failed(name: string, r: GitRun, fallback: string): CheckResult {
  return {
    name,
    level: 'fail',
    detail: r.timedOut
      ? `no answer within ${STEP_TIMEOUT_MS / 1000} s`
      : lastLines(r.stderr) || `git exited ${String(r.code)}`,
    cause: diagnose(r.stderr, r.timedOut) ?? fallback,
  };
}

/** One receive-pack POST in a push's GIT_TRACE_CURL output. */
export interface ReceivePackPost {
  /** git sent it with Transfer-Encoding: chunked. */
  readonly chunked: boolean;
  /** The answer's X-Gitward-Body (chunked, length, none); null when it had none. */
  readonly arrived: string | null;
}

/**
 * The receive-pack POSTs of a push, in order, from its GIT_TRACE_CURL output: whether git sent
 * each chunked and how gitward says it arrived. git first probes with a small POST with a length
 * (so a 401 comes before the big body), then streams the pack chunked. Pure.
 */
export function receivePackPosts(trace: string): ReceivePackPost[] {
  const posts: Array<{ chunked: boolean; arrived: string | null }> = [];
  let current: { chunked: boolean; arrived: string | null } | null = null;
  const arrivedHeader = new RegExp(`^${BODY_FRAMING_HEADER}:\\s*(\\S+)`, 'i');
  for (const line of trace.split('\n')) {
    const sent = /=> Send header: (.*?)\r?$/.exec(line)?.[1];
    if (sent !== undefined) {
      if (/^POST \S*\/git-receive-pack HTTP\//.test(sent)) posts.push((current = { chunked: false, arrived: null }));
      else if (/^[A-Z]+ \S+ HTTP\//.test(sent)) current = null;
      else if (current && /^Transfer-Encoding:\s*chunked/i.test(sent)) current.chunked = true;
      continue;
    }
    const received = /<= Recv header: (.*?)\r?$/.exec(line)?.[1];
    const arrived = received === undefined ? undefined : arrivedHeader.exec(received)?.[1];
    if (current && arrived !== undefined) current.arrived = arrived.toLowerCase();
  }
  return posts;
}

/**
 * The checks of the probe push (run with GIT_TRACE_CURL) to `ref`: that it went through chunked,
 * whether gitward received it chunked (streamed) or with a length (nginx buffered it), and that
 * gitward's pre-receive hook refused it, as it refuses every probe ref. Pure.
 */
export function pushChecks(push: GitRun, ref: string): CheckResult[] {
  const name = 'push over 1 MiB (chunked)';
  const streaming = 'push body streamed (request buffering off)';
  const hookName = "refused by gitward's hook (nothing written)";
  const byHook = doctorProbePattern(ref).test(push.stderr);
  if (push.code !== 0 && !byHook) {
    const declined = /pre-receive hook declined/.test(push.stderr);
    const hook: CheckResult = declined
      ? {
          name: hookName,
          level: 'fail',
          detail: "a pre-receive hook refused the probe, but not gitward's",
          cause: "this repo's pre-receive hook is not gitward's dispatcher: gitward hooks install REPO (and --force)",
        }
      : { name: hookName, level: 'warn', detail: 'not checked: the push did not reach the hooks' };
    if (declined) {
      const detail = `${DOCTOR_PUSH_BYTES >> 20} MiB sent, received and refused by a hook`;
      const received: CheckResult = { name, level: 'ok', detail };
      return [received, { name: streaming, ...streamCheck(push) }, hook];
    }
    const notChecked: CheckResult = { name: streaming, level: 'warn', detail: 'not checked: the push failed' };
    return [failed(name, push, 'see the nginx error log'), notChecked, hook];
  }
  const big = receivePackPosts(push.stderr).filter((p) => p.chunked);
  const hook: CheckResult = byHook
    ? { name: hookName, level: 'ok', detail: `${ref} refused by design` }
    : {
        name: hookName,
        level: 'fail',
        detail: `the server accepted ${ref}: no gitward hook ran`,
        cause: `no gitward hooks here (gitward hooks install REPO); on the server remove the ref: ${removeRef(ref)}`,
      };
  if (big.length === 0) {
    const cause =
      'local git: the push was not chunked (git sends bodies over http.postBuffer, set to ' +
      `${POST_BUFFER_BYTES >> 20} MiB here, chunked), so large pushes through nginx were not checked`;
    return [{ name, level: 'fail', detail: 'git did not send the push chunked', cause }, hook];
  }
  const sent: CheckResult = { name, level: 'ok', detail: `${DOCTOR_PUSH_BYTES >> 20} MiB sent chunked` };
  return [sent, { name: streaming, ...streamCheck(push) }, hook];
}

/** The command that removes `ref` from a repo on the server. Pure. */
function removeRef(ref: string): string {
  return `git -C REPO_DIR update-ref -d ${ref}`;
}

/** How the last chunked receive-pack POST reached gitward (X-Gitward-Body). Pure. */
function streamCheck(push: GitRun): Omit<CheckResult, 'name'> {
  const big = receivePackPosts(push.stderr).filter((p) => p.chunked);
  const last = big[big.length - 1];
  if (last?.arrived === 'chunked') return { level: 'ok', detail: 'it reached gitward chunked, as sent' };
  if (last?.arrived === 'length')
    return {
      level: 'fail',
      detail: 'git sent it chunked, but it reached gitward with a Content-Length: nginx read the whole body first',
      cause:
        'request buffering: set `proxy_request_buffering off;` (with `proxy_http_version 1.1;`) in the git location; ' +
        "a buffered push waits for its whole body on the proxy's disk (client_body_temp_path) " +
        'and fails when that is full',
    };
  return {
    level: 'warn',
    detail:
      `could not check: the push's answer has no ${BODY_FRAMING_HEADER} header (sidecar mode, where the body goes to ` +
      'fcgiwrap and not to gitward, or a proxy that drops the header)',
    cause: 'in sidecar mode, check that the git location says `fastcgi_request_buffering off;`',
  };
}

/** The check of the gzip'd negotiation (a fetch run with GIT_TRACE_CURL). Pure. */
export function negotiationCheck(fetch: GitRun): CheckResult {
  const name = "gzip'd negotiation";
  const passEncoding = "nginx must forward the request's Content-Encoding header (gzip) to the backend untouched";
  if (fetch.code !== 0) return failed(name, fetch, `Content-Encoding not passed: ${passEncoding}`);
  if (!/=> Send header: Content-Encoding: gzip/i.test(fetch.stderr))
    return {
      name,
      level: 'fail',
      detail: 'fetch done, but git did not gzip its negotiation',
      cause:
        "not checked: git sends a negotiation gzip'd only above 1 KiB; passing Content-Encoding through nginx is " +
        'unverified',
    };
  return { name, level: 'ok', detail: 'fetch with a gzip-encoded request body done' };
}

/** That ls-remote does not list the probe ref `ref` after the push. */
async function leftBehindCheck(
  url: string,
  ref: string,
  git: (args: string[], cwd: string) => Promise<GitRun>,
  cwd: string,
): Promise<CheckResult> {
  const name = 'no probe ref left behind';
  const r = await git(['ls-remote', url, ref], cwd);
  if (r.code !== 0) {
    return { name, cause: 'could not list the refs', level: 'warn', detail: `not checked: ${lastLines(r.stderr)}` };
  }
  if (r.stdout.includes(ref)) {
    const cause = `no gitward hook refused it; on the server: ${removeRef(ref)}, then gitward hooks install REPO`;
    return { name, level: 'fail', detail: `${ref} exists on the server`, cause };
  }
  return { name, level: 'ok', detail: `ls-remote does not list ${ref}` };
}

/** GET info/refs for receive-pack without credentials: expects 401 with a Basic challenge. */
async function checkChallenge(url: string, env: Record<string, string>): Promise<CheckResult> {
  const name = '401 challenge';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { name, level: 'fail', detail: 'not a URL', cause: 'give a URL such as https://git.example.org/repo.git' };
  }
  u.username = '';
  u.password = '';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/info/refs`;
  u.search = '?service=git-receive-pack';
  const caFile = env.GIT_SSL_CAINFO ?? (await gitConfigFor(url, 'http.sslcainfo', env)) ?? env.SSL_CERT_FILE;
  const ca = caFile ? [fs.readFileSync(caFile)] : undefined;
  const res = await new Promise<{ status: number; challenge: string[] } | { error: string }>((resolve) => {
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(
      u,
      { headers: { 'User-Agent': 'git/2 (gitward doctor)' }, ...(ca && u.protocol === 'https:' ? { ca } : {}) },
      (r) => {
        r.resume();
        const challenge: string[] = [];
        for (let i = 0; i + 1 < r.rawHeaders.length; i += 2)
          if ((r.rawHeaders[i] as string).toLowerCase() === 'www-authenticate')
            challenge.push(r.rawHeaders[i + 1] as string);
        resolve({ status: r.statusCode ?? 0, challenge });
      },
    );
    req.setTimeout(STEP_TIMEOUT_MS, () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ error: err.message }));
  });
  if ('error' in res)
    return { name, level: 'fail', detail: res.error, cause: diagnose(res.error) ?? 'connection problem' };
  if (res.status === 401 && res.challenge.some((c) => /^Basic\b/i.test(c)))
    return {
      name,
      level: 'ok',
      detail: `401 with ${res.challenge.length === 1 ? 'one challenge' : `${res.challenge.length} challenges`}`,
    };
  if (res.status === 401)
    return {
      name,
      level: 'fail',
      detail: '401 without a WWW-Authenticate: Basic header',
      cause:
        "missing challenge header: git cannot ask for credentials; nginx must pass gitward's WWW-Authenticate " +
        '(do not proxy_hide_header it; in sidecar mode auth_request copies it)',
    };
  if (res.status === 200)
    return { name, level: 'ok', detail: 'anonymous push advertisement allowed (no challenge needed here)' };
  return {
    name,
    level: 'fail',
    detail: `HTTP ${res.status} instead of 401`,
    cause: diagnose(`HTTP ${res.status}`) ?? 'unexpected status',
  };
}

/** git's value of `key` for `url` (`git config --get-urlmatch`), as git itself would use it; null when unset. */
async function gitConfigFor(url: string, key: string, env: Record<string, string>): Promise<string | null> {
  const r = await runGit(['config', '--get-urlmatch', key, url], env.HOME ?? os.tmpdir(), env);
  const v = r.stdout.trim();
  return r.code === 0 && v !== '' ? v : null;
}

/**
 * The user and password for `url`: from the URL itself, else as git would find them (`git
 * credential fill` asks the credential helpers, then GIT_ASKPASS, then, on a terminal, prompts).
 * Returns the URL with the user and without the password, and the password; or an error message.
 */
async function withCredentials(
  url: string,
  io: CliIO,
  env: Record<string, string>,
): Promise<{ url: string; password: string } | { error: string }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { error: 'not a URL: give a repo URL such as https://ann@git.example.org/web/site.git' };
  }
  if (u.password !== '') {
    const password = decodeURIComponent(u.password);
    u.password = '';
    return { url: u.toString(), password };
  }
  const askEnv: Record<string, string> = { ...env };
  for (const name of ASKPASS_ENV) {
    const v = io.env[name];
    if (v !== undefined) askEnv[name] = v;
  }
  // Without a terminal git must not wait on one: helpers and GIT_ASKPASS only.
  if (!io.isTTY) askEnv.GIT_TERMINAL_PROMPT = '0';
  const user = u.username !== '' ? [`username=${decodeURIComponent(u.username)}`] : [];
  const input = [`protocol=${u.protocol.replace(/:$/, '')}`, `host=${u.host}`, ...user, '', ''].join('\n');
  const answer = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    // stderr is the terminal's: git prompts on /dev/tty, and a helper may talk to the user.
    const stdio: ['pipe', 'pipe', 'inherit' | 'pipe'] = ['pipe', 'pipe', io.isTTY ? 'inherit' : 'pipe'];
    const child = spawn('git', ['credential', 'fill'], { env: askEnv, stdio });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => resolve({ code: null, out: '', err: e.message }));
    child.on('close', (code) => {
      resolve({ code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() });
    });
    child.stdin?.end(input);
  });
  const fields = new Map<string, string>();
  for (const l of answer.out.split('\n')) {
    const eq = l.indexOf('=');
    if (eq > 0) fields.set(l.slice(0, eq), l.slice(eq + 1));
  }
  const password = fields.get('password');
  if (answer.code !== 0 || password === undefined || password === '') {
    const why = lastLines(answer.err, 1) || 'no helper answered';
    const ways = 'put it in the URL, store it in a git credential helper, or run doctor on a terminal to be asked';
    return { error: `no password for ${redactUrl(url)}: ${ways} (${why})` };
  }
  u.username = encodeURIComponent(fields.get('username') ?? decodeURIComponent(u.username));
  return { url: u.toString(), password };
}

/** The variable the askpass program below reads the password from. */
const PASSWORD_ENV = 'GITWARD_DOCTOR_PASSWORD';

/**
 * Hands `password` to doctor's git runs without putting it in their argv, where any local user
 * can read it (`ps`, /proc/PID/cmdline): a GIT_ASKPASS program in doctor's own 0700 temp folder
 * that prints it from the environment, which only the same user can read (/proc/PID/environ is
 * 0400). git asks it once the URL's user has no password from a credential helper. Node, not a
 * shell script: it prints a variable, and no shell ever sees the password.
 */
function askpassEnv(password: string, tmp: string): Record<string, string> {
  const program = path.join(tmp, 'askpass');
  const source = `process.stdout.write((process.env.${PASSWORD_ENV} ?? '') + '\\n');\n`;
  fs.writeFileSync(program, `#!${process.execPath}\n${source}`, { mode: 0o700 });
  return { GIT_ASKPASS: program, [PASSWORD_ENV]: password };
}

/** Makes `n` commits in `dir` with one git fast-import. */
function makeCommits(dir: string, n: number, env: Record<string, string>): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('git', ['fast-import', '--quiet'], { cwd: dir, env, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
    const parts: string[] = [];
    for (let i = 1; i <= n; i++) {
      const body = `local ${i} ${randomBytes(8).toString('hex')}\n`;
      const data = `data ${Buffer.byteLength(body)}\n${body}`;
      const from = i > 1 ? `from :${i - 1}\n` : '';
      const committer = `committer d <d@gitward.invalid> ${1_700_000_000 + i} +0000\n`;
      parts.push(`commit refs/heads/local\nmark :${i}\n${committer}${data}${from}M 644 inline f\n${data}\n`);
    }
    child.stdin.end(parts.join(''));
  });
}

function runGit(args: string[], cwd: string, env: Record<string, string>): Promise<GitRun> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, STEP_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: '', stderr: e.message, timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut });
    });
  });
}

function environmentFor(io: CliIO): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV) {
    const v = io.env[name];
    if (v !== undefined) env[name] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return Object.assign(env, SERVER_GIT_ENV);
}

/** `gitward doctor ssh://…`: the checks of doctor-ssh.ts, printed as the HTTP ones. */
async function doctorSsh(url: string, io: CliIO): Promise<number> {
  const { runSshDoctor, SSH_PASSED_ENV } = require('./doctor-ssh.js') as typeof import('./doctor-ssh.js');
  const env = environmentFor(io);
  for (const name of SSH_PASSED_ENV) if (io.env[name] !== undefined) env[name] = io.env[name] as string;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-doctor-'));
  try {
    io.stdout.write(`gitward doctor ${url}\n`);
    const results = await runSshDoctor(url, env, tmp);
    for (const r of results) {
      io.stdout.write(`${LEVEL_LABEL[r.level]} ${r.name}: ${r.detail}\n`);
      if (r.level === 'fail' && r.cause) io.stdout.write(`     likely cause: ${r.cause}\n`);
    }
    const fails = results.filter((r) => r.level === 'fail').length;
    io.stdout.write(fails > 0 ? `${fails} check(s) failed\n` : 'all checks passed\n');
    return fails === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** How each level starts its output line (same width, so the names line up). */
const LEVEL_LABEL: Readonly<Record<CheckLevel, string>> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** `gitward doctor URL`: end-to-end checks of a deployment, with the likely cause of each failure. */
export const doctor: Command = async (argv, io) => {
  const args = parseArgs(argv, { help: { type: 'boolean', short: 'h' } });
  if (args.options.help) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if (args.positionals.length !== 1) throw new UsageError('give exactly one repo URL (gitward doctor --help)');
  const url = args.positionals[0] as string;
  if (/^ssh:\/\//.test(url)) return doctorSsh(url, io);
  if (!/^https?:\/\//.test(url)) throw new UsageError('URL must start with https:// (or http:// for a local test)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-doctor-'));
  try {
    io.stdout.write(`gitward doctor ${redactUrl(url)}\n`);
    const env = environmentFor(io);
    const withPassword = await withCredentials(url, io, env);
    if ('error' in withPassword) {
      io.stdout.write(`FAIL credentials: ${withPassword.error}\n`);
      return EXIT.failed;
    }
    const results = await runDoctor(withPassword.url, { ...env, ...askpassEnv(withPassword.password, tmp) }, tmp);
    for (const r of results) {
      io.stdout.write(`${LEVEL_LABEL[r.level]} ${r.name}: ${r.detail}\n`);
      if (r.level === 'fail' && r.cause) io.stdout.write(`     likely cause: ${r.cause}\n`);
      if (r.level === 'warn' && r.cause) io.stdout.write(`     check by hand: ${r.cause}\n`);
    }
    const fails = results.filter((r) => r.level === 'fail').length;
    const warns = results.filter((r) => r.level === 'warn').length;
    if (fails > 0) io.stdout.write(`${fails} check(s) failed${warns > 0 ? `, ${warns} could not be checked` : ''}\n`);
    else io.stdout.write(warns > 0 ? `no check failed; ${warns} could not be checked (WARN)\n` : 'all checks passed\n');
    return fails === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
};
