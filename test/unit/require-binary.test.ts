import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isCI, requireBinary } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';

/** A name no PATH or sbin folder holds. */
const MISSING = 'gitward-test-no-such-binary';

/** A stand-in for the test context that records whether the test asked to be skipped. */
function skipper(): { skip(message?: string): void; skipped: string | null } {
  const t = {
    skipped: null as string | null,
    skip(message?: string) {
      t.skipped = message ?? '';
    },
  };
  return t;
}

describe('requireBinary: in CI a missing binary fails the test, locally it skips', () => {
  for (const ci of ['true', '1', 'TRUE', 'True']) {
    it(`throws, without skipping, when CI=${ci} and the binary is missing`, () => {
      const t = skipper();
      assert.throws(() => requireBinary(t, MISSING, { CI: ci, PATH: '' }), new RegExp(`${MISSING} is not installed`));
      assert.equal(t.skipped, null);
    });
  }

  for (const ci of [undefined, '', 'false', '0', 'no']) {
    it(`skips and returns null when CI=${String(ci)} and the binary is missing`, () => {
      const t = skipper();
      assert.equal(requireBinary(t, MISSING, { CI: ci, PATH: '' }), null);
      assert.match(t.skipped ?? '', new RegExp(`${MISSING} is not installed`));
    });
  }

  it('returns the path of a binary found in PATH, in CI or not', (t) => {
    const dir = tempDir(t, 'gitward-require-binary-');
    const bin = path.join(dir, MISSING);
    fs.writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
    for (const ci of ['true', undefined]) {
      const s = skipper();
      assert.equal(requireBinary(s, MISSING, { CI: ci, PATH: dir }), bin);
      assert.equal(s.skipped, null);
    }
  });

  it('isCI accepts true and 1 only', () => {
    assert.deepEqual(
      ['true', '1', ' TRUE ', 'false', '0', '', 'yes'].map((v) => isCI({ CI: v })),
      [true, true, true, false, false, false, false],
    );
    assert.equal(isCI({}), false);
  });
});
