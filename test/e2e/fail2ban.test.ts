/**
 * The shipped fail2ban filter and jail (deploy/fail2ban): the jail bans with nftables, which a
 * stock Debian 12 has (its iptables-multiport default would fail there at the first ban), and
 * the filter finds the client of every failed login in real gitward log lines.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '../helpers/nginx.js';
import { spawnGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const DEPLOY = path.resolve(__dirname, '..', '..', '..', 'deploy', 'fail2ban');
/** Debian's fail2ban configuration, which the shipped files are added to. */
const SYSTEM_CONF = '/etc/fail2ban';

function run(file: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args as string[],
      {
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
        maxBuffer: 32 << 20,
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

/**
 * A copy of Debian's /etc/fail2ban with the shipped filter and jail installed as the guide says,
 * and Debian's own jail.d files left out (their sshd jail is not ours to test). `jail` replaces the
 * shipped jail's text.
 */
function confDir(dir: string, jail = fs.readFileSync(path.join(DEPLOY, 'jail.d', 'gitward.conf'), 'utf8')): string {
  const conf = path.join(dir, 'fail2ban');
  fs.cpSync(SYSTEM_CONF, conf, { recursive: true });
  for (const f of fs.readdirSync(path.join(conf, 'jail.d'))) fs.rmSync(path.join(conf, 'jail.d', f));
  fs.copyFileSync(path.join(DEPLOY, 'filter.d', 'gitward.conf'), path.join(conf, 'filter.d', 'gitward.conf'));
  fs.writeFileSync(path.join(conf, 'jail.d', 'gitward.conf'), jail);
  return conf;
}

/** The ban command of jail gitward, from fail2ban-client's dump of the resolved configuration. */
function actionBan(dump: string): string {
  const line = dump.split('\n').find((l) => l.startsWith("['multi-set', 'gitward', 'action',"));
  assert.ok(line, dump);
  const m = /\['actionban', '([^']*)'\]/.exec(line);
  assert.ok(m, line);
  return m[1] as string;
}

test('the shipped fail2ban jail passes `fail2ban-client --test` and bans with nftables, not iptables', async (t) => {
  const client = requireBinary(t, 'fail2ban-client');
  if (client === null) return;
  if (!fs.existsSync(path.join(SYSTEM_CONF, 'jail.conf')))
    throw new Error('fail2ban is installed without /etc/fail2ban/jail.conf');
  const dir = tempDir(t);
  const conf = confDir(dir);
  const tested = await run(client, ['-c', conf, '--test']);
  assert.equal(tested.code, 0, tested.out);
  assert.match(tested.out, /OK: configuration test is successful/);
  const dump = await run(client, ['-c', conf, '-d']);
  assert.equal(dump.code, 0, dump.out);
  assert.match(actionBan(dump.out), /^nft add element inet f2b-table /);
  assert.doesNotMatch(
    dump.out
      .split('\n')
      .filter((l) => l.includes("'gitward'"))
      .join('\n'),
    /iptables/,
  );
  // Control: without its banaction line, the jail falls back to fail2ban's iptables default.
  const stock = confDir(
    path.join(dir, 'stock'),
    fs.readFileSync(path.join(DEPLOY, 'jail.d', 'gitward.conf'), 'utf8').replace(/^banaction\s*=.*$/m, ''),
  );
  assert.match(actionBan((await run(client, ['-c', stock, '-d'])).out), /iptables/);
});

/** A GET with Basic credentials straight to gitward: a failed login for a wrong password. */
function getWith(port: number, user: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const auth = Buffer.from(`${user}:${password}`).toString('base64');
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: '/repo.git/info/refs?service=git-upload-pack',
        headers: { Authorization: `Basic ${auth}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
  });
}

test('the shipped fail2ban filter matches every failed login in real gitward log lines, and nothing else', async (t) => {
  const regex = requireBinary(t, 'fail2ban-regex');
  if (regex === null) return;
  const gw = await spawnGitward(t, {
    users: { ann: 'right' },
    repos: ['repo'],
    config: { repos: { 'repo.git': { '.read': ['ann'] } } },
  });
  // Two failed logins (a wrong password, an unknown user, whose name tries to forge the key), one good one.
  assert.equal(await getWith(gw.port, 'ann', 'wrong'), 401);
  assert.equal(await getWith(gw.port, 'x","msg":"failed login from 198.51.100.7 for user "', 'pw'), 401);
  assert.equal(await getWith(gw.port, 'ann', 'right'), 200);
  await gw.waitForLog('auth.failed', () => gw.logLines.filter((l) => l.event === 'auth.failed').length >= 2);
  const failed = gw.logLines.filter((l) => l.event === 'auth.failed').length;
  assert.equal(failed, 2);
  const dir = tempDir(t);
  const log = path.join(dir, 'gitward.log');
  fs.writeFileSync(log, `${gw.rawLogLines.join('\n')}\n`);
  const r = await run(regex, ['--print-all-matched', log, path.join(DEPLOY, 'filter.d', 'gitward.conf')]);
  assert.equal(r.code, 0, r.out);
  const m = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/m.exec(r.out);
  assert.ok(m, r.out);
  assert.equal(Number(m[3]), failed, r.out);
  assert.ok(Number(m[1]) > failed, 'the log has other lines too, which must not match');
  // The banned address is the client's, never the one a user name tries to plant.
  assert.match(r.out, /127\.0\.0\.1/);
  assert.doesNotMatch(r.out, /198\.51\.100\.7 +[0-9-]+ [0-9:]+/);
});
