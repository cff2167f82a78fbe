import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (f: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8')) as Record<string, unknown>;

// `npm install` rewrites package-lock.json whenever its root entry differs from package.json (a
// changed bin path, a dependency added by hand), leaving a fresh checkout dirty after the README's
// first command. npm copies these fields of package.json into the lock's root entry.
const COPIED = [
  'name',
  'version',
  'license',
  'bin',
  'engines',
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
];

test('package-lock.json matches package.json, so npm install leaves the tree clean', () => {
  const pkg = read('package.json');
  const lock = read('package-lock.json');
  assert.equal(lock.name, pkg.name);
  assert.equal(lock.version, pkg.version);
  const root = (lock.packages as Record<string, Record<string, unknown>>)[''] as Record<string, unknown>;
  for (const field of COPIED) assert.deepEqual(root[field], pkg[field], `package-lock.json's root entry: ${field}`);
  const packages = lock.packages as Record<string, unknown>;
  for (const deps of [pkg.dependencies, pkg.devDependencies] as Record<string, string>[]) {
    for (const name of Object.keys(deps ?? {})) assert.ok(packages[`node_modules/${name}`], `${name} is locked`);
  }
});
