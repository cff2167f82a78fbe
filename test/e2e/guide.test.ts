/**
 * The deployment guide is a test: the fenced blocks of deploy/nginx/README.md marked `guide`,
 * `guide-proxy` and `guide-sidecar` run as written, in order, as root, in one bash session, for
 * each mode, on a scratch root. Only paths (GUIDE_PATHS, each under the scratch root), ports (443
 * and 80, on 127.0.0.1) and the host name (localhost, which the test's certificate names) are
 * substituted, in the commands and in the shipped files they copy — nothing else.
 *
 * What stands in for what a test machine does not have, on PATH before the system's:
 * - `apt`: checks that the packages of the guide's `apt install` line are installed (dpkg), and
 *   installs nothing.
 * - `systemctl`: systemd is not running here. For gitward it does what the shipped unit says, read
 *   from the unit file the guide copied: the RuntimeDirectory with its mode and owner, then
 *   ExecStart as User=, Group= and SupplementaryGroups= (setpriv), with UMask= and Environment=
 *   (and StateDirectory= / LogsDirectory= re-owned recursively, as systemd does at each start),
 *   in its own session; `reload` runs the ExecReload= lines in order ($MAINPID filled in) and fails
 *   when one fails. It does not apply the sandboxing (ProtectSystem= and the rest); test/e2e/
 *   systemd-unit.test.ts checks those with `systemd-analyze verify`. For fcgiwrap it runs the
 *   ExecStart= of the guide's drop-in as www-data, listening on fcgiwrap.socket's path itself
 *   instead of being handed the socket. For nginx, `reload` sends SIGHUP and waits until the old
 *   worker processes have exited (so the new site serves the next command).
 * - `nginx`: Debian's nginx with the scratch root's /etc/nginx (a nginx.conf like Debian's: user
 *   www-data, sites-enabled/*), started before the guide runs, as the package leaves it.
 * - The user's password: GIT_ASKPASS for git and doctor, and typed on a terminal (the guide runs
 *   under script(1)) for `gitward user add`.
 * The system users and groups the guide creates (gitward, gitward-sock) are real; they are removed
 * after each mode, and a gitward user whose home is not a scratch root (a real install) fails the
 * test instead of being touched.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isCI, requireBinary } from '../helpers/nginx.js';
import { unboundPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/procs.js';

const CHECKOUT = path.resolve(__dirname, '..', '..', '..');
const GUIDE = path.join(CHECKOUT, 'deploy', 'nginx', 'README.md');
const README = path.join(CHECKOUT, 'README.md');
/** ann's password, typed at `gitward user add` and given to git by GIT_ASKPASS. */
const PASSWORD = 'guide-ann-password';
/** The host name the guide's clients use: the test's certificate names it, and it resolves to 127.0.0.1. */
const HOST = 'localhost';
/** A whole guide run never takes this long; more means something hangs. */
const GUIDE_TIMEOUT_MS = Number(process.env.GITWARD_GUIDE_TIMEOUT_MS ?? 10 * 60_000);

/** Paths of the guide and the shipped files that move under the scratch root. */
export const GUIDE_PATHS = [
  '/etc/gitward',
  '/srv/git',
  '/var/log/gitward',
  '/var/lib/gitward',
  '/run/gitward',
  '/run/fcgiwrap.socket',
  '/etc/nginx',
  '/etc/ssl',
  '/etc/systemd/system',
  '/opt/gitward',
  '/usr/local/bin/gitward',
  '/usr/local/share/ca-certificates',
  '/var/www/letsencrypt',
] as const;

export type GuideMode = 'proxy' | 'sidecar';

/** One fenced block of the guide: its mark and its text. */
export interface GuideBlock {
  readonly mark: string;
  readonly text: string;
}

