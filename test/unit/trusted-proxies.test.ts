import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileTrustedProxies,
  DEFAULT_TRUSTED_PROXIES,
  tcpTrustWarning,
  trustedProxyProblem,
} from '../../app/request/trusted-proxies.js';

test("trustedProxyProblem: unix and proxy-addr's grammar pass; anything else is named", () => {
  for (const ok of [
    'unix',
    '127.0.0.1',
    '127.0.0.1/32',
    '10.0.0.0/255.0.0.0',
    '::1',
    '::1/128',
    'fd00::/8',
    'loopback',
    'linklocal',
    'uniquelocal',
  ]) {
    assert.equal(trustedProxyProblem(ok), null, ok);
  }
  for (const bad of ['10.0.0.0/33', '::1/129', 'nowhere', '', 'UNIX', '1.2.3.4/', '1.2.3.4/x', 'localhost']) {
    assert.match(trustedProxyProblem(bad) ?? '', /is not "unix"/, bad);
  }
});

test('compileTrustedProxies: the default trusts the unix socket only, never loopback', () => {
  const d = compileTrustedProxies(DEFAULT_TRUSTED_PROXIES);
  assert.equal(d.trusts({ kind: 'unix' }), true);
  for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.0.0.1'])
    assert.equal(d.trusts({ kind: 'ip', address }), false, address);
  assert.deepEqual(d.tcp, []);
  assert.equal(tcpTrustWarning(DEFAULT_TRUSTED_PROXIES, 'x'), null);
});

test('compileTrustedProxies: CIDRs, netmasks, names and IPv4-mapped peers; a bad entry trusts nothing', () => {
  const c = compileTrustedProxies(['10.0.0.0/255.0.0.0', 'loopback', '10.0.0.0/99']);
  assert.equal(c.trusts({ kind: 'unix' }), false);
  for (const [address, want] of [
    ['10.9.9.9', true],
    ['127.0.0.5', true],
    ['::1', true],
    ['::ffff:10.1.1.1', true],
    ['11.0.0.1', false],
    ['garbage', false],
  ] as const) {
    assert.equal(c.trustsAddress(address), want, address);
  }
  assert.match(
    tcpTrustWarning(['unix', '127.0.0.1/32'], 'X') ?? '',
    /trusts TCP peers \(127\.0\.0\.1\/32\): any local user/,
  );
});
