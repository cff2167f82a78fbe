/**
 * Fuzzing of the config loader (pure: buildConfig with the htpasswd read stubbed): mutations of
 * valid YAML configs at the text level, unknown keys injected where the schema is closed, and
 * values of the wrong type. Where the schema is closed is read from examples/gitward.schema.json
 * (which test/config/fixtures.test.ts keeps in agreement with the loader), so a key the loader
 * learns is known here without a second list to update. It throws nothing but ConfigError (every problem as FILE:LINE: …),
 * returns only frozen configs, and never accepts a file with an unknown key or a duplicate key
 * (which would be silently dropped).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import yaml from 'js-yaml';
import { buildConfig } from '../../app/config/build-config.js';
import { ConfigError } from '../../app/errors.js';
import fc from 'fast-check';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutated } from '../helpers/fuzz.js';

const FILE = '/srv/gitward/gitward.yaml';
const HTPASSWD =
  'ann:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\nben:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\ncarl:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n';
const readFile = (): string => HTPASSWD;

const SAMPLES = [
  `$schema: ./gitward.schema.json
repo_root: ./repos
listen: 127.0.0.1:8080
base_path: /
realm: gitward
hide_existence: true
dumb_http: false
server: {headers_timeout_seconds: 60, idle_timeout_seconds: 300, shutdown_grace_seconds: 30, trusted_proxies: [127.0.0.1/32, "::1/128", unix]}
log: {level: info, format: json, audit: null}
credential_cache: {ttl_seconds: 60, max_entries: 10000}
brute_force: {max_failures: 10, window_seconds: 300}
sidecar: {enabled: true, path: /_gitward/auth}
authentication:
  - {plugin: remote-user, header: X-Remote-User, trusted_proxies: [127.0.0.1/32, "::1/128", unix]}
  - {plugin: htpasswd, file: users.htpasswd}
users: {ann: {groups: [eng], info: {name: Ann Example, email: ann@example.org}}, ben: {groups: [qa]}}
groups: {staff: ["@eng", "@qa", carl], release: [ann]}
repos:
  .read: ["@staff"]
  web:
    .write: ["@eng"]
    .hooks:
      branch-flow: {flow: [dev, staging, main]}
      branch-protect: {branches: {main: {push: ["@release"]}}}
    site.git: {.write: [ben]}
    secret.git: {.inherit: false, .read: [ann]}
hooks: {order: [branch-protect, branch-flow], plugins: {}, local_user: $local}
repo_defaults: {initial_branch: main, deny_non_fast_forwards: true, deny_deletes: true, install_hooks: true}
compat: {git4nginx_env: false}
tests: [{user: ben, repo: web/site, can: write}, {user: ann, repo: web/secret, cannot: write}]
`,
  `repo_root: /srv/git
authentication:
  - plugin: htpasswd
    file: users.htpasswd
users:
  ann:
    groups: [eng]
repos:
  .read: [$authenticated]
  a.git:
    .write: ["@eng"]
  deep:
    deeper:
      x.git: {.read: [$all]}
`,
  `repo_root: r
listen: unix:/run/gitward/gitward.sock
server: {shutdown_grace_seconds: 1}
authentication: [{plugin: htpasswd, file: users.htpasswd}]
shared: &eng ["@eng", ben]
`.replace('shared: &eng ["@eng", ben]\n', '') +
    'users: {ann: {groups: [eng]}}\nrepos:\n  .read: &readers ["@eng", ben]\n  x.git: {.write: *readers}\n',
];

// The schema lives in the source tree; tests run from dist/test/fuzz.
const SCHEMA = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'examples', 'gitward.schema.json'), 'utf8'),
) as SchemaNode;

/** The parts of JSON Schema that say which keys a map may have. */
interface SchemaNode {
  readonly $ref?: string;
  readonly $defs?: Readonly<Record<string, SchemaNode>>;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly patternProperties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
}

/** A map where the schema is closed: a path into the parsed document (`*`: any key or item) and the keys allowed there. */
interface Closed {
  readonly at: readonly string[];
  readonly keys: readonly string[];
}

/**
 * Every closed map of the schema (additionalProperties: false), found by walking properties,
 * additionalProperties and items. The repo tree (maps with patternProperties: child names) is not
 * one: its settings are checked apart, against NODE_SETTINGS.
 */
