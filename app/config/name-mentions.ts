import { parseYamlTree, type YamlNode } from './yaml-tree.js';

/** One place a config names something: its line and key path (`repos.web.site.git.write[1]`). */
export interface NameMention {
  readonly line: number;
  readonly keyPath: string;
}

/**
 * Every place in config `text` that names `name`: a value equal to it (a grant, a group member, a
 * hook rule's principal, a test's user) or a key of `users:`. Whole values only (`ann` is not
 * `anna`); `@name` counts for a group. An unreadable text names nothing (check reports it).
 */
export function findNameMentions(text: string, name: string): NameMention[] {
  const parsed = parseYamlTree(text);
  if (!parsed.ok || parsed.root === null) return [];
  const out: NameMention[] = [];
  const walk = (n: YamlNode, keyPath: string): void => {
    if (n.kind === 'scalar') {
      if (n.value === name) out.push({ line: n.line, keyPath });
    } else if (n.kind === 'seq') {
      n.items.forEach((item, i) => walk(item, `${keyPath}[${i}]`));
    } else {
      for (const e of n.entries) {
        const key = String(e.key);
        // Settings keys start with a dot already: repos.web.site.git.write, as config errors say.
        const child = keyPath === '' ? key : key.startsWith('.') ? `${keyPath}${key}` : `${keyPath}.${key}`;
        if (keyPath === 'users' && e.key === name) out.push({ line: e.line, keyPath: child });
        walk(e.value, child);
      }
    }
  };
  walk(parsed.root, '');
  return out.sort((a, b) => a.line - b.line);
}
