import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createAuditSink } from '../../app/audit/audit-log.js';
import type { AuditRecord } from '../../app/types.js';
import { tempDir } from '../helpers/tmp.js';
import { eventually } from './git-run.js';

const RECORD: AuditRecord = {
  time: '2026-01-01T00:00:00.000Z',
  requestId: 'abc',
  user: 'ann',
  authSource: 'htpasswd',
  remoteAddr: '127.0.0.1',
  repo: 'web/site',
  service: 'git-upload-pack',
  need: 'read',
  decision: 'allowed',
  status: 200,
  bytesIn: 10,
  bytesOut: 20,
  durationMs: 5,
  exitCode: 0,
  mode: 'proxy',
  requestBody: null,
};

describe('the audit sink', () => {
  it('writes exactly one JSON line per record to a stream, nothing added', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    const sink = createAuditSink({ kind: 'stream', stream });
    sink.write(RECORD);
    sink.write({ ...RECORD, requestId: 'def', status: 404, decision: 'denied' });
    await sink.close();
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[0] as string), RECORD);
    assert.equal((JSON.parse(lines[1] as string) as AuditRecord).requestId, 'def');
  });

  it('appends to a file', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'audit.log');
    fs.writeFileSync(file, '{"earlier":true}\n');
    const sink = createAuditSink({ kind: 'file', path: file });
    sink.write(RECORD);
    await sink.close();
    const lines = await eventually(() => {
      const l = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
      return l.length === 2 ? l : undefined;
    }, 'the audit line in the file');
    assert.deepEqual(JSON.parse(lines[0] as string), { earlier: true });
    assert.deepEqual(JSON.parse(lines[1] as string), RECORD);
  });
});
