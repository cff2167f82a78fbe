/**
 * Fuzzing of the client-address resolution (pure): random peers, trusted-proxy lists and
 * X-Forwarded-For / X-Real-IP headers, mutated. It never throws, always answers an IP address
 * (or `unix`), never believes a header from an untrusted peer, and never answers an address that
 * is neither the peer's nor one named in the headers.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { clientAddress, peerOf } from '../../app/request/client-address.js';
import { compileTrustedProxies } from '../../app/request/trusted-proxies.js';
import type { Peer } from '../../app/types.js';
import fc from 'fast-check';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutated } from '../helpers/fuzz.js';

const ADDRESSES = [
  '127.0.0.1',
  '10.0.0.1',
  '10.0.0.2',
  '192.0.2.7',
  '::1',
  '2001:db8::1',
  '::ffff:10.0.0.1',
  'fe80::1%eth0',
  '0.0.0.0',
  '255.255.255.255',
];
const ENTRIES = [
  '127.0.0.1/32',
  '10.0.0.0/8',
  '::1/128',
  '2001:db8::/32',
  'unix',
  '10.0.0.1',
  '0.0.0.0/0',
  'garbage',
  '10.0.0.0/99',
];

/** A forwarding hop: mostly a real address, else a mutated one. */
const hopArb = fc.oneof(
  { arbitrary: fc.constantFrom(...ADDRESSES), weight: 7 },
  { arbitrary: mutated(fc.constantFrom(...ADDRESSES), [',', ' ', ':', '.', '[', ']', '%', 'unix', '\t']), weight: 3 },
);

const requestArb = fc.record({
  // Peers as the server makes them from a socket (IPv4-mapped addresses unwrapped); some are unix.
  peer: fc
    .option(fc.constantFrom(...ADDRESSES), { freq: 7 })
    .map((a): Peer => peerOf(a === null ? {} : { remoteAddress: a })),
  trusted: fc.array(fc.constantFrom(...ENTRIES), { maxLength: 3 }),
  xff: fc.option(
    fc
      .tuple(
        fc.array(hopArb, { minLength: 1, maxLength: 5 }),
        fc.constantFrom(',', ', ', ' ,'),
        fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: hopArb, weight: 1 }),
      )
      .map(([hops, sep, second]) => {
        const list = hops.join(sep);
        return second === null ? list : [list, second];
      }),
    { freq: 5 },
  ),
  realIp: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: hopArb, weight: 2 }),
});

test(
  'clientAddress: an IP (or unix) from the peer or the headers, and headers only from trusted peers',
  { timeout: FUZZ_TIMEOUT_MS },
  () => {
    let fromHeaders = 0;
    fc.assert(
      fc.property(requestArb, ({ peer, trusted, xff, realIp }) => {
        const headers: Record<string, string | string[]> = {};
        if (xff !== null) headers['x-forwarded-for'] = xff;
        if (realIp !== null) headers['x-real-ip'] = realIp;
        const list = compileTrustedProxies(trusted);
        const got = clientAddress(peer, headers, list);
        const own = peer.kind === 'unix' ? 'unix' : peer.address;
        if (!list.trusts(peer)) {
          assert.equal(got, own, 'believed a header from an untrusted peer');
          return;
        }
        if (got === own) return;
        fromHeaders++;
        assert.notEqual(net.isIP(got), 0, `not an IP: ${JSON.stringify(got)}`);
        const named = Object.values(headers).flat().join(',');
        assert.ok(named.includes(got) || named.toLowerCase().includes(`::ffff:${got}`), `${got} is in no header`);
      }),
      fuzzParams('client-address', FUZZ_RUNS * 5),
    );
    assert.ok(fromHeaders > 0, 'never took an address from a header');
  },
);
