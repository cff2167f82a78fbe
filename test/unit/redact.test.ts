import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redact, redactText } from '../../app/log/redact.js';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../app/log/logger.js';

describe('log redaction', () => {
  const cases: Array<[string, string]> = [
    ['Authorization: Basic ZGVtbzpkZW1v', 'Authorization: Basic [redacted]'],
    ['clone http://demo:s3cret@127.0.0.1:8080/x.git', 'clone http://demo:[redacted]@127.0.0.1:8080/x.git'],
    ['hash $2y$10$abcdefghijklmnopqrstuv seen', 'hash [redacted] seen'],
    ['apr1 $apr1$salt$hashhash end', 'apr1 [redacted] end'],
    ['sha {SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g= end', 'sha [redacted] end'],
    ['plain text stays', 'plain text stays'],
  ];
  for (const [input, want] of cases) {
    it(`redacts ${JSON.stringify(input)}`, () => assert.equal(redactText(input), want));
  }

  it('replaces secret-looking keys at any depth', () => {
    const out = redact({
      user: 'ann',
      password: 'x',
      nested: { headers: { authorization: 'Basic abc', host: 'h' } },
      ok: true,
    });
    assert.deepEqual(out, {
      user: 'ann',
      password: '[redacted]',
      nested: { headers: { authorization: '[redacted]', host: 'h' } },
      ok: true,
    });
  });

  for (const format of ['json', 'text'] as const) {
    it(`the production logger (log.format: ${format}) writes lines with the secrets removed`, async () => {
      const stream = new PassThrough();
      let written = '';
      stream.setEncoding('utf8');
      const ended = new Promise<void>((resolve) => {
        stream.on('data', (chunk: string) => {
          written += chunk;
          if (written.includes('test.end')) resolve();
        });
      });
      const log = createLogger({ level: 'debug', format, stream }).child({ requestId: 'r1' });
      log.warn('auth.failed', {
        user: 'ann',
        password: 'hunter2-pw',
        nested: { headers: { authorization: 'Basic YW5uOmh1bnRlcjI=' } },
      });
      log.debug('backend.stderr', {
        text: 'fatal: http://ann:hunter2-pw@127.0.0.1/x.git',
        hash: '$2y$04$abcdefghijklmnopqrstuvwxyz012345678',
      });
      log.error('unexpected', { error: new Error('Authorization: Bearer tok3n-value seen') });
      log.info('test.end');
      await ended;
      assert.match(written, /auth\.failed/);
      assert.match(written, /"user":"ann"/);
      for (const secret of ['hunter2', 'YW5uOmh1bnRlcjI=', 'abcdefghijklmnop', 'tok3n-value']) {
        assert.ok(!written.includes(secret), `${secret} in ${written}`);
      }
    });
  }
});
