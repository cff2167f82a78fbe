import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CheckResult } from './doctor-result.js';

/** A step that takes longer than this is reported as hung (sshd's LoginGraceTime is 120 s). */
const STEP_TIMEOUT_MS = 120_000;

/** The client's variables the SSH checks pass to git besides doctor's own (the key to use). */
export const SSH_PASSED_ENV = ['GIT_SSH_COMMAND', 'GIT_SSH', 'SSH_AUTH_SOCK'] as const;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What git's and ssh's words point at, first match wins. */
const CAUSES: ReadonlyArray<readonly [RegExp, string]> = [
  [
    /Permission denied \(publickey/,
    'sshd did not accept the key: add it with `gitward key add USER FILE`; on the server, check that ' +
      "the Match User block's AuthorizedKeysCommand names dist/ssh-key-lookup and ssh.authorized_keys, " +
      'and that `gitward check` does not warn about ssh.keys_file (sshd logs "Unsafe AuthorizedKeysCommand")',
  ],
  [
    /Host key verification failed/,
    'the host key is not in known_hosts: compare its fingerprint with ' +
      '`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server',
  ],
  [/Connection refused|Could not resolve|timed out/, 'sshd is not reachable on that host and port'],
  [
    /gitward: this key is not \(or no longer\) accepted/,
    'the key is on file but its user is not in the config (users: or an htpasswd file) any more',
  ],
  [
    /gitward: the git service is not available right now/,
    'gitward serve is not running, or not on the ssh.socket the forced commands name (then `gitward key sync`)',
  ],
  [
    /gitward: the forced command is not as gitward key writes it|the server socket is not gitward's/,
    "authorized_keys is out of date or the socket folder is not gitward's: `gitward key sync` as the SSH account",
  ],
  [/gitward: SSH access is not enabled/, 'set ssh.keys_file in the config'],
  [/gitward: (repository .* not found|you may not)/, 'gitward refused this user (`gitward access USER REPO write`)'],
  [
    /gitward: only git-upload-pack|git-shell|fatal: Interactive git shell/,
    "the forced command did not run: the account's login shell must be /bin/sh, not git-shell",
  ],
];

/** The likely cause of an SSH failure, from git's and ssh's own words; null when none is known. */
export function diagnoseSsh(stderr: string): string | null {
  return CAUSES.find(([re]) => re.test(stderr))?.[1] ?? null;
}

/** Who the scratch commit is by. */
const IDENT = {
  GIT_AUTHOR_NAME: 'gitward doctor',
  GIT_AUTHOR_EMAIL: 'doctor@gitward.invalid',
  GIT_COMMITTER_NAME: 'gitward doctor',
  GIT_COMMITTER_EMAIL: 'doctor@gitward.invalid',
};

/** The cause of a v2 check that got v0. */
const NO_V2 =
  'sshd does not pass GIT_PROTOCOL: add `AcceptEnv GIT_PROTOCOL` to the Match User block ' +
  '(deploy/ssh/gitward-sshd.conf)';

/**
 * The checks of `gitward doctor ssh://…`: protocol v2 (sshd's AcceptEnv GIT_PROTOCOL), a shallow
 * clone, and a push of a scratch branch that is then deleted. Each failure names the likely cause.
 */
export async function runSshDoctor(url: string, env: Record<string, string>, tmp: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const base = { ...env, GIT_TERMINAL_PROMPT: '0', LANG: 'C', LC_ALL: 'C' };
  const git = (args: string[], cwd: string, extra: Record<string, string> = {}) => {
    return runGit(args, cwd, { ...base, ...extra });
  };
  const fail = (name: string, r: Run, fallback: string): CheckResult => {
    return { name, level: 'fail', detail: lastLine(r.stderr), cause: diagnoseSsh(r.stderr) ?? fallback };
  };

  const ls = await git(['-c', 'protocol.version=2', 'ls-remote', url], tmp, { GIT_TRACE_PACKET: '1' });
  if (ls.code !== 0) {
    results.push(fail('ssh ls-remote (protocol v2)', ls, "see sshd's log (journalctl -u ssh) and the audit log"));
    return results;
  }
  if (!/< version 2$/m.test(ls.stderr)) {
    const detail = 'the server answered with protocol v0';
    results.push({ name: 'ssh ls-remote (protocol v2)', level: 'fail', detail, cause: NO_V2 });
  } else results.push({ name: 'ssh ls-remote (protocol v2)', level: 'ok', detail: 'protocol v2 negotiated' });

  const clone = path.join(tmp, 'clone');
  const cl = await git(['clone', '--quiet', '--depth', '1', '--no-checkout', url, clone], tmp);
  if (cl.code !== 0) {
    results.push(fail('ssh clone', cl, 'see the audit log'));
    return results;
  }
  results.push({ name: 'ssh clone', level: 'ok', detail: 'shallow clone done' });

  const branch = `gitward-doctor-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(path.join(clone, 'gitward-doctor.txt'), `${branch}\n`);
  await git(['reset', '--quiet'], clone);
  await git(['add', 'gitward-doctor.txt'], clone);
  const commit = await git(['commit', '--quiet', '-m', 'gitward doctor scratch commit'], clone, IDENT);
  if (commit.code !== 0) {
    const cause = 'local git problem (not the server)';
    results.push({ name: 'ssh push', level: 'fail', detail: lastLine(commit.stderr), cause });
    return results;
  }
  const push = await git(['push', '--quiet', url, `HEAD:refs/heads/${branch}`], clone);
  if (push.code !== 0) {
    results.push(fail('ssh push', push, 'a hook may have refused the scratch branch: see the remote: lines'));
    return results;
  }
  results.push({ name: 'ssh push', level: 'ok', detail: `pushed ${branch}` });
  const del = await git(['push', '--quiet', url, `:refs/heads/${branch}`], clone);
  const byHand = `delete ${branch} by hand (receive.denyDeletes or a hook may refuse deletes)`;
  if (del.code !== 0) results.push(fail('ssh delete scratch branch', del, byHand));
  else results.push({ name: 'ssh delete scratch branch', level: 'ok', detail: `${branch} deleted` });
  return results;
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !/ packet: /.test(l));
  return lines[lines.length - 1] ?? '(no output)';
}

function runGit(args: string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: '', stderr: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const note = code === null ? `\ntimed out after ${STEP_TIMEOUT_MS / 1000} s` : '';
      resolve({ code, stdout, stderr: stderr + note });
    });
  });
}
