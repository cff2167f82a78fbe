/**
 * The fail2ban filter in deploy/fail2ban, read by fail2ban itself: `fail2ban-regex` over the lines
 * gitward's production logger writes for failed logins (both log formats, IPv4 and IPv6, odd and
 * forged user names) and for other events, which must not match.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { logFailedLogin } from '../../app/identity/failed-login.js';
import { createLogger } from '../../app/log/logger.js';
import type { Logger } from '../../app/types.js';
import { requireBinary } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';

const FILTER = path.join(__dirname, '..', '..', '..', 'deploy', 'fail2ban', 'filter.d', 'gitward.conf');

/** The lines `write` makes the real logger (log.format `format`) write. */
async function realLines(format: 'json' | 'text', write: (logger: Logger) => void): Promise<string[]> {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    text += chunk;
  });
  const logger = createLogger({ stream, format, fields: { service: 'gitward' } });
  write(logger.child({ requestId: 'req-1' }));
  // Lines come through winston in order: once the marker is written, so is every line before it.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (text.includes('test.end')) resolve();
      else stream.once('data', check);
    };
    logger.info('test.end');
    check();
  });
  return text.split('\n').filter((l) => l !== '' && !l.includes('test.end'));
}

/** The address fail2ban finds on each line it matches, in order (`fail2ban-regex -o ip`). */
function bannedAddresses(regexBin: string, log: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      regexBin,
      ['-o', 'ip', log, FILTER],
      { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`fail2ban-regex failed: ${stderr}`));
        else resolve(stdout.split('\n').filter((l) => l !== ''));
      },
    );
  });
}

const FORGED = 'x" for user "y","msg":"failed login from 6.6.6.6 for user ';

/** Failed logins (format, client, user): fail2ban must ban exactly `client` for each. */
const FAILED: Array<['json' | 'text', string, string]> = [
  ['json', '203.0.113.5', 'ann'],
  ['json', '2001:db8::7', 'ann'],
  ['text', '198.51.100.9', 'ann'],
  ['text', '::1', 'ben'],
  ['json', '192.0.2.1', 'name with spaces and "quotes"'],
  // Malformed Basic credentials: a failed login with no user to name.
  ['json', '192.0.2.7', ''],
  ['text', '192.0.2.8', ''],
  // A user name crafted to look like another address cannot redirect the ban.
  ['json', '203.0.113.9', FORGED],
  ['text', '203.0.113.10', FORGED],
];

test('fail2ban-regex finds the client of every real failed-login line, and matches no other gitward line', async (t) => {
  const regexBin = requireBinary(t, 'fail2ban-regex');
  if (regexBin === null) return;
  const lines: string[] = [];
  for (const [format, client, user] of FAILED) {
    lines.push(
      ...(await realLines(format, (l) =>
        logFailedLogin(l, { client, user, source: 'htpasswd', reason: 'unknown user or wrong password' }),
      )),
    );
    // Lines about the same client that are not failed logins: throttling, an untrusted proxy header.
    lines.push(
      ...(await realLines(format, (l) => {
        l.info('auth.throttled', { client, user: 'ann', retryAfterSeconds: 3 });
        l.warn('auth.remote_user_untrusted', { client, msg: 'ignored X-Remote-User from untrusted peer' });
      })),
    );
  }
  assert.equal(lines.length, FAILED.length * 3, 'one line per event');
  const log = path.join(tempDir(t), 'gitward.log');
  fs.writeFileSync(log, `${lines.join('\n')}\n`);
  assert.deepEqual(
    await bannedAddresses(regexBin, log),
    FAILED.map(([, client]) => client),
  );
});
