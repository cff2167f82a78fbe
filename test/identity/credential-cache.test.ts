import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBruteForceLimiter } from '../../app/identity/brute-force.js';
import { createCredentialCache } from '../../app/identity/credential-cache.js';

describe('createCredentialCache', () => {
  it('remembers a verified credential until the TTL passes', () => {
    let now = 0;
    const cache = createCredentialCache({ ttlSeconds: 60, maxEntries: 10 }, () => now);
    cache.add('ann', 'pw', 'HASH1');
    now = 59_999;
    assert.equal(cache.has('ann', 'pw', 'HASH1'), true);
    now = 60_000;
    assert.equal(cache.has('ann', 'pw', 'HASH1'), false);
  });

  it('misses for another password, another user, or a changed stored hash', () => {
    const cache = createCredentialCache({ ttlSeconds: 60, maxEntries: 10 }, () => 0);
    cache.add('ann', 'pw', 'HASH1');
    assert.equal(cache.has('ann', 'pw2', 'HASH1'), false);
    assert.equal(cache.has('ben', 'pw', 'HASH1'), false);
    assert.equal(cache.has('ann', 'pw', 'HASH2'), false);
    // Field boundaries are part of the key: "a" + "b:c" is not "a:b" + "c".
    cache.add('a', 'b:c', 'H');
    assert.equal(cache.has('a:b', 'c', 'H'), false);
  });

  it('keeps at most max_entries, evicting the oldest', () => {
    let now = 0;
    const cache = createCredentialCache({ ttlSeconds: 60, maxEntries: 3 }, () => now);
    for (const u of ['a', 'b', 'c', 'd']) {
      cache.add(u, 'pw', 'H');
      now += 1;
    }
    assert.equal(cache.size(), 3);
    assert.equal(cache.has('a', 'pw', 'H'), false);
    assert.equal(cache.has('d', 'pw', 'H'), true);
  });

  it('is off with ttl_seconds 0', () => {
    const cache = createCredentialCache({ ttlSeconds: 0, maxEntries: 10 }, () => 0);
    cache.add('ann', 'pw', 'H');
    assert.equal(cache.has('ann', 'pw', 'H'), false);
    assert.equal(cache.size(), 0);
  });

  it('uses a different key per instance (no cross-process or cross-reload reuse)', () => {
    const a = createCredentialCache({ ttlSeconds: 60, maxEntries: 10 }, () => 0);
    const b = createCredentialCache({ ttlSeconds: 60, maxEntries: 10 }, () => 0);
    a.add('ann', 'pw', 'H');
    assert.equal(b.has('ann', 'pw', 'H'), false);
  });
});

describe('createBruteForceLimiter', () => {
  it('throttles after max_failures in the window, until the oldest failure leaves it', () => {
    let now = 0;
    const l = createBruteForceLimiter(() => now);
    const s = { maxFailures: 3, windowSeconds: 10 };
    l.fail('a', s);
    now = 2_000;
    l.fail('a', s);
    assert.equal(l.retryAfter('a', s), 0);
    now = 4_000;
    l.fail('a', s);
    assert.equal(l.retryAfter('a', s), 6);
    assert.equal(l.retryAfter('b', s), 0);
    now = 10_000;
    assert.equal(l.retryAfter('a', s), 0);
  });

  it('does not count failures older than the window', () => {
    let now = 0;
    const l = createBruteForceLimiter(() => now);
    const s = { maxFailures: 2, windowSeconds: 10 };
    l.fail('a', s);
    now = 11_000;
    l.fail('a', s);
    assert.equal(l.retryAfter('a', s), 0);
  });

  it('is off with max_failures 0', () => {
    const l = createBruteForceLimiter(() => 0);
    const s = { maxFailures: 0, windowSeconds: 10 };
    for (let i = 0; i < 100; i++) l.fail('a', s);
    assert.equal(l.retryAfter('a', s), 0);
  });

  // Settings change on a config reload; the counts are the same limiter's. Failures at t = 0, 1, 2 s
  // under {max 5, window 60 s}, then asked at t = 3 s under the new settings.
  const changes: Array<[string, { maxFailures: number; windowSeconds: number }, number]> = [
    ['unchanged settings: 3 of 5, not throttled', { maxFailures: 5, windowSeconds: 60 }, 0],
    [
      'a lower max_failures throttles at once, judged on the failures already counted',
      { maxFailures: 3, windowSeconds: 60 },
      57,
    ],
    ['a higher max_failures allows more attempts', { maxFailures: 10, windowSeconds: 60 }, 0],
    ['a shorter window forgets failures older than it', { maxFailures: 3, windowSeconds: 2 }, 0],
    ['a shorter window still counts the failures inside it', { maxFailures: 2, windowSeconds: 3 }, 1],
  ];
  for (const [what, next, retryAfter] of changes) {
    it(`keeps its counts when the settings change: ${what}`, () => {
      let now = 0;
      const l = createBruteForceLimiter(() => now);
      const before = { maxFailures: 5, windowSeconds: 60 };
      for (const t of [0, 1_000, 2_000]) {
        now = t;
        l.fail('a', before);
      }
      now = 3_000;
      assert.equal(l.retryAfter('a', next), retryAfter);
    });
  }
});
