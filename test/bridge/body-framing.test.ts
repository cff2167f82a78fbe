import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { BODY_FRAMING_HEADER, bodyFraming } from '../../app/request/body-framing.js';
import { startGitward } from '../helpers/server.js';
import { eventually } from './git-run.js';

describe('bodyFraming', () => {
  const table: ReadonlyArray<[http.IncomingHttpHeaders, 'chunked' | 'length' | null]> = [
    [{ 'transfer-encoding': 'chunked' }, 'chunked'],
    [{ 'transfer-encoding': 'gzip, chunked' }, 'chunked'],
    [{ 'content-length': '4' }, 'length'],
    [{ 'content-length': '0' }, null],
    [{}, null],
  ];
  for (const [headers, want] of table)
    it(`${JSON.stringify(headers)} → ${String(want)}`, () => assert.equal(bodyFraming(headers), want));
});

/** One POST with a flush-only body ("0000": no ref updates), chunked or with a Content-Length. */
function post(
  url: string,
  service: string,
  chunked: boolean,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      Authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}`,
      'Content-Type': `application/x-${service}-request`,
      ...(chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': '4' }),
    };
    const req = http.request(`${url}/${service}`, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end('0000');
  });
}

describe(`the ${BODY_FRAMING_HEADER} answer header and the audit line's requestBody`, () => {
  it('a receive-pack POST says how its body arrived: chunked or length; other requests carry no header', async (t) => {
    const gw = await startGitward(t, {
      users: { ann: 'pw' },
      repos: ['x'],
      config: { repos: { 'x.git': { '.write': ['ann'] } } },
    });
    const repo = `${gw.origin}/x.git`;
    const chunked = await post(repo, 'git-receive-pack', true);
    assert.equal(chunked.status, 200);
    assert.equal(chunked.headers['x-gitward-body'], 'chunked');
    const length = await post(repo, 'git-receive-pack', false);
    assert.equal(length.status, 200);
    assert.equal(length.headers['x-gitward-body'], 'length');
    const upload = await post(repo, 'git-upload-pack', true);
    assert.equal(upload.headers['x-gitward-body'], undefined);
    const records = await eventually(
      () => (gw.audit.records.length >= 3 ? gw.audit.records : undefined),
      'three audit lines',
    );
    // An audit line is written when its request closes, and three requests may close in any order.
    assert.deepEqual(records.map((r) => `${String(r.service)} ${String(r.requestBody)}`).sort(), [
      'git-receive-pack chunked',
      'git-receive-pack length',
      'git-upload-pack chunked',
    ]);
  });
});
