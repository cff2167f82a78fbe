/**
 * Fuzzing of the CGI header parser (pure, incremental): git-http-backend's real header blocks,
 * mutated at the byte level and fed in random chunks. It never throws, never yields a header name
 * that is not a token or a value with CR/LF, never waits for more past its cap, gives the same
 * answer however the bytes are chunked, and hands back exactly the bytes after the blank line.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { CGI_HEADER_MAX_BYTES, createCgiHeadParser, type CgiHeadResult } from '../../app/backend/cgi-head.js';
import fc from 'fast-check';
import { chunkSizes, chunksOf, FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutatedBytes } from '../helpers/fuzz.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection'];

/** What git-http-backend really writes (git 2.39), plus edge shapes. */
const SAMPLES = [
  'Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\nPragma: no-cache\r\nCache-Control: no-cache, max-age=0, must-revalidate\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n\r\n001e# service=git-upload-pack\n0000',
  "Status: 403 Forbidden\r\nExpires: Fri, 01 Jan 1980 00:00:00 GMT\r\nContent-Type: text/plain\r\n\r\nService not enabled: 'receive-pack'\n",
  'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n',
  'Content-Type: application/x-git-receive-pack-result\r\nCache-Control: no-cache\r\n\r\n0030\x01000eunpack ok\n',
  'Content-Type: text/plain\n\nbody\n\nmore',
  'Status: 500\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-A:   spaced   \r\n\r\n',
  'X-Empty:\r\nX-Tab:\tv\t\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n\r\n',
];
const TOKENS = [
  '\r',
  '\n',
  '\r\n',
  '\r\n\r\n',
  '\n\n',
  '\0',
  ':',
  ' ',
  '\t',
  'Status: ',
  'Status: 99',
  '\x7f',
  '\x01',
  '\xff',
].map((s) => Buffer.from(s, 'latin1'));

/** A real header block, one in twenty padded to about the cap, three in four mutated at the byte level. */
const blockArb: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom(...SAMPLES),
    fc.oneof(
      { arbitrary: fc.constant(null), weight: 19 },
      { arbitrary: fc.integer({ min: -40, max: 200 }), weight: 1 },
    ),
  )
  .map(([sample, pad]) => {
    const b = Buffer.from(sample, 'latin1');
    return pad === null ? b : Buffer.concat([Buffer.from(`X-Pad: ${'p'.repeat(CGI_HEADER_MAX_BYTES - pad)}\r\n`), b]);
  })
  .chain((b) =>
    fc.oneof({ arbitrary: fc.constant(b), weight: 1 }, { arbitrary: mutatedBytes(fc.constant(b), TOKENS), weight: 3 }),
  );

type Final = Exclude<CgiHeadResult, { kind: 'need-more' }>;

/** Feeds `chunks` in order; returns the first final answer (or need-more) and the bytes fed. */
function feedAll(chunks: readonly Buffer[]): { result: CgiHeadResult; fed: number } {
  const parser = createCgiHeadParser();
  let fed = 0;
  let result: CgiHeadResult = { kind: 'need-more' };
  for (const c of chunks) {
    result = parser.feed(c);
    fed += c.length;
    if (result.kind === 'need-more') assert.ok(fed <= CGI_HEADER_MAX_BYTES, `still waiting after ${fed} bytes`);
    else break;
  }
  return { result, fed };
}

function sameFinal(a: Final, b: Final): void {
  assert.equal(a.kind, b.kind);
  if (a.kind === 'head' && b.kind === 'head') assert.deepEqual(a.head, b.head);
}

test(
  'the CGI header parser: typed answers only, clean headers, capped, chunking-invariant',
  { timeout: FUZZ_TIMEOUT_MS },
  () => {
    const kinds = new Map<string, number>();
    fc.assert(
      fc.property(blockArb, chunkSizes, (block, sizes) => {
        const whole = feedAll([block]);
        const chunked = feedAll(chunksOf(block, sizes));
        kinds.set(whole.result.kind, (kinds.get(whole.result.kind) ?? 0) + 1);
        if (whole.result.kind === 'need-more') {
          assert.equal(chunked.result.kind, 'need-more');
          assert.ok(block.length <= CGI_HEADER_MAX_BYTES);
          return;
        }
        assert.notEqual(chunked.result.kind, 'need-more');
        sameFinal(whole.result, chunked.result as Final);
        const r = whole.result;
        if (r.kind === 'invalid') {
          assert.equal(typeof r.reason, 'string');
          return;
        }
        const { status, headers } = r.head;
        assert.ok(Number.isInteger(status) && status >= 100 && status <= 599, `status ${status}`);
        let size = 0;
        for (const [name, value] of headers) {
          assert.match(name, TOKEN);
          assert.doesNotMatch(value, /[\r\n]/, `value ${JSON.stringify(value)}`);
          // The oracle that matters: Node's res.setHeader accepts it (a throw there hangs the request).
          assert.doesNotThrow(() => http.validateHeaderName(name), `name ${JSON.stringify(name)}`);
          assert.doesNotThrow(() => http.validateHeaderValue(name, value), `value ${JSON.stringify(value)}`);
          assert.ok(!HOP_BY_HOP.includes(name.toLowerCase()), `hop-by-hop ${name} passed on`);
          assert.notEqual(name.toLowerCase(), 'status');
          size += name.length + value.length;
        }
        assert.ok(size <= CGI_HEADER_MAX_BYTES);
        // The body is exactly what follows the first blank line.
        const crlf = block.indexOf('\r\n\r\n');
        const lf = block.indexOf('\n\n');
        const start = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf + 2;
        assert.ok(start <= CGI_HEADER_MAX_BYTES + 4);
        assert.deepEqual(r.body, block.subarray(start));
      }),
      fuzzParams('cgi-head', FUZZ_RUNS * 2),
    );
    assert.ok((kinds.get('head') ?? 0) > 0 && (kinds.get('invalid') ?? 0) > 0, JSON.stringify([...kinds]));
  },
);

test('past the cap without a blank line the answer is invalid, never need-more', { timeout: FUZZ_TIMEOUT_MS }, () => {
  // Unbiased: fast-check leans towards tiny integers, and a feed of 1-byte chunks up to the cap
  // costs the parser seconds each (it concatenates what it holds on every feed).
  fc.assert(
    fc.property(fc.noBias(fc.integer({ min: 1, max: 4096 })), (chunkSize) => {
      const parser = createCgiHeadParser();
      let fed = 0;
      let r: CgiHeadResult = { kind: 'need-more' };
      const chunk = Buffer.alloc(chunkSize, 'h');
      while (r.kind === 'need-more') {
        r = parser.feed(chunk);
        fed += chunk.length;
        assert.ok(fed <= CGI_HEADER_MAX_BYTES + chunkSize, `fed ${fed} bytes`);
      }
      assert.equal(r.kind, 'invalid');
    }),
    fuzzParams('cgi-head-cap', 50),
  );
});