function closedMaps(node: SchemaNode, at: readonly string[] = [], depth = 0): Closed[] {
  assert.ok(depth < 20, `schema walk too deep at ${at.join('.')}`);
  if (node.$ref !== undefined) {
    const target = SCHEMA.$defs?.[node.$ref.replace('#/$defs/', '')];
    assert.ok(target, `unresolved $ref ${node.$ref}`);
    return closedMaps(target, at, depth + 1);
  }
  if (node.patternProperties !== undefined) return [];
  const out: Closed[] = [];
  if (node.additionalProperties === false && node.properties !== undefined)
    out.push({ at, keys: Object.keys(node.properties) });
  for (const [k, v] of Object.entries(node.properties ?? {})) out.push(...closedMaps(v, [...at, k], depth + 1));
  if (typeof node.additionalProperties === 'object')
    out.push(...closedMaps(node.additionalProperties, [...at, '*'], depth + 1));
  if (node.items !== undefined) out.push(...closedMaps(node.items, [...at, '*'], depth + 1));
  return out;
}

const CLOSED: readonly Closed[] = closedMaps(SCHEMA);
/** The schema, compiled by ajv as test/config/fixtures.test.ts does. */
const validateSchema = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
}).compile(SCHEMA as object);
/** The settings of a repo-tree node (keys starting with "."), as the schema's project group has them. */
const NODE_SETTINGS = Object.keys(SCHEMA.$defs?.groupNode?.properties ?? {});

type Doc = Record<string, unknown>;
const isMap = (v: unknown): v is Doc => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What `fc.gen()` hands a property: draws a value from an arbitrary, replayed and shrunk by fast-check. */
type Gen = fc.GeneratorValue;

/** Typos and near-misses of an allowed key, and unrelated names: never an allowed key. */
function unknownKeyLike(g: Gen, allowed: readonly string[]): string {
  for (;;) {
    const base = g(fc.constantFrom, ...allowed);
    const k = g(() =>
      fc.oneof(
        fc.constant(base.slice(0, -1)),
        fc.constant(`${base}s`),
        fc.constant(base.replace(/_/g, '-')),
        fc.constant(base.toUpperCase()),
        fc.constant(base.charAt(0).toUpperCase() + base.slice(1)),
        fc.constant(`${base}_`),
        fc.constant(` ${base}`),
        fc.string({ unit: fc.constantFrom(...'abcdefgh'), maxLength: 6 }).map((x) => `x_${x}`),
        mutated(fc.constant(base), ['_', '-', '.', 'x']),
      ),
    );
    if (k !== '' && !allowed.includes(k) && !k.includes('\n')) return k;
  }
}

/** The maps at `at` in `doc` (`*` stands for every key of a map and every item of a list). */
function nodesAt(doc: unknown, at: readonly string[]): Doc[] {
  let nodes: unknown[] = [doc];
  for (const step of at) {
    nodes = nodes.flatMap((n) =>
      step !== '*' ? (isMap(n) ? [n[step]] : []) : Array.isArray(n) ? n : isMap(n) ? Object.values(n) : [],
    );
  }
  return nodes.filter(isMap);
}

/** Every repo-tree node (a map under `repos`), with its path. */
function repoNodes(doc: Doc): Doc[] {
  const out: Doc[] = [];
  const walk = (n: unknown): void => {
    if (!isMap(n)) return;
    out.push(n);
    for (const [k, v] of Object.entries(n)) if (!k.startsWith('.')) walk(v);
  };
  walk(doc.repos);
  return out;
}

