/**
 * Regression: a CGI header block over the cap (CGI_HEADER_MAX_BYTES) or with forbidden bytes is
 * a 502 with one plain line; the backend that sent it is killed (no leaked process) and the
 * server keeps serving. Backends here are small scripts standing in for a broken git-http-backend.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CGI_HEADER_MAX_BYTES } from '../../app/backend/cgi-head.js';
import { auditLines, send, sendRaw, startGuarded } from './harness.js';
import { waitFor } from '../helpers/procs.js';

const ADV = '/x.git/info/refs?service=git-upload-pack';

/** Prelude of every script: note the pid next to repo_root, so the test can check it is gone. */
const PID = `require('fs').writeFileSync(require('path').join(process.env.GIT_PROJECT_ROOT, '..', 'backend.pid'), String(process.pid));`;
/** Keeps the script alive after writing, as a hung backend would. */
const HANG = 'setInterval(() => undefined, 1000);';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function goneSoon(pid: number): Promise<boolean> {
  // The kill is immediate, the reaping is not: wait for it (the safety net fails a leak).
  await waitFor(() => !alive(pid), `process ${pid} has exited`);
  return !alive(pid);
}

const BROKEN: ReadonlyArray<readonly [string, string]> = [
  [
    `headers past ${CGI_HEADER_MAX_BYTES} bytes without an end, then hangs`,
    `${PID} const line = 'X-Pad: ' + 'a'.repeat(1000) + '\\r\\n'; for (let i = 0; i < 100; i++) process.stdout.write(line); ${HANG}`,
  ],
  [
    'one header line longer than the cap, then an end and a body',
    `${PID} process.stdout.write('Content-Type: text/plain\\r\\nX-Long: ' + 'b'.repeat(${CGI_HEADER_MAX_BYTES + 10}) + '\\r\\n\\r\\nbody'); ${HANG}`,
  ],
  [
    'a bare CR inside a header value (response splitting)',
    `${PID} process.stdout.write('Content-Type: text/plain\\r\\nX-A: a\\rSet-Cookie: stolen=1\\r\\n\\r\\nbody'); ${HANG}`,
  ],
  [
    'a NUL inside a header value',
    `${PID} process.stdout.write('Content-Type: text/plain\\r\\nX-A: a\\u0000b\\r\\n\\r\\nbody'); ${HANG}`,
  ],
  [
    'a header line without a colon',
    `${PID} process.stdout.write('Content-Type: text/plain\\r\\nSet-Cookie stolen=1\\r\\n\\r\\nbody'); ${HANG}`,
  ],
  ['a Status with a bad code', `${PID} process.stdout.write('Status: 999 Nope\\r\\n\\r\\nbody'); ${HANG}`],
];

for (const [what, script] of BROKEN) {
  test(`a backend writing ${what}: 502, killed, server still serves`, async (t) => {
    const gw = await startGuarded(t, {
      backend: { script },
      config: { repos: { '.read': ['$all'], 'x.git': {} } },
      repos: ['x'],
    });
    const r = await send(gw, { path: ADV });
    assert.equal(r.status, 502);
    assert.equal(r.headers['set-cookie'], undefined);
    assert.equal(r.body.toString().trimEnd().split('\n').length, 1);
    assert.doesNotMatch(r.body.toString(), /X-Pad|X-Long|stolen/);
    const [record] = await auditLines(gw, 1);
    assert.equal(record?.status, 502);
    assert.equal(record?.decision, 'error');
    const pid = Number(fs.readFileSync(path.join(gw.dir, 'backend.pid'), 'utf8'));
    assert.ok(await goneSoon(pid), `backend ${pid} still running`);
    assert.ok(gw.logs.lines.some((l) => l.event === 'backend.bad_gateway'));
    // Still serving: a second request gets its own (equally broken) answer, not a hang.
    assert.equal((await send(gw, { path: ADV })).status, 502);
    assert.equal(gw.runs().length, 2);
  });
}

test('control: a header block just under the cap is passed on whole', async (t) => {
  const size = CGI_HEADER_MAX_BYTES - 200;
  const script = `process.stdout.write('Content-Type: text/plain\\r\\nX-Pad: ' + 'c'.repeat(${size}) + '\\r\\n\\r\\nok');`;
  const gw = await startGuarded(t, {
    backend: { script },
    config: { repos: { '.read': ['$all'], 'x.git': {} } },
    repos: ['x'],
  });
  // Raw client: Node's own client refuses response headers over 16 KB.
  const r = await sendRaw(gw, `GET ${ADV} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.equal(r.status, 200);
  assert.equal(String(r.headers['x-pad']).length, size);
  assert.equal(r.body.toString(), 'ok');
});