/** Every fenced ```sh block marked guide / guide-proxy / guide-sidecar, in document order. Pure. */
export function guideBlocks(markdown: string): GuideBlock[] {
  const out: GuideBlock[] = [];
  const re = /^```sh (guide(?:-proxy|-sidecar)?)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown))
    out.push({ mark: m[1] as string, text: m[2] as string });
  return out;
}

/** The blocks that `mode` runs. Pure. */
export function blocksFor(blocks: readonly GuideBlock[], mode: GuideMode): GuideBlock[] {
  return blocks.filter((b) => b.mark === 'guide' || b.mark === `guide-${mode}`);
}

/** Substitutes the scratch root for each of GUIDE_PATHS (whole path components only), and the ports. Pure. */
export function substitute(text: string, root: string, ports: { https: number; http: number }): string {
  let out = text;
  for (const p of GUIDE_PATHS)
    out = out.replace(new RegExp(`${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![A-Za-z0-9_.-])`, 'g'), `${root}${p}`);
  return out
    .split('listen 443 ssl;')
    .join(`listen 127.0.0.1:${ports.https} ssl;`)
    .split('listen 80;')
    .join(`listen 127.0.0.1:${ports.http};`)
    .split('https://ann@$HOST/')
    .join(`https://ann@$HOST:${ports.https}/`)
    .split('HOST=git.example.org ')
    .join(`HOST=${HOST} `);
}

function run(
  file: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const env = opts.env ?? { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
    const child = execFile(
      file,
      args as string[],
      { env, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 0, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function ok(file: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(file, args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `${file} ${args.join(' ')}: ${r.out}`);
  return r.out;
}

/** `Key=Value` lines of the [Service] section of a unit file, in order. Pure. */
export function serviceSettings(unit: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let inService = false;
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inService = line === '[Service]';
    else if (inService && line !== '' && !line.startsWith('#') && line.includes('='))
      out.push([line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
  }
  return out;
}

/** Single-quotes a word for sh. Pure. */
const q = (s: string): string => `'${s.split("'").join("'\\''")}'`;

/** The scratch root's `systemctl` (see the file comment), with what it needs of the shipped unit. */
function systemctlShim(root: string, unitText: string): string {
  const settings = serviceSettings(unitText);
  const get = (k: string): string[] => settings.filter(([key]) => key === k).map(([, v]) => v);
  const one = (k: string): string => {
    const v = get(k);
    assert.equal(v.length, 1, `the unit has one ${k}=`);
    return v[0] as string;
  };
  const env = get('Environment').map((e) => q(e));
  const groups = [one('Group'), ...get('SupplementaryGroups').flatMap((g) => g.split(/\s+/))].join(',');
  const runtimeDir = path.join(root, 'run', one('RuntimeDirectory'));
  const asService = `setpriv --reuid=${q(one('User'))} --regid=${q(one('Group'))} --groups=${q(groups)} --inh-caps=-all env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${env.join(' ')}`;
  const reloads = get('ExecReload').map(
    (cmd) => `  ( umask ${one('UMask')}; exec ${asService} ${cmd.split('$MAINPID').join('"$pid"')} ) || exit 1`,
  );
  return `#!/bin/bash
# The guide test's systemctl: what systemd would do for the guide's commands (test/e2e/guide.test.ts).
set -u
R=${q(root)}
pids="$R/run/guide-test-pids"
mkdir -p "$pids"
fail() { echo "systemctl (guide test): $*" >&2; exit 1; }
# Waits for an event (a socket appearing, a process exiting), looking every 50 ms; 300 s is only a safety net.
until_ok() { local i=0; until eval "$1"; do i=$((i + 1)); [ $i -lt 6000 ] || fail "timed out waiting for: $1"; sleep 0.05; done; }
start_gitward() {
  install -d -o ${q(one('User'))} -g ${q(one('Group'))} -m ${q(one('RuntimeDirectoryMode'))} ${q(runtimeDir)}
${[...get('StateDirectory').map((d) => `/var/lib/${d}`), ...get('LogsDirectory').map((d) => `/var/log/${d}`)]
  .map(
    (d) =>
      `  mkdir -p ${q(path.join(root, d))} && chown -R ${q(`${one('User')}:${one('Group')}`)} ${q(path.join(root, d))}   # systemd re-owns these at each start`,
  )
  .join('\n')}
  ( umask ${one('UMask')}; exec setsid ${asService} ${one('ExecStart')} ) </dev/null >>"$R/var/log/gitward.journal" 2>&1 &
  echo $! >"$pids/gitward"
  local pid=$!
  until_ok "[ -S ${q(path.join(runtimeDir, 'gitward.sock'))} ] || ! kill -0 $pid 2>/dev/null"
  kill -0 $pid 2>/dev/null || fail "gitward exited: $(tail -5 "$R/var/log/gitward.journal")"
}
reload_gitward() {
  local pid; pid=$(cat "$pids/gitward") || fail "gitward is not running"
${reloads.join('\n')}
}
start_fcgiwrap() {
  local exec="/usr/sbin/fcgiwrap -f" f
  for f in "$R"/etc/systemd/system/fcgiwrap.service.d/*.conf; do
    [ -f "$f" ] && exec=$(sed -n 's/^ExecStart=\\(..*\\)$/\\1/p' "$f" | tail -1)
  done
  if [ -f "$pids/fcgiwrap" ]; then kill -- -"$(cat "$pids/fcgiwrap")" 2>/dev/null; rm -f "$pids/fcgiwrap" "$R/run/fcgiwrap.socket"; fi
  # fcgiwrap.socket: ListenStream= made by root, SocketUser/SocketGroup www-data, SocketMode 0660,
  # handed to the service as its stdin, which fcgiwrap listens on.
  python3 -c "$SOCKET_ACTIVATION" "$R/run/fcgiwrap.socket" setsid setpriv --reuid=www-data --regid=www-data --init-groups \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $exec >>"$R/var/log/fcgiwrap.journal" 2>&1 &
  echo $! >"$pids/fcgiwrap"
  until_ok "[ -S '$R/run/fcgiwrap.socket' ]"
}
SOCKET_ACTIVATION='
import grp, os, pwd, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path + ".new")
os.chown(path + ".new", pwd.getpwnam("www-data").pw_uid, grp.getgrnam("www-data").gr_gid)
os.chmod(path + ".new", 0o660)
s.listen(128)
os.rename(path + ".new", path)
os.dup2(s.fileno(), 0)
os.execvp(sys.argv[2], sys.argv[2:])
'
reload_nginx() {
  local master old w
  master=$(cat "$R/run/nginx.pid") || fail "nginx is not running"
  old=$(cat /proc/$master/task/$master/children)
  kill -HUP "$master"
  for w in $old; do until_ok "[ ! -e /proc/$w ]"; done
}
action=\${1:-}; shift || true
[ "\${1:-}" = --now ] && shift
case "$action" in
  daemon-reload) exit 0 ;;
  enable|start|restart|reload)
    for unit in "$@"; do
      case "$action/$unit" in
        */gitward|*/gitward.service) if [ "$action" = reload ]; then reload_gitward; else start_gitward; fi ;;
        */fcgiwrap.socket) ;;
        */fcgiwrap|*/fcgiwrap.service) start_fcgiwrap ;;
        reload/nginx|reload/nginx.service) reload_nginx ;;
        *) fail "not handled here: $action $unit" ;;
      esac
    done ;;
  *) fail "not handled here: $action $*" ;;
