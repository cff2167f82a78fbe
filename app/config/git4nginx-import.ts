import { GIT_SUFFIX, segmentProblem } from './names.js';
import { userNameProblem } from '../principals.js';
import { parseYamlTree, type YamlEntry, type YamlNode } from './yaml-tree.js';

/** The four list keys of a git4nginx node, and what each becomes in gitward. */
const LIST_KEYS: Readonly<Record<string, { level: 'read' | 'write'; group: boolean }>> = {
  '.read_users': { level: 'read', group: false },
  '.read_groups': { level: 'read', group: true },
  '.write_users': { level: 'write', group: false },
  '.write_groups': { level: 'write', group: true },
};

/** git4nginx hook plugin keys and their gitward names. */
const HOOK_PLUGINS: Readonly<Record<string, string>> = {
  '.branch_flow': 'branch-flow',
  '.branch_protect': 'branch-protect',
};

/** Scalars that YAML 1.1 (PyYAML, which git4nginx used) reads as booleans. */
const YAML11_BOOL = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
/** Scalars that YAML 1.1 reads as ints (with _, binary, octal 0NN, hex, base 60). */
const YAML11_INT = /^[-+]?(0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)$/;
/** Scalars that YAML 1.1 reads as floats (with _, .inf, .nan). */
const YAML11_FLOAT = /^([-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$/;
const isYaml11Number = (s: string): boolean => YAML11_INT.test(s) || YAML11_FLOAT.test(s);

/** Scalars that YAML 1.1 reads as null (PyYAML: `~`, `null`, an empty scalar). */
const YAML11_NULL = /^(~|null|Null|NULL|)$/;

/** A problem that stops the import (the old file is not readable as git4nginx config). */
export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

interface OutNode {
  read: string[];
  write: string[];
  hooks: Map<string, unknown>;
  children: Map<string, OutNode>;
  notes: string[];
  /** `.inherit: false`: the grants above do not reach this node. */
  cut: boolean;
}

const newNode = (): OutNode => ({ read: [], write: [], hooks: new Map(), children: new Map(), notes: [], cut: false });

/** What PyYAML (YAML 1.1, git4nginx's parser) made of a plain scalar that is not a string, or null. */
function yaml11Type(raw: YamlEntry['key']): 'null' | 'boolean' | 'number' | null {
  if (raw === null) return 'null';
  if (typeof raw === 'boolean') return 'boolean';
  if (typeof raw === 'number') return 'number';
  if (YAML11_NULL.test(raw)) return 'null';
  if (YAML11_BOOL.test(raw)) return 'boolean';
  if (isYaml11Number(raw)) return 'number';
  return null;
}

/** The entries of a mapping as Python's dict kept them: the last of equal keys wins. */
function lastWins(entries: readonly YamlEntry[]): YamlEntry[] {
  const byKey = new Map<string, YamlEntry>();
  for (const e of entries) {
    const t = yaml11Type(e.key);
    const k = t === 'null' ? 'null' : t === null ? `s:${String(e.key)}` : `${t}:${String(e.key)}`;
    byKey.delete(k);
    byKey.set(k, e);
  }
  return [...byKey.values()];
}

/** A name as YAML text: plain when safe in YAML 1.1 and 1.2, double-quoted otherwise. */
function q(name: string): string {
  const plain = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(name);
  if (plain && !YAML11_BOOL.test(name) && !isYaml11Number(name) && !YAML11_NULL.test(name)) return name;
  return JSON.stringify(name);
}

/** A value as one line of YAML flow text (JSON is valid YAML; names get the same quoting as q). */
function flow(v: unknown): string {
  if (typeof v === 'string') return q(v);
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (v && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${q(k)}: ${flow(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v ?? null);
}

/** A list value of git4nginx that makes it fail (HTTP 500) on every request that reads it. */
const BROKEN = Symbol('broken');

/** The repo_root of a git4nginx config's text, or null when it has none (the import will say why). */
export function git4nginxRepoRoot(text: string): string | null {
  const parsed = parseYamlTree(text);
  if (!parsed.ok || !parsed.root || parsed.root.kind !== 'map') return null;
  const e = lastWins(parsed.root.entries).find((x) => x.key === 'repo_root');
  return e && e.value.kind === 'scalar' && typeof e.value.value === 'string' ? e.value.value : null;
}

/**
 * Turns the text of a git4nginx config into a gitward config (YAML text) that never allows what
 * git4nginx refused: it keeps git4nginx's intended meaning (accumulation, write implies read, an
 * unlisted project group denies everyone) where gitward can say it, narrows where it cannot, and
 * adds a `# NOTE:` wherever the result differs. `onDisk` lists the repos under repo_root (names
 * without `.git`): top-level ones get the null key's grants, deeper ones are cut off from their
 * group's grants (git4nginx served two levels only). `oldName` is used in comments only.
 */
export function importGit4nginx(text: string, oldName: string, onDisk: readonly string[] = []): string {
  const parsed = parseYamlTree(text);
  if (!parsed.ok) throw new ImportError(`${oldName}:${parsed.line}: yaml: ${parsed.message}`);
  if (!parsed.root || parsed.root.kind !== 'map') {
    throw new ImportError(`${oldName}: expected a mapping with repo_root, authentication and authorisation`);
  }
  // Notes go next to what they are about: a user, a node of the tree, or (else) the end of the file.
  let about: OutNode | { user: string } | null = null;
  const endNotes: string[] = [];
  const userNotes = new Map<string, string[]>();
  const notes = {
    push(text: string): void {
      if (about === null) endNotes.push(text);
      else if ('user' in about) userNotes.set(about.user, [...(userNotes.get(about.user) ?? []), text]);
      else about.notes.push(text);
    },
  };
  const noting = <T>(target: OutNode | { user: string } | null, fn: () => T): T => {
    const saved = about;
    about = target;
    try {
      return fn();
    } finally {
      about = saved;
    }
  };
  const at = (line: number): string => `${oldName}:${line}`;

  /** A name as git4nginx read it: null (with a note) when it never matched a string name there. */
  const nameOf = (n: YamlNode | { kind: 'key'; key: YamlEntry['key']; line: number }, what: string): string | null => {
    const raw = n.kind === 'key' ? n.key : n.kind === 'scalar' ? n.value : undefined;
    if (raw === undefined) {
      notes.push(`${at(n.line)}: ${what}: not a name (a ${n.kind === 'map' ? 'mapping' : 'list'}); skipped`);
      return null;
    }
    const type = yaml11Type(raw);
    if (type === 'null') {
      notes.push(`${at(n.line)}: ${what}: null is not a name; skipped`);
      return null;
    }
    if (type !== null) {
      const s = String(raw);
      notes.push(
        `${at(n.line)}: ${what}: "${s}" is a YAML 1.1 ${type} for git4nginx (unless quoted there), which never ` +
          'equals a user or group name, so it never matched; not imported — ' +
          `if it was quoted in ${oldName}, add "${s}" by hand`,
      );
      return null;
    }
    return String(raw);
  };

  const top = new Map<string, YamlEntry>();
  for (const e of parsed.root.entries) if (typeof e.key === 'string') top.set(e.key, e);

  const out: string[] = [
    `# gitward config imported from ${oldName} by \`gitward import-git4nginx\`.`,
    '# Read every NOTE below, then run `gitward check` on this file.',
  ];
  const repoRoot = top.get('repo_root');
  if (!repoRoot || repoRoot.value.kind !== 'scalar' || typeof repoRoot.value.value !== 'string') {
    throw new ImportError(`${oldName}: repo_root is missing or not a string`);
  }
  out.push(`repo_root: ${JSON.stringify(repoRoot.value.value)}`);
  const KNOWN_TOP = ['repo_root', 'authentication', 'authorisation', 'hooks'];
  for (const k of [...top.keys()].filter((x) => !KNOWN_TOP.includes(x))) {
    const line = at((top.get(k) as YamlEntry).line);
    if (k === 'bin_path') notes.push(`${line}: bin_path: not imported; gitward finds git-http-backend itself`);
    else if (k !== 'authorization') notes.push(`${line}: ${k}: not a git4nginx key gitward knows; not imported`);
  }

  // ---- does git4nginx answer anything but 500 with this file? (its load_config and lookup_groups)
  const mapAt = (n: YamlNode | undefined, key: string): YamlEntry | undefined =>
    n && n.kind === 'map' ? lastWins(n.entries).find((e) => e.key === key) : undefined;
  const auth = top.get('authentication');
  const authz = top.get('authorisation');
  const plugin = mapAt(auth?.value, 'plugin');
  const pluginName = plugin && plugin.value.kind === 'scalar' ? String(plugin.value.value) : null;
  const usersEntry = mapAt(mapAt(auth?.value, 'plugin_config')?.value, 'users');
  let broken: string | null = null;
  if (!authz || authz.value.kind !== 'map') {
    broken = top.has('authorization')
      ? `${at((top.get('authorization') as YamlEntry).line)}: authorization: this is the US spelling; git4nginx ` +
        'reads only authorisation: and, without it, answers 500 to every request'
      : 'authorisation: missing or not a mapping; git4nginx answers 500 to every request';
  } else if (!auth || auth.value.kind !== 'map') {
    broken = 'authentication: missing or not a mapping; git4nginx answers 500 to every request';
  } else if (pluginName !== 'lookup_groups') {
    broken =
      pluginName === null
        ? 'authentication.plugin: missing; git4nginx answers 500 to every request'
        : `authentication.plugin: "${pluginName}" is not git4nginx's lookup_groups, so who it lets in and in which ` +
          'groups is unknown here';
  } else if (!usersEntry || usersEntry.value.kind !== 'map') {
    broken = 'authentication.plugin_config.users: missing or not a mapping; git4nginx answers 500 to every request';
  }
  if (broken !== null) notes.push(`${broken}: no user and no grant was imported (nobody gets access)`);

  // ---- users, from authentication.plugin_config.users (lookup_groups refuses anyone else)
  const users = new Map<string, { groups: string[]; info: Record<string, unknown> }>();
  if (broken === null && usersEntry && usersEntry.value.kind === 'map') {
    for (const e of lastWins(usersEntry.value.entries)) {
      const name = noting(null, () => nameOf({ kind: 'key', key: e.key, line: e.line }, 'user'));
      if (name === null) continue;
      const bad = userNameProblem(name);
      if (bad) {
        notes.push(`${at(e.line)}: users.${name}: ${bad}; not imported`);
        continue;
      }
      if (e.value.kind !== 'map') {
        notes.push(`${at(e.line)}: users.${name}: not a mapping; git4nginx answers 500 to this user; not imported`);
        continue;
      }
      const entry = { groups: [] as string[], info: {} as Record<string, unknown> };
      let userBroken = false;
      for (const f of lastWins(e.value.entries)) {
        if (f.key === 'groups') {
          const gs = noting({ user: name }, () => namesOf(f, `users.${name}.groups`, true, false));
          if (gs === BROKEN) userBroken = true;
          else entry.groups = gs;
        } else if (f.key === 'info' && f.value.kind === 'map') {
          for (const i of f.value.entries) {
            if (i.value.kind !== 'scalar') continue;
            entry.info[String(i.key)] = i.value.value === null ? null : String(i.value.value);
          }
        } else {
          noting({ user: name }, () =>
            notes.push(`${at(f.line)}: users.${name}.${String(f.key)}: not imported (users have groups and info)`),
          );
        }
      }
      if (userBroken) {
        notes.push(`${at(e.line)}: users.${name}: git4nginx answers 500 to this user (bad groups); not imported`);
        continue;
      }
      users.set(name, entry);
    }
  }

  /**
   * The names of a list key as gitward principals, keeping only what git4nginx matched too;
   * BROKEN when the value makes git4nginx fail on every request that reads it.
   */
  function namesOf(e: YamlEntry, what: string, group: boolean, grant: boolean): string[] | typeof BROKEN {
    const n = e.value;
    if (n.kind === 'seq') {
      const names: string[] = [];
      for (const item of n.items) {
        // git4nginx puts group lists in a Python set: a list or mapping in one is an error there.
        if (item.kind !== 'scalar' && group) return BROKEN;
        const name = nameOf(item, what);
        if (name === null) continue;
        const bad = group ? segmentProblem(name) : userNameProblem(name);
        if (bad) notes.push(`${at(item.line)}: ${what}: ${bad}; not imported`);
        else if (grant && !group && !users.has(name)) {
          notes.push(
            `${at(item.line)}: ${what}: "${name}" is not under authentication.plugin_config.users, so git4nginx ` +
              'refused them (lookup_groups knows no one else); not imported',
          );
        } else names.push(name);
      }
      return names;
    }
    if (n.kind === 'scalar' && typeof n.value === 'string' && yaml11Type(n.value) === null) {
      const s = n.value;
      if (group) {
        const chars = [...new Set(s)].join(', ');
        notes.push(
          `${at(e.line)}: ${what}: a string, not a list: git4nginx compared groups with the set of its characters ` +
            `(${chars}), never with "${s}"; not imported — write [${s}] if that group was meant`,
        );
        return [];
      }
      const matched = [...users.keys()].filter((u) => s.includes(u));
      const keep = users.has(s) ? [s] : [];
      notes.push(
        `${at(e.line)}: ${what}: a string, not a list: git4nginx matched every user whose name is a substring of ` +
          `"${s}" (among users: ${matched.join(', ') || 'none'}); ` +
          (keep.length > 0 ? `imported as the one name "${s}" only` : `"${s}" is not a user, so nothing was imported`),
      );
      return keep;
    }
    // null, a number, a boolean or a mapping: git4nginx's `in` or set() fails on it.
    return BROKEN;
  }

  // ---- the authorisation tree: project group → repo; the null key holds repos under repo_root
  const root = newNode();
  const usedGroups = new Set<string>();
  interface Grants {
    read: string[];
    write: string[];
  }
  /** The grants of one git4nginx node (list keys only); BROKEN when git4nginx fails reading it. */
  const grantsOf = (n: YamlNode, path: string, node: OutNode | null): Grants | typeof BROKEN => {
    if (n.kind !== 'map') return BROKEN;
    const g: Grants = { read: [], write: [] };
    for (const e of lastWins(n.entries)) {
      const key = e.key;
      if (typeof key !== 'string' || !(key in LIST_KEYS)) continue;
      const spec = LIST_KEYS[key] as { level: 'read' | 'write'; group: boolean };
      const names = noting(node, () => namesOf(e, `${path}${key}`, spec.group, true));
      if (names === BROKEN) return BROKEN;
      for (const name of names) {
        if (spec.group) usedGroups.add(name);
        g[spec.level].push(spec.group ? `@${name}` : name);
      }
    }
    return g;
  };
  const addGrants = (node: OutNode, g: Grants): void => {
    node.read.push(...g.read);
    node.write.push(...g.write);
  };
  let nullGrants: Grants | null = null;
  let nullLine = 0;
  const topRepos = new Map<string, Grants>();
  if (broken === null && authz && authz.value.kind === 'map') {
    for (const g of lastWins(authz.value.entries)) {
      const gkey = g.key;
      if (typeof gkey === 'string' && gkey.startsWith('.')) {
        notes.push(
          `${at(g.line)}: authorisation${gkey}: git4nginx ignores keys directly under authorisation ` +
            '(there is no global level); not imported',
        );
        continue;
      }
      const isTop = yaml11Type(gkey) === 'null';
      let gname = '';
      if (!isTop) {
        const name = nameOf({ kind: 'key', key: gkey, line: g.line }, 'project group');
        if (name === null) continue;
        const bad = name.endsWith(GIT_SUFFIX)
          ? 'a repo key directly under authorisation; git4nginx reads two levels only (top-level repos go under null)'
          : segmentProblem(name);
        if (bad) {
          notes.push(`${at(g.line)}: authorisation.${name}: ${bad}; not imported`);
          continue;
        }
        gname = name;
      }
      const path = isTop ? 'authorisation.null' : `authorisation.${gname}`;
      const target = newNode();
      const failed = (why: string): void => {
        notes.push(
          `${at(g.line)}: ${path}: ${why}, so git4nginx answers 500 there; gitward cannot refuse a repo what its ` +
            `group grants, so nothing under ${path} was imported (nobody gets access there)`,
        );
      };
      const own = grantsOf(g.value, path, target);
      if (own === BROKEN) {
        failed(g.value.kind === 'map' ? 'a list key is not a list of names (or a string)' : 'it is not a mapping');
        continue;
      }
      const repos = new Map<string, Grants>();
      let bad: string | null = null;
      for (const e of lastWins((g.value as { entries: readonly YamlEntry[] }).entries)) {
        const key = e.key;
        if (typeof key === 'string' && key in LIST_KEYS) continue;
        if (typeof key === 'string' && key.startsWith('.')) {
          noting(target, () => notes.push(`${at(e.line)}: ${path}${key}: not a key git4nginx reads; not imported`));
          continue;
        }
        const rname = noting(target, () => nameOf({ kind: 'key', key, line: e.line }, `${path} repo`));
        if (rname === null) continue;
        const base = rname.endsWith(GIT_SUFFIX) ? rname.slice(0, -GIT_SUFFIX.length) : null;
        const why =
          base === null
            ? 'not a repo key (repo keys end in .git) and git4nginx reads two levels only'
            : segmentProblem(base);
        if (why) {
          const text = `${at(e.line)}: ${path}.${rname}: ${why}; not imported (gitward serves no such repo)`;
          noting(target, () => notes.push(text));
          continue;
        }
        const rg = grantsOf(e.value, `${path}.${rname}`, null);
        if (rg === BROKEN) {
          bad = `${path}.${rname} is not a mapping of lists of names`;
          break;
        }
        for (const r of e.value.kind === 'map' ? e.value.entries : []) {
          if (typeof r.key === 'string' && r.key in LIST_KEYS) continue;
          noting(target, () =>
            notes.push(
              `${at(r.line)}: ${path}.${rname}.${String(r.key)}: not one of .read_users, .read_groups, .write_users, ` +
                '.write_groups; not imported',
            ),
          );
        }
        repos.set(rname, rg);
      }
      if (bad) {
        failed(bad);
        continue;
      }
      if (isTop) {
        nullGrants = own;
        nullLine = g.line;
        root.notes.push(...target.notes);
        for (const [k, v] of repos) topRepos.set(k, v);
        continue;
      }
      addGrants(target, own);
      for (const [k, v] of repos) addGrants(childOf(target, k), v);
      root.children.set(gname, target);
    }
  }
  // git4nginx gives the null key's own grants to every repo directly under repo_root; gitward has no
  // node for "top-level repos only" (grants at the root of repos reach every repo), so they go onto
  // each top-level repo that is listed or on disk.
  const nullHas = nullGrants !== null && nullGrants.read.length + nullGrants.write.length > 0;
  const topOnDisk = onDisk.filter((r) => !r.includes('/')).map((r) => `${r}${GIT_SUFFIX}`);
  if (nullGrants !== null) {
    for (const key of nullHas ? [...new Set([...topRepos.keys(), ...topOnDisk])] : topRepos.keys()) {
      const child = childOf(root, key);
      addGrants(child, nullGrants);
      addGrants(child, topRepos.get(key) ?? { read: [], write: [] });
    }
  }
  if (nullHas) {
    const reached = [...new Set([...topRepos.keys(), ...topOnDisk])];
    notes.push(
      `${at(nullLine)}: authorisation.null: git4nginx gave the grants on the null key to every repo directly under ` +
        'repo_root; gitward cannot say "top-level repos only" (grants at the root of repos: reach every repo), so ' +
        (reached.length > 0
          ? `they were copied onto each top-level repo listed under null or found on disk (${reached.join(', ')}); ` +
            'a top-level repo made later gets nothing until you list it under repos: with them'
          : 'and no top-level repo is listed under null or found on disk, they were not imported — list each ' +
            'top-level repo under repos: with them'),
    );
  }
  // git4nginx serves <group>/<repo>.git only; in gitward a group's grants reach deeper folders too.
  for (const r of onDisk) {
    const segs = r.split('/');
    if (segs.length < 3) continue;
    const group = root.children.get(segs[0] as string);
    if (!group) continue;
    const folder = childOf(group, segs[1] as string);
    if (folder.cut) continue;
    folder.cut = true;
    folder.notes.push(
      `${segs[0]}/${segs[1]}/ holds repos on disk (${r}) that git4nginx never served (it reads two levels only); ` +
        `.inherit: false keeps ${segs[0]}'s grants from reaching them`,
    );
  }

  // ---- the hooks tree, same shape; plugin keys are ".<plugin name>"
  const hooks = top.get('hooks');
  /** Settings on the null key itself: git4nginx applied them to every repo directly under repo_root. */
  const nullHooks: { key: string; plugin: string; line: number; options: unknown }[] = [];
  const importHooks = (n: YamlNode, target: OutNode, path: string, depth: number): void => {
    if (n.kind !== 'map') return;
    for (const e of n.entries) {
      const key = e.key;
      if (typeof key === 'string' && key.startsWith('.')) {
        const pluginName = HOOK_PLUGINS[key];
        if (!pluginName) {
          notes.push(`${at(e.line)}: ${path}${key}: not a git4nginx hook plugin gitward ships; not imported`);
          continue;
        }
        if (path === 'hooks.null')
          nullHooks.push({
            key,
            plugin: pluginName,
            line: e.line,
            options: hookOptions(pluginName, e, `${path}${key}`),
          });
        else
          target.hooks.set(
            pluginName,
            noting(target, () => hookOptions(pluginName, e, `${path}${key}`)),
          );
        continue;
      }
      if (depth >= 2) {
        notes.push(`${at(e.line)}: ${path}.${String(key)}: deeper than group → repo; not imported`);
        continue;
      }
      if (yaml11Type(key) === 'null' && depth === 0) {
        // The null key's repos are the top-level repos of gitward; its own settings are placed below.
        importHooks(e.value, root, 'hooks.null', 1);
        continue;
      }
      const name = nameOf({ kind: 'key', key, line: e.line }, 'hooks node');
      if (name === null) continue;
      // As in authorisation: project groups directly under hooks, repos (keys ending in .git) below them.
      const isRepo = name.endsWith(GIT_SUFFIX);
      const bad =
        depth === 0 && isRepo
          ? 'a repo key directly under hooks; git4nginx reads two levels only (top-level repos go under the null key)'
          : depth === 1 && !isRepo
            ? 'not a repo key (repo keys end in .git) and git4nginx reads two levels only'
            : segmentProblem(isRepo ? name.slice(0, -GIT_SUFFIX.length) : name);
      if (bad) {
        notes.push(`${at(e.line)}: ${path}.${name}: ${bad}; not imported`);
        continue;
      }
      importHooks(e.value, childOf(target, name), `${path}.${name}`, depth + 1);
    }
  };
  const hookOptions = (pluginName: string, e: YamlEntry, path: string): unknown => {
    const n = e.value;
    if (n.kind !== 'map') return {};
    const o: Record<string, unknown> = {};
    for (const f of n.entries) {
      const k = String(f.key);
      if (pluginName === 'branch-protect' && k === 'branches' && f.value.kind === 'map') {
        const branches: Record<string, unknown> = {};
        for (const b of f.value.entries) {
          const push: string[] = [];
          if (b.value.kind === 'map') {
            for (const x of b.value.entries) {
              if (x.key === '.write_users' || x.key === '.write_groups') {
                const group = x.key === '.write_groups';
                // Fewer names in a push list is narrower: whatever git4nginx would not match is left out.
                const names = namesOf(x, `${path}.branches.${String(b.key)}${x.key}`, group, true);
                if (names === BROKEN) {
                  const where = `${path}.branches.${String(b.key)}${x.key}`;
                  notes.push(`${at(x.line)}: ${where}: not a list of names; not imported`);
                  continue;
                }
                for (const n of names) push.push(group ? (usedGroups.add(n), `@${n}`) : n);
              } else notes.push(`${at(x.line)}: ${path}.branches.${String(b.key)}.${String(x.key)}: not imported`);
            }
          }
          branches[String(b.key)] = { push };
        }
        o.branches = branches;
      } else o[k] = plain(f.value);
    }
    return o;
  };
  if (hooks && hooks.value.kind === 'map') importHooks(hooks.value, root, 'hooks', 0);
  if (nullHooks.length > 0) {
    // gitward has no node for "the repos directly under repo_root" (settings at the root of repos
    // reach every repo), so copy them onto each top-level repo; a repo's own setting is deeper and stays.
    const topRepos = [...new Set([...[...root.children.keys()].filter((k) => k.endsWith(GIT_SUFFIX)), ...topOnDisk])];
    for (const key of topRepos) {
      const child = childOf(root, key);
      for (const h of nullHooks) if (!child.hooks.has(h.plugin)) child.hooks.set(h.plugin, h.options);
    }
    for (const h of nullHooks) {
      const head =
        `${at(h.line)}: hooks.null${h.key}: git4nginx applied this to every repo directly under repo_root; ` +
        'gitward cannot say "top-level repos only", so ';
      notes.push(
        topRepos.length > 0
          ? `${head}it was copied onto each top-level repo listed or found on disk (${topRepos.join(', ')}) where ` +
              `that repo has no ${h.plugin} setting of its own; a top-level repo not listed does not get it — ` +
              'list it under repos: with this setting'
          : `${head}and no top-level repo is listed or found on disk, it was not imported — list each top-level ` +
              'repo under repos: with this setting',
      );
    }
  }

  // ---- names used in grants but not listed: gitward would reject them as unknown
  for (const u of users.values()) for (const g of u.groups) usedGroups.delete(g);
  const emptyGroups = [...usedGroups].sort();
  if (emptyGroups.length > 0)
    notes.push(`groups granted access that no user belongs to were declared empty: ${emptyGroups.join(', ')}`);

  // ---- write it out
  out.push('');
  out.push('# git4nginx trusted REMOTE_USER from nginx (auth_basic) and never checked passwords; remote-user does the');
  out.push('# same with a header that nginx must set: proxy_set_header X-Remote-User $remote_user;');
  out.push('# (or check passwords in gitward: {plugin: htpasswd, file: /etc/nginx/htpasswd})');
  out.push('authentication:');
  out.push("# Believed over gitward's unix socket only (nginx: proxy_pass http://unix:/run/gitward/gitward.sock);");
  out.push('# over 127.0.0.1 any local user could claim any name: there, add secret_file (README, remote-user).');
  out.push('  - {plugin: remote-user, header: X-Remote-User, trusted_proxies: [unix]}');
  out.push('');
  out.push('users:');
  if (users.size === 0) out[out.length - 1] = 'users: {}';
  for (const [name, u] of users) {
    for (const n of userNotes.get(name) ?? []) out.push(`  # NOTE: ${n}`);
    const parts: string[] = [];
    if (u.groups.length > 0) parts.push(`groups: ${flow(u.groups)}`);
    if (Object.keys(u.info).length > 0) parts.push(`info: ${flow(u.info)}`);
    out.push(`  ${q(name)}: {${parts.join(', ')}}`);
  }
  if (emptyGroups.length > 0) {
    out.push('groups:');
    for (const g of emptyGroups) out.push(`  ${q(g)}: []`);
  }
  out.push('');
  out.push('# An unlisted project group gets nothing: as in git4nginx, no grant means no access.');
  out.push('repos:');
  if (root.read.length + root.write.length + root.hooks.size + root.children.size === 0)
    out[out.length - 1] = 'repos: {}';
  writeNode(root, 1, out);
  if (endNotes.length > 0) {
    out.push('');
    out.push('# More NOTES — where this file differs from the old one on purpose:');
    for (const n of endNotes) out.push(`# NOTE: ${n}`);
  }
  return out.join('\n') + '\n';
}

function childOf(node: OutNode, key: string): OutNode {
  let c = node.children.get(key);
  if (!c) node.children.set(key, (c = newNode()));
  return c;
}

function plain(n: YamlNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(plain);
  const o: Record<string, unknown> = {};
  for (const e of n.entries) o[String(e.key)] = plain(e.value);
  return o;
}

function writeNode(node: OutNode, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  for (const n of node.notes) out.push(`${pad}# NOTE: ${n}`);
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  if (node.cut) out.push(`${pad}.inherit: false`);
  if (node.read.length > 0) out.push(`${pad}.read: ${flow(uniq(node.read))}`);
  if (node.write.length > 0) out.push(`${pad}.write: ${flow(uniq(node.write))}`);
  if (node.hooks.size > 0) {
    out.push(`${pad}.hooks:`);
    for (const [name, options] of node.hooks) out.push(`${pad}  ${name}: ${flow(options)}`);
  }
  for (const [key, child] of node.children) {
    if (child.read.length + child.write.length + child.hooks.size + child.children.size === 0 && !child.cut) {
      // Nothing but notes (or nothing): say the notes above the key, which stays so they have a place.
      for (const n of child.notes) out.push(`${pad}# NOTE: ${n}`);
      out.push(`${pad}${q(key)}: {}`);
      continue;
    }
    out.push(`${pad}${q(key)}:`);
    writeNode(child, depth + 1, out);
  }
}
