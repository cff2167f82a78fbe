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
 * A glob as a nondeterministic automaton over characters. State `2i` stands before token i,
 * state `2i + 1` inside a `dirs` token i (after some characters, waiting for its `/`); state
 * `2 * tokens.length` accepts.
 */
interface GlobAutomaton {
  readonly start: ReadonlySet<number>;
  readonly accept: number;
  step(states: ReadonlySet<number>, char: string): Set<number>;
}

function automaton(pattern: string): GlobAutomaton {
  const tokens = tokenize(pattern);
  const closure = (states: Iterable<number>): Set<number> => {
    const out = new Set<number>();
    const todo = [...states];
    while (todo.length > 0) {
      const s = todo.pop() as number;
      if (out.has(s)) continue;
      out.add(s);
      const t = s % 2 === 0 ? tokens[s / 2] : undefined;
      // Every star may match nothing.
      if (t !== undefined && t.kind !== 'literal') todo.push(s + 2);
    }
    return out;
  };
  return {
    start: closure([0]),
    accept: 2 * tokens.length,
    step(states, char) {
      const next: number[] = [];
      for (const s of states) {
        const t = tokens[Math.floor(s / 2)];
        if (t === undefined) continue;
        if (s % 2 === 1) {
          // Inside `dirs`: more characters, or the `/` that ends it.
          next.push(s);
          if (char === '/') next.push(s + 1);
          continue;
        }
        switch (t.kind) {
          case 'literal':
            if (char === t.char) next.push(s + 2);
            break;
          case 'segment-star':
            if (char !== '/') next.push(s);
            break;
          case 'any-star':
            next.push(s);
            break;
          case 'dirs':
            next.push(s + 1);
            if (char === '/') next.push(s + 2);
            break;
        }
      }
      return closure(next);
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
  const a = automaton(broad);
  const b = automaton(narrow);
  // Refs cannot contain NUL, and refGlobProblem refuses control characters in patterns, so NUL
  // stands for "any other character".
  const alphabet = [...new Set([...broad, ...narrow, '/', '\u0000'])].filter((c) => c !== '*');
  const key = (sb: ReadonlySet<number>, sa: ReadonlySet<number>): string => `${[...sb].sort().join(',')}|${[...sa].sort().join(',')}`;
  const seen = new Set<string>([key(b.start, a.start)]);
  const todo: Array<[ReadonlySet<number>, ReadonlySet<number>]> = [[b.start, a.start]];
  while (todo.length > 0) {
    const [sb, sa] = todo.pop() as [ReadonlySet<number>, ReadonlySet<number>];
    if (sb.has(b.accept) && !sa.has(a.accept)) return false;
    for (const c of alphabet) {
      const nb = b.step(sb, c);
      if (nb.size === 0) continue;
      const na = a.step(sa, c);
      const k = key(nb, na);
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
  if (/[\s\x00-\x1f\x7f~^:?[\\]/.test(pattern)) return 'character not allowed in a ref name pattern';
  if (/\*\*\*/.test(pattern)) return '"***" is not a pattern';
  return null;
}
