import yaml from 'js-yaml';

/** A YAML node with the 1-based line where it starts, so every problem can name its line. */
export type YamlNode =
  | { readonly kind: 'map'; readonly line: number; readonly entries: readonly YamlEntry[] }
  | { readonly kind: 'seq'; readonly line: number; readonly items: readonly YamlNode[] }
  | { readonly kind: 'scalar'; readonly line: number; readonly value: string | number | boolean | null };

/** One `key: value` pair of a mapping, in file order; duplicates are kept so they can be reported. */
export interface YamlEntry {
  /** The key as YAML read it (JSON schema: a string, or a number, boolean or null). */
  readonly key: string | number | boolean | null;
  readonly line: number;
  readonly value: YamlNode;
}

/** The outcome of parsing: the root node (null for an empty document) or a syntax problem. */
export type YamlParse =
  | { readonly ok: true; readonly root: YamlNode | null }
  | { readonly ok: false; readonly line: number; readonly message: string };

/**
 * Most nodes that aliases (`*name`) may expand to: anchors are handy for repeated lists, but a
 * chain of aliases can grow exponentially ("billion laughs"); a real config stays far below this.
 */
export const MAX_ALIAS_EXPANSION_NODES = 100_000;

interface Open {
  line: number;
  kids: Closed[];
}
interface Closed {
  line: number;
  kind: string | null;
  result: unknown;
  kids: Closed[];
}

/**
 * Parses YAML text with js-yaml's JSON schema (so `yes`/`on` stay strings and there are no
 * timestamps or merge keys) and keeps the line of every key and value. Duplicate keys do not stop
 * the parse; they stay visible in `entries`.
 */
export function parseYamlTree(text: string): YamlParse {
  const stack: Open[] = [];
  const top: Closed[] = [];
  try {
    yaml.load(text, {
      schema: yaml.JSON_SCHEMA,
      // json: true lets duplicate keys through (last wins in the result); we report them ourselves.
      json: true,
      listener(event, state) {
        if (event === 'open') {
          stack.push({ line: state.line + 1, kids: [] });
          return;
        }
        const open = stack.pop() as Open;
        const closed: Closed = { line: open.line, kind: state.kind, result: state.result, kids: open.kids };
        const parent = stack[stack.length - 1];
        if (parent) parent.kids.push(closed);
        else top.push(closed);
      },
    });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const line = (err.mark?.line ?? 0) + 1;
      return { ok: false, line, message: err.reason || err.message };
    }
    throw err;
  }
  const root = top[top.length - 1];
  if (!root) return { ok: true, root: null };
  const budget: Budget = { left: MAX_ALIAS_EXPANSION_NODES, overLine: 0, rebuiltMapLine: 0 };
  const node = toNode(root, budget);
  if (budget.left < 0)
    return {
      ok: false,
      line: budget.overLine,
      message: `aliases expand to more than ${MAX_ALIAS_EXPANSION_NODES} nodes`,
    };
  if (budget.rebuiltMapLine > 0) {
    // A mapping rebuilt from its value (a key without a value: `? k` or `{k, k: 1}`) has lost any
    // duplicate key (json: true keeps the last); let js-yaml's strict mode find them instead.
    try {
      yaml.load(text, { schema: yaml.JSON_SCHEMA });
    } catch (err) {
      if (err instanceof yaml.YAMLException)
        return {
          ok: false,
          line: (err.mark?.line ?? budget.rebuiltMapLine - 1) + 1,
          message: err.reason || err.message,
        };
      throw err;
    }
  }
  if (node.kind === 'scalar' && node.value === null) return { ok: true, root: null };
  return { ok: true, root: node };
}

/** js-yaml wraps block sequence items and explicit keys in a second event of the same node. */
function unwrap(n: Closed): Closed {
  let cur = n;
  while (cur.kids.length === 1) {
    const kid = cur.kids[0] as Closed;
    if (kid.kind !== cur.kind || kid.result !== cur.result) break;
    cur = { ...kid, line: Math.min(cur.line, kid.line) };
  }
  return cur;
}

interface Budget {
  left: number;
  overLine: number;
  /** Line of the first mapping whose events did not pair up as key/value (0: none). */
  rebuiltMapLine: number;
}

function toNode(raw: Closed, budget: Budget): YamlNode {
  const n = unwrap(raw);
  if (n.kind === 'mapping' && n.kids.length % 2 === 0 && (n.kids.length > 0 || isEmptyObject(n.result))) {
    const entries: YamlEntry[] = [];
    for (let i = 0; i < n.kids.length; i += 2) {
      const k = unwrap(n.kids[i] as Closed);
      const v = n.kids[i + 1] as Closed;
      entries.push({ key: scalarOf(k.result), line: k.line, value: toNode(v, budget) });
    }
    return { kind: 'map', line: n.line, entries };
  }
  if (n.kind === 'sequence' && Array.isArray(n.result) && n.kids.length === n.result.length) {
    return { kind: 'seq', line: n.line, items: n.kids.map((k) => toNode(k, budget)) };
  }
  if (n.kind === 'mapping' && n.kids.length > 0) budget.rebuiltMapLine ||= n.line;
  // Aliases (and anything the events do not describe) are rebuilt from the value, at this line.
  return fromValue(n.result, n.line, budget);
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

function scalarOf(v: unknown): string | number | boolean | null {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  // A collection used as a key: js-yaml turns it into a string; keep that text.
  return String(v);
}

/**
 * Rebuilds a node from a value. `ancestors` holds the collections being rebuilt above this one: an
 * alias inside its own anchor (`a: &x [*x]`) makes js-yaml return a cyclic value, which would
 * otherwise recurse until the stack overflows (a RangeError, not a ConfigError). A cycle expands
 * without end, so it spends the whole budget.
 */
function fromValue(v: unknown, line: number, budget: Budget, ancestors: Set<object> = new Set()): YamlNode {
  if (--budget.left < 0 || (typeof v === 'object' && v !== null && ancestors.has(v))) {
    budget.left = -1;
    budget.overLine ||= line;
    return { kind: 'scalar', line, value: null };
  }
  if (typeof v !== 'object' || v === null) return { kind: 'scalar', line, value: scalarOf(v) };
  ancestors.add(v);
  try {
    if (Array.isArray(v)) return { kind: 'seq', line, items: v.map((x) => fromValue(x, line, budget, ancestors)) };
    return {
      kind: 'map',
      line,
      entries: Object.entries(v).map(([key, value]) => ({
        key,
        line,
        value: fromValue(value, line, budget, ancestors),
      })),
    };
  } finally {
    ancestors.delete(v);
  }
}
