/** One piece of a ref glob. */
type GlobToken =
  | { readonly kind: 'literal'; readonly char: string }
  /** `*`: any characters but `/`. */
  | { readonly kind: 'segment-star' }
  /** `**`: any characters, `/` included. */
  | { readonly kind: 'any-star' }
  /** `**` + `/` at the start or after a `/`: zero or more whole segments. */
  | { readonly kind: 'dirs' };

function tokenize(pattern: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  let i = 0;
  while (i < pattern.length) {
    if (pattern.startsWith('**/', i) && (i === 0 || pattern[i - 1] === '/')) {
      tokens.push({ kind: 'dirs' });
      i += 3;
    } else if (pattern.startsWith('**', i)) {
      tokens.push({ kind: 'any-star' });
      i += 2;
    } else if (pattern[i] === '*') {
      tokens.push({ kind: 'segment-star' });
      i += 1;
    } else {
      tokens.push({ kind: 'literal', char: pattern[i] as string });
      i += 1;
    }
  }
  return tokens;
}

/**
 * Compiles a whole-name ref glob into a matcher: `*` matches within one path segment, `**`
 * across segments (`**` + `/` at the start, or `/**` + `/` inside, also match zero segments), every
 * other character is literal. `main` matches only `main`, never `feature/main`.
 */
export function compileRefGlob(pattern: string): (name: string) => boolean {
  const re = tokenize(pattern)
    .map((t) => {
      switch (t.kind) {
        case 'dirs':
          return '(?:.*/)?';
        case 'any-star':
          return '.*';
        case 'segment-star':
          return '[^/]*';
        case 'literal':
          return t.char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      }
    })
    .join('');
  const compiled = new RegExp(`^${re}$`, 's');
  return (name) => compiled.test(name);
}

/**
 * A glob as a nondeterministic automaton over characters; a set of states is a sorted list of
 * state numbers. State `2i` stands before token i, state `2i + 1` inside a `dirs` token i (after
 * some characters, waiting for its `/`); state `2 * tokens.length` accepts.
 */
interface GlobAutomaton {
  readonly start: readonly number[];
  readonly accept: number;
  /** The states after reading `char` from any state of `states` (stars' empty matches included). */
  step(states: readonly number[], char: string): number[];
}

function automaton(pattern: string): GlobAutomaton {
  const tokens = tokenize(pattern);
  /** `s` and the states it reaches by matching nothing (every star may match nothing). */
  const closure = (s: number): number[] => {
    const out = [s];
    while (s % 2 === 0 && tokens[s / 2] !== undefined && (tokens[s / 2] as GlobToken).kind !== 'literal') {
      s += 2;
      out.push(s);
    }
    return out;
  };
  const moves = (s: number, char: string): number[] => {
    const t = tokens[Math.floor(s / 2)];
    if (t === undefined) return [];
    // Inside `dirs`: more characters, or the `/` that ends it.
    if (s % 2 === 1) return char === '/' ? [s, s + 1] : [s];
    switch (t.kind) {
      case 'literal':
        return char === t.char ? [s + 2] : [];
      case 'segment-star':
        return char === '/' ? [] : [s];
      case 'any-star':
        return [s];
      case 'dirs':
        return char === '/' ? [s + 1, s + 2] : [s + 1];
    }
  };
  const stateCount = 2 * tokens.length + 1;
  const table = new Map<string, number[][]>();
  return {
    start: closure(0),
    accept: 2 * tokens.length,
    step(states, char) {
      let row = table.get(char);
      if (!row) {
        row = Array.from({ length: stateCount }, (_, s) => moves(s, char).flatMap(closure));
        table.set(char, row);
      }
      const next = new Set<number>();
      for (const s of states) for (const n of row[s] as number[]) next.add(n);
      return [...next].sort((x, y) => x - y);
    },
  };
}

/**
 * True when every name `narrow` matches is also matched by `broad` (so, with "the first matching
 * rule decides", a rule for `narrow` placed after one for `broad` never applies). Exact, not a
 * heuristic: both globs run as automata side by side over every character that can make a
 * difference (the literals of either pattern, `/`, and one character that is none of those).
 */
export function refGlobCovers(broad: string, narrow: string): boolean {
  // A pattern without stars is the one name it matches.
  if (!narrow.includes('*')) return compileRefGlob(broad)(narrow);
  if (!broad.includes('*')) return false;
  // Cheap and exact: each star of `narrow` can produce a character that no literal expects, so
  // `broad`'s text before its first star must begin `narrow`'s, and likewise at the end.
  const head = (p: string) => p.slice(0, p.indexOf('*'));
  const tail = (p: string) => p.slice(p.lastIndexOf('*') + 1);
  if (!head(narrow).startsWith(head(broad)) || !tail(narrow).endsWith(tail(broad))) return false;
  const a = automaton(broad);
  const b = automaton(narrow);
  // Refs cannot contain NUL, and refGlobProblem refuses control characters in patterns, so NUL
  // stands for "any other character".
  const alphabet = [...new Set([...broad, ...narrow, '/', '\u0000'])].filter((c) => c !== '*');
  const seen = new Set<string>([`${b.start.join()}:${a.start.join()}`]);
  const todo: Array<[readonly number[], readonly number[]]> = [[b.start, a.start]];
  while (todo.length > 0) {
    const [sb, sa] = todo.pop() as [readonly number[], readonly number[]];
    if (sb.includes(b.accept) && !sa.includes(a.accept)) return false;
    for (const c of alphabet) {
      const nb = b.step(sb, c);
      if (nb.length === 0) continue;
      const na = a.step(sa, c);
      const k = `${nb.join()}:${na.join()}`;
      if (seen.has(k)) continue;
      seen.add(k);
      todo.push([nb, na]);
    }
  }
  return true;
}

/** Why `pattern` is not a usable ref glob, or null when it is. */
export function refGlobProblem(pattern: string): string | null {
  if (pattern === '') return 'empty pattern';
  if (pattern.startsWith('refs/')) return 'write the name without refs/heads/ or refs/tags/';
  if (pattern.startsWith('/') || pattern.endsWith('/') || pattern.includes('//')) return 'empty path segment';
  // eslint-disable-next-line no-control-regex -- git refuses control characters in ref names
  if (/[\s\x00-\x1f\x7f~^:?[\\]/.test(pattern)) return 'character not allowed in a ref name pattern';
  if (/\*\*\*/.test(pattern)) return '"***" is not a pattern';
  return null;
}
