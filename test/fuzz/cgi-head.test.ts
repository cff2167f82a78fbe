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
import { FUZZ_ITERATIONS, forAll, fuzzBudget, fuzzRng, mutateBytes, randomChunks, type Rng } from '../helpers/fuzz.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection'];

/** What git-http-backend really writes (git 2.39), plus edge shapes. */
const SAMPLES = [
  'Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\nPragma: no-cache\r\nCache-Control: no-cache, max-age=0, must-revalidate\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n\r\n001e# service=git-upload-pack\n0000',
  'Status: 403 Forbidden\r\nExpires: Fri, 01 Jan 1980 00:00:00 GMT\r\nContent-Type: text/plain\r\n\r\nService not enabled: \'receive-pack\'\n',
  'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n',
  'Content-Type: application/x-git-receive-pack-result\r\nCache-Control: no-cache\r\n\r\n0030\x01000eunpack ok\n',
  'Content-Type: text/plain\n\nbody\n\nmore',
  'Status: 500\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-A:   spaced   \r\n\r\n',
  'X-Empty:\r\nX-Tab:\tv\t\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n\r\n',
];
const TOKENS = ['\r', '\n', '\r\n', '\r\n\r\n', '\n\n', '\0', ':', ' ', '\t', 'Status: ', 'Status: 99', '\x7f', '\x01', '\xff'].map((s) => Buffer.from(s, 'latin1'));

function gen(rng: Rng): Buffer {
  let b: Buffer = Buffer.from(rng.pick(SAMPLES), 'latin1');
  if (rng.chance(0.05)) b = Buffer.concat([Buffer.from(`X-Pad: ${'p'.repeat(CGI_HEADER_MAX_BYTES - rng.range(-40, 200))}\r\n`), b]);
  if (rng.chance(0.75)) b = mutateBytes(rng, b, TOKENS);
  return b;
}

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

test('the CGI header parser: typed answers only, clean headers, capped, chunking-invariant', { timeout: fuzzBudget('cgi-head') }, () => {
  const rng = fuzzRng('cgi-head');
  const kinds = new Map<string, number>();
  forAll(rng, FUZZ_ITERATIONS * 2, () => gen(rng), (block) => {
    const whole = feedAll([block]);
    const chunked = feedAll(randomChunks(rng, block));
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
  });
  assert.ok((kinds.get('head') ?? 0) > 0 && (kinds.get('invalid') ?? 0) > 0, JSON.stringify([...kinds]));
});

test('past the cap without a blank line the answer is invalid, never need-more', { timeout: fuzzBudget('cgi-head-cap') }, () => {
  const rng = fuzzRng('cgi-head-cap');
  forAll(rng, 50, () => rng.range(1, 4096), (chunkSize) => {
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
  });
});
