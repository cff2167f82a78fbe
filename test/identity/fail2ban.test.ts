import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { logFailedLogin } from '../../app/identity/failed-login.js';
import { createLogger } from '../../app/log/logger.js';

const FILTER = path.join(__dirname, '..', '..', '..', 'deploy', 'fail2ban', 'filter.d', 'gitward.conf');

// fail2ban's <HOST> (fail2ban/server/failregex.py R_HOST, IPAddr.IP_4_RE / IP_6_RE), in JS syntax.
const IP4 = String.raw`(?:\d{1,3}\.){3}\d{1,3}`;
const IP6 = String.raw`(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`;
const ADDR = String.raw`\[?(?:(?:::f{4,6}:)?(?<ip4>${IP4})|(?<ip6>${IP6}))\]?`;
const HOST = String.raw`(?:${ADDR}|(?<dns>[\w\-.^_]*\w))`;

/** Reads `failregex` from the filter (ini continuation lines included) as fail2ban would. */
function failregexes(text: string): RegExp[] {
  const lines = text.split('\n');
  const out: string[] = [];
  let inKey = false;
  for (const line of lines) {
    if (/^failregex\s*=/.test(line)) {
      inKey = true;
      const v = line.replace(/^failregex\s*=\s*/, '').trim();
      if (v !== '') out.push(v);
    } else if (inKey && /^\s+\S/.test(line) && !line.trim().startsWith('#')) {
      out.push(line.trim());
    } else {
      inKey = false;
    }
  }
  // fail2ban: "%%" is a literal "%" (ini interpolation); <HOST> is the host pattern; search, not match.
  return out.map((r) => new RegExp(r.replace(/%%/g, '%').replace(/<HOST>/g, HOST)));
}

function hostIn(line: string, regexes: readonly RegExp[]): string | null {
  for (const re of regexes) {
    const m = re.exec(line);
    if (m?.groups) return m.groups.ip4 ?? m.groups.ip6 ?? m.groups.dns ?? null;
  }
  return null;
}

/** The exact line the real logger writes for one failed login. */
function realLine(format: 'json' | 'text', client: string, user: string): string {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  const logger = createLogger({ stream, format, fields: { service: 'gitward' } }).child({ requestId: 'req-1' });
  logFailedLogin(logger, { client, user, source: 'htpasswd', reason: 'unknown user or wrong password' });
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, 'one failed login is one line');
  return lines[0] as string;
}

describe('the fail2ban filter in deploy/fail2ban matches the real failed-login line', () => {
  const regexes = failregexes(fs.readFileSync(FILTER, 'utf8'));
  it('has a failregex', () => assert.ok(regexes.length > 0));

  const cases: Array<['json' | 'text', string, string]> = [
    ['json', '203.0.113.5', 'ann'],
    ['json', '2001:db8::7', 'ann'],
    ['text', '198.51.100.9', 'ann'],
    ['text', '::1', 'ben'],
    ['json', '192.0.2.1', 'name with spaces and "quotes"'],
    // Malformed Basic credentials: a failed login with no user to name.
    ['json', '192.0.2.7', ''],
    ['text', '192.0.2.8', ''],
  ];
  for (const [format, client, user] of cases) {
    it(`${format} line from ${client} → bans ${client}`, () => assert.equal(hostIn(realLine(format, client, user), regexes), client));
  }

  const forged = 'x" for user "y","msg":"failed login from 6.6.6.6 for user ';
  for (const format of ['json', 'text'] as const) {
    it(`a user name crafted to look like another address cannot redirect the ban (${format})`, () => {
      assert.equal(hostIn(realLine(format, '203.0.113.5', forged), regexes), '203.0.113.5');
    });
  }

  it('does not match other gitward lines', () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (b: Buffer) => chunks.push(b));
    const logger = createLogger({ stream });
    logger.info('auth.throttled', { client: '203.0.113.5', user: 'ann', retryAfterSeconds: 3 });
    logger.warn('auth.remote_user_untrusted', { client: '203.0.113.5', msg: 'ignored X-Remote-User from untrusted peer' });
    for (const line of Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l !== '')) assert.equal(hostIn(line, regexes), null, line);
  });
});
