/**
 * Fuzzing of repo names and request classification (pure): mutations of valid git URLs and names.
 * parseRepoName and classify throw nothing but their typed HttpErrors (400/405), every name they
 * accept fits the grammar, and a classified request needs `write` exactly when it is receive-pack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError } from '../../app/errors.js';
import { classify } from '../../app/request/classify.js';
import { MAX_REPO_NAME_BYTES, parseRepoName } from '../../app/request/repo-name.js';
import fc from 'fast-check';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS, fuzzParams, mutated } from '../helpers/fuzz.js';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const NAMES = [
  'hello',
  'hello.git',
  'web/site.git',
  'a/b/c/d',
  'Repo_1-x.y',
  'proj/main.git',
  '9lives',
  'a.b.c',
  '%61bc',
  'x'.repeat(250),
];
const SUFFIXES = [
  '/info/refs',
  '/git-upload-pack',
  '/git-receive-pack',
  '/HEAD',
  '/objects/info/packs',
  `/objects/ab/${'c'.repeat(38)}`,
  `/objects/pack/pack-${'a'.repeat(40)}.idx`,
  '',
];
const QUERIES = [
  'service=git-upload-pack',
  'service=git-receive-pack',
  '',
  'service=git-upload-pack&service=git-receive-pack',
  'x=1&service=git-receive-pack',
  'service=git%2dreceive-pack',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'get', 'PROPFIND'];
const BASES = ['/', '/git/', '/a/b/'];

function isTyped400or405(err: unknown): boolean {
  return err instanceof HttpError && (err.status === 400 || err.status === 405);
}

/** The grammar of DESIGN.md §2, checked independently of the parser. */
function assertGrammar(name: string): void {
  assert.ok(Buffer.byteLength(name, 'utf8') <= MAX_REPO_NAME_BYTES, 'longer than 255 bytes');
  assert.ok(!name.includes('..'), 'contains ..');
  assert.ok(!name.endsWith('.git'), 'keeps a .git suffix');
  for (const seg of name.split('/')) {
    assert.notEqual(seg, '', 'empty segment');
    assert.match(seg, SEGMENT);
    assert.ok(!seg.endsWith('.git'), `segment ${seg} ends in .git`);
  }
}

/** Mutations of valid names, and now and then a string of path-ish characters. */
const nameArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: mutated(fc.constantFrom(...NAMES)), weight: 9 },
  { arbitrary: fc.string({ unit: fc.constantFrom(...'abc./%2e-_AZ09\\:'), maxLength: 20 }), weight: 1 },
);

test(
  'parseRepoName: only typed 400s, and every accepted name fits the grammar and is canonical',
  { timeout: FUZZ_TIMEOUT_MS },
  () => {
    let accepted = 0;
    fc.assert(
      fc.property(nameArb, (raw) => {
        let name: string;
        try {
          name = parseRepoName(raw);
        } catch (err) {
          assert.ok(err instanceof HttpError && err.status === 400, `threw ${String(err)}`);
          return;
        }
        accepted++;
        assertGrammar(name);
        // Canonical: parsing the result again yields it unchanged, with or without .git.
        assert.equal(parseRepoName(name), name);
        assert.equal(parseRepoName(`${name}.git`), name);
      }),
      fuzzParams('parseRepoName', FUZZ_RUNS * 5),
    );
    // A fuzzer that only ever produces garbage tests nothing.
    assert.ok(accepted > FUZZ_RUNS / 2, `only ${accepted} names accepted`);
  },
);

/** A request as hostile clients send it: seven in ten paths mutated, half the queries. */
const requestArb = fc
  .record({
    base: fc.constantFrom(...BASES),
    name: fc.constantFrom(...NAMES),
    suffix: fc.constantFrom(...SUFFIXES),
    query: fc.oneof(fc.constantFrom(...QUERIES), mutated(fc.constantFrom(...QUERIES))),
    method: fc.constantFrom(...METHODS),
    dumb: fc.boolean(),
  })
  .chain((r) => {
    const path = `${r.base}${r.name}${r.suffix}`;
    return fc
      .oneof({ arbitrary: fc.constant(path), weight: 3 }, { arbitrary: mutated(fc.constant(path)), weight: 7 })
      .map((p) => ({ ...r, path: p }));
  });

test(
  'classify: only typed 400/405, grammar-true repos, and need is write iff the request is receive-pack',
  { timeout: FUZZ_TIMEOUT_MS },
  () => {
    const seen = { read: 0, write: 0 };
    fc.assert(
      fc.property(requestArb, ({ method, path, query, base, dumb }) => {
        let r;
        try {
          r = classify(method, path, query, { dumbHttp: dumb, basePath: base });
        } catch (err) {
          assert.ok(isTyped400or405(err), `threw ${String(err)}`);
          return;
        }
        assertGrammar(r.repo);
        const services = new URLSearchParams(query).getAll('service');
        const receive =
          path.endsWith('/git-receive-pack') ||
          (path.endsWith('/info/refs') && services.length === 1 && services[0] === 'git-receive-pack');
        assert.equal(r.need, receive ? 'write' : 'read');
        assert.equal(r.service === 'git-receive-pack', receive);
        assert.ok(path.startsWith(base));
        assert.ok(path.endsWith(r.suffix), 'suffix is not the end of the path');
        if (r.kind === 'rpc') assert.equal(method, 'POST');
        else assert.ok(method === 'GET' || method === 'HEAD');
        if (r.kind === 'dumb') assert.ok(dumb, 'dumb route served with dumb HTTP off');
        seen[r.need]++;
      }),
      fuzzParams('classify', FUZZ_RUNS * 5),
    );
    assert.ok(seen.read > 0 && seen.write > 0, `seen ${JSON.stringify(seen)}`);
  },
);
