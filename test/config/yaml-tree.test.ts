import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseYamlTree, type YamlNode } from '../../app/config/yaml-tree.js';

/** Flattens a tree to `path@line=value` strings, the shape the loader's messages rely on. */
function flat(n: YamlNode | null, at = '', out: string[] = []): string[] {
  if (!n) return out;
  if (n.kind === 'map')
    for (const e of n.entries) {
      out.push(`${at}${String(e.key)}@${e.line}`);
      flat(e.value, `${at}${String(e.key)}.`, out);
    }
  else if (n.kind === 'seq')
    n.items.forEach((item, i) => {
      out.push(`${at}[${i}]@${item.line}`);
      flat(item, `${at}[${i}].`, out);
    });
  else out.push(`${at}=${JSON.stringify(n.value)}`);
  return out;
}

const CASES: [name: string, yaml: string, expected: string[]][] = [
  [
    'block mapping and block sequence',
    'a: 1\nb:\n  - x\n  - y\n',
    ['a@1', 'a.=1', 'b@2', 'b.[0]@3', 'b.[0].="x"', 'b.[1]@4', 'b.[1].="y"'],
  ],
  [
    'flow collections keep their line',
    'a: {b: [c, d]}\n',
    ['a@1', 'a.b@1', 'a.b.[0]@1', 'a.b.[0].="c"', 'a.b.[1]@1', 'a.b.[1].="d"'],
  ],
  [
    'sequence of mappings (authentication entries)',
    'l:\n  - {p: x}\n  - p: y\n    q: z\n',
    [
      'l@1',
      'l.[0]@2',
      'l.[0].p@2',
      'l.[0].p.="x"',
      'l.[1]@3',
      'l.[1].p@3',
      'l.[1].p.="y"',
      'l.[1].q@4',
      'l.[1].q.="z"',
    ],
  ],
  ['explicit keys', '? k\n: v\n', ['k@1', 'k.="v"']],
  ['duplicate keys are kept, in order', 'a: 1\na: 2\n', ['a@1', 'a.=1', 'a@2', 'a.=2']],
  [
    'YAML 1.1 words stay strings; null, numbers and booleans are typed',
    'x: [yes, on, no, off, ~, null, 1, true]\n',
    [
      'x@1',
      'x.[0]@1',
      'x.[0].="yes"',
      'x.[1]@1',
      'x.[1].="on"',
      'x.[2]@1',
      'x.[2].="no"',
      'x.[3]@1',
      'x.[3].="off"',
      'x.[4]@1',
      'x.[4].=null',
      'x.[5]@1',
      'x.[5].=null',
      'x.[6]@1',
      'x.[6].=1',
      'x.[7]@1',
      'x.[7].=true',
    ],
  ],
  [
    'null and number keys stay typed',
    'null: 1\n~: 2\n12: 3\n',
    ['null@1', 'null.=1', 'null@2', 'null.=2', '12@3', '12.=3'],
  ],
  ['empty values are null', 'a:\nb: {}\nc: []\n', ['a@1', 'a.=null', 'b@2', 'c@3']],
  [
    'aliases expand at the alias line',
    'a: &x [p]\nb: *x\n',
    ['a@1', 'a.[0]@1', 'a.[0].="p"', 'b@2', 'b.[0]@2', 'b.[0].="p"'],
  ],
  ['comments and blank lines count', '# c\n\na: 1 # c\n', ['a@3', 'a.=1']],
];

for (const [name, yaml, expected] of CASES) {
  test(`parseYamlTree: ${name}`, () => {
    const r = parseYamlTree(yaml);
    assert.ok(r.ok);
    assert.deepEqual(flat(r.root), expected);
  });
}

test('parseYamlTree: syntax errors carry their line', () => {
  const r = parseYamlTree('a: 1\nb: [c\nd: e\n');
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.line, 3);
  const tab = parseYamlTree('a:\n\t- b\n');
  assert.equal(tab.ok, false);
});

test('parseYamlTree: an empty document has no root', () => {
  const r = parseYamlTree('# only a comment\n');
  assert.deepEqual(r, { ok: true, root: null });
});
