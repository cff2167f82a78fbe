import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redact, redactText } from '../../app/log/redact.js';
import { createMemoryLogger } from '../../app/log/logger.js';

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
    const out = redact({ user: 'ann', password: 'x', nested: { headers: { authorization: 'Basic abc', host: 'h' } }, ok: true });
    assert.deepEqual(out, { user: 'ann', password: '[redacted]', nested: { headers: { authorization: '[redacted]', host: 'h' } }, ok: true });
  });

  it('the memory logger stores redacted lines', () => {
    const log = createMemoryLogger();
    log.child({ requestId: 'r1' }).warn('auth.failed', { user: 'ann', password: 'hunter2' });
    assert.deepEqual(log.lines, [{ level: 'warn', event: 'auth.failed', requestId: 'r1', user: 'ann', password: '[redacted]' }]);
  });
});