esac
`;
}

/** The scratch root's `apt`: installs nothing, fails unless every package named is installed. */
const APT_SHIM = `#!/bin/sh
# The guide test's apt: checks that the guide's packages are installed, installs nothing.
[ "$1" = install ] || { echo "apt (guide test): only install is handled" >&2; exit 1; }
shift
for p in "$@"; do
  case "$p" in -*) continue ;; esac
  dpkg-query -W -f='\${Status}\\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || { echo "apt (guide test): package $p is not installed" >&2; exit 1; }
done
`;

/** A Debian-like nginx.conf for the scratch root: workers as www-data, sites-enabled/*. */
function nginxConf(root: string): string {
  const r = (p: string) => path.join(root, p);
  return `user www-data;
worker_processes 1;
pid ${r('run/nginx.pid')};
error_log ${r('var/log/nginx/error.log')} info;
events { worker_connections 768; }
http {
  sendfile on;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${r('var/log/nginx/access.log')};
  client_body_temp_path ${r('var/lib/nginx/body')};
  proxy_temp_path ${r('var/lib/nginx/proxy')};
  fastcgi_temp_path ${r('var/lib/nginx/fastcgi')};
  uwsgi_temp_path ${r('var/lib/nginx/uwsgi')};
  scgi_temp_path ${r('var/lib/nginx/scgi')};
  include ${r('etc/nginx/conf.d')}/*.conf;
  include ${r('etc/nginx/sites-enabled')}/*;
}
`;
}

/** A scratch root with what a fresh Debian machine with the packages has, and the test's stand-ins. */
interface Scratch {
  readonly root: string;
  readonly ports: { https: number; http: number };
  readonly env: Record<string, string>;
  readonly caCert: string;
}

async function makeScratch(dir: string): Promise<Scratch> {
  const root = path.join(dir, 'root');
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(root, 0o755);
  // The guide's own commands start and reload nginx, which binds these itself (see unboundPort);
  // the port-80 one is bound at once below, the 443 one when the guide enables the site.
  const https = unboundPort();
  let http = unboundPort();
  while (http === https) http = unboundPort();
  const ports = { https, http };
  const d = (p: string, mode = 0o755) => fs.mkdirSync(path.join(root, p), { recursive: true, mode });
  for (const p of [
    'etc/nginx/sites-available',
    'etc/nginx/sites-enabled',
    'etc/nginx/snippets',
    'etc/nginx/conf.d',
    'etc/ssl/certs',
    'etc/systemd/system',
    'usr/local/bin',
    'usr/local/share/ca-certificates',
    'var/www',
    'var/log/nginx',
    'var/lib',
    'run',
    'opt',
    'bin',
  ])
    d(p);
  d('etc/ssl/private', 0o700);
  d('root', 0o700);
  for (const p of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    d(`var/lib/nginx/${p}`, 0o700);
    await ok('chown', ['www-data:', path.join(root, 'var/lib/nginx', p)]);
  }
  // gitward as step 2 leaves it: /opt/gitward → a version folder holding this checkout. Its
  // deploy/ files are the shipped ones with the paths and ports substituted.
  const version = path.join(root, 'opt', 'gitward-test');
  fs.mkdirSync(version);
  for (const sub of ['app', 'dist', 'hooks', 'package.json'])
    fs.symlinkSync(path.join(CHECKOUT, sub), path.join(version, sub));
  for (const sub of ['nginx', 'systemd']) {
    fs.mkdirSync(path.join(version, 'deploy', sub), { recursive: true });
    for (const f of fs.readdirSync(path.join(CHECKOUT, 'deploy', sub))) {
      fs.writeFileSync(
        path.join(version, 'deploy', sub, f),
        substitute(fs.readFileSync(path.join(CHECKOUT, 'deploy', sub, f), 'utf8'), root, ports),
      );
    }
  }
  fs.symlinkSync(version, path.join(root, 'opt', 'gitward'));
  // The certificate: a private CA and a certificate for the host, in root's current folder.
  const home = path.join(root, 'root');
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(root, 'usr/local/share/ca-certificates/example-ca.crt');
  await ok('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=gitward guide test CA',
    '-keyout',
    caKey,
    '-out',
    caCert,
  ]);
  const key = path.join(home, `${HOST}.key`);
  const csr = path.join(dir, 'host.csr');
  await ok('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${HOST}`,
    '-keyout',
    key,
    '-out',
    csr,
  ]);
  const ext = path.join(dir, 'host.ext');
  fs.writeFileSync(ext, `subjectAltName=DNS:${HOST},IP:127.0.0.1\n`);
  await ok('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    path.join(home, `${HOST}.pem`),
  ]);
  // nginx as the package leaves it: running, with Debian's default site on port 80.
  fs.writeFileSync(path.join(root, 'etc/nginx/nginx.conf'), nginxConf(root));
  fs.writeFileSync(
    path.join(root, 'etc/nginx/sites-available/default'),
    `server {\n    listen 127.0.0.1:${ports.http} default_server;\n    return 404;\n}\n`,
  );
  fs.symlinkSync('../sites-available/default', path.join(root, 'etc/nginx/sites-enabled/default'));
  const nginxBin = ['/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((p) => fs.existsSync(p)) ?? 'nginx';
  fs.writeFileSync(
    path.join(root, 'bin', 'nginx'),
    `#!/bin/sh\nexec ${nginxBin} -p ${q(path.join(root, 'etc/nginx'))}/ -c ${q(path.join(root, 'etc/nginx/nginx.conf'))} -e ${q(path.join(root, 'var/log/nginx/error.log'))} "$@"\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(root, 'bin', 'apt'), APT_SHIM, { mode: 0o755 });
  fs.writeFileSync(
    path.join(root, 'bin', 'systemctl'),
    systemctlShim(
      root,
      substitute(fs.readFileSync(path.join(CHECKOUT, 'deploy/systemd/gitward.service'), 'utf8'), root, ports),
    ),
    { mode: 0o755 },
  );
  const askpass = path.join(dir, 'askpass');
  fs.writeFileSync(askpass, `#!/bin/sh\necho ${q(PASSWORD)}\n`, { mode: 0o755 });
  const env = {
    PATH: `${path.join(root, 'bin')}:${path.join(root, 'usr/local/bin')}:${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: home,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    GIT_ASKPASS: askpass,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Ann Example',
    GIT_AUTHOR_EMAIL: 'ann@example.org',
    GIT_COMMITTER_NAME: 'Ann Example',
    GIT_COMMITTER_EMAIL: 'ann@example.org',
  };
  await ok(path.join(root, 'bin', 'nginx'), []);
  return { root, ports, env, caCert };
}

/** Removes what a guide run created on the machine: its processes, users and groups. */
async function cleanUp(s: Scratch): Promise<void> {
  const pids = path.join(s.root, 'run/guide-test-pids');
  for (const name of ['gitward', 'fcgiwrap']) {
    try {
      const pid = Number(fs.readFileSync(path.join(pids, name), 'utf8'));
      process.kill(-pid, 'SIGKILL');
    } catch {
      // not started, or gone
    }
  }
  try {
    const master = Number(fs.readFileSync(path.join(s.root, 'run/nginx.pid'), 'utf8'));
    const gone = waitExit(master);
    process.kill(master, 'SIGTERM');
    await gone;
  } catch {
    // not running
  }
  await removeGuideAccounts();
}

/** Resolves when process `pid` no longer exists (looking every 50 ms). */
async function waitExit(pid: number): Promise<void> {
  while (fs.existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 50));
}

/** `getent passwd NAME`'s home folder, or null when there is no such user. */
async function homeOf(name: string): Promise<string | null> {
  const r = await run('getent', ['passwd', name]);
  return r.code === 0 ? (r.out.split(':')[5] ?? '') : null;
}

async function removeGuideAccounts(): Promise<void> {
  const home = await homeOf('gitward');
  if (home !== null) {
    assert.ok(
      home.startsWith(os.tmpdir()),
      `a gitward user with home ${home} exists: a real install, which this test must not touch`,
    );
    await ok('deluser', ['--quiet', 'gitward']);
  }
  for (const g of ['gitward', 'gitward-sock'])
    if ((await run('getent', ['group', g])).code === 0) await ok('delgroup', ['--quiet', g]);
}

/** Runs the guide's blocks for `mode` under script(1) (a terminal for `gitward user add`). */
function runGuide(s: Scratch, mode: GuideMode): Promise<{ code: number | null; transcript: string }> {
  const script = [
    'set -euo pipefail',
    'set -x',
    `cd ${q(s.env.HOME as string)}`,
    ...blocksFor(guideBlocks(fs.readFileSync(GUIDE, 'utf8')), mode).map((b) => substitute(b.text, s.root, s.ports)),
  ].join('\n');
  const file = path.join(s.root, '..', `guide-${mode}.sh`);
  fs.writeFileSync(file, `${script}\n`);
  const transcript = path.join(s.root, '..', `guide-${mode}.transcript`);
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['--quiet', '--return', '--flush', '--command', `bash ${file}`, transcript], {
      env: s.env,
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    // Typed on the terminal when `gitward user add` asks (its prompts show in the transcript).
    let answered = 0;
    const typer = setInterval(() => {
      let text: string;
      try {
        text = fs.readFileSync(transcript, 'utf8');
      } catch {
        return;
      }
      const asked = (text.match(/(?:Retype password|Password): /g) ?? []).length;
      if (asked > answered) {
        answered = asked;
        child.stdin.write(`${PASSWORD}\n`);
      }
    }, 50);
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    }, GUIDE_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(typer);
      child.stdin.destroy();
      resolve({ code, transcript: fs.existsSync(transcript) ? fs.readFileSync(transcript, 'utf8') : '' });
    });
  });
}

/** Whether `user` can open the unix socket `socket` and read `file` (each as that user, through setpriv). */
async function asUser(user: string, what: 'connect' | 'read' | 'list', target: string): Promise<boolean> {
  const code =
    what === 'connect'
      ? `require('net').connect(${JSON.stringify(target)}).on('connect',()=>process.exit(0)).on('error',(e)=>{console.error(e.code);process.exit(1)})`
      : what === 'read'
        ? `try{require('fs').readFileSync(${JSON.stringify(target)});process.exit(0)}catch(e){console.error(e.code);process.exit(1)}`
        : `try{require('fs').readdirSync(${JSON.stringify(target)});process.exit(0)}catch(e){console.error(e.code);process.exit(1)}`;
  const r = await run('setpriv', ['--reuid', user, '--regid', user, '--init-groups', process.execPath, '-e', code]);
  return r.code === 0;
}

/** GET through nginx with the test CA: status and body. */
function get(port: number, urlPath: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', servername: HOST, port, path: urlPath, ca: fs.readFileSync(ca), headers: { Host: HOST } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
  });
}

test("the guide names its blocks for both modes, and README's short version is made of the guide's lines", () => {
  const blocks = guideBlocks(fs.readFileSync(GUIDE, 'utf8'));
  for (const mode of ['proxy', 'sidecar'] as const) {
    const text = blocksFor(blocks, mode)
      .map((b) => b.text)
      .join('\n');
    for (const step of [
      'adduser --system',
      'gitward check',
      'gitward user add',
      'repo create',
      'systemctl enable --now gitward',
      'nginx -t',
      'git clone',
      'git push',
      'gitward doctor',
    ]) {
      assert.ok(text.includes(step), `${mode}: the guide's tested blocks include ${step}`);
    }
    assert.doesNotMatch(text, /\bsudo\b/, 'no sudo on a fresh Debian');
  }
  assert.match(
    blocksFor(blocks, 'sidecar')
      .map((b) => b.text)
      .join('\n'),
    /sidecar: \{enabled: true/,
  );
  assert.doesNotMatch(
    blocksFor(blocks, 'proxy')
      .map((b) => b.text)
      .join('\n'),
    /sidecar:/,
  );
  // README's short version: every command line of it is a line of the guide (comments aside).
  const readme = fs.readFileSync(README, 'utf8');
  const short = /## Deployment[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(short, 'README has a short version');
  const guideLines = new Set(
    fs
      .readFileSync(GUIDE, 'utf8')
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim()),
  );
  for (const line of short.split('\n')) {
    const cmd = line.replace(/\s+#.*$/, '').trim();
    if (cmd === '' || cmd.startsWith('#')) continue;
    assert.ok(guideLines.has(cmd), `README's line is not in the guide: ${cmd}`);
  }
});

