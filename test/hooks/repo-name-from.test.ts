import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoNameFrom } from '../../hooks/pre-receive.js';
import { tempDir } from '../helpers/tmp.js';

describe('the repo a hook runs in', () => {
  const cases: Array<[string, string | null]> = [
    ['site.git', 'site'],
    ['web/site.git', 'web/site'],
    ['web/tools/site.git', 'web/tools/site'],
    ['.', null],
    ['plain', null],
    ['Web Site.git', null],
    ['x.git/y.git', null],
    ['web/.hidden.git', null],
  ];
  for (const [dir, want] of cases) {
    it(`${dir} under repo_root is ${want === null ? 'refused' : want}`, (t) => {
      const root = path.join(tempDir(t), 'repos');
      fs.mkdirSync(path.join(root, dir), { recursive: true });
      assert.equal(repoNameFrom(path.join(root, dir), root), want);
    });
  }

  it('follows symlinks on both sides: a link into repo_root names the real repo, a link out of it is refused', (t) => {
    const dir = tempDir(t);
    const root = path.join(dir, 'repos');
    fs.mkdirSync(path.join(root, 'web', 'site.git'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'elsewhere', 'x.git'), { recursive: true });
    fs.symlinkSync(root, path.join(dir, 'root-link'));
    fs.symlinkSync(path.join(dir, 'elsewhere', 'x.git'), path.join(root, 'x.git'));
    assert.equal(repoNameFrom(path.join(root, 'web', 'site.git'), path.join(dir, 'root-link')), 'web/site');
    assert.equal(repoNameFrom(path.join(root, 'x.git'), root), null);
  });
});
