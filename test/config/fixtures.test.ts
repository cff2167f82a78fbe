import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { ConfigError } from '../../app/errors.js';
import { loadConfig } from '../../app/config/load.js';
import { parseYamlTree, type YamlNode } from '../../app/config/yaml-tree.js';

// Fixtures live in the source tree; tests run from dist/test/config.
const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'config');
const SCHEMA = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'gitward.schema.json'), 'utf8')) as Schema;

const fixtures = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml')).sort();

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

// ---- A tiny validator for the subset of JSON Schema that examples/gitward.schema.json uses ----

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  minimum?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  patternProperties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  items?: Schema;
  oneOf?: Schema[];
  $ref?: string;
  $defs?: Record<string, Schema>;
}

const KNOWN_KEYWORDS = new Set(['$schema', '$id', 'title', 'description', 'type', 'enum', 'pattern', 'minLength', 'minimum', 'required', 'properties', 'patternProperties', 'additionalProperties', 'propertyNames', 'items', 'oneOf', '$ref', '$defs']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Returns the instance paths (keys and indexes) where `value` breaks `schema`. */
function validate(schema: Schema, value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const errors: (string | number)[][] = [];
  if (schema.$ref) {
    const name = schema.$ref.replace('#/$defs/', '');
    const target = SCHEMA.$defs?.[name];
    assert.ok(target, `unresolved $ref ${schema.$ref}`);
    return validate(target, value, at);
  }
  const t = typeOf(value);
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [at];
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(at);
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errors.push(at);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(at);
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) errors.push(at);
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(schema.items as Schema, v, [...at, i])));
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(at);
    for (const [k, v] of Object.entries(obj)) {
      let matched = false;
      if (schema.properties && k in schema.properties) {
        matched = true;
        errors.push(...validate(schema.properties[k] as Schema, v, [...at, k]));
      }
      for (const [pat, s] of Object.entries(schema.patternProperties ?? {})) {
        if (new RegExp(pat, 'u').test(k)) {
          matched = true;
          errors.push(...validate(s, v, [...at, k]));
        }
      }
      if (schema.propertyNames && validate(schema.propertyNames, k).length > 0) errors.push([...at, k]);
      if (!matched && schema.additionalProperties === false) errors.push([...at, k]);
      else if (!matched && typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties, v, [...at, k]));
    }
  }
  if (schema.oneOf && schema.oneOf.filter((s) => validate(s, value, at).length === 0).length !== 1) errors.push(at);
  return errors;
}

function checkKeywords(s: unknown): void {
  if (typeof s !== 'object' || s === null) return;
  for (const [k, v] of Object.entries(s)) {
    assert.ok(KNOWN_KEYWORDS.has(k), `the test's validator does not know the keyword "${k}"`);
    if (k === 'properties' || k === 'patternProperties' || k === '$defs') for (const sub of Object.values(v as object)) checkKeywords(sub);
    else if (k === 'oneOf') for (const sub of v as unknown[]) checkKeywords(sub);
    else if (typeof v === 'object' && !Array.isArray(v)) checkKeywords(v);
  }
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
const STRUCTURAL = /: (unknown key|unknown setting|expected (a list|a mapping|a string|true or false|a whole number|error, warn|json or text|read or write)|missing "|needs exactly one of|must start with "\/"|must not be empty|must be a file path|bad name|bad user name|bad principal "@"|unknown pseudo-principal|a repo \(a key ending in \.git\) cannot contain)/;

test('the JSON Schema uses only keywords the agreement test understands', () => {
  checkKeywords(SCHEMA);
});

for (const name of fixtures) {
  test(`fixture ${name}: the JSON Schema and the loader agree`, () => {
    const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
    const tree = parseYamlTree(text);
    if (!tree.ok || tree.root === null) return; // YAML syntax: no document to validate
    const value = yaml.load(text, { schema: yaml.JSON_SCHEMA, json: true });
    const errors = fs.readFileSync(path.join(FIXTURES, name.replace(/\.yaml$/, '.errors')), 'utf8').split('\n').filter(Boolean);
    const loaderLines = new Set(errors.map((e) => Number(e.split(':')[1])));
    const schemaLines = new Set(validate(SCHEMA, value).map((at) => lineAt(tree.root as YamlNode, at)));
    for (const l of schemaLines) assert.ok(loaderLines.has(l), `the schema rejects line ${l}, the loader does not`);
    for (const e of errors) {
      if (STRUCTURAL.test(e)) assert.ok(schemaLines.has(Number(e.split(':')[1])), `the loader's structural problem is not caught by the schema: ${e}`);
    }
  });
}

test('examples/gitward.yaml: the loader and the JSON Schema both accept the shipped example', async () => {
  const file = path.join(ROOT, 'examples', 'gitward.yaml');
  await loadConfig(file);
  const value = yaml.load(fs.readFileSync(file, 'utf8'), { schema: yaml.JSON_SCHEMA });
  assert.deepEqual(validate(SCHEMA, value), []);
});
