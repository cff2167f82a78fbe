import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apiServer, caller } from './api-fixture.js';

/**
 * Rounds of each race. Each round starts both requests before either answers (separate
 * connections); which one wins is up to the scheduler, and every round must still end with
 * exactly one winner and nothing half-made. No timing decides anything.
 */
const ROUNDS = 12;

/** Every entry under `root` (relative), to spot leftovers such as `.gitward-new-*` folders. */
function entries(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(r);
      // Repos are leaves here; their insides are git's.
      if (e.isDirectory() && !e.name.endsWith('.git')) walk(path.join(dir, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

describe('concurrent create and rename of one name (race condition)', () => {
  it('two creates of one name: exactly one 201, the other 409 repo_exists, no temp folder left', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    for (let i = 0; i < ROUNDS; i++) {
      const name = `team/race${i}`;
      const answers = await Promise.all(
        [0, 1].map((k) => api('POST', '/repos', 'ann', { body: { name, description: `racer ${k}` } })),
      );
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [201, 409], answers.map((a) => a.text).join(' | '));
      const loser = answers.find((a) => a.status === 409);
      assert.equal((loser?.body as { code: string }).code, 'repo_exists');
      // The winner's repo is the one on disk, whole.
      const winner = answers.find((a) => a.status === 201)?.body as { description: string };
      const dir = path.join(gw.repoRoot, `${name}.git`);
      assert.equal(fs.readFileSync(path.join(dir, 'description'), 'utf8'), `${winner.description}\n`);
      assert.ok(fs.statSync(path.join(dir, 'HEAD')).isFile());
    }
    const left = entries(gw.repoRoot).filter((e) => e.includes('.gitward-new-'));
    assert.deepEqual(left, []);
  });

  it('two renames onto one name, and a create against a rename: exactly one wins, the other 409, both sources accounted for', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    for (let i = 0; i < ROUNDS; i++) {
      for (const n of [`team/a${i}`, `team/b${i}`])
        assert.equal((await api('POST', '/repos', 'ann', { body: { name: n } })).status, 201);
      const target = `team/x${i}`;
      const renames = await Promise.all(
        [`team/a${i}`, `team/b${i}`].map((from) => api('PATCH', `/repos/${from}`, 'ann', { body: { name: target } })),
      );
      assert.deepEqual(renames.map((a) => a.status).sort(), [200, 409], renames.map((a) => a.text).join(' | '));
      // One source moved, the other is still where it was.
      const remaining = [`a${i}`, `b${i}`].filter((n) => fs.existsSync(path.join(gw.repoRoot, 'team', `${n}.git`)));
      assert.equal(remaining.length, 1);

      const other = `team/y${i}`;
      const [made, moved] = await Promise.all([
        api('POST', '/repos', 'ann', { body: { name: other } }),
        api('PATCH', `/repos/team/${remaining[0] as string}`, 'ann', { body: { name: other } }),
      ]);
      assert.deepEqual(
        [made.status, moved.status].sort(),
        made.status === 201 ? [201, 409] : [200, 409],
        `${made.text} | ${moved.text}`,
      );
      assert.equal(made.status === 201 ? moved.status : made.status, 409);
    }
    assert.deepEqual(
      entries(gw.repoRoot).filter((e) => e.includes('.gitward-new-')),
      [],
    );
  });
});
