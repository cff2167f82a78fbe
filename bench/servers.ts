import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startFcgiwrap } from '../test/helpers/fcgiwrap.js';
import {
  installSnippets,
  readShippedSite,
  renderSite,
  startNginx,
  stopGroup,
  type TestCert,
} from '../test/helpers/nginx.js';

/** gitward must say it listens within this long; it starts in well under a second. */
const GITWARD_READY_TIMEOUT_MS = 20_000;
/** fcgiwrap children for the anchor: enough that 32 parallel clones never wait on a child. */
const FCGIWRAP_CHILDREN = 4;

/** Something to stop at the end of the bench. */
export type Stopper = () => Promise<void>;

/** A server under test. */
export interface Server {
  readonly origin: string;
  /** PID whose memory is sampled (gitward's node process), or null. */
  readonly pid: number | null;
  readonly stop: Stopper;
}

/** git-http-backend of this machine's git. */
export function gitHttpBackend(): string {
  return path.join(execFileSync('git', ['--exec-path']).toString().trim(), 'git-http-backend');
}

/**
 * The anchor of BENCH-NOTES: nginx + fcgiwrap + git-http-backend (the classic setup), plain HTTP
 * or TLS, optionally with nginx `auth_basic` on an htpasswd file (nginx runs the hash on every
 * request).
 */
export async function startClassic(
  dir: string,
  opts: { repoRoot: string; cert?: TestCert; htpasswd?: string },
): Promise<Server> {
  fs.mkdirSync(dir, { recursive: true });
  const fcgi = await startFcgiwrap({ socket: path.join(dir, 'fcgiwrap.sock'), children: FCGIWRAP_CHILDREN });
  const site = (port: number): string =>
    [
      'server {',
      `  listen 127.0.0.1:${port}${opts.cert ? ' ssl' : ''};`,
      opts.cert ? `  ssl_certificate ${opts.cert.cert};\n  ssl_certificate_key ${opts.cert.key};` : '',
      '  client_max_body_size 0;',
      '  gzip off;',
      '  location / {',
      opts.htpasswd ? `    auth_basic "git";\n    auth_basic_user_file ${opts.htpasswd};` : '',
      `    fastcgi_pass unix:${fcgi.socket};`,
      '    include /etc/nginx/fastcgi_params;',
      `    fastcgi_param SCRIPT_FILENAME ${gitHttpBackend()};`,
      `    fastcgi_param GIT_PROJECT_ROOT ${opts.repoRoot};`,
      '    fastcgi_param GIT_HTTP_EXPORT_ALL 1;',
      '    fastcgi_param PATH_INFO $uri;',
      '    fastcgi_buffering off;',
      '    fastcgi_request_buffering off;',
      '    fastcgi_read_timeout 600s;',
      '    fastcgi_send_timeout 600s;',
      '  }',
      '}',
    ].join('\n');
  try {
    const nginx = await startNginx({ dir, site, workers: 'auto' });
    const port = nginx.port;
    return {
      origin: `${opts.cert ? 'https' : 'http'}://127.0.0.1:${port}`,
      pid: null,
      stop: async () => {
        await nginx.stop();
        await fcgi.stop();
      },
    };
  } catch (err) {
    await fcgi.stop();
    throw err;
  }
}

/**
 * Starts `app/gitward serve --config FILE` (the real CLI, through the shipped launcher) and waits for its
 * `server.listening` log line. `config` is the YAML text; `checkout` another built gitward to compare with.
 */
export async function startGitward(
  dir: string,
  config: string,
  checkout = path.join(__dirname, '..', '..'),
): Promise<Server & { readonly child: ChildProcess }> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'gitward.yaml');
  fs.writeFileSync(file, config);
  // The shipped launcher, so gitward runs with the node flags admins get.
  const launcher = path.join(checkout, 'app', 'gitward');
  const log = fs.openSync(path.join(dir, 'gitward.log'), 'w');
  const child = spawn(launcher, ['serve', '--config', file], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let text = '';
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gitward did not listen: ${text.slice(-2000)}`)),
      GITWARD_READY_TIMEOUT_MS,
    );
    child.stderr?.on('data', (b: Buffer) => {
      fs.writeSync(log, b);
      text += b.toString();
      for (const line of text.split('\n')) {
        if (!line.includes('"server.listening"')) continue;
        clearTimeout(timer);
        try {
          resolve(String((JSON.parse(line) as { address?: unknown }).address ?? ''));
        } catch {
          resolve('');
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gitward exited (${String(code)}): ${text.slice(-2000)}`));
    });
  });
  const address = await listening;
  return {
    origin: address.startsWith('unix:') ? '' : `http://${address}`,
    pid: child.pid ?? null,
    child,
    stop: async () => {
      await stopGroup(child);
      fs.closeSync(log);
    },
  };
}

/**
 * nginx with a shipped site file (proxy, proxy-auth-basic or sidecar), rendered exactly as the
 * end-to-end tests do; for sidecar also fcgiwrap.
 */
export async function startShippedNginx(
  dir: string,
  site: 'gitward-proxy.conf' | 'gitward-sidecar.conf',
  opts: { cert: TestCert; gitwardSocket: string; repoRoot: string; gitwardConfig: string },
): Promise<Server> {
  fs.mkdirSync(dir, { recursive: true });
  installSnippets(dir);
  let fcgiStop: Stopper = async () => undefined;
  let text: (port: number) => string;
  if (site === 'gitward-sidecar.conf') {
    const fcgi = await startFcgiwrap({ socket: path.join(dir, 'fcgiwrap.sock'), children: FCGIWRAP_CHILDREN });
    fcgiStop = () => fcgi.stop();
    text = (port) =>
      renderSite(readShippedSite(site), {
        port,
        cert: opts.cert,
        snippetsDir: dir,
        gitwardSocket: opts.gitwardSocket,
        fcgiwrapSocket: fcgi.socket,
        repoRoot: opts.repoRoot,
        gitwardConfig: opts.gitwardConfig,
      });
  } else {
    text = (port) =>
      renderSite(readShippedSite(site), { port, cert: opts.cert, snippetsDir: dir, gitwardSocket: opts.gitwardSocket });
  }
  const nginx = await startNginx({ dir, site: text, workers: 'auto' });
  return {
    origin: `https://127.0.0.1:${nginx.port}`,
    pid: null,
    stop: async () => {
      await nginx.stop();
      await fcgiStop();
    },
  };
}
