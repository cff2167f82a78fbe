import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../app/errors.js';
import { parseBasicAuth } from '../../app/request/basic-auth.js';
import { classify } from '../../app/request/classify.js';
import { clientAddress, peerOf } from '../../app/request/client-address.js';
import { compileTrustedProxies } from '../../app/request/trusted-proxies.js';
import { parseRepoName } from '../../app/request/repo-name.js';

describe('parseRepoName accepts canonical names and strips one optional .git', () => {
  const good: Array<[string, string]> = [
    ['hello', 'hello'],
    ['hello.git', 'hello'],
    ['demo/hello.git', 'demo/hello'],
    ['web/site', 'web/site'],
    ['a/b/c/d.git', 'a/b/c/d'],
    ['Repo_1-x.y', 'Repo_1-x.y'],
    ['%61bc', 'abc'],
    ['9lives', '9lives'],
  ];
  for (const [input, want] of good)
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(parseRepoName(input), want));
});

describe('parseRepoName refuses hostile names with 400, never rewriting them', () => {
  const bad: string[] = [
    '',
    '..',
    '../etc',
    'a/../b',
    'a/..',
    '%2e%2e',
    '%2E%2E/x',
    'a/%2e%2e/b',
    '.%2e',
    'a%2fb',
    'a%2F..%2Fb',
    '%2fetc/passwd',
    'a%00b',
    'a\u0000b',
    'a%5cb',
    'a\\b',
    '..\\..\\etc',
    '.hidden',
    'a/.git',
    'a/.ssh/id',
    '.',
    'a//b',
    '/a',
    'a/',
    'a/b/',
    'x'.repeat(256),
    `${'abcdefgh/'.repeat(30)}z`,
    '%c0%ae%c0%ae',
    '%ef%bc%8e%ef%bc%8e',
    'caf%C3%A9',
    'café',
    'a%',
    'a%zz',
    '%252e%252e',
    'a b',
    'a%20b',
    '-rf',
    '_x',
    'a.git/b',
    'a.git.git',
    'a..b',
    'a%0ab',
    'a?b',
    'a;b',
    '~root',
    'a\u202eb',
    'a\u200bb',
  ];
  assert.ok(bad.length >= 30);
  for (const input of bad) {
    it(JSON.stringify(input), () => {
      assert.throws(
        () => parseRepoName(input),
        (err: unknown) => err instanceof HttpError && err.status === 400,
      );
    });
  }
});

