import { GIT_SUFFIX, segmentProblem } from './names.js';
import { parseYamlTree, type YamlEntry, type YamlNode } from './yaml-tree.js';

/** The four list keys of a git4nginx node, and what each becomes in gitward. */
const LIST_KEYS: Readonly<Record<string, { level: 'read' | 'write'; group: boolean }>> = {
  '.read_users': { level: 'read', group: false },
  '.read_groups': { level: 'read', group: true },
  '.write_users': { level: 'write', group: false },
  '.write_groups': { level: 'write', group: true },
};

/** git4nginx hook plugin keys and their gitward names. */
const HOOK_PLUGINS: Readonly<Record<string, string>> = { '.branch_flow': 'branch-flow', '.branch_protect': 'branch-protect' };

/** Scalars that YAML 1.1 (PyYAML, which git4nginx used) reads as booleans. */
const YAML11_BOOL = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
/** Scalars that YAML 1.1 reads as numbers (ints with _, octal 0NN, hex, base 60, floats). */
const YAML11_NUMBER = /^([-+]?(0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)|[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$/;

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
}

const newNode = (): OutNode => ({ read: [], write: [], hooks: new Map(), children: new Map(), notes: [] });

/** A name as YAML text: plain when safe in YAML 1.1 and 1.2, double-quoted otherwise. */
function q(name: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(name) && !YAML11_BOOL.test(name) && !YAML11_NUMBER.test(name) && !/^(null|Null|NULL|~)$/.test(name)) return name;
  return JSON.stringify(name);
}

/** A value as one line of YAML flow text (JSON is valid YAML; names get the same quoting as q). */
function flow(v: unknown): string {
  if (typeof v === 'string') return q(v);
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${q(k)}: ${flow(x)}`).join(', ')}}`;
  return JSON.stringify(v ?? null);
}

/**
 * Turns the text of a git4nginx config into an equivalent gitward config (YAML text). Keeps
 * git4nginx's intended meaning (accumulation, write implies read, an unlisted project group
 * denies everyone) and adds `# NOTE:` comments wherever the result differs on purpose.
 * `oldName` is used in comments only.
 */
