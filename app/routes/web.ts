import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildCgiEnv } from '../backend/cgi-env.js';
import { CGIT_STATIC_DIR, ensureFolder, folderKey, isComplete, renderCgitrc, renderHeader } from '../backend/cgitrc.js';
import type { CgitRepo, CgitSite } from '../backend/cgitrc.js';
import { runBackend, type BackendStats } from '../backend/run-backend.js';
import type { CgiSpawner } from '../backend/cgi-spawner.js';
import type { AppDeps } from '../deps.js';
import { NotFound, Unauthorized } from '../errors.js';
import { decide } from '../policy/decide.js';
import { createWebViews } from '../policy/web-view.js';
import { peerOf } from '../request/client-address.js';
import { locateRepo } from '../request/repo-dir.js';
import { parseWebRequest, WEB_STATIC_FILES } from '../request/web-path.js';
import type { Runtime } from '../runtime.js';
import type { Identity, RepoName } from '../types.js';
import { identifyCaller, type AuthorizeProgress } from './authorize.js';
import { requestContext } from './context.js';
import { noteProgress } from './git.js';
import { SERVER_GIT_ENV } from '../git/server-git-env.js';

/** What the web route needs besides AppDeps. */
export interface WebRouteOptions {
  /** Starts cgit (the server's one spawner). */
  readonly spawner: CgiSpawner;
  /** HOME and LANG of gitward's own environment, for cgit's filters (PATH is Debian's, CGIT_FILTER_PATH). */
  readonly processEnv: Readonly<{ PATH?: string | undefined; HOME?: string | undefined; LANG?: string | undefined }>;
  /** Where cgit's static files are read from (default: Debian's /usr/share/cgit). */
  readonly staticDir?: string;
}

/**
 * PATH of cgit and its filters: Debian's filters run `python3` through env and need Debian's own,
 * with python3-markdown and python3-pygments (a python3 in /usr/local/bin would lack them).
 */
const CGIT_FILTER_PATH = '/usr/bin:/bin';

/** Prefix of the private folder of generated cgitrc files and caches when web.cache_dir is unset. */
const CACHE_DIR_PREFIX = 'gitward-web-';

/**
 * The web view: cgit behind the same identity and decide as the git routes. The index is rendered
 * from a cgitrc listing exactly the repos the identity may read, cached per readable set; a repo
 * page is authorised by decide first (unreadable = missing = the same 404) and rendered from a
 * cgitrc holding that repo alone, cached per repo. `<base>?login` answers 401 with the challenge
 * until the browser sends credentials, then redirects back. No cookie, no session.
 */
export function createWebHandler(
  deps: AppDeps,
  options: WebRouteOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const views = createWebViews();
  const staticDir = options.staticDir ?? CGIT_STATIC_DIR;
  let privateDir: string | null = null;
  const cacheDirOf = (runtime: Runtime): string => {
    if (runtime.config.web.cacheDir !== null) return runtime.config.web.cacheDir;
    privateDir ??= fs.mkdtempSync(path.join(os.tmpdir(), CACHE_DIR_PREFIX));
    return privateDir;
  };

  return async (req, res) => {
    const ctx = requestContext(res);
    const runtime = deps.runtime.current();
    const { config, policy } = runtime;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const web = parseWebRequest(q >= 0 ? url.slice(0, q) : url, q >= 0 ? url.slice(q + 1) : '', config.basePath);
    if (web.kind === 'static') {
      serveStatic(res, path.join(staticDir, web.file), WEB_STATIC_FILES.get(web.file) as string);
      return;
    }
    const caller = { headers: req.headers, peer: peerOf(req.socket), clientAddress: ctx.audit.remoteAddr };
    const progress: AuthorizeProgress = {};
    let identity: Identity;
    try {
      identity = await identifyCaller(runtime, caller, progress);
    } finally {
      noteProgress(ctx.audit, progress);
    }
    ctx.audit.identity = identity;
    ctx.audit.web = { repo: web.kind === 'repo' ? web.repo : null };
    if (web.kind === 'login') {
      if (identity.user === null) throw new Unauthorized('log in to see the repositories you may read', config.realm);
      res.statusCode = 302;
      res.setHeader('Location', returnPath(req.headers.referer, config.basePath));
      res.setHeader('Cache-Control', 'no-store');
      res.end();
      return;
    }

    // Everything cgit renders for one config shares these settings; a reload with other ones
    // gets fresh folders (and so a fresh cache).
    const settingsKey = folderKey(JSON.stringify(config.web), config.basePath, config.repoRoot);
    const siteDir = path.join(cacheDirOf(runtime), settingsKey);
    const headerFile = path.join(siteDir, 'header.html');
    const site: CgitSite = { web: config.web, basePath: config.basePath, headerFile };
    ensureFolder(siteDir, { 'header.html': renderHeader(config.basePath) });

    let folder: string;
    if (web.kind === 'index') {
      const readable = await views.readable(policy, config.repoRoot, identity);
      // The readable set names the cache: two identities share cached pages only when they may
      // read exactly the same repos. Their folders are looked up (realpath, under repo_root) only
      // when the set's config is first written; cgit then reads those resolved paths.
      folder = path.join(siteDir, `index-${folderKey(...readable)}`);
      // (A stat per page, not a memo: a temp cleaner may have removed the folder since.)
      if (!isComplete(folder)) {
        const repos: CgitRepo[] = [];
        for (const name of readable) {
          const location = locateRepo(config.repoRoot, name as RepoName);
          if (location.kind === 'found') repos.push({ name, dir: location.dir });
        }
        ensureFolder(folder, { cgitrc: renderCgitrc(site, repos, path.join(folder, 'cache')) });
      }
    } else {
      const decision = decide(policy, identity, web.repo, 'read');
      // The same 404, with the same words, for a repo that is hidden and one that does not exist.
      const location = decision.allowed ? locateRepo(config.repoRoot, web.repo) : null;
      if (location?.kind !== 'found') {
        ctx.audit.policy = 'denied';
        throw new NotFound(`repository ${web.repo} not found`);
      }
      folder = path.join(siteDir, `repo-${folderKey(web.repo, location.dir)}`);
      const cgitrc = renderCgitrc(site, [{ name: web.repo, dir: location.dir }], path.join(folder, 'cache'));
      ensureFolder(folder, { cgitrc });
    }
    ctx.audit.policy = 'allowed';
    await runCgit(req, res, runtime, identity, web.pathInfo, path.join(folder, 'cgitrc'), options);
  };
}

