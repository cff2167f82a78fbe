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
import { FUZZ_ITERATIONS, forAll, fuzzBudget, fuzzRng, mutate, type Rng } from '../helpers/fuzz.js';

const ADDRESSES = ['127.0.0.1', '10.0.0.1', '10.0.0.2', '192.0.2.7', '::1', '2001:db8::1', '::ffff:10.0.0.1', 'fe80::1%eth0', '0.0.0.0', '255.255.255.255'];
const ENTRIES = ['127.0.0.1/32', '10.0.0.0/8', '::1/128', '2001:db8::/32', 'unix', '10.0.0.1', '0.0.0.0/0', 'garbage', '10.0.0.0/99'];

function gen(rng: Rng): { peer: Peer; trusted: string[]; headers: Record<string, string | string[]> } {
  // Peers as the server makes them from a socket (IPv4-mapped addresses unwrapped).
  const peer: Peer = peerOf(rng.chance(0.15) ? {} : { remoteAddress: rng.pick(ADDRESSES) });
  const trusted = Array.from({ length: rng.int(4) }, () => rng.pick(ENTRIES));
  const hop = (): string => (rng.chance(0.7) ? rng.pick(ADDRESSES) : mutate(rng, rng.pick(ADDRESSES), [',', ' ', ':', '.', '[', ']', '%', 'unix', '\t']));
  const headers: Record<string, string | string[]> = {};
  if (rng.chance(0.8)) {
    const list = Array.from({ length: rng.range(1, 5) }, hop).join(rng.pick([',', ', ', ' ,']));
    headers['x-forwarded-for'] = rng.chance(0.1) ? [list, hop()] : list;
  }
  if (rng.chance(0.4)) headers['x-real-ip'] = hop();
  return { peer, trusted, headers };
}

test('clientAddress: an IP (or unix) from the peer or the headers, and headers only from trusted peers', { timeout: fuzzBudget('client-address') }, () => {
  const rng = fuzzRng('client-address');
  let fromHeaders = 0;
  forAll(rng, FUZZ_ITERATIONS * 5, () => gen(rng), ({ peer, trusted, headers }) => {
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
  });
  assert.ok(fromHeaders > 0, 'never took an address from a header');
});
