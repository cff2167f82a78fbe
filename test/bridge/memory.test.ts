import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { spawnGitward } from '../helpers/server.js';
import { gitOk } from './git-run.js';
import { procStatusBytes } from './proc.js';

/** Size of the poorly compressible file pushed and cloned back. */
const PAYLOAD_BYTES = 50 * 1024 * 1024;
/** gitward may grow by less than this while moving the payload both ways (issue 2: streaming). */
const MAX_RSS_GROWTH_BYTES = 100 * 1024 * 1024;

describe('memory stays bounded while streaming', () => {
  it(`pushes and clones back ${PAYLOAD_BYTES / 1024 / 1024} MB of random data with gitward's peak RSS growing < 100 MB`, async (t) => {
    const gw = await spawnGitward(t, { users: { ann: 'ann-pw' }, config: { users: { ann: {} }, repos: { 'big.git': { '.write': ['ann'] } } }, repos: ['big'] });
    const pid = gw.child.pid as number;
    const env = gw.gitEnv;
    const src = path.join(gw.dir, 'src');
    await gitOk(['init', '-q', '-b', 'main', src], { cwd: gw.dir, env });
    // Written in pieces: the test process itself should not hold 50 MB either.
    const fd = fs.openSync(path.join(src, 'random.bin'), 'w');
    for (let i = 0; i < PAYLOAD_BYTES / (1024 * 1024); i++) fs.writeSync(fd, randomBytes(1024 * 1024));
    fs.closeSync(fd);
    await gitOk(['add', '.'], { cwd: src, env });
    await gitOk(['commit', '-qm', 'big'], { cwd: src, env });
    const baseline = procStatusBytes(pid, 'VmRSS');

    await gitOk(['push', '-q', gw.url('big', { user: 'ann', password: 'ann-pw' }), 'main'], { cwd: src, env, timeoutMs: 300_000 });
    const afterPush = procStatusBytes(pid, 'VmHWM');
    const back = path.join(gw.dir, 'back');
    await gitOk(['clone', '-q', gw.url('big', { user: 'ann', password: 'ann-pw' }), back], { cwd: gw.dir, env, timeoutMs: 300_000 });
    const peak = procStatusBytes(pid, 'VmHWM');
    t.diagnostic(`gitward RSS: baseline ${(baseline / 2 ** 20).toFixed(1)} MB, peak after push ${(afterPush / 2 ** 20).toFixed(1)} MB, peak after clone ${(peak / 2 ** 20).toFixed(1)} MB`);
    assert.ok(peak - baseline < MAX_RSS_GROWTH_BYTES, `peak ${peak} - baseline ${baseline} >= ${MAX_RSS_GROWTH_BYTES}`);
    const a = fs.statSync(path.join(src, 'random.bin')).size;
    assert.equal(fs.statSync(path.join(back, 'random.bin')).size, a);
    const same = await new Promise<boolean>((resolve) => {
      const s1 = createReadStream(path.join(src, 'random.bin'));
      const s2 = createReadStream(path.join(back, 'random.bin'));
      let b1 = Buffer.alloc(0);
      let b2 = Buffer.alloc(0);
      let ok = true;
      const cmp = () => {
        const n = Math.min(b1.length, b2.length);
        if (!b1.subarray(0, n).equals(b2.subarray(0, n))) ok = false;
        b1 = b1.subarray(n);
        b2 = b2.subarray(n);
      };
      s1.on('data', (c) => ((b1 = Buffer.concat([b1, c as Buffer])), cmp()));
      s2.on('data', (c) => ((b2 = Buffer.concat([b2, c as Buffer])), cmp()));
      let ends = 0;
      const end = () => ++ends === 2 && resolve(ok && b1.length === 0 && b2.length === 0);
      s1.on('end', end);
      s2.on('end', end);
    });
    assert.equal(same, true, 'the cloned file equals the pushed one');
  });
});
