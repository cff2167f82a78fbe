/**
 * `node dist/bench/ssh.js [--quick] [--ls-only] [--runs N]` (as root: sshd): git over SSH through Debian's
 * sshd, in one run, targets interleaved run by run (the order reversed every other run: A B B A):
 * - plain sshd + git-shell, no ACL (the anchor);
 * - gitolite (Debian's gitolite3), the peer that does the same job;
 * - gitward (the shipped forced command, app/ssh/ssh-relay.c, handing each session to a running
 *   `gitward serve`) with 1 key in authorized_keys, with 10,000 keys in authorized_keys, with 1 and
 *   10,000 keys found by the shipped AuthorizedKeysCommand (dist/ssh-key-lookup), and with the
 *   10,000 found by `grep -F` of the fingerprint (the lookup shipped before).
 * Metrics: ls-remote v0/v2 p50, 32 parallel clones, full clone of the ~100 MB history repo
 * (`--ls-only`: the ls-remote rows alone; `--runs`: ls-remote runs a row, 40 by default). Also the
 * forced commands' own start-up, without sshd.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forcedCommandTarget } from '../app/cli/commands/key.js';
import { parseKeysFile, renderAuthorizedKeys } from '../app/ssh/ssh-keys.js';
import { stopGroup } from '../test/helpers/nginx.js';
import { unboundPort } from '../test/helpers/ports.js';
import { fmtStats, mountTmpfs, ratio, stats, table, timed, timedOk, unmountTmpfs, type Stats } from './measure.js';
import { BIG_HISTORY, cachedRepo, SMALL } from './repo-gen.js';
import { runSuite, type Metric, type Target } from './suite.js';

const log = (s: string) => process.stderr.write(`${s}\n`);
/** Keys on file for the key-lookup rows: the 10,000. */
const MANY_KEYS = 10_000;
/** The shipped launcher of `gitward serve`. */
const LAUNCHER = path.resolve(__dirname, '..', '..', 'app', 'gitward');
const GITOLITE_SHELL = '/usr/share/gitolite3/gitolite-shell';
/** The shipped key lookup (app/ssh/ssh-key-lookup.c); sshd wants it and its folders root-owned. */
const KEY_LOOKUP = path.resolve(__dirname, '..', 'ssh-key-lookup');

/**
 * The one sshd_config of every bench sshd: loopback, host key, no PAM, MaxStartups and the Match
 * block as shipped (deploy/ssh/gitward-sshd.conf) without its key lookup. What differs between
 * targets (port, pid file, how sshd finds the key, log level) goes on sshd's command line, so every
 * target's file is the same text: sshd pads each user-auth request to a delay drawn from a hash of
 * its host keys and this file (OpenSSH's timing secret), and one file gives every target the same.
 */
function sshdConfig(hostKey: string): string {
  const shipped = fs.readFileSync(path.resolve(__dirname, '..', '..', 'deploy', 'ssh', 'gitward-sshd.conf'), 'utf8');
  const block = shipped.slice(shipped.indexOf('Match User git') + 'Match User git'.length);
  return [
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'MaxStartups 64:30:256',
    `Match User ${os.userInfo().username}`,
    ...block.split('\n').filter((l) => !/^\s*AuthorizedKeys(File|Command|CommandUser) /.test(l)),
  ].join('\n');
}

/**
 * An sshd on a free loopback port with the shared `config` and `keys` (sshd_config lines: how it
 * finds the key); `debugLog`: LogLevel DEBUG3 into that file (the padding rows).
 */
