import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { isLsRefs, peekBody, pickRunner, type RunnerChoice } from '../../app/backend/pick-runner.js';
import { parseRepoName } from '../../app/request/repo-name.js';
import type { GitRequest } from '../../app/types.js';

function gitRequest(kind: GitRequest['kind'], service: GitRequest['service'], suffix: string): GitRequest {
  return { repo: parseRepoName('web/site'), service, need: service === 'git-receive-pack' ? 'write' : 'read', kind, suffix };
}

describe('pickRunner: small answers to the fcgiwrap workers, packs spawned', () => {
  const cases: Array<[string, GitRequest, Record<string, string>, RunnerChoice]> = [
    ['an upload-pack advertisement', gitRequest('info-refs', 'git-upload-pack', '/info/refs'), {}, 'pool'],
    ['a v2 capability advertisement', gitRequest('info-refs', 'git-upload-pack', '/info/refs'), { 'git-protocol': 'version=2' }, 'pool'],
    ['a receive-pack advertisement', gitRequest('info-refs', 'git-receive-pack', '/info/refs'), {}, 'pool'],
    ['a v0 upload-pack POST (always a pack negotiation)', gitRequest('rpc', 'git-upload-pack', '/git-upload-pack'), {}, 'spawn'],
    ['a v2 upload-pack POST: ls-refs or fetch, the body says', gitRequest('rpc', 'git-upload-pack', '/git-upload-pack'), { 'git-protocol': 'version=2' }, 'peek'],
    ['a v2 POST among other protocol parameters', gitRequest('rpc', 'git-upload-pack', '/git-upload-pack'), { 'git-protocol': 'object-format=sha1:version=2' }, 'peek'],
    ['a gzip v2 POST (not inflated to be read)', gitRequest('rpc', 'git-upload-pack', '/git-upload-pack'), { 'git-protocol': 'version=2', 'content-encoding': 'gzip' }, 'spawn'],
    ['"version=20" is not v2', gitRequest('rpc', 'git-upload-pack', '/git-upload-pack'), { 'git-protocol': 'version=20' }, 'spawn'],
    ['a receive-pack POST', gitRequest('rpc', 'git-receive-pack', '/git-receive-pack'), { 'git-protocol': 'version=2' }, 'spawn'],
    ['a dumb loose object', gitRequest('dumb', 'dumb', `/objects/ab/${'c'.repeat(38)}`), {}, 'pool'],
    ['a dumb pack file', gitRequest('dumb', 'dumb', `/objects/pack/pack-${'a'.repeat(40)}.pack`), {}, 'spawn'],
  ];
  for (const [name, git, headers, expected] of cases) it(`${name}: ${expected}`, () => assert.equal(pickRunner(git, headers), expected));
});

describe('isLsRefs', () => {
  it('knows the ls-refs command pkt-line', () => assert.equal(isLsRefs(Buffer.from('0014command=ls-refs\n0014agent=git/2.39.5\n0000')), true));
  it('a fetch command is not ls-refs', () => assert.equal(isLsRefs(Buffer.from('0012command=fetch\n0000')), false));
  it('a prefix of it is not enough', () => assert.equal(isLsRefs(Buffer.from('0014command=ls-re')), false));
  it('an empty body is not ls-refs', () => assert.equal(isLsRefs(Buffer.alloc(0)), false));
});

/** A server whose handler peeks, then pipes the whole body on (as runBackend does): echoes `peeked|body`. */
async function peekServer(t: TestContext): Promise<number> {
  const server = http.createServer((req, res) => {
    void peekBody(req).then((first) => {
      const chunks: Buffer[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      });
      sink.on('finish', () => res.end(`${first.length}|${Buffer.concat(chunks).toString()}`));
      req.pipe(sink);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

function post(port: number, parts: string[], chunked: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const total = parts.join('');
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: chunked ? {} : { 'content-length': String(Buffer.byteLength(total)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    let i = 0;
    const next = (): void => {
      if (i === parts.length) {
        req.end();
        return;
      }
      req.write(parts[i++]);
      setTimeout(next, 20);
    };
    next();
  });
}

describe('peekBody', () => {
  it('puts the first chunk back: the whole body still reads in order', async (t) => {
    const port = await peekServer(t);
    const [peeked, body] = (await post(port, ['0014command=ls-refs\n', '0000'], false)).split('|');
    assert.ok(Number(peeked) > 0);
    assert.equal(body, '0014command=ls-refs\n0000');
  });
  it('works for a chunked body that arrives in pieces', async (t) => {
    const port = await peekServer(t);
    const parts = ['0012command=fetch\n', '0032want ', 'a'.repeat(40), '\n0000'];
    const [, body] = (await post(port, parts, true)).split('|');
    assert.equal(body, parts.join(''));
  });
  it('resolves empty for an empty body', async (t) => {
    const port = await peekServer(t);
    assert.equal(await post(port, [], false), '0|');
  });
});