function expectOnlyConfigError(text: string): 'ok' | 'error' {
  try {
    const config = buildConfig(text, FILE, { readFile });
    assert.ok(Object.isFrozen(config), 'config not frozen');
    assert.ok(Object.isFrozen(config.server) && Object.isFrozen(config.authentication), 'config not deeply frozen');
    return 'ok';
  } catch (err) {
    assert.ok(
      err instanceof ConfigError,
      `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
    assert.ok(err.problems.length > 0, 'ConfigError without problems');
    for (const p of err.problems)
      assert.match(p, /^\/srv\/gitward\/gitward\.yaml:\d+: \S/, `problem not FILE:LINE: ${JSON.stringify(p)}`);
    return 'error';
  }
}

/** For an accepted text: no duplicate key anywhere, no unknown key where the schema is closed. */
function assertNothingDropped(text: string): void {
  let doc: unknown;
  // Without `json: true` js-yaml refuses duplicate keys: an accepted file must have none.
  assert.doesNotThrow(
    () => (doc = yaml.load(text, { schema: yaml.JSON_SCHEMA })),
    'accepted a file with a duplicate key',
  );
  if (!isMap(doc)) return;
  for (const { at, keys } of CLOSED) {
    for (const node of nodesAt(doc, at)) {
      for (const k of Object.keys(node))
        assert.ok(keys.includes(k), `unknown key ${JSON.stringify(k)} at ${at.join('.') || '(top)'} accepted`);
    }
  }
  for (const node of repoNodes(doc)) {
    for (const k of Object.keys(node))
      if (k.startsWith('.'))
        assert.ok(NODE_SETTINGS.includes(k), `unknown setting ${JSON.stringify(k)} in repos accepted`);
  }
  // The schema is looser than the loader, never stricter: what the loader accepts, it accepts.
  assert.ok(
    validateSchema(doc),
    `the loader accepts what the JSON Schema refuses: ${JSON.stringify(validateSchema.errors)}`,
  );
}

test(
  'config text mutations: only ConfigError, and nothing accepted is silently dropped',
  { timeout: FUZZ_TIMEOUT_MS },
  () => {
    const seen = { ok: 0, error: 0 };
    for (const s of SAMPLES) assert.equal(expectOnlyConfigError(s), 'ok', 'a sample does not load');
    const tokens = [
      ...'{}[],:#&*!|>-?\'"\n\t ',
      '\n  ',
      '\n- ',
      ': ',
      '.read',
      '$all',
      '@eng',
      '~',
      'null',
      '0x10',
      '1e3',
      '..',
      '/',
    ];
    fc.assert(
      fc.property(mutated(fc.constantFrom(...SAMPLES), tokens), (text) => {
        const r = expectOnlyConfigError(text);
        seen[r]++;
        if (r === 'ok') assertNothingDropped(text);
      }),
      fuzzParams('config-text'),
    );
    assert.ok(seen.ok > 0 && seen.error > 0, JSON.stringify(seen));
  },
);

test('an unknown key anywhere the schema is closed is always an error naming it', { timeout: FUZZ_TIMEOUT_MS }, () => {
  // The keys go into every section: the closed maps read from the schema include each of them.
  const at = (a: readonly string[]): string => a.join('.') || '(top)';
  const found = new Set(CLOSED.map((c) => at(c.at)));
  for (const section of [
    '(top)',
    'server',
    'log',
    'credential_cache',
    'brute_force',
    'sidecar',
    'hooks',
    'repo_defaults',
    'compat',
    'metrics',
    'api',
    'users.*',
    'tests.*',
  ]) {
    assert.ok(found.has(section), `no closed map at ${section}: ${[...found].join(', ')}`);
  }
  assert.deepEqual([...NODE_SETTINGS].sort(), ['.admin', '.create', '.hooks', '.inherit', '.read', '.write']);
  const injected = fc.gen().map((g) => {
    const doc = yaml.load(g(fc.constantFrom, ...SAMPLES.slice(0, 2)), { schema: yaml.JSON_SCHEMA }) as Doc;
    let key: string;
    if (g(fc.integer, { min: 0, max: 3 }) === 0) {
      const node = g(fc.constantFrom, ...repoNodes(doc));
      key = `.${unknownKeyLike(
        g,
        NODE_SETTINGS.map((s) => s.slice(1)),
      )}`;
      node[key] = g(fc.constantFrom, ['ann'], true, null, 'x');
    } else {
      // A closed map of this document: missing sections are added; `*` takes an existing child.
      let node: Doc | undefined;
      let keys: readonly string[] = [];
      while (node === undefined) {
        const closed = g(fc.constantFrom, ...CLOSED);
        keys = closed.keys;
        let at: Doc | undefined = doc;
        for (const step of closed.at) {
          if (at === undefined) break;
          if (step === '*') {
            const children = nodesAt(at, ['*']);
            at = children.length > 0 ? g(fc.constantFrom, ...children) : undefined;
          } else {
            if (!isMap(at[step])) at[step] = {};
            at = at[step] as Doc;
          }
        }
        node = at;
      }
      key = unknownKeyLike(g, keys);
      node[key] = g(fc.constantFrom, 1, 'x', true, null, [], {});
    }
    return { key, text: yaml.dump(doc, { lineWidth: -1 }) };
  });
  fc.assert(
    fc.property(injected, ({ key, text }) => {
      let err: unknown = null;
      try {
        buildConfig(text, FILE, { readFile });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError, `accepted unknown key ${JSON.stringify(key)}`);
      const name = key.trim().replace(/^\./, '');
      assert.ok(
        err.problems.some((p) => p.includes(name)),
        `no problem names ${JSON.stringify(key)}: ${err.problems.join(' | ')}`,
      );
    }),
    fuzzParams('config-unknown-key', Math.ceil(FUZZ_RUNS / 2)),
  );
});

test('values of the wrong type anywhere: only ConfigError', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const VALUES: unknown[] = [
    null,
    0,
    -1,
    1.5,
    2 ** 53,
    '',
    'x',
    '../../etc',
    true,
    [],
    [null],
    [1, 'a'],
    {},
    { a: 1 },
    'a'.repeat(5000),
  ];
  const retyped = fc.gen().map((g) => {
    const doc = yaml.load(g(fc.constantFrom, ...SAMPLES.slice(0, 2)), { schema: yaml.JSON_SCHEMA }) as Doc;
    // Replace 1–3 values found by a random walk.
    for (let i = g(fc.integer, { min: 1, max: 3 }); i > 0; i--) {
      let node: unknown = doc;
      let parent: Doc | unknown[] | null = null;
      let key: string | number = '';
      for (let depth = 0; depth < 6 && (isMap(node) || Array.isArray(node)); depth++) {
        const keys: Array<string | number> = Array.isArray(node) ? node.map((_, j) => j) : Object.keys(node);
        if (keys.length === 0 || (depth > 0 && g(fc.integer, { min: 0, max: 9 }) < 3)) break;
        parent = node as Doc | unknown[];
        key = g(fc.constantFrom, ...keys);
        node = (parent as Record<string | number, unknown>)[key];
      }
      // A copy: a shared value could end up inside itself (a cycle, see config-cyclic-alias).
      if (parent !== null)
        (parent as Record<string | number, unknown>)[key] = structuredClone(g(fc.constantFrom, ...VALUES));
    }
    return yaml.dump(doc, { lineWidth: -1 });
  });
  fc.assert(
    fc.property(retyped, (text) => {
      if (expectOnlyConfigError(text) === 'ok') assertNothingDropped(text);
    }),
    fuzzParams('config-types'),
  );
});

test('an alias inside its own anchor is a ConfigError, not a stack overflow', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const fixed = [
    'repo_root: &a [*a]\n',
    'repo_root: &a\n  - *a\n',
    'repo_root: r\nrepos: &t\n  x: *t\n',
    'repo_root: r\nusers: &u {ann: {info: *u}}\n',
  ];
  for (const text of fixed) assert.equal(expectOnlyConfigError(text), 'error', text);
  // Cycles hidden in otherwise valid samples, at random places.
  const cyclic = fc.gen().map((g) => {
    const doc = yaml.load(g(fc.constantFrom, ...SAMPLES.slice(0, 2)), { schema: yaml.JSON_SCHEMA }) as Doc;
    const holder: unknown[] = ['x'];
    holder.push(holder);
    const node = g(fc.constantFrom, ...repoNodes(doc));
    node[g(fc.constantFrom, '.read', '.write', 'child')] = holder;
    return yaml.dump(doc, { lineWidth: -1 });
  });
  fc.assert(
    fc.property(cyclic, (text) => assert.equal(expectOnlyConfigError(text), 'error')),
    fuzzParams('config-cyclic-alias', 200),
  );
});

test('a duplicate key after a key without a value is an error, not silently dropped', () => {
  const base = 'repo_root: r\nauthentication: [{plugin: htpasswd, file: users.htpasswd}]\n';
  for (const tail of [
    'credential_cache: {ttl_seconds: 60, max_entries, max_entries: 10000}\n',
    'credential_cache:\n  ? max_entries\n  max_entries: 7\n',
    '? realm\nrealm: b\n',
    'users: {ann: {groups, groups: [eng]}}\n',
  ]) {
    assert.equal(expectOnlyConfigError(base + tail), 'error', tail);
  }
});
