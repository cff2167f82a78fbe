import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRecordReader, decodeEndRequest, decodeParams, encodeBeginRequest, encodeParams, encodeRecords, FastCgiProtocolError, FcgiType } from '../../app/backend/fastcgi.js';

/** A small deterministic generator, so a failure replays. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('FastCGI codec', () => {
  it('round-trips parameters, short and long (4-byte lengths), UTF-8 included', () => {
    const env = { A: '', PATH_INFO: '/web/site.git/info/refs', LONG: 'x'.repeat(300), ['N'.repeat(200)]: 'v', GITWARD_INFO: '{"name":"Zoë"}' };
    assert.deepEqual(decodeParams(encodeParams(env)), env);
    assert.equal(encodeParams({ [`K`]: 'x'.repeat(127) })[1], 127, 'a 127-byte value keeps a 1-byte length');
    assert.equal(encodeParams({ K: 'x'.repeat(128) })[1], 0x80, 'a 128-byte value gets a 4-byte length with the top bit set');
  });

  it('refuses names and values a CGI environment cannot hold', () => {
    const bad: Array<Record<string, string>> = [{ 'A=B': 'x' }, { 'A\0': 'x' }, { A: 'x\0y' }, { '': 'x' }];
    for (const env of bad) {
      assert.throws(() => encodeParams(env), FastCgiProtocolError, JSON.stringify(env));
    }
  });

  it('splits content at 65,535 bytes, pads to 8, and encodes empty content as one empty record', () => {
    const big = Buffer.alloc(70_000, 7);
    const records = createRecordReader().feed(encodeRecords(FcgiType.Stdin, 1, big));
    assert.deepEqual(records.map((r) => r.content.length), [65_535, 4_465]);
    assert.ok(Buffer.concat(records.map((r) => r.content)).equals(big));
    assert.equal(encodeRecords(FcgiType.Stdout, 1, Buffer.from('abc')).length % 8, 0);
    const empty = encodeRecords(FcgiType.Stdin, 1, Buffer.alloc(0));
    assert.equal(empty.length, 8);
    assert.deepEqual(createRecordReader().feed(empty), [{ type: FcgiType.Stdin, requestId: 1, content: Buffer.alloc(0) }]);
    assert.equal(encodeBeginRequest(1).length, 16);
  });

  it('reads records fed one byte at a time exactly as fed at once', () => {
    const wire = Buffer.concat([encodeRecords(FcgiType.Stdout, 1, Buffer.from('Status: 200 OK\r\n\r\nhello')), encodeRecords(FcgiType.Stderr, 1, Buffer.from('warn\n')), encodeRecords(FcgiType.EndRequest, 1, Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]))]);
    const whole = createRecordReader().feed(wire);
    const reader = createRecordReader();
    const bytewise = [...wire].flatMap((b) => reader.feed(Buffer.from([b])));
    assert.deepEqual(bytewise, whole);
    assert.deepEqual(whole.map((r) => r.type), [FcgiType.Stdout, FcgiType.Stderr, FcgiType.EndRequest]);
    assert.deepEqual(decodeEndRequest((whole[2] as { content: Buffer }).content), { appStatus: 3, protocolStatus: 0 });
  });

  it('refuses a wrong version byte and a short END_REQUEST', () => {
    assert.throws(() => createRecordReader().feed(Buffer.from([2, 6, 0, 1, 0, 0, 0, 0])), FastCgiProtocolError);
    assert.throws(() => decodeEndRequest(Buffer.alloc(4)), FastCgiProtocolError);
  });

  it('random environments round-trip and random bytes raise only FastCgiProtocolError (seeded)', () => {
    const seed = process.env.CI === 'true' ? 0x5eed : Math.floor(Math.random() * 2 ** 31);
    const rnd = lcg(seed);
    const str = (n: number): string => Array.from({ length: Math.floor(rnd() * n) }, () => String.fromCharCode(1 + Math.floor(rnd() * 0x2fff))).join('').replace(/[=\uD800-\uDFFF]/g, 'x');
    for (let i = 0; i < 300; i++) {
      const env: Record<string, string> = {};
      for (let k = 0; k < 5; k++) env[`K${k}${str(200)}`] = str(400);
      assert.deepEqual(decodeParams(encodeParams(env)), env, `seed ${seed}`);
      const junk = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
      try {
        createRecordReader().feed(junk);
        decodeParams(junk);
      } catch (err) {
        assert.ok(err instanceof FastCgiProtocolError, `seed ${seed}: ${String(err)}`);
      }
    }
  });
});