/** Runs cgit for one page through the CGI bridge (allow-listed environment, streamed, header block capped). */
async function runCgit(
  req: IncomingMessage,
  res: ServerResponse,
  runtime: Runtime,
  identity: Identity,
  pathInfo: string,
  cgitrc: string,
  options: WebRouteOptions,
): Promise<void> {
  const ctx = requestContext(res);
  // Host is the client's word, and cgit writes it into cached pages (the Atom link): the public
  // host comes from the first clone URL instead.
  const dropHeaders = [...runtime.auth.consumedHeaders, 'host'];
  const cgi = buildCgiEnv(req, { pathInfo, remoteAddr: ctx.audit.remoteAddr, remoteUser: identity.user, dropHeaders });
  const env: Record<string, string> = {
    ...cgi,
    ...publicHost(runtime.config.web.cloneUrls[0]),
    SCRIPT_NAME: runtime.config.basePath.replace(/\/$/, ''),
    CGIT_CONFIG: cgitrc,
    // Replace objects and grafts would let a repo show history other than its objects' own.
    ...SERVER_GIT_ENV,
    GIT_CONFIG_NOSYSTEM: '1',
    PATH: CGIT_FILTER_PATH,
  };
  for (const name of ['HOME', 'LANG'] as const) {
    const value = options.processEnv[name];
    if (value !== undefined) env[name] = value;
  }
  const stats: BackendStats = { bytesIn: 0, bytesOut: 0, exitCode: null, signal: null };
  let finished!: () => void;
  ctx.audit.pending.push(new Promise<void>((resolve) => (finished = resolve)));
  try {
    ctx.logger.debug('web.start', { pathInfo, user: identity.user });
    const backendPath = runtime.config.web.cgitPath;
    await runBackend({ req, res, backendPath, spawner: options.spawner, env, logger: ctx.logger, stats, paced: true });
  } finally {
    ctx.audit.bytesOut = Math.max(ctx.audit.bytesOut, stats.bytesOut);
    ctx.audit.exitCode = stats.exitCode;
    finished();
  }
}

/** HTTP_HOST and HTTPS for cgit's absolute links, from a clone URL prefix (validated at load). */
function publicHost(cloneUrl: string | undefined): Record<string, string> {
  if (cloneUrl === undefined) return {};
  const url = new URL(cloneUrl);
  return url.protocol === 'https:' ? { HTTP_HOST: url.host, HTTPS: 'on' } : { HTTP_HOST: url.host };
}

/**
 * Where the log-in link sends the browser back to: the path (and query) of the page it came from
 * when that page is under base_path, else the site root. Only a path is ever used, so the
 * redirect cannot leave this site.
 */
export function returnPath(referer: string | undefined, basePath: string): string {
  if (referer === undefined) return basePath;
  let url: URL;
  try {
    url = new URL(referer);
  } catch {
    return basePath;
  }
  const target = `${url.pathname}${url.search}`;
  const loginAgain = url.search.split(/[?&]/).includes('login');
  if (!url.pathname.startsWith(basePath) || url.pathname.startsWith('//') || loginAgain) return basePath;
  return target;
}

/** Streams one of cgit's static files (long-cached: they change only with the cgit package). */
function serveStatic(res: ServerResponse, file: string, type: string): void {
  const stream = fs.createReadStream(file);
  stream.once('open', () => {
    res.statusCode = 200;
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'public, max-age=86400');
    stream.pipe(res);
  });
  stream.once('error', () => {
    if (res.headersSent) res.destroy();
    else {
      res.statusCode = 404;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('not found\n');
    }
  });
}
