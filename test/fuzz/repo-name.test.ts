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
import { FUZZ_ITERATIONS, forAll, fuzzBudget, fuzzRng, mutate, type Rng } from '../helpers/fuzz.js';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const NAMES = ['hello', 'hello.git', 'web/site.git', 'a/b/c/d', 'Repo_1-x.y', 'proj/main.git', '9lives', 'a.b.c', '%61bc', 'x'.repeat(250)];
const SUFFIXES = ['/info/refs', '/git-upload-pack', '/git-receive-pack', '/HEAD', '/objects/info/packs', `/objects/ab/${'c'.repeat(38)}`, `/objects/pack/pack-${'a'.repeat(40)}.idx`, ''];
const QUERIES = ['service=git-upload-pack', 'service=git-receive-pack', '', 'service=git-upload-pack&service=git-receive-pack', 'x=1&service=git-receive-pack', 'service=git%2dreceive-pack'];
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

function genName(rng: Rng): string {
  if (rng.chance(0.1)) return rng.string('abc./%2e-_AZ09\\:', 20);
  return mutate(rng, rng.pick(NAMES));
}

test('parseRepoName: only typed 400s, and every accepted name fits the grammar and is canonical', { timeout: fuzzBudget('parseRepoName') }, () => {
  const rng = fuzzRng('parseRepoName');
  let accepted = 0;
  forAll(rng, FUZZ_ITERATIONS * 5, () => genName(rng), (raw) => {
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
  });
  // A fuzzer that only ever produces garbage tests nothing.
  assert.ok(accepted > FUZZ_ITERATIONS / 2, `only ${accepted} names accepted`);
});

test('classify: only typed 400/405, grammar-true repos, and need is write iff the request is receive-pack', { timeout: fuzzBudget('classify') }, () => {
  const rng = fuzzRng('classify');
  const seen = { read: 0, write: 0 };
  forAll(
    rng,
    FUZZ_ITERATIONS * 5,
    () => {
      const base = rng.pick(BASES);
      let p = `${base}${rng.pick(NAMES)}${rng.pick(SUFFIXES)}`;
      if (rng.chance(0.7)) p = mutate(rng, p);
      const q = rng.chance(0.5) ? rng.pick(QUERIES) : mutate(rng, rng.pick(QUERIES));
      return { method: rng.pick(METHODS), path: p, query: q, base, dumb: rng.chance(0.5) };
    },
    ({ method, path, query, base, dumb }) => {
      let r;
      try {
        r = classify(method, path, query, { dumbHttp: dumb, basePath: base });
      } catch (err) {
        assert.ok(isTyped400or405(err), `threw ${String(err)}`);
        return;
      }
      assertGrammar(r.repo);
      const services = new URLSearchParams(query).getAll('service');
      const receive = path.endsWith('/git-receive-pack') || (path.endsWith('/info/refs') && services.length === 1 && services[0] === 'git-receive-pack');
      assert.equal(r.need, receive ? 'write' : 'read');
      assert.equal(r.service === 'git-receive-pack', receive);
      assert.ok(path.startsWith(base));
      assert.ok(path.endsWith(r.suffix), 'suffix is not the end of the path');
      if (r.kind === 'rpc') assert.equal(method, 'POST');
      else assert.ok(method === 'GET' || method === 'HEAD');
      if (r.kind === 'dumb') assert.ok(dumb, 'dumb route served with dumb HTTP off');
      seen[r.need]++;
    },
  );
  assert.ok(seen.read > 0 && seen.write > 0, `seen ${JSON.stringify(seen)}`);
});
