import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isCI, requireBinary, stopGroup } from './nginx.js';
import { unboundPort } from './ports.js';

/** The shipped sshd snippet (deploy/ssh/), used by the tests as written. */
export const DEPLOY_SSHD_SNIPPET = path.resolve(__dirname, '..', '..', '..', 'deploy', 'ssh', 'gitward-sshd.conf');

/** The shipped key lookup as the snippet names it, and the one this checkout built. */
const SHIPPED_KEY_LOOKUP = '/opt/gitward/dist/ssh-key-lookup';
const BUILT_KEY_LOOKUP = path.resolve(__dirname, '..', '..', 'ssh-key-lookup');
/** This process's copy of the key lookup where sshd agrees to run it (made at first use). */
let keyLookupCopy: string | null = null;

/**
 * The built dist/ssh-key-lookup, copied into a fresh root-owned 0755 folder under /run: sshd runs
 * an AuthorizedKeysCommand only if it and every folder above it are root's and writable by nobody
 * else, which a checkout under /tmp is not. The folder goes when the process exits.
 */
export function keyLookupForSshd(): string {
  if (keyLookupCopy !== null) return keyLookupCopy;
  const dir = fs.mkdtempSync('/run/gitward-test-lookup-');
  fs.chmodSync(dir, 0o755);
  const copy = path.join(dir, 'ssh-key-lookup');
  fs.copyFileSync(BUILT_KEY_LOOKUP, copy);
  fs.chmodSync(copy, 0o755);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  keyLookupCopy = copy;
  return copy;
}

/** Starts sshd with the test account's login shell set to /bin/sh (see the script's header). */
const SH_SHELL_WRAPPER = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'ssh', 'sshd-with-sh-shell.py');
/** The wrapper's exit code when this machine cannot make a mount namespace. */
const NO_NAMESPACE = 125;
/** Set once a wrapper run found no mount namespace here: later sshds start plainly. */
let namespacesUnavailable = false;

/** A copy of /etc/passwd in `dir` with `account`'s login shell replaced by /bin/sh. */
function passwdWithShShell(dir: string, account: string): string {
  const lines = fs.readFileSync('/etc/passwd', 'utf8').split('\n');
  const copy = lines.map((line) => {
    const f = line.split(':');
    return f[0] === account && f.length === 7 ? [...f.slice(0, 6), '/bin/sh'].join(':') : line;
  });
  const file = path.join(dir, 'passwd');
  fs.writeFileSync(file, copy.join('\n'), { mode: 0o644 });
  return file;
}

/** Ports tried before giving up: another sshd of a parallel test may have drawn the same port. */
const PORT_TRIES = 8;
/** A running sshd for one test. */
export interface SshdInstance {
  readonly port: number;
  readonly child: ChildProcess;
  /** A known_hosts file naming the host key for 127.0.0.1:port. */
  readonly knownHosts: string;
  /** What sshd logged so far (-e: its log goes to stderr). */
  log(): string;
  stop(): Promise<void>;
}

/** Runs a command and resolves with its stdout; rejects on a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args as string[],
      { env: opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Makes a key pair at `file` (and `file.pub`); returns the public key line. */
export async function makeKey(file: string, type: 'ed25519' | 'rsa' | 'ecdsa', bits?: number): Promise<string> {
  await run('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', String(bits)] : []),
    '-N',
    '',
    '-C',
    `test-${path.basename(file)}`,
    '-f',
    file,
  ]);
  return fs.readFileSync(`${file}.pub`, 'utf8').trim();
}

/**
 * The sshd config of a test: a loopback port, host key and pid file in `dir`, no PAM, StrictModes
 * off (temp dirs), then the shipped snippet with the account (also as the key lookup's user), the
 * authorized_keys path and the key lookup's copy (keyLookupForSshd) put in.
 */
export function sshdConfig(dir: string, port: number, account: string, authorizedKeys: string): string {
  const snippet = fs
    .readFileSync(DEPLOY_SSHD_SNIPPET, 'utf8')
    .replace(/^Match User git$/m, `Match User ${account}`)
    .replaceAll('/var/lib/git/.ssh/authorized_keys', authorizedKeys)
    .replaceAll(SHIPPED_KEY_LOOKUP, keyLookupForSshd())
    .replace(/^(\s*AuthorizedKeysCommandUser) git$/m, `$1 ${account}`);
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(dir, 'host_ed25519')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'LogLevel VERBOSE',
    snippet,
  ].join('\n');
}

/**
 * Starts Debian's sshd on 127.0.0.1 for the current user, with the shipped snippet. Returns null
 * after `t.skip` when sshd is missing or cannot run here (not root); in CI that is an error.
 */
export async function startSshd(
  t: { skip(message?: string): void },
  dir: string,
  authorizedKeys: string,
): Promise<SshdInstance | null> {
  const sshd = requireBinary(t, 'sshd');
  if (sshd === null) return null;
  if (process.getuid?.() !== 0) {
    if (isCI(process.env)) throw new Error('the sshd tests run as root in CI');
    t.skip('sshd needs root (privilege separation)');
    return null;
  }
  // sshd's privilege separation folder; systemd creates it on a real machine.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  if (!fs.existsSync(hostKey)) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const account = os.userInfo().username;
  const passwd = passwdWithShShell(dir, account);
  let lastError = '';
  for (let i = 0; i < PORT_TRIES; i++) {
    const port = unboundPort();
    const conf = path.join(dir, 'sshd_config');
    fs.writeFileSync(conf, sshdConfig(dir, port, account, authorizedKeys));
    const sshdArgv = [sshd, '-D', '-e', '-f', conf];
    const [file, ...args] = namespacesUnavailable
      ? sshdArgv
      : ['/usr/bin/python3', '-I', '-S', SH_SHELL_WRAPPER, passwd, path.join(os.homedir(), '.bashrc'), ...sshdArgv];
    const child = spawn(file!, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    let retryPlainly = false;
    const started = await new Promise<boolean>((resolve) => {
      child.stderr?.on('data', (b: Buffer) => {
        log += b.toString('utf8');
        if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) resolve(true);
      });
      child.once('exit', (code) => {
        // No mount namespace here (not root in a container, say): start sshd plainly from now on;
        // it runs the account's own shell, which is slower but checks the same things.
        if (code === NO_NAMESPACE && !namespacesUnavailable) {
          namespacesUnavailable = true;
          retryPlainly = true;
        }
        resolve(false);
      });
      child.once('error', () => resolve(false));
    });
    if (started) {
      const hostPub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
      const knownHosts = path.join(dir, 'known_hosts');
      fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
      return { port, child, knownHosts, log: () => log, stop: () => stopGroup(child) };
    }
    lastError = log;
    await stopGroup(child);
    if (retryPlainly) {
      i--;
      continue;
    }
    // Only a port held by someone else is worth another draw.
    if (!/Address already in use|Bind to port/.test(log)) break;
  }
  if (isCI(process.env)) throw new Error(`sshd did not start: ${lastError}`);
  t.skip(`sshd did not start: ${lastError.split('\n')[0] ?? ''}`);
  return null;
}

/** GIT_SSH_COMMAND for `key` against `sshd`: that key only, the test's known_hosts, no prompts. */
export function gitSshCommand(sshd: SshdInstance, key: string | null): string {
  const parts = [
    'ssh',
    '-F',
    '/dev/null',
    '-p',
    String(sshd.port),
    '-o',
    `UserKnownHostsFile=${sshd.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
  ];
  if (key === null) parts.push('-o', 'PubkeyAuthentication=no');
  else parts.push('-i', key);
  return parts.join(' ');
}