async function startSshd(
  dir: string,
  config: string,
  keys: readonly string[],
  debugLog?: string,
): Promise<{ port: number; child: ChildProcess }> {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 5; i++) {
    const port = unboundPort();
    const options = [
      `Port ${port}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `LogLevel ${debugLog ? 'DEBUG3' : 'VERBOSE'}`,
      ...keys,
    ].flatMap((o) => ['-o', o]);
    const args = ['-D', '-e', '-f', config, ...options, ...(debugLog ? ['-E', debugLog] : [])];
    const child = spawn('/usr/sbin/sshd', args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let text = '';
    const up = await new Promise<boolean>((resolve) => {
      // LogLevel ERROR hides "Server listening"; a connect shows it is up instead.
      const timer = setInterval(() => {
        const s = require('node:net').connect(port, '127.0.0.1') as import('node:net').Socket;
        s.on('connect', () => {
          s.destroy();
          clearInterval(timer);
          resolve(true);
        });
        s.on('error', () => s.destroy());
      }, 50);
      child.stderr?.on('data', (b: Buffer) => (text += b.toString()));
      child.once('exit', () => {
        clearInterval(timer);
        resolve(false);
      });
    });
    if (up) return { port, child };
    if (!/Address already in use|Bind to port/.test(text)) throw new Error(`sshd did not start: ${text}`);
  }
  throw new Error('sshd: no free port after 5 tries');
}

/** An ed25519 public key line made in-process: 10,000 through ssh-keygen would take minutes. */
function ed25519Line(i: number): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const name = Buffer.from('ssh-ed25519');
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return `ssh-ed25519 ${Buffer.concat([u32(name.length), name, u32(raw.length), raw]).toString('base64')} filler-${i}`;
}

async function main(argv: readonly string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: each target is an sshd');
  const quick = argv.includes('--quick');
  // Only the ls-remote rows: the per-connection costs (key lookup, forced command), in a few minutes.
  const lsOnly = argv.includes('--ls-only');
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const cache = path.join(os.tmpdir(), 'gitward-bench-cache');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-bench-ssh-'));
  const client = path.join(work, 'client');
  const tmpfs = mountTmpfs(client, 2048);
  const home = path.join(client, 'home');
  fs.mkdirSync(home, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  // sshd runs every forced command through the account's shell, and bash sources ~/.bashrc when
  // sshd starts it: on the build machine root's sources pyenv (0.47 s a session), which would
  // drown the per-connection figures. Hidden for the run under an empty bind mount.
  const bashrc = path.join(os.userInfo().homedir, '.bashrc');
  const hideBashrc = fs.existsSync(bashrc) && spawnSync('mount', ['--bind', '/dev/null', bashrc]).status === 0;
  if (hideBashrc) log(`${bashrc} hidden during the run (bind mount of /dev/null)`);
  const cleanup = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    if (hideBashrc) spawnSync('umount', [bashrc]);
    if (tmpfs) unmountTmpfs(client);
    fs.rmSync(work, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
  };
  try {
    const history = await cachedRepo(cache, BIG_HISTORY, baseEnv, log);
    const small = await cachedRepo(cache, SMALL, baseEnv, log);
    const repos = path.join(work, 'repos');
    fs.mkdirSync(repos);
    for (const [name, src] of [
      ['history', history],
      ['small', small],
    ] as const) {
      execFileSync('git', ['clone', '--quiet', '--bare', '--local', src, path.join(repos, `${name}.git`)], {
        env: baseEnv,
      });
    }
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(work, 'host_ed25519')]);
    const key = path.join(work, 'bench');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', key]);
    const pub = fs.readFileSync(`${key}.pub`, 'utf8').trim();

    // gitward: config, keys file with the bench key, and the same with 10,000 keys before it.
    const cfg = path.join(work, 'gitward.yaml');
    const sockDir = path.join(work, 'run');
    fs.mkdirSync(sockDir, { mode: 0o750 });
    const socket = path.join(sockDir, 'gitward.sock');
    const ssh = `ssh: {keys_file: ./ssh-keys, socket: ${socket}}`;
    fs.writeFileSync(
      cfg,
      `repo_root: ./repos\nlog: {audit: ./audit.log}\nusers: {bench: {}}\nrepos: {.read: [bench], .write: [bench]}\n${ssh}\n`,
    );
    const target = forcedCommandTarget(socket);
    const own = `bench ${pub}\n`;
    let many = '';
    log(`making ${MANY_KEYS} filler keys …`);
    for (let i = 0; i < MANY_KEYS; i++) many += `filler${i} ${ed25519Line(i)}\n`;
    fs.writeFileSync(path.join(work, 'ssh-keys'), many + own);
    const akOne = path.join(work, 'ak-one');
    const akMany = path.join(work, 'ak-many');
    fs.writeFileSync(akOne, renderAuthorizedKeys(parseKeysFile(own, 'k').keys, target, 'k'), { mode: 0o600 });
    fs.writeFileSync(akMany, renderAuthorizedKeys(parseKeysFile(many + own, 'k').keys, target, 'k'), { mode: 0o600 });
    // The shipped AuthorizedKeysCommand (deploy/ssh/gitward-sshd.conf): the one line naming the key;
    // and `grep -F` of the fingerprint, what it replaced, for comparison.
    const keyLookup = (command: string): string[] => [
      'AuthorizedKeysFile none',
      `AuthorizedKeysCommand ${command}`,
      'AuthorizedKeysCommandUser root',
    ];
    const shippedLookup = (file: string) => keyLookup(`${KEY_LOOKUP} ${file} %f`);
    const grepLookup = (file: string) => keyLookup(`/usr/bin/grep -F -e %f ${file}`);

    // The running gitward every forced command hands its session to.
    const serve = spawn(LAUNCHER, ['serve', '--config', cfg, '--listen', '127.0.0.1:0'], {
      detached: true,
      env: { PATH: baseEnv.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    stops.push(() => stopGroup(serve));
    await new Promise<void>((resolve, reject) => {
      let text = '';
      serve.stderr?.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('"ssh.listening"')) resolve();
      });
      serve.once('exit', () => reject(new Error(`gitward serve exited: ${text}`)));
    });

    // Plain sshd + git-shell: the anchor, no ACL (the path in the URL is the path on disk).
    const akPlain = path.join(work, 'ak-plain');
    fs.writeFileSync(akPlain, `restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" ${pub}\n`, { mode: 0o600 });

    // gitolite in its own HOME; its authorized_keys line gets that HOME (sshd gives root's).
    const glHome = path.join(work, 'gitolite');
    fs.mkdirSync(glHome);
    const glEnv = { ...baseEnv, HOME: glHome, GIT_CONFIG_NOSYSTEM: '0' };
    fs.copyFileSync(`${key}.pub`, path.join(work, 'admin.pub'));
    execFileSync('gitolite', ['setup', '-pk', path.join(work, 'admin.pub')], { env: glEnv, stdio: 'ignore' });
    const glConf = path.join(glHome, '.gitolite', 'conf', 'gitolite.conf');
    fs.appendFileSync(glConf, '\nrepo history small\n    RW+ = admin\n');
    for (const name of ['history', 'small'])
      execFileSync(
        'git',
        [
          'clone',
          '--quiet',
          '--bare',
          '--local',
          path.join(repos, `${name}.git`),
          path.join(glHome, 'repositories', `${name}.git`),
        ],
        { env: baseEnv },
      );
    execFileSync('gitolite', ['setup'], { env: glEnv, stdio: 'ignore' });
    const glAk = fs.readFileSync(path.join(glHome, '.ssh', 'authorized_keys'), 'utf8');
    const akGitolite = path.join(work, 'ak-gitolite');
    fs.writeFileSync(akGitolite, glAk.replace(/command="([^"]*gitolite-shell)/g, `command="HOME=${glHome} $1`), {
      mode: 0o600,
    });
    if (!glAk.includes(GITOLITE_SHELL)) log(`note: gitolite's authorized_keys does not name ${GITOLITE_SHELL}`);

    const servers: Array<{
      name: string;
      keys: readonly string[];
      url: (port: number, repo: string) => string;
    }> = [
      {
        name: 'plain sshd + git-shell',
        keys: [`AuthorizedKeysFile ${akPlain}`],
        url: (p, r) => `ssh://127.0.0.1:${p}${repos}/${r}.git`,
      },
      {
        name: 'gitolite3',
        keys: [`AuthorizedKeysFile ${akGitolite}`],
        url: (p, r) => `ssh://127.0.0.1:${p}/${r}.git`,
      },
      {
        name: 'gitward, 1 key',
        keys: [`AuthorizedKeysFile ${akOne}`],
        url: (p, r) => `ssh://127.0.0.1:${p}/${r}.git`,
      },
      {
        name: `gitward, ${MANY_KEYS} keys`,
        keys: [`AuthorizedKeysFile ${akMany}`],
        url: (p, r) => `ssh://127.0.0.1:${p}/${r}.git`,
      },
      {
        name: 'gitward, 1 key, ssh-key-lookup',
        keys: shippedLookup(akOne),
        url: (p, r) => `ssh://127.0.0.1:${p}/${r}.git`,
      },
      {
        name: `gitward, ${MANY_KEYS} keys, ssh-key-lookup (shipped)`,
        keys: shippedLookup(akMany),
        url: (p, r) => `ssh://127.0.0.1:${p}/${r}.git`,
      },
      {
        name: `gitward, ${MANY_KEYS} keys, grep -F (before)`,
        keys: grepLookup(akMany),
        url: (p, r) => `ssh://127.0.0.1:${p}/${r}.git`,
      },
    ];
    const sshdConf = path.join(work, 'sshd_config');
    fs.writeFileSync(sshdConf, sshdConfig(path.join(work, 'host_ed25519')));
    const targets: Target[] = [];
    for (const [i, s] of servers.entries()) {
      const { port, child } = await startSshd(path.join(work, `sshd-${i}`), sshdConf, s.keys);
      stops.push(() => stopGroup(child));
      targets.push({ name: s.name, url: (repo) => s.url(port, repo), pid: null });
    }
    const knownHosts = path.join(work, 'known_hosts');
    const hostPub = fs
      .readFileSync(path.join(work, 'host_ed25519.pub'), 'utf8')
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    fs.writeFileSync(
      knownHosts,
      targets.map((t) => `[127.0.0.1]:${/:(\d+)\//.exec(t.url('x'))?.[1] ?? ''} ${hostPub}`).join('\n') + '\n',
    );
    const env = {
      ...baseEnv,
      GIT_SSH_COMMAND: `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes`,
    };
    // Warm every target once (gitward's config cache; page cache), and fail early on a broken one.
    for (const t of targets) {
      log(`warming ${t.name}`);
      execFileSync('git', ['ls-remote', t.url('small')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    }

    const load = os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
    log(`load average at the start: ${load}`);
    // A B B A: the target order reversed every other run, so a load swing hits every target alike.
    const abba = <T>(list: readonly T[], i: number): readonly T[] => (i % 2 === 0 ? list : [...list].reverse());

    // The forced commands alone, without sshd: git-shell (plain) against gitward's relay, stdin
    // closed (upload-pack advertises the refs and ends).
    const startupRuns = quick ? 20 : 60;
    const smallDir = path.join(repos, 'small.git');
    const fp = parseKeysFile(own, 'k').keys[0]!.fingerprint;
    const relayEnv = {
      ...baseEnv,
      SSH_ORIGINAL_COMMAND: "git-upload-pack 'small.git'",
      SSH_CONNECTION: '127.0.0.1 1 127.0.0.1 22',
    };
    const forced: Array<{ name: string; cmd: string; args: string[]; env: Record<string, string> }> = [
      { name: 'git-shell -c (plain)', cmd: 'git-shell', args: ['-c', `git-upload-pack '${smallDir}'`], env: baseEnv },
      { name: 'gitward relay (C, shipped) + server', cmd: target.relay, args: [socket, 'bench', fp], env: relayEnv },
      {
        name: 'the same relay in Python (python3 -I -S, not shipped) + server',
        cmd: '/usr/bin/python3',
        args: ['-I', '-S', path.resolve(__dirname, '..', '..', 'bench', 'ssh-relay.py'), socket, 'bench', fp],
        env: relayEnv,
      },
    ];
    const startup = new Map<string, number[]>(forced.map((f) => [f.name, []]));
    log(`  forced commands alone, ${startupRuns} runs …`);
    for (let i = 0; i < startupRuns; i++) {
      for (const f of abba(forced, i)) {
        // upload-pack ends with 128 ("the remote end hung up") at the closed stdin, after the refs.
        const r = await timed(f.cmd, f.args, { cwd: client, env: f.env });
        if (r.code !== 0 && !/the remote end hung up/.test(r.stderr)) throw new Error(`${f.name}: ${r.stderr}`);
        startup.get(f.name)!.push(r.ms);
      }
    }

    // ls-remote through sshd: every target, both protocols, A B B A.
    const runsArg = argv.indexOf('--runs');
    const lsRuns = runsArg >= 0 ? Number(argv[runsArg + 1]) : quick ? 15 : 40;
    if (!Number.isInteger(lsRuns) || lsRuns < 1) throw new Error('--runs takes a whole number of runs');
    const ls = new Map<string, number[]>();
    log(`  ls-remote, ${lsRuns} runs …`);
    for (let i = 0; i < lsRuns; i++) {
      for (const t of abba(targets, i)) {
        for (const v of [0, 2]) {
          const ms = await timedOk('git', ['-c', `protocol.version=${v}`, 'ls-remote', t.url('history')], {
            cwd: client,
            env,
          });
          (ls.get(`${t.name}\u0000${v}`) ?? ls.set(`${t.name}\u0000${v}`, []).get(`${t.name}\u0000${v}`)!).push(ms);
        }
      }
    }

    // Why a key lookup costs a fetch nothing, or several ms: sshd pads each user-auth request
    // (none, the key query, the signed request) to a delay D of its own, 5 + 0-4.2 ms from a hash of
    // the host keys, sshd_config and the user name, and to 2D, 4D ... when it took longer (OpenSSH's
    // ensure_minimum_time_since). A lookup adds to a connection only when it pushes a request past
    // D, and then D. Two more sshds at LogLevel DEBUG3 show this run's D and each request's own time.
    const padRuns = quick ? 10 : 20;
    const padding: Array<{ name: string; log: string; url: (repo: string) => string }> = [];
    for (const [name, keys] of [
      ['1-key file', [`AuthorizedKeysFile ${akOne}`]],
      [`ssh-key-lookup, ${MANY_KEYS} keys`, shippedLookup(akMany)],
    ] as const) {
      const dir = path.join(work, `sshd-debug-${padding.length}`);
      const debugLog = path.join(work, `sshd-debug-${padding.length}.log`);
      const { port, child } = await startSshd(dir, sshdConf, keys, debugLog);
      stops.push(() => stopGroup(child));
      fs.appendFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
      padding.push({ name, log: debugLog, url: (r) => `ssh://127.0.0.1:${port}/${r}.git` });
    }
    log(`  sshd's auth padding, ${padRuns} runs …`);
    for (let i = 0; i < padRuns; i++)
      for (const p of abba(padding, i)) await timedOk('git', ['ls-remote', p.url('small')], { cwd: client, env });
    const padLines: string[] = [];
    const padRe = /ensure_minimum_time_since: elapsed ([\d.]+)ms, delaying [\d.]+ms \(requested ([\d.]+)ms\)/g;
    for (const p of padding) {
      // Each line: the request's own time, and D (the same on every line; past D sshd waits to 2D).
      const found = [...fs.readFileSync(p.log, 'utf8').matchAll(padRe)];
      // Three requests a connection, in order: none, the key query, the signed request.
      if (found.length !== 3 * padRuns)
        throw new Error(`${p.name}: ${found.length} padded requests, not ${3 * padRuns}`);
      const own = found.map((m) => Number(m[1]));
      const d = Number(found[0]![2]);
      const part = (k: number, what: string) => {
        const mine = own.filter((_, j) => j % 3 === k);
        const past = mine.filter((e) => e > d).length;
        return `${what} ${fmtStats(stats(mine))}, padded past D ${past} of ${mine.length}`;
      };
      padLines.push(`${p.name}: D ${d.toFixed(2)} ms; own time: ${part(1, 'key query')}; ${part(2, 'signed')}`);
    }

    const runs: Record<Metric, number> = {
      clone: quick ? 2 : 3,
      'ls-v0': 0,
      'ls-v2': 0,
      fetch: 0,
      parallel: quick ? 1 : 2,
      push300: 0,
      clone300: 0,
    };
    const results = lsOnly
      ? null
      : await runSuite(targets, {
          metrics: ['parallel', 'clone'],
          clientDir: client,
          serverRoot: repos,
          pushSource: '',
          env,
          runs,
          parallel: 32,
          log,
        });

    const rows: string[][] = [];
    const plus = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} ms`;
    const anchorStart = stats(startup.get(forced[0]!.name)!);
    for (const f of forced) {
      const st = stats(startup.get(f.name)!);
      rows.push([
        'forced command alone (upload-pack, no sshd)',
        f.name,
        fmtStats(st),
        plus(st.median - anchorStart.median),
        '',
      ]);
    }
    for (const v of [0, 2]) {
      const a = stats(ls.get(`${targets[0]!.name}\u0000${v}`)!);
      for (const t of targets) {
        const st = stats(ls.get(`${t.name}\u0000${v}`)!);
        rows.push([`\`git ls-remote\` v${v}, p50`, t.name, fmtStats(st), plus(st.median - a.median), '']);
      }
    }
    if (results !== null) {
      const anchor = results.get(targets[0]!.name)!;
      const label: Partial<Record<Metric, string>> = {
        clone: 'full clone, history repo (~100 MB)',
        parallel: '32 parallel clones of the small repo',
      };
      for (const m of ['clone', 'parallel'] as const) {
        for (const t of targets) {
          const r = results.get(t.name)!.get(m)!;
          rows.push([
            label[m] ?? m,
            t.name,
            fmtStats(r.time as Stats),
            ratio(r.time, anchor.get(m)!.time),
            m === 'parallel' ? String(r.failures) : '',
          ]);
        }
      }
    }
    process.stdout.write(
      `load average at the start: ${load}; at the end: ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}\n\n`,
    );
    process.stdout.write(table(['test', 'target', 'median (min–max)', 'vs plain sshd', 'failures'], rows) + '\n');
    // The key lookup's cost from the v0 and v2 medians: 10,000 keys against 1 in the same mechanism
    // (what the keys on file add), and the shipped command against sshd reading a 1-key file (what
    // running a command at all adds).
    const med = (name: string, v: number) => stats(ls.get(`${name}\u0000${v}`)!).median;
    const diff = (a: string, b: string) => [0, 2].map((v) => plus(med(a, v) - med(b, v))).join(' (v0), ') + ' (v2)';
    const [fileOne, fileMany, lookupOne, lookupMany, grepMany] = [2, 3, 4, 5, 6].map((i) => targets[i]!.name);
    process.stdout.write(`key lookup, ${MANY_KEYS} keys against 1, file read by sshd: ${diff(fileMany!, fileOne!)}\n`);
    process.stdout.write(`key lookup, ${MANY_KEYS} keys against 1, ssh-key-lookup: ${diff(lookupMany!, lookupOne!)}\n`);
    process.stdout.write(`ssh-key-lookup (1 key) against sshd reading a 1-key file: ${diff(lookupOne!, fileOne!)}\n`);
    process.stdout.write(`grep -F against ssh-key-lookup, ${MANY_KEYS} keys: ${diff(grepMany!, lookupMany!)}\n`);
    process.stdout.write(`\nsshd's auth padding (LogLevel DEBUG3 sshds, ${padRuns} connections each):\n`);
    for (const l of padLines) process.stdout.write(`${l}\n`);
  } finally {
    await cleanup();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