describe('classify', () => {
  const opts = { dumbHttp: false, basePath: '/' };
  const dumb = { dumbHttp: true, basePath: '/' };
  type Want = { repo: string; service: string; need: string; kind: string; suffix: string } | number;
  const cases: Array<[string, string, string, string, typeof opts, Want]> = [
    [
      'smart upload advertisement',
      'GET',
      '/demo/hello.git/info/refs',
      'service=git-upload-pack',
      opts,
      { repo: 'demo/hello', service: 'git-upload-pack', need: 'read', kind: 'info-refs', suffix: '/info/refs' },
    ],
    [
      'receive-pack advertisement is a write',
      'GET',
      '/demo/hello/info/refs',
      'service=git-receive-pack',
      opts,
      { repo: 'demo/hello', service: 'git-receive-pack', need: 'write', kind: 'info-refs', suffix: '/info/refs' },
    ],
    [
      'upload-pack rpc',
      'POST',
      '/x.git/git-upload-pack',
      '',
      opts,
      { repo: 'x', service: 'git-upload-pack', need: 'read', kind: 'rpc', suffix: '/git-upload-pack' },
    ],
    [
      'receive-pack rpc is a write whatever the query claims',
      'POST',
      '/x.git/git-receive-pack',
      'service=git-upload-pack',
      opts,
      { repo: 'x', service: 'git-receive-pack', need: 'write', kind: 'rpc', suffix: '/git-receive-pack' },
    ],
    [
      'HEAD on info/refs is a read',
      'HEAD',
      '/x/info/refs',
      'service=git-upload-pack',
      opts,
      { repo: 'x', service: 'git-upload-pack', need: 'read', kind: 'info-refs', suffix: '/info/refs' },
    ],
    [
      'base path is stripped',
      'GET',
      '/git/web/site.git/info/refs',
      'service=git-upload-pack',
      { dumbHttp: false, basePath: '/git/' },
      { repo: 'web/site', service: 'git-upload-pack', need: 'read', kind: 'info-refs', suffix: '/info/refs' },
    ],
    [
      'outside the base path',
      'GET',
      '/web/site.git/info/refs',
      'service=git-upload-pack',
      { dumbHttp: false, basePath: '/git/' },
      400,
    ],
    ['unknown service', 'GET', '/x/info/refs', 'service=git-upload-archive', opts, 400],
    ['repeated service', 'GET', '/x/info/refs', 'service=git-upload-pack&service=git-receive-pack', opts, 400],
    ['GET on an rpc route', 'GET', '/x/git-receive-pack', '', opts, 405],
    ['POST on info/refs', 'POST', '/x/info/refs', 'service=git-upload-pack', opts, 405],
    ['OPTIONS', 'OPTIONS', '/x/info/refs', 'service=git-upload-pack', opts, 405],
    ['PUT', 'PUT', '/x/git-upload-pack', '', opts, 405],
    ['not a git route', 'GET', '/x/config', '', opts, 400],
    ['hooks are not served', 'GET', '/x.git/hooks/pre-receive', '', opts, 400],
    ['encoded route', 'GET', '/x/info%2frefs', 'service=git-upload-pack', opts, 400],
    ['no repo', 'GET', '/info/refs', 'service=git-upload-pack', opts, 400],
    ['traversal before the route', 'GET', '/../x/info/refs', 'service=git-upload-pack', opts, 400],
    ['dumb info/refs refused when off', 'GET', '/x/info/refs', '', opts, 400],
    ['dumb HEAD refused when off', 'GET', '/x/HEAD', '', opts, 400],
    [
      'dumb info/refs when on',
      'GET',
      '/x/info/refs',
      '',
      dumb,
      { repo: 'x', service: 'dumb', need: 'read', kind: 'dumb', suffix: '/info/refs' },
    ],
    [
      'dumb loose object',
      'GET',
      '/x.git/objects/ab/' + 'c'.repeat(38),
      '',
      dumb,
      { repo: 'x', service: 'dumb', need: 'read', kind: 'dumb', suffix: '/objects/ab/' + 'c'.repeat(38) },
    ],
    [
      'dumb pack',
      'GET',
      '/x.git/objects/pack/pack-' + 'a'.repeat(40) + '.pack',
      '',
      dumb,
      {
        repo: 'x',
        service: 'dumb',
        need: 'read',
        kind: 'dumb',
        suffix: '/objects/pack/pack-' + 'a'.repeat(40) + '.pack',
      },
    ],
    [
      'dumb packs list',
      'HEAD',
      '/x/objects/info/packs',
      '',
      dumb,
      { repo: 'x', service: 'dumb', need: 'read', kind: 'dumb', suffix: '/objects/info/packs' },
    ],
    ['dumb objects only as files git knows', 'GET', '/x/objects/ab/../../config', '', dumb, 400],
    ['dumb POST', 'POST', '/x/HEAD', '', dumb, 405],
  ];
  for (const [name, method, p, q, o, want] of cases) {
    it(name, () => {
      if (typeof want === 'number') {
        assert.throws(
          () => classify(method, p, q, o),
          (err: unknown) => err instanceof HttpError && err.status === want,
        );
      } else {
        assert.deepEqual({ ...classify(method, p, q, o) }, want);
      }
    });
  }
  it('405 names the allowed methods', () => {
    assert.throws(
      () => classify('GET', '/x/git-upload-pack', '', opts),
      (err: unknown) => err instanceof HttpError && err.headers.Allow === 'POST',
    );
  });
});

