/**
 * Fuzzing of the config loader (pure: buildConfig with the htpasswd read stubbed): mutations of
 * valid YAML configs at the text level, unknown keys injected where the schema is closed, and
 * values of the wrong type. It throws nothing but ConfigError (every problem as FILE:LINE: …),
 * returns only frozen configs, and never accepts a file with an unknown key or a duplicate key
 * (which would be silently dropped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { buildConfig } from '../../app/config/build-config.js';
import { ConfigError } from '../../app/errors.js';
import { FUZZ_ITERATIONS, forAll, fuzzRng, mutate, type Rng } from '../helpers/fuzz.js';

const FILE = '/srv/gitward/gitward.yaml';
const HTPASSWD = 'ann:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\nben:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\ncarl:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n';
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
authentication: [{plugin: htpasswd, file: users.htpasswd}]
shared: &eng ["@eng", ben]
`.replace('shared: &eng ["@eng", ben]\n', '') +
    'users: {ann: {groups: [eng]}}\nrepos:\n  .read: &readers ["@eng", ben]\n  x.git: {.write: *readers}\n',
];

/** Where the schema is closed: a path into the parsed document and the keys allowed there. */
const CLOSED: ReadonlyArray<{ readonly at: readonly string[]; readonly keys: readonly string[] }> = [
  { at: [], keys: ['$schema', 'repo_root', 'listen', 'base_path', 'realm', 'hide_existence', 'dumb_http', 'server', 'log', 'credential_cache', 'brute_force', 'sidecar', 'authentication', 'users', 'groups', 'repos', 'hooks', 'repo_defaults', 'compat', 'tests'] },
  { at: ['server'], keys: ['headers_timeout_seconds', 'idle_timeout_seconds', 'shutdown_grace_seconds', 'trusted_proxies'] },
  { at: ['log'], keys: ['level', 'format', 'audit'] },
  { at: ['credential_cache'], keys: ['ttl_seconds', 'max_entries'] },
  { at: ['brute_force'], keys: ['max_failures', 'window_seconds'] },
  { at: ['sidecar'], keys: ['enabled', 'path'] },
  { at: ['hooks'], keys: ['order', 'plugins', 'local_user', 'log_file'] },
  { at: ['repo_defaults'], keys: ['initial_branch', 'deny_non_fast_forwards', 'deny_deletes', 'install_hooks'] },
  { at: ['compat'], keys: ['git4nginx_env'] },
  { at: ['users', 'ann'], keys: ['groups', 'info'] },
];
const NODE_SETTINGS = ['.read', '.write', '.inherit', '.hooks'];

