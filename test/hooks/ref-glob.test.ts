import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRefGlob, refGlobProblem } from '../../hooks/ref-glob.js';

describe('whole-name ref globs', () => {
  const cases: Array<[string, string, boolean]> = [
    ['main', 'main', true],
    ['main', 'feature/main', false],
    ['main', 'main2', false],
    ['main', 'xmain', false],
    ['feature/*', 'feature/a', true],
    ['feature/*', 'feature/a/b', false],
    ['feature/*', 'feature', false],
    ['feature/**', 'feature/a/b', true],
    ['feature/**', 'feature/a', true],
    ['**/main', 'main', true],
    ['**/main', 'a/b/main', true],
    ['**/main', 'a/b/main2', false],
    ['a/**/z', 'a/z', true],
    ['a/**/z', 'a/b/c/z', true],
    ['a/**/z', 'ab/z', false],
    ['release-*', 'release-1.0', true],
    ['release-*', 'release-1/0', false],
    ['v*', 'v1.2.3', true],
    ['v1.2', 'v1x2', false],
    ['*', 'main', true],
    ['*', 'feature/main', false],
    ['**', 'feature/main', true],
  ];
  for (const [pattern, name, want] of cases) {
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${name}`, () => assert.equal(compileRefGlob(pattern)(name), want));
  }

  const problems: Array<[string, boolean]> = [
    ['main', false],
    ['release/**', false],
    ['', true],
    ['refs/heads/main', true],
    ['/main', true],
    ['main/', true],
    ['a//b', true],
    ['a b', true],
    ['a?', true],
    ['***', true],
  ];
  for (const [pattern, bad] of problems) {
    it(`${JSON.stringify(pattern)} is ${bad ? 'refused' : 'accepted'} as a pattern`, () => assert.equal(refGlobProblem(pattern) !== null, bad));
  }
});
