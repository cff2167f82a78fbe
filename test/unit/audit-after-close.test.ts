import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createAuditSink } from '../../app/audit/audit-log.js';
import type { AuditRecord } from '../../app/types.js';

const record = { requestId: 'r1', status: 200, exitCode: 0 } as unknown as AuditRecord;

test('an audit line written after close (a backend that outlived the shutdown) is kept, not a crash', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  const sink = createAuditSink({ kind: 'stream', stream: out });
  await sink.close();
  sink.write(record);
  assert.equal(JSON.parse(text.trim()).requestId, 'r1');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitward-audit-'));
  try {
    const file = path.join(dir, 'audit.log');
    const fileSink = createAuditSink({ kind: 'file', path: file });
    fileSink.write({ ...record, requestId: 'before' });
    await fileSink.close();
    fileSink.write({ ...record, requestId: 'after' });
    assert.deepEqual(
      fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditRecord).requestId),
      ['before', 'after'],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
