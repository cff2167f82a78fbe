/**
 * Property: for random git4nginx configs, the config that `import-git4nginx` makes never allows
 * what git4nginx refused. git4nginx's decision is modelled here from the facts of its code
 * (PyYAML's YAML 1.1 types, lookup_groups, Permissions), quirks included:
 * - a user must be a key of plugin_config.users (else 401); a user whose entry or groups make
 *   Python fail (null, a number) gets a 500;
 * - `username in value`: a list is compared by Python equality (the string "123" never equals the
 *   number 123), a string is searched as a substring;
 * - `set(value)` for groups: a string becomes the set of its characters;
 * - a null, number or boolean where a list belongs fails (500) every request that reads the node;
 * - `authorisation` is the only spelling read (else 500 for everything); keys directly under it are
 *   ignored; project group keys are compared with the URL's string, null/~ is the top level;
 * - two levels only: a repo deeper than group/repo.git is never served.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fuzzParams } from '../helpers/fuzz.js';
import { importGit4nginx } from '../../app/config/git4nginx-import.js';
import { loadConfigText } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { decide } from '../../app/policy/decide.js';
import { resolveIdentity } from '../../app/policy/identity.js';

const USERS = ['ann', 'ben', 'cy', 'e', 'dave', 'davexyz', 'yes', '123', 'on'];
const GROUPS = ['eng', 'qa', 'e', 'n', 'g', 'on', '1', 'yes', 'x y'];
const STRINGS = ['davexyz', 'ann', 'eng', 'qa', 'e', 'yes', '123', 'annben'];
const PROJECTS = ['web', 'ops', '1', 'x y', 'web.git', '.read_users', 'null', '~'];
const REPO_KEYS = ['site.git', 'docs.git', 'a b.git', 'x.git', 'site'];
/** Repos on disk under repo_root, as the CLI would find them. */
const ON_DISK = ['stray', 'site', 'web/sub/x'];
// A deeper repo made after the import is not covered: gitward's tree cannot say "two levels only" (README).
/** [project group or null for the top level, repo without .git]; gitward asks `group/repo`. */
const QUESTIONS: [string | null, string][] = [
  [null, 'site'],
  [null, 'docs'],
  [null, 'x'],
  [null, 'stray'],
  ['web', 'site'],
  ['web', 'x'],
  ['web', 'docs'],
  ['ops', 'docs'],
  ['1', 'site'],
  ['other', 'x'],
];

