import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020.js';
import yaml from 'js-yaml';
import { ConfigError } from '../../app/errors.js';
import { loadConfig } from '../../app/config/load.js';
import { parseYamlTree, type YamlNode } from '../../app/config/yaml-tree.js';
import { tempDir } from '../helpers/tmp.js';

// Fixtures live in the source tree; tests run from dist/test/config.
const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'config');
const SCHEMA = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'gitward.schema.json'), 'utf8')) as Record<
  string,
  unknown
>;

const fixtures = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

async function problemsOf(name: string): Promise<string[]> {
  try {
    await loadConfig(path.join(FIXTURES, name));
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => p.split(`${FIXTURES}/`).join(''));
  }
}

test('there are valid and invalid fixtures', () => {
  assert.ok(fixtures.filter((f) => f.startsWith('valid-')).length >= 3);
  assert.ok(fixtures.filter((f) => f.startsWith('invalid-')).length >= 10);
});

for (const name of fixtures) {
  test(`fixture ${name}: the loader reports exactly the lines of ${name.replace(/\.yaml$/, '.errors')}`, async () => {
    const expected = fs.readFileSync(path.join(FIXTURES, name.replace(/\.yaml$/, '.errors')), 'utf8');
    const got = await problemsOf(name);
    assert.equal(got.length === 0 ? '' : got.join('\n') + '\n', expected);
    assert.equal(got.length === 0, name.startsWith('valid-'), 'valid-* fixtures load, invalid-* ones do not');
  });
}

// ---- examples/gitward.schema.json, checked by ajv (JSON Schema 2020-12) ----

// strict: a keyword ajv does not know, or a schema it cannot read exactly, throws here. Except
// strictRequired: `oneOf: [{required: [can]}, {required: [cannot]}]` names properties declared
// beside it, which is plain JSON Schema; and a union of types (a user's info value: any scalar).
const validateSchema = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
}).compile(SCHEMA);

/** One step of a JSON Pointer (RFC 6901): ~1 is "/", ~0 is "~". */
const unescapePointer = (step: string): string => step.replace(/~1/g, '/').replace(/~0/g, '~');

/** The instance paths (keys and indexes) where `value` breaks the schema, as ajv reports them. */
function schemaErrors(value: unknown): (string | number)[][] {
  if (validateSchema(value)) return [];
  const errors: ErrorObject[] = validateSchema.errors ?? [];
  // A value that fits no branch of a oneOf is one problem, at the value: not one per branch.
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const inBranch = (e: ErrorObject): boolean =>
    oneOfs.some(
      (o) => o !== e && e.schemaPath.startsWith(`${o.schemaPath}/`) && e.instancePath.startsWith(o.instancePath),
    );
  return (
    errors
      .filter((e) => !inBranch(e))
      // A key that breaks propertyNames is reported once, as the key (below), not again for the pattern.
      .filter((e) => e.keyword === 'propertyNames' || e.propertyName === undefined)
      .map((e) => {
        const steps = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/').map(unescapePointer);
        const at: (string | number)[] = steps.map((step) => (/^\d+$/.test(step) ? Number(step) : step));
        const params = e.params as { additionalProperty?: string; propertyName?: string };
        if (e.keyword === 'additionalProperties' && params.additionalProperty !== undefined)
          at.push(params.additionalProperty);
        if (e.keyword === 'propertyNames' && params.propertyName !== undefined) at.push(params.propertyName);
        return at;
      })
  );
}

/** Line of the node at `at` in the YAML tree (the key's line for mapping entries). */
function lineAt(root: YamlNode, at: (string | number)[]): number {
  let node = root;
  let line = root.line;
  for (const step of at) {
    if (node.kind === 'map') {
      const e = [...node.entries].reverse().find((x) => String(x.key) === String(step));
      if (!e) break;
      line = e.line;
      node = e.value;
    } else if (node.kind === 'seq' && typeof step === 'number' && node.items[step]) {
      node = node.items[step] as YamlNode;
      line = node.line;
    } else break;
  }
  return line;
}