for (const mode of ['proxy', 'sidecar'] as const) {
  test(
    `the deployment guide, followed as written in ${mode} mode, ends with a clone, a push and a passing gitward doctor`,
    { timeout: GUIDE_TIMEOUT_MS + 60_000 },
    async (t) => {
      for (const bin of ['nginx', 'fcgiwrap', 'script', 'setpriv', 'runuser', 'adduser', 'openssl'])
        if (requireBinary(t, bin) === null) return;
      if (process.getuid?.() !== 0) {
        if (isCI(process.env)) throw new Error('the guide test runs as root in CI (.ci/run)');
        t.skip('the guide runs as root');
        return;
      }
      await removeGuideAccounts();
      const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `gitward-guide-${mode}-`)));
      const s = await makeScratch(dir);
      t.after(async () => {
        await cleanUp(s);
        // GITWARD_GUIDE_KEEP=1 keeps the scratch root (script, transcript, logs) for a look.
        if (process.env.GITWARD_GUIDE_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
      });
      const started = Date.now();
      const r = await runGuide(s, mode);
      t.diagnostic(`the guide (${mode}) ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, `the guide failed (${mode}); transcript:\n${r.transcript.slice(-6000)}`);
      const R = s.root;
      // The steps did what they say.
      assert.match(
        r.transcript,
        /warning: authentication\[0\]\.file: \S+users\.htpasswd does not exist yet: no users yet/,
      );
      const htpasswd = fs.statSync(path.join(R, 'etc/gitward/users.htpasswd'));
      assert.equal(htpasswd.mode & 0o777, 0o640);
      assert.equal(htpasswd.gid, Number((await ok('getent', ['group', 'gitward'])).split(':')[2]));
      const repo = path.join(R, 'srv/git/web/site.git');
      assert.equal(
        fs.readlinkSync(path.join(repo, 'hooks', 'pre-receive')),
        path.join(R, 'opt/gitward/hooks/gitward-hook'),
      );
      assert.match(
        r.transcript,
        mode === 'proxy' ? /^all checks passed\r?$/m : /^no check failed; 1 could not be checked \(WARN\)\r?$/m,
      );
      assert.match(r.transcript, /^ok {3}refused by gitward's hook \(nothing written\)/m);
      const refs = await ok('git', ['--git-dir', repo, 'for-each-ref', '--format=%(refname)']);
      assert.deepEqual(
        refs.trim().split('\n'),
        ['refs/heads/main'],
        'the push arrived, and doctor left nothing behind',
      );
      // gitward's own endpoints are not served to the internet.
      for (const p of ['/healthz', '/_gitward/auth'])
        assert.equal((await get(s.ports.https, p, s.caCert)).status, 404, p);

      if (mode === 'proxy') {
        // A web application running as www-data: it can open gitward's socket (nginx must), and
        // can neither read the password hashes nor the repos.
        const socket = path.join(R, 'run/gitward/gitward.sock');
        assert.equal(await asUser('www-data', 'connect', socket), true, 'www-data opens the socket');
        assert.equal(
          await asUser('www-data', 'read', path.join(R, 'etc/gitward/users.htpasswd')),
          false,
          'www-data reads the htpasswd hashes',
        );
        assert.equal(
          await asUser('www-data', 'read', path.join(R, 'etc/gitward/gitward.yaml')),
          false,
          'www-data reads the config',
        );
        assert.equal(await asUser('www-data', 'list', path.join(R, 'srv/git')), false, 'www-data lists the repos');
        assert.equal(await asUser('www-data', 'read', path.join(repo, 'HEAD')), false, "www-data reads a repo's files");
        // Control: the service user reads them all; nobody (another local user) opens nothing.
        assert.equal(await asUser('gitward', 'read', path.join(R, 'etc/gitward/users.htpasswd')), true);
        assert.equal(await asUser('nobody', 'connect', socket), false, 'nobody opens the socket');
      } else {
        // The hooks ran as www-data and wrote their lines (the audit line of the push among them)
        // to the log file, which gitward's start did not take over.
        const log = path.join(R, 'var/log/gitward/hooks.jsonl');
        assert.equal(fs.statSync(log).uid, Number((await ok('id', ['-u', 'www-data'])).trim()));
        assert.match(fs.readFileSync(log, 'utf8'), /refs\/heads\/main/);
        await readNotHeldUpByClone(t, s);
      }
    },
  );
}

/**
 * Sidecar mode with the guide's fcgiwrap workers: an ls-remote completes while a clone holds one
 * worker. The clone is held by its request body: an upload-pack POST whose chunked body never
 * ends keeps its git-http-backend (and fcgiwrap process) waiting; the test waits for that process
 * to exist, runs ls-remote, and only then lets the held request go.
 */
async function readNotHeldUpByClone(t: { diagnostic(m: string): void }, s: Scratch): Promise<void> {
  const before = new Set(backendPids());
  const auth = Buffer.from(`ann:${PASSWORD}`).toString('base64');
  const held = https.request({
    host: '127.0.0.1',
    servername: HOST,
    port: s.ports.https,
    method: 'POST',
    path: '/web/site.git/git-upload-pack',
    ca: fs.readFileSync(s.caCert),
    headers: {
      Host: HOST,
      Authorization: `Basic ${auth}`,
      'Content-Type': 'application/x-git-upload-pack-request',
      'Transfer-Encoding': 'chunked',
    },
  });
  const heldDone = new Promise<number>((resolve) => {
    held.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    held.on('error', () => resolve(0));
  });
  // The first bytes of a pkt-line whose rest never comes: upload-pack waits for it.
  held.write('0032want ');
  // The request reached git: a new git-http-backend / upload-pack runs for it.
  await waitFor(() => [...backendPids()].some((p) => !before.has(p)), 'the held request reached git-http-backend');
  // With one fcgiwrap process this ls-remote would wait for the held request, which only ends
  // after it: the safety net below then kills it and the test fails.
  const ls = await run('git', ['ls-remote', `https://ann@${HOST}:${s.ports.https}/web/site.git`], {
    env: { ...s.env, GIT_SSL_CAINFO: s.caCert },
    timeoutMs: 120_000,
  });
  assert.equal(ls.code, 0, `ls-remote was held up behind the open request: ${ls.out}`);
  assert.match(ls.out, /refs\/heads\/main/);
  // Only now does the held request end (its body ends, malformed: git answers it as it likes).
  t.diagnostic('ls-remote finished while the held request was still open');
  held.end();
  await heldDone;
}

/** Pids of the git-http-backend and git-upload-pack processes running now. */
function backendPids(): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${e}/comm`, 'utf8').trim();
      if (comm === 'git-http-backen' || comm === 'git-upload-pack' || comm === 'git') {
        const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
        if (/http-backend|upload-pack/.test(cmd)) out.push(Number(e));
      }
    } catch {
      // gone
    }
  }
  return out;
}
