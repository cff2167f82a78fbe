import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRefGlob, refGlobCovers, refGlobProblem } from '../../hooks/ref-glob.js';

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
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${name}`, () =>
      assert.equal(compileRefGlob(pattern)(name), want));
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
    it(`${JSON.stringify(pattern)} is ${bad ? 'refused' : 'accepted'} as a pattern`, () =>
      assert.equal(refGlobProblem(pattern) !== null, bad));
  }
});

describe('one ref glob covering another (every name the narrow one matches, the broad one matches)', () => {
  const cases: Array<[broad: string, narrow: string, covers: boolean]> = [
    ['**', 'v*', true],
    ['**', 'release/1/fix', true],
    ['v*', '**', false],
    ['v*', 'v1.*', true],
    ['v1.*', 'v*', false],
    ['*', 'v*', true],
    ['*', 'release/*', false],
    ['release/**', 'release/1.0', true],
    ['release/**', 'release/*', true],
    ['release/*', 'release/**', false],
    ['release/**', 'release', false],
    ['**/main', 'main', true],
    ['**/main', 'a/*/main', true],
    ['*/main', '**/main', false],
    ['a/**/z', 'a/z', true],
    ['a/**/z', 'a/*/z', true],
    ['a/*/z', 'a/**/z', false],
    ['feat-*', 'feat-*-rc', true],
    ['*-rc', 'feat-*', false],
    ['main', 'main', true],
    ['main', 'main2', false],
    ['**', '**', true],
  ];
  for (const [broad, narrow, want] of cases) {
    it(`${broad} ${want ? 'covers' : 'does not cover'} ${narrow}`, () =>
      assert.equal(refGlobCovers(broad, narrow), want));
  }

  it('agrees with matching every short name, for every pair of a set of patterns', () => {
    // Every name up to 5 characters over the patterns' letters, "/" and one other letter: enough
    // for a counterexample to each of these patterns, if one exists.
    const letters = ['a', 'b', '/', 'q'];
    const names: string[] = [''];
    for (let len = 1, frontier = ['']; len <= 5; len++) {
      frontier = frontier.flatMap((n) => letters.map((c) => n + c));
      names.push(...frontier);
    }
    const patterns = [
      'a',
      'a/*',
      'a/**',
      '**',
      '*',
      '**/a',
      'a*',
      '*a',
      'a/**/b',
      'a/*/b',
      '*/b',
      '**/b',
      'a**',
      'a*b',
      'a/b',
    ];
    for (const broad of patterns) {
      const b = compileRefGlob(broad);
      for (const narrow of patterns) {
        const n = compileRefGlob(narrow);
        const byNames = names.every((name) => !n(name) || b(name));
        assert.equal(refGlobCovers(broad, narrow), byNames, `${broad} over ${narrow}`);
      }
    }
  });
});
