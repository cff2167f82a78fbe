/**
 * Compiles a whole-name ref glob into a matcher: `*` matches within one path segment, `**`
 * across segments (`**` + `/` at the start, or `/**` + `/` inside, also match zero segments), every
 * other character is literal. `main` matches only `main`, never `feature/main`.
 */
export function compileRefGlob(pattern: string): (name: string) => boolean {
  let re = '';
  let i = 0;
  while (i < pattern.length) {
    if (pattern.startsWith('**/', i) && (i === 0 || pattern[i - 1] === '/')) {
      re += '(?:.*/)?';
      i += 3;
    } else if (pattern.startsWith('**', i)) {
      re += '.*';
      i += 2;
    } else if (pattern[i] === '*') {
      re += '[^/]*';
      i += 1;
    } else {
      re += (pattern[i] as string).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      i += 1;
    }
  }
  const compiled = new RegExp(`^${re}$`, 's');
  return (name) => compiled.test(name);
}

/** Why `pattern` is not a usable ref glob, or null when it is. */
export function refGlobProblem(pattern: string): string | null {
  if (pattern === '') return 'empty pattern';
  if (pattern.startsWith('refs/')) return 'write the name without refs/heads/ or refs/tags/';
  if (pattern.startsWith('/') || pattern.endsWith('/') || pattern.includes('//')) return 'empty path segment';
  if (/[\s\x00-\x1f\x7f~^:?[\\]/.test(pattern)) return 'character not allowed in a ref name pattern';
  if (/\*\*\*/.test(pattern)) return '"***" is not a pattern';
  return null;
}