type Doc = Record<string, unknown>;
const isMap = (v: unknown): v is Doc => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Typos and near-misses of `key`, and unrelated names. */
function unknownKeyLike(rng: Rng, allowed: readonly string[]): string {
  for (;;) {
    const base = rng.pick(allowed);
    const k = rng.pick([
      () => base.slice(0, -1),
      () => `${base}s`,
      () => base.replace(/_/g, '-'),
      () => base.toUpperCase(),
      () => base.charAt(0).toUpperCase() + base.slice(1),
      () => `${base}_`,
      () => ` ${base}`,
      () => `x_${rng.string('abcdefgh', 6)}`,
      () => mutate(rng, base, ['_', '-', '.', 'x']),
    ])();
    if (k !== '' && !allowed.includes(k) && !k.includes('\n')) return k;
  }
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
    assert.ok(err instanceof ConfigError, `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    assert.ok(err.problems.length > 0, 'ConfigError without problems');
    for (const p of err.problems) assert.match(p, /^\/srv\/gitward\/gitward\.yaml:\d+: \S/, `problem not FILE:LINE: ${JSON.stringify(p)}`);
    return 'error';
  }
}

/** For an accepted text: no duplicate key anywhere, no unknown key where the schema is closed. */
function assertNothingDropped(text: string): void {
  let doc: unknown;
  // Without `json: true` js-yaml refuses duplicate keys: an accepted file must have none.
  assert.doesNotThrow(() => (doc = yaml.load(text, { schema: yaml.JSON_SCHEMA })), 'accepted a file with a duplicate key');
  if (!isMap(doc)) return;
  for (const { at, keys } of CLOSED) {
    let node: unknown = doc;
    for (const step of at) node = isMap(node) ? node[step] : undefined;
    if (!isMap(node)) continue;
    for (const k of Object.keys(node)) assert.ok(keys.includes(k), `unknown key ${JSON.stringify(k)} at ${at.join('.') || '(top)'} accepted`);
  }
  for (const node of repoNodes(doc)) {
    for (const k of Object.keys(node)) if (k.startsWith('.')) assert.ok(NODE_SETTINGS.includes(k), `unknown setting ${JSON.stringify(k)} in repos accepted`);
  }
}

test('config text mutations: only ConfigError, and nothing accepted is silently dropped', () => {
  const rng = fuzzRng('config-text');
  const seen = { ok: 0, error: 0 };
  for (const s of SAMPLES) assert.equal(expectOnlyConfigError(s), 'ok', 'a sample does not load');
  forAll(rng, FUZZ_ITERATIONS, () => mutate(rng, rng.pick(SAMPLES), [...'{}[],:#&*!|>-?\'"\n\t ', '\n  ', '\n- ', ': ', '.read', '$all', '@eng', '~', 'null', '0x10', '1e3', '..', '/']), (text) => {
    const r = expectOnlyConfigError(text);
    seen[r]++;
    if (r === 'ok') assertNothingDropped(text);
  });
  assert.ok(seen.ok > 0 && seen.error > 0, JSON.stringify(seen));
});

test('an unknown key anywhere the schema is closed is always an error naming it', () => {
  const rng = fuzzRng('config-unknown-key');
  forAll(
    rng,
    Math.ceil(FUZZ_ITERATIONS / 2),
    () => {
      const doc = yaml.load(rng.pick(SAMPLES.slice(0, 2)), { schema: yaml.JSON_SCHEMA }) as Doc;
      let key: string;
      if (rng.chance(0.25)) {
        const node = rng.pick(repoNodes(doc));
        key = `.${unknownKeyLike(rng, NODE_SETTINGS.map((s) => s.slice(1)))}`;
        node[key] = rng.pick([['ann'], true, null, 'x']);
      } else {
        const { at, keys } = rng.pick(CLOSED);
        let node: Doc = doc;
        for (const step of at) {
          if (!isMap(node[step])) node[step] = {};
          node = node[step] as Doc;
        }
        key = unknownKeyLike(rng, keys);
        node[key] = rng.pick([1, 'x', true, null, [], {}]);
      }
      return { key, text: yaml.dump(doc, { lineWidth: -1 }) };
    },
    ({ key, text }) => {
      let err: unknown = null;
      try {
        buildConfig(text, FILE, { readFile });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError, `accepted unknown key ${JSON.stringify(key)}`);
      const name = key.trim().replace(/^\./, '');
      assert.ok(err.problems.some((p) => p.includes(name)), `no problem names ${JSON.stringify(key)}: ${err.problems.join(' | ')}`);
    },
  );
});

test('values of the wrong type anywhere: only ConfigError', () => {
  const rng = fuzzRng('config-types');
  const VALUES: unknown[] = [null, 0, -1, 1.5, 2 ** 53, '', 'x', '../../etc', true, [], [null], [1, 'a'], {}, { a: 1 }, 'a'.repeat(5000)];
  forAll(
    rng,
    FUZZ_ITERATIONS,
    () => {
      const doc = yaml.load(rng.pick(SAMPLES.slice(0, 2)), { schema: yaml.JSON_SCHEMA }) as Doc;
      // Replace 1–3 values found by a random walk.
      for (let i = rng.range(1, 3); i > 0; i--) {
        let node: unknown = doc;
        let parent: Doc | unknown[] | null = null;
        let key: string | number = '';
        for (let depth = 0; depth < 6 && (isMap(node) || Array.isArray(node)); depth++) {
          const keys: Array<string | number> = Array.isArray(node) ? node.map((_, j) => j) : Object.keys(node);
          if (keys.length === 0 || (depth > 0 && rng.chance(0.3))) break;
          parent = node as Doc | unknown[];
          key = rng.pick(keys);
          node = (parent as Record<string | number, unknown>)[key];
        }
        // A copy: a shared value could end up inside itself (a cycle, see config-cyclic-alias).
        if (parent !== null) (parent as Record<string | number, unknown>)[key] = structuredClone(rng.pick(VALUES));
      }
      return yaml.dump(doc, { lineWidth: -1 });
    },
    (text) => {
      if (expectOnlyConfigError(text) === 'ok') assertNothingDropped(text);
    },
  );
});

test('an alias inside its own anchor is a ConfigError, not a stack overflow', () => {
  const rng = fuzzRng('config-cyclic-alias');
  const fixed = ['repo_root: &a [*a]\n', 'repo_root: &a\n  - *a\n', 'repo_root: r\nrepos: &t\n  x: *t\n', 'repo_root: r\nusers: &u {ann: {info: *u}}\n'];
  for (const text of fixed) assert.equal(expectOnlyConfigError(text), 'error', text);
  // Cycles hidden in otherwise valid samples, at random places.
  forAll(
    rng,
    200,
    () => {
      const doc = yaml.load(rng.pick(SAMPLES.slice(0, 2)), { schema: yaml.JSON_SCHEMA }) as Doc;
      const holder: unknown[] = ['x'];
      holder.push(holder);
      const node = rng.pick(repoNodes(doc));
      node[rng.pick(['.read', '.write', 'child'])] = holder;
      return yaml.dump(doc, { lineWidth: -1 });
    },
    (text) => assert.equal(expectOnlyConfigError(text), 'error'),
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
