import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fuzzParams, show } from '../helpers/fuzz.js';
import { waitFor } from '../helpers/procs.js';
import { get, haveCgit, startWebFixture } from './fixture.js';

/** Requests per run: each one runs cgit (and sometimes pygments), so a few dozen. */
const ITERATIONS = 80;

const REPOS = [
  'pub/site.git',
  'team/secret.git',
  'team/tools.git',
  'team/nothere.git',
  'pub/..%2fteam/secret.git',
  '%2e%2e/team/secret.git',
];
const PAGES = [
  '',
  'tree',
  'blob',
  'log',
  'commit',
  'diff',
  'patch',
  'plain',
  'snapshot',
  'atom',
  'about',
  'stats',
  'refs',
  'tag',
  'rawdiff',
  'objects',
  'HEAD-x',
];
const PATHS = [
  '',
  'README.md',
  'src/greet.py',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e/%2e%2e/etc/passwd',
  'src/%00x',
  '%ff%fe',
  '%',
  'a%2',
  '/etc/passwd',
  'src//greet.py',
  '.git/config',
  'x'.repeat(5000),
];
const NAMES = [
  'path',
  'id',
  'id2',
  'h',
  'ofs',
  'qt',
  'q',
  's',
  'showmsg',
  'context',
  'dt',
  'ss',
  'name',
  'url',
  'r',
  'p',
  'ignorews',
  'follow',
];
const VALUES = [
  '',
  'main',
  'HEAD',
  '../../../../etc/passwd',
  '/etc/passwd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '-1',
  '99999999999999999999',
  '0x10',
  'team/secret.git',
  '../team/secret.git',
  '%00',
  '%0d%0aX-Evil:%201',
  'a'.repeat(3000),
  '%c0%ae%c0%ae/',
  'grep',
  'range',
  'author',
  'HEAD~100000',
  'main..HEAD',
  '--output=/tmp/x',
  '-1%20--all',
  "'><script>alert(1)</script>",
  'secret-main.tar.gz',
  '../../x.tar.gz',
];
/** What must never appear in an anonymous answer: the hidden repos' content, a file outside the repos, markup from the query. */
const FORBIDDEN = ['marker-team-secret', 'marker-team-tools', 'root:x:0:0', '[core]', '<script>alert(1)'];
/** …nor, on a rendered page, the hidden repos' names (a 404 repeats the name the client asked for). */
const FORBIDDEN_ON_PAGES = ['team/secret', 'team/tools'];

test('path traversal and odd encodings in cgit parameters: no 5xx, nothing outside the repo, no repo outside the view', async (t) => {
  if (!haveCgit(t)) return;
  const { gw, siteCommits } = await startWebFixture(t);
  const values = [...VALUES, ...siteCommits];
  const seen = new Map<number, number>();
  let sent = 0;
  const targetArb = fc
    .record({
      repo: fc.constantFrom(...REPOS),
      page: fc.constantFrom(...PAGES),
      tail: fc.constantFrom(...PATHS),
      root: fc.oneof(
        { arbitrary: fc.constant(null), weight: 3 },
        { arbitrary: fc.constantFrom('/', '/?', '/?q='), weight: 1 },
      ),
      params: fc.array(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...values)), { maxLength: 3 }),
    })
    .map(({ repo, page, tail, root, params }) => {
      let target = root ?? `/${repo}${page === '' ? '' : `/${page}`}${tail === '' ? '' : `/${tail}`}`;
      if (params.length > 0)
        target += `${target.includes('?') ? '&' : '?'}${params.map(([n, v]) => `${n}=${v}`).join('&')}`;
      return target;
    });
  await fc.assert(
    fc.asyncProperty(targetArb, async (target) => {
      const answer = await get(gw, target);
      sent++;
      seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status < 500, `5xx (${answer.status}) for ${show(target, 200)}`);
      const words = answer.status === 200 ? [...FORBIDDEN, ...FORBIDDEN_ON_PAGES] : FORBIDDEN;
      for (const word of words)
        assert.ok(!answer.body.includes(word), `"${word}" in the answer to ${show(target, 200)}`);
    }),
    fuzzParams('web-bad-input', ITERATIONS),
  );
  // Both sides were exercised: pages rendered and inputs refused.
  assert.ok((seen.get(200) ?? 0) > 0 && (seen.get(400) ?? 0) + (seen.get(404) ?? 0) > 0, JSON.stringify([...seen]));
  // Every request has its audit line, none of them an error.
  await waitFor(() => gw.audit.records.length >= sent, 'an audit line per request', 30_000);
  assert.deepEqual(
    gw.audit.records.filter((r) => r.decision === 'error'),
    [],
  );
});