/** Problems that are about the file's shape (what a schema can say), not about its meaning. */
const STRUCTURAL =
  /: (unknown key|unknown setting|expected (a list|a mapping|a string|true or false|a whole number|error, warn|json or text|read, write or admin)|missing "|needs exactly one of|must start with "\/"|must not be empty|must be a file path|bad name|bad user name|bad principal "@"|unknown pseudo-principal|a repo \(a key ending in \.git\) cannot contain|"[^"]*" cannot be granted (admin|create)|the htpasswd plugin needs "file)/;

for (const name of fixtures) {
  test(`fixture ${name}: the JSON Schema and the loader agree`, () => {
    const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
    const tree = parseYamlTree(text);
    if (!tree.ok || tree.root === null) return; // YAML syntax: no document to validate
    const value = yaml.load(text, { schema: yaml.JSON_SCHEMA, json: true });
    const errors = fs
      .readFileSync(path.join(FIXTURES, name.replace(/\.yaml$/, '.errors')), 'utf8')
      .split('\n')
      .filter(Boolean);
    const loaderLines = new Set(errors.map((e) => Number(e.split(':')[1])));
    const schemaLines = new Set(schemaErrors(value).map((at) => lineAt(tree.root as YamlNode, at)));
    for (const l of schemaLines) assert.ok(loaderLines.has(l), `the schema rejects line ${l}, the loader does not`);
    for (const e of errors) {
      if (STRUCTURAL.test(e))
        assert.ok(
          schemaLines.has(Number(e.split(':')[1])),
          `the loader's structural problem is not caught by the schema: ${e}`,
        );
    }
  });
}

/**
 * Invalid fixtures whose problems JSON Schema cannot express: the schema accepts them and only
 * build-config (the authority) rejects them. Every other invalid fixture the schema must reject.
 */
const CHECKED_BY_BUILD_CONFIG_ONLY: Readonly<Record<string, string>> = {
  'invalid-duplicate-keys.yaml': 'a duplicate key is gone once YAML is a JSON value',
  'invalid-group-cycle.yaml': 'a cycle through group members is about references, not shape',
  'invalid-null-key.yaml': 'YAML\'s null key reads as the string "null" in the JSON value',
  'invalid-unknown-group.yaml': 'whether a group exists is about references, not shape',
  'invalid-yaml-syntax.yaml': 'not YAML: there is no value to validate',
};

for (const name of fixtures) {
  const onlyBuildConfig = CHECKED_BY_BUILD_CONFIG_ONLY[name];
  const want = name.startsWith('valid-')
    ? 'accepts'
    : onlyBuildConfig === undefined
      ? 'rejects'
      : `accepts (checked by build-config only: ${onlyBuildConfig})`;
  test(`fixture ${name}: the JSON Schema ${want} it`, () => {
    const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
    let value: unknown;
    try {
      value = yaml.load(text, { schema: yaml.JSON_SCHEMA, json: true });
    } catch {
      assert.ok(onlyBuildConfig !== undefined, 'js-yaml cannot read it: name it in CHECKED_BY_BUILD_CONFIG_ONLY');
      return;
    }
    const errors = schemaErrors(value);
    if (want === 'rejects') assert.notDeepEqual(errors, [], 'the schema accepts an invalid fixture');
    else assert.deepEqual(errors, [], 'the schema rejects it');
  });
}

/** The configs the project ships: examples/gitward.yaml and the deployment guide's, as written. */
function shippedConfigs(): Array<[string, string]> {
  const guide = fs.readFileSync(path.join(ROOT, 'deploy', 'nginx', 'README.md'), 'utf8');
  const heredoc = (redirect: string): string => {
    const start = guide.indexOf(`cat ${redirect} /etc/gitward/gitward.yaml <<'EOF'\n`);
    assert.ok(start >= 0, `deploy/nginx/README.md no longer writes the config with cat ${redirect}`);
    const body = guide.slice(guide.indexOf('\n', start) + 1);
    return body.slice(0, body.indexOf('\nEOF\n') + 1);
  };
  const proxy = heredoc('>');
  return [
    ['examples/gitward.yaml', fs.readFileSync(path.join(ROOT, 'examples', 'gitward.yaml'), 'utf8')],
    ['deploy/nginx/README.md (proxy mode)', proxy],
    ['deploy/nginx/README.md (sidecar mode)', proxy + heredoc('>>')],
  ];
}

for (const [what, text] of shippedConfigs()) {
  test(`${what}: the loader and the JSON Schema both accept the shipped config`, async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, 'gitward.yaml'), text);
    fs.writeFileSync(path.join(dir, 'users.htpasswd'), '');
    await loadConfig(path.join(dir, 'gitward.yaml'));
    assert.deepEqual(schemaErrors(yaml.load(text, { schema: yaml.JSON_SCHEMA })), []);
  });
}