describe('parseBasicAuth', () => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const cases: Array<[string, string | undefined, unknown]> = [
    ['absent', undefined, { kind: 'none' }],
    ['valid', `Basic ${b64('demo:demo')}`, { kind: 'basic', credentials: { user: 'demo', password: 'demo' } }],
    ['scheme is case-insensitive', `basic ${b64('a:b')}`, { kind: 'basic', credentials: { user: 'a', password: 'b' } }],
    [
      'password may contain colons',
      `Basic ${b64('a:b:c')}`,
      { kind: 'basic', credentials: { user: 'a', password: 'b:c' } },
    ],
    ['empty password', `Basic ${b64('a:')}`, { kind: 'basic', credentials: { user: 'a', password: '' } }],
    [
      'utf-8 password',
      `Basic ${b64('ann:pässwört')}`,
      { kind: 'basic', credentials: { user: 'ann', password: 'pässwört' } },
    ],
    ['bearer is another scheme', 'Bearer abc.def', { kind: 'other-scheme' }],
    ['no colon', `Basic ${b64('demo')}`, { kind: 'malformed' }],
    ['empty user', `Basic ${b64(':pw')}`, { kind: 'malformed' }],
    ['not base64', 'Basic !!!!', { kind: 'malformed' }],
    ['bad padding', 'Basic YWJj=', { kind: 'malformed' }],
    ['empty token', 'Basic ', { kind: 'malformed' }],
    ['bare scheme', 'Basic', { kind: 'malformed' }],
    ['garbage', '\u0001', { kind: 'malformed' }],
    ['invalid utf-8', `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, { kind: 'malformed' }],
    ['control characters', `Basic ${b64('a\nb:c')}`, { kind: 'malformed' }],
    ['overlong', `Basic ${'A'.repeat(10000)}`, { kind: 'malformed' }],
  ];
  for (const [name, header, want] of cases) it(name, () => assert.deepEqual(parseBasicAuth(header), want));
});

describe('client address', () => {
  const trusted = compileTrustedProxies(['127.0.0.1/32', '::1/128', 'unix', '10.1.0.0/16']);
  const ip = (address: string) => peerOf({ remoteAddress: address });
  const cases: Array<[string, ReturnType<typeof peerOf>, Record<string, string>, string]> = [
    [
      'untrusted peer: headers ignored',
      ip('192.0.2.7'),
      { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '1.2.3.4' },
      '192.0.2.7',
    ],
    ['trusted peer, no headers', ip('127.0.0.1'), {}, '127.0.0.1'],
    [
      'ipv4-mapped peer unwrapped and trusted',
      ip('::ffff:127.0.0.1'),
      { 'x-forwarded-for': '198.51.100.1' },
      '198.51.100.1',
    ],
    [
      'rightmost untrusted hop wins',
      ip('127.0.0.1'),
      { 'x-forwarded-for': '6.6.6.6, 198.51.100.1, 10.1.2.3' },
      '198.51.100.1',
    ],
    ['all hops trusted: leftmost', ip('::1'), { 'x-forwarded-for': '10.1.0.5, 10.1.0.6' }, '10.1.0.5'],
    ['garbage hop: peer', ip('127.0.0.1'), { 'x-forwarded-for': 'evil' }, '127.0.0.1'],
    ['x-real-ip when no xff', ip('127.0.0.1'), { 'x-real-ip': '203.0.113.9' }, '203.0.113.9'],
    ['unix peer is trusted when listed', { kind: 'unix' }, { 'x-real-ip': '203.0.113.9' }, '203.0.113.9'],
  ];
  for (const [name, peer, headers, want] of cases)
    it(name, () => assert.equal(clientAddress(peer, headers, trusted), want));
  it('a unix peer is not trusted unless listed', () => {
    assert.equal(
      clientAddress({ kind: 'unix' }, { 'x-real-ip': '203.0.113.9' }, compileTrustedProxies(['127.0.0.1/32'])),
      'unix',
    );
  });
  it('a socket without remote address is a unix peer', () => assert.deepEqual(peerOf({}), { kind: 'unix' }));
});