// ---- PyYAML's reading of a plain scalar (the generator writes every name plain)
type Py = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'none' };
const PY_BOOL = /^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const PY_INT = /^[-+]?(0|[1-9][0-9_]*)$/;
function py(text: string): Py {
  if (/^(~|null|Null|NULL|)$/.test(text)) return { t: 'none' };
  // Python: True == 1, False == 0 (and they hash alike), so a bool is its number.
  if (PY_BOOL.test(text)) return { t: 'num', v: /^(yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(text) ? 1 : 0 };
  if (PY_INT.test(text)) return { t: 'num', v: Number(text.replace(/_/g, '')) };
  return { t: 'str', v: text };
}
const eq = (p: Py): string => (p.t === 'str' ? `s:${p.v}` : p.t === 'num' ? `n:${p.v}` : 'none');

// ---- the generated config: list values are a list of names, one plain scalar, or null
type ListValue = { kind: 'list'; names: string[] } | { kind: 'scalar'; text: string } | { kind: 'null' };
type Node = Partial<Record<'.read_users' | '.read_groups' | '.write_users' | '.write_groups', ListValue>>;
interface GroupNode {
  lists: Node;
  repos: [string, Node | null][];
}
interface Gen {
  authKey: 'authorisation' | 'authorization';
  plugin: 'lookup_groups' | null;
  users: [string, { groups?: ListValue } | null][];
  authz: [string, GroupNode | null][];
}

interface Pools {
  users: string[];
  groups: string[];
  strings: string[];
  projects: string[];
  repoKeys: string[];
  /** Whether the generator may write quirks: strings and nulls for lists, the US spelling, no plugin. */
  quirks: boolean;
}
const QUIRKY: Pools = {
  users: USERS,
  groups: GROUPS,
  strings: STRINGS,
  projects: PROJECTS,
  repoKeys: REPO_KEYS,
  quirks: true,
};
/** Names and shapes with one meaning in git4nginx and gitward (cy is named in grants, not in users:). */
const PLAIN: Pools = {
  users: ['ann', 'ben', 'cy', 'dave'],
  groups: ['eng', 'qa', 'ops'],
  strings: [],
  projects: ['web', 'ops', 'null'],
  repoKeys: ['site.git', 'docs.git', 'x.git'],
  quirks: false,
};

function genOf(p: Pools): fc.Arbitrary<Gen> {
  const listValue = (pool: string[]): fc.Arbitrary<ListValue> => {
    const list = fc.subarray(pool).map((names): ListValue => ({ kind: 'list', names }));
    if (!p.quirks) return list;
    return fc.oneof(
      { weight: 8, arbitrary: list },
      { weight: 2, arbitrary: fc.constantFrom(...p.strings).map((text): ListValue => ({ kind: 'scalar', text })) },
      { weight: 1, arbitrary: fc.constant<ListValue>({ kind: 'null' }) },
    );
  };
  const node: fc.Arbitrary<Node> = fc.record(
    {
      '.read_users': listValue(p.users),
      '.read_groups': listValue(p.groups),
      '.write_users': listValue(p.users),
      '.write_groups': listValue(p.groups),
    },
    { requiredKeys: [] },
  );
  const rare = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
    p.quirks ? fc.oneof({ weight: 12, arbitrary: a }, { weight: 1, arbitrary: fc.constant(null) }) : a;
  const sometimes = <T>(usual: T, odd: T): fc.Arbitrary<T> =>
    p.quirks
      ? fc.oneof({ weight: 12, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constant(odd) })
      : fc.constant(usual);
  const groupNode: fc.Arbitrary<GroupNode> = fc.record({
    lists: node,
    repos: fc.uniqueArray(fc.tuple(fc.constantFrom(...p.repoKeys), rare(node)), {
      selector: (x) => x[0],
      maxLength: 4,
    }),
  });
  const members = fc.record({ groups: listValue(p.groups) }, { requiredKeys: [] });
  return fc.record({
    authKey: sometimes<Gen['authKey']>('authorisation', 'authorization'),
    plugin: sometimes<Gen['plugin']>('lookup_groups', null),
    // cy stays out of users: in the plain pools: named in grants only, refused by both.
    users: fc.uniqueArray(fc.tuple(fc.constantFrom(...p.users.filter((u) => p.quirks || u !== 'cy')), rare(members)), {
      selector: (x) => x[0],
    }),
    authz: fc.uniqueArray(fc.tuple(fc.constantFrom(...p.projects), rare(groupNode)), {
      selector: (x) => x[0],
      maxLength: 5,
    }),
  });
}

function renderList(v: ListValue): string {
  return v.kind === 'list' ? ` [${v.names.join(', ')}]` : v.kind === 'scalar' ? ` ${v.text}` : '';
}
function renderNode(n: Node, pad: string, out: string[]): void {
  for (const [k, v] of Object.entries(n)) out.push(`${pad}${k}:${renderList(v as ListValue)}`);
}
function render(g: Gen): string {
  const out = ['repo_root: /srv/git', 'authentication:'];
  if (g.plugin !== null) out.push(`  plugin: ${g.plugin}`);
  out.push('  plugin_config:', '    users:');
  if (g.users.length === 0) out[out.length - 1] += ' {}';
  for (const [name, u] of g.users) {
    if (u === null) out.push(`      ${name}:`);
    else out.push(`      ${name}: {${u.groups ? `groups:${renderList(u.groups) || ' null'}` : ''}}`);
  }
  out.push(`${g.authKey}:${g.authz.length === 0 ? ' {}' : ''}`);
  for (const [key, gn] of g.authz) {
    if (gn === null) {
      out.push(`  ${key}:`);
      continue;
    }
    const lines: string[] = [];
    renderNode(gn.lists, '    ', lines);
    for (const [rk, rn] of gn.repos) {
      if (rn === null) lines.push(`    ${rk}:`);
      else if (Object.keys(rn).length === 0) lines.push(`    ${rk}: {}`);
      else {
        lines.push(`    ${rk}:`);
        renderNode(rn, '      ', lines);
      }
    }
    if (key.startsWith('.')) {
      // A key directly under authorisation: git4nginx ignores it; give it a list value.
      out.push(`  ${key}: [ann]`);
      continue;
    }
    out.push(`  ${key}:${lines.length === 0 ? ' {}' : ''}`, ...lines);
  }
  return out.join('\n') + '\n';
}

/** git4nginx's answer for `user` on `<group>/<repo>.git` (group null: the top level); false for 401/403/500. */
function git4nginx(g: Gen, user: string, group: string | null, repo: string, need: 'read' | 'write'): boolean {
  const fail = Symbol('500');
  try {
    if (g.authKey !== 'authorisation' || g.plugin !== 'lookup_groups') return false;
    const users = new Map<string, { groups?: ListValue } | null>();
    for (const [name, u] of g.users) users.set(eq(py(name)), u);
    if (!users.has(`s:${user}`)) return false;
    const entry = users.get(`s:${user}`);
    if (entry === null || entry === undefined) throw fail;
    const groups = new Set<string>();
    const gv = entry.groups;
    if (gv !== undefined) {
      if (gv.kind === 'list') for (const n of gv.names) groups.add(eq(py(n)));
      else if (gv.kind === 'scalar' && py(gv.text).t === 'str') for (const c of gv.text) groups.add(`s:${c}`);
      else throw fail;
    }
    const authz = new Map<string, GroupNode | null>();
    for (const [key, gn] of g.authz) authz.set(eq(py(key)), gn);
    const gkey = group === null ? 'none' : `s:${group}`;
    if (!authz.has(gkey)) return false;
    const gnode = authz.get(gkey);
    const perm = { read: false, write: false };
    const check = (n: Node | null | undefined): boolean => {
      if (n === null || n === undefined) throw fail;
      for (const [key, v] of Object.entries(n) as [keyof Node, ListValue][]) {
        const isGroup = key.endsWith('_groups');
        let hit: boolean;
        if (v.kind === 'list') {
          const items = v.names.map((x) => eq(py(x)));
          hit = isGroup ? items.some((i) => groups.has(i)) : items.includes(`s:${user}`);
        } else if (v.kind === 'scalar' && py(v.text).t === 'str') {
          hit = isGroup ? [...v.text].some((c) => groups.has(`s:${c}`)) : v.text.includes(user);
        } else throw fail;
        if (hit && key.startsWith('.write')) perm.write = perm.read = true;
        else if (hit) perm.read = true;
      }
      return perm.read && perm.write;
    };
    if (gnode === null || gnode === undefined) throw fail;
    if (check(gnode.lists)) return true;
    const repoNodes = new Map(gnode.repos.map(([k, v]) => [k, v] as const));
    if (!repoNodes.has(`${repo}.git`)) return perm[need];
    check(repoNodes.get(`${repo}.git`));
    return perm[need];
  } catch (err) {
    if (err === fail) return false;
    throw err;
  }
}

/** Asks every question of both sides for each generated config; `exact` also wants no narrowing. */
function compare(p: Pools, onDisk: readonly string[], exact: boolean): void {
  fc.assert(
    fc.property(genOf(p), (g) => {
      const old = render(g);
      const text = importGit4nginx(old, 'old.yaml', onDisk);
      const policy = compilePolicy(loadConfigText(text, '/etc/gitward/gitward.yaml'));
      for (const user of p.users) {
        const id = resolveIdentity(policy, user, 'remote-user');
        for (const need of ['read', 'write'] as const) {
          for (const [group, repo] of QUESTIONS) {
            const ours = decide(policy, id, group === null ? repo : `${group}/${repo}`, need).allowed;
            const theirs = git4nginx(g, user, group, repo, need);
            const where = `${user} ${need} ${group ?? '(top)'}/${repo}`;
            assert.ok(!ours || theirs, `${where}: allowed after the import, refused by git4nginx:\n${old}\n${text}`);
            if (exact)
              assert.equal(ours, theirs, `${where}: refused after the import, allowed by git4nginx:\n${old}\n${text}`);
          }
          for (const repo of onDisk.filter((r) => r.split('/').length > 2)) {
            assert.equal(decide(policy, id, repo, need).allowed, false, `${user} ${need} ${repo}:\n${old}\n${text}`);
          }
        }
      }
    }),
    // A fixed seed (as the fuzz tests), printed with any failure to replay it.
    fuzzParams(exact ? 'git4nginx-import-exact' : 'git4nginx-import', 300),
  );
}

test('import-git4nginx never widens access: random git4nginx configs with its quirks, every user, repo, read/write', () => {
  compare(QUIRKY, ON_DISK, false);
});

test('import-git4nginx keeps the meaning exactly where git4nginx has one: random configs without quirks', () => {
  // Every top-level repo asked about is on disk, so the null key's grants can reach it.
  compare(PLAIN, ['site', 'docs', 'x', 'stray', 'web/sub/x'], true);
});