export function importGit4nginx(text: string, oldName: string): string {
  const parsed = parseYamlTree(text);
  if (!parsed.ok) throw new ImportError(`${oldName}:${parsed.line}: yaml: ${parsed.message}`);
  if (!parsed.root || parsed.root.kind !== 'map') throw new ImportError(`${oldName}: expected a mapping with repo_root, authentication and authorisation`);
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

  /** A name as git4nginx read it; notes YAML 1.1 and type traps. Null for unusable entries. */
  const nameOf = (n: YamlNode | { kind: 'key'; key: YamlEntry['key']; line: number }, what: string): string | null => {
    const raw = n.kind === 'key' ? n.key : n.kind === 'scalar' ? n.value : undefined;
    if (raw === undefined) {
      notes.push(`${at(n.line)}: ${what}: not a name (a ${n.kind === 'map' ? 'mapping' : 'list'}); skipped`);
      return null;
    }
    if (raw === null) {
      notes.push(`${at(n.line)}: ${what}: null is not a name; skipped`);
      return null;
    }
    const s = String(raw);
    if (typeof raw !== 'string' || YAML11_BOOL.test(s) || YAML11_NUMBER.test(s)) {
      notes.push(`${at(n.line)}: ${what}: "${s}" was a YAML 1.1 ${typeof raw === 'boolean' || YAML11_BOOL.test(s) ? 'boolean' : 'number'} for git4nginx, so it never matched a user or group name; gitward compares names as strings and matches "${s}"`);
    }
    return s;
  };

  const top = new Map<string, YamlEntry>();
  for (const e of parsed.root.entries) if (typeof e.key === 'string') top.set(e.key, e);

  const out: string[] = [`# gitward config imported from ${oldName} by \`gitward import-git4nginx\`.`, '# Read every NOTE below, then run `gitward check` on this file.'];
  const repoRoot = top.get('repo_root');
  if (!repoRoot || repoRoot.value.kind !== 'scalar' || typeof repoRoot.value.value !== 'string') throw new ImportError(`${oldName}: repo_root is missing or not a string`);
  out.push(`repo_root: ${JSON.stringify(repoRoot.value.value)}`);
  const ignoredTop = [...top.keys()].filter((k) => !['repo_root', 'authentication', 'authorisation', 'hooks'].includes(k));
  for (const k of ignoredTop) {
    if (k === 'bin_path') notes.push(`${at((top.get(k) as YamlEntry).line)}: bin_path: not imported; gitward finds git-http-backend itself`);
    else notes.push(`${at((top.get(k) as YamlEntry).line)}: ${k}: not a git4nginx key gitward knows; not imported`);
  }

  // ---- users, from authentication.plugin_config.users
  const users = new Map<string, { groups: string[]; info: Record<string, unknown> }>();
  const auth = top.get('authentication');
  let plugin = 'lookup_groups';
  if (auth && auth.value.kind === 'map') {
    const a = new Map(auth.value.entries.map((e) => [String(e.key), e] as const));
    const pe = a.get('plugin');
    if (pe && pe.value.kind === 'scalar') plugin = String(pe.value.value);
    const pc = a.get('plugin_config');
    const ue = pc && pc.value.kind === 'map' ? pc.value.entries.find((e) => e.key === 'users') : undefined;
    if (ue && ue.value.kind === 'map') {
      for (const e of ue.value.entries) {
        const name = noting({ user: String(e.key) }, () => nameOf({ kind: 'key', key: e.key, line: e.line }, 'user'));
        if (name === null) continue;
        const entry = { groups: [] as string[], info: {} as Record<string, unknown> };
        if (e.value.kind === 'map') {
          for (const f of e.value.entries) {
            if (f.key === 'groups') entry.groups = noting({ user: name }, () => listOf(f, `users.${name}.groups`, false));
            else if (f.key === 'info' && f.value.kind === 'map') {
              for (const i of f.value.entries) if (i.value.kind === 'scalar') entry.info[String(i.key)] = i.value.value === null ? null : String(i.value.value);
            } else notes.push(`${at(f.line)}: users.${name}.${String(f.key)}: not imported (git4nginx users have groups and info)`);
          }
        }
        users.set(name, entry);
      }
    }
  }
  if (plugin !== 'lookup_groups') notes.push(`authentication.plugin "${plugin}" is not git4nginx's lookup_groups; imported as remote-user anyway — check it`);

  /** The names of a list key; a string where a list belongs is imported as one name, with a note. */
  function listOf(e: YamlEntry, what: string, warnSubstring: boolean): string[] {
    const n = e.value;
    if (n.kind === 'seq') return n.items.map((i) => nameOf(i, what)).filter((x): x is string => x !== null);
    if (n.kind === 'scalar' && typeof n.value === 'string') {
      notes.push(
        warnSubstring
          ? `${at(e.line)}: ${what}: a string, not a list: git4nginx matched every name that is a substring of "${n.value}"; imported as the one name "${n.value}"`
          : `${at(e.line)}: ${what}: a string, not a list; imported as the one name "${n.value}"`,
      );
      return [n.value];
    }
    if (n.kind === 'scalar' && n.value === null) return [];
    const name = nameOf(n, what);
    return name === null ? [] : [name];
  }

  // ---- the authorisation tree: project group → repo; the null key holds repos under repo_root
  const root = newNode();
  const usedUsers = new Set<string>();
  const usedGroups = new Set<string>();
  const grantInto = (node: OutNode, key: string, e: YamlEntry, path: string): void => {
    const spec = LIST_KEYS[key] as { level: 'read' | 'write'; group: boolean };
    for (const name of noting(node, () => listOf(e, `${path}${key}`, true))) {
      (spec.group ? usedGroups : usedUsers).add(name);
      node[spec.level].push(spec.group ? `@${name}` : name);
    }
  };
  const authz = top.get('authorisation') ?? top.get('authorization');
  const nullNodeGrants: { key: string; e: YamlEntry }[] = [];
  if (authz && authz.value.kind === 'map') {
    for (const g of authz.value.entries) {
      const gkey = g.key;
      if (typeof gkey === 'string' && gkey.startsWith('.')) {
        notes.push(`${at(g.line)}: authorisation${gkey}: git4nginx ignores keys directly under authorisation (there is no global level); not imported`);
        continue;
      }
      const isTop = gkey === null;
      let target = root;
      let gname = '';
      if (!isTop) {
        const name = nameOf({ kind: 'key', key: gkey, line: g.line }, 'project group');
        if (name === null) continue;
        const bad = name.endsWith(GIT_SUFFIX) ? `a repo key directly under authorisation; git4nginx reads two levels only` : segmentProblem(name);
        if (bad) {
          notes.push(`${at(g.line)}: authorisation.${name}: ${bad}; not imported`);
          continue;
        }
        gname = name;
        target = childOf(root, name);
      }
      if (g.value.kind !== 'map') continue;
      for (const e of g.value.entries) {
        const key = e.key;
        const path = isTop ? 'authorisation.null' : `authorisation.${gname}`;
        if (typeof key === 'string' && key in LIST_KEYS) {
          if (isTop) nullNodeGrants.push({ key, e });
          else grantInto(target, key, e, path);
          continue;
        }
        const rname = nameOf({ kind: 'key', key, line: e.line }, 'repo');
        if (rname === null) continue;
        const base = rname.endsWith(GIT_SUFFIX) ? rname.slice(0, -GIT_SUFFIX.length) : null;
        const bad = base === null ? 'not a repo key (repo keys end in .git) and git4nginx reads two levels only' : segmentProblem(base);
        if (bad) {
          noting(target, () => notes.push(`${at(e.line)}: ${path}.${rname}: ${bad}; not imported`));
          continue;
        }
        const repo = childOf(target, rname);
        if (e.value.kind !== 'map') continue;
        for (const r of e.value.entries) {
          if (typeof r.key === 'string' && r.key in LIST_KEYS) grantInto(repo, r.key, r, `${path}.${rname}`);
          else noting(repo, () => notes.push(`${at(r.line)}: ${path}.${rname}.${String(r.key)}: not one of .read_users, .read_groups, .write_users, .write_groups; not imported`));
        }
      }
    }
  }
  if (nullNodeGrants.length > 0) {
    // In gitward, grants at the root reach every repo; copy them onto the listed top-level repos only.
    for (const [key, child] of root.children) {
      if (!key.endsWith(GIT_SUFFIX)) continue;
      for (const { key: lk, e } of nullNodeGrants) grantInto(child, lk, e, 'authorisation.null');
    }
    notes.push('the grants on the null key itself were copied onto each repo listed under it (at the root of repos: they would reach every repo); a top-level repo not listed gets no access');
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
        if (path === 'hooks.null') nullHooks.push({ key, plugin: pluginName, line: e.line, options: hookOptions(pluginName, e, `${path}${key}`) });
        else target.hooks.set(pluginName, noting(target, () => hookOptions(pluginName, e, `${path}${key}`)));
        continue;
      }
      if (depth >= 2) {
        notes.push(`${at(e.line)}: ${path}.${String(key)}: deeper than group → repo; not imported`);
        continue;
      }
      if (key === null && depth === 0) {
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
              if (x.key === '.write_users') for (const u of listOf(x, `${path}.branches.${String(b.key)}.write_users`, true)) (usedUsers.add(u), push.push(u));
              else if (x.key === '.write_groups') for (const g of listOf(x, `${path}.branches.${String(b.key)}.write_groups`, true)) (usedGroups.add(g), push.push(`@${g}`));
              else notes.push(`${at(x.line)}: ${path}.branches.${String(b.key)}.${String(x.key)}: not imported`);
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
    const topRepos = [...root.children.keys()].filter((k) => k.endsWith(GIT_SUFFIX));
    for (const key of topRepos) {
      const child = root.children.get(key) as OutNode;
      for (const h of nullHooks) if (!child.hooks.has(h.plugin)) child.hooks.set(h.plugin, h.options);
    }
    for (const h of nullHooks) {
      notes.push(
        topRepos.length > 0
          ? `${at(h.line)}: hooks.null${h.key}: git4nginx applied this to every repo directly under repo_root; gitward cannot say "top-level repos only", so it was copied onto each top-level repo listed (${topRepos.join(', ')}) where that repo has no ${h.plugin} setting of its own; a top-level repo not listed does not get it — list it under repos: with this setting`
          : `${at(h.line)}: hooks.null${h.key}: git4nginx applied this to every repo directly under repo_root; no top-level repo is listed, so it was not imported — list each top-level repo under repos: with this setting`,
      );
    }
  }

  // ---- names used in grants but not listed: gitward would reject them as unknown
  for (const u of users.values()) for (const g of u.groups) usedGroups.delete(g);
  const addedUsers = [...usedUsers].filter((u) => !users.has(u)).sort();
  for (const u of addedUsers) users.set(u, { groups: [], info: {} });
  if (addedUsers.length > 0) notes.push(`users named in grants but not under plugin_config.users were added with no groups: ${addedUsers.join(', ')}`);
  const emptyGroups = [...usedGroups].sort();
  if (emptyGroups.length > 0) notes.push(`groups granted access that no user belongs to were declared empty: ${emptyGroups.join(', ')}`);

  // ---- write it out
  out.push('');
  out.push('# git4nginx trusted REMOTE_USER from nginx (auth_basic) and never checked passwords; remote-user does the');
  out.push('# same with a header that nginx must set: proxy_set_header X-Remote-User $remote_user;');
  out.push('# (or check passwords in gitward: {plugin: htpasswd, file: /etc/nginx/htpasswd})');
  out.push('authentication:');
  out.push('# Believed over gitward\'s unix socket only (nginx: proxy_pass http://unix:/run/gitward/gitward.sock);');
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
  if (root.read.length + root.write.length + root.hooks.size + root.children.size === 0) out[out.length - 1] = 'repos: {}';
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
  if (node.read.length > 0) out.push(`${pad}.read: ${flow(uniq(node.read))}`);
  if (node.write.length > 0) out.push(`${pad}.write: ${flow(uniq(node.write))}`);
  if (node.hooks.size > 0) {
    out.push(`${pad}.hooks:`);
    for (const [name, options] of node.hooks) out.push(`${pad}  ${name}: ${flow(options)}`);
  }
  for (const [key, child] of node.children) {
    const empty = child.read.length + child.write.length + child.hooks.size + child.children.size === 0;
    out.push(`${pad}${q(key)}:${empty ? ' {}' : ''}`);
    if (!empty) writeNode(child, depth + 1, out);
  }
}
