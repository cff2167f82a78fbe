import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { buildConfig } from '../../app/config/build-config.js';
import { webWarnings } from '../../app/cli/commands/check.js';
import { ConfigError } from '../../app/errors.js';
import { returnPath } from '../../app/routes/web.js';
import { git, gitEnv } from '../helpers/git.js';
import { waitFor } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { get, haveCgit, startWebFixture } from './fixture.js';

/** The words a page shows only when it lists or renders the named repo. */
const SECRET_TRACES = ['team/secret', 'secret.git', 'marker-team-secret'];
const TOOLS_TRACES = ['team/tools', 'tools.git', 'marker-team-tools'];

function assertNoTrace(body: string, traces: readonly string[], what: string): void {
  for (const trace of traces) assert.ok(!body.includes(trace), `${what} shows "${trace}"`);
}

test('the index lists exactly the repos the identity may read: anonymous one, ben two, ann three', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t);
  const anon = await get(gw, '/');
  assert.equal(anon.status, 200);
  assert.match(anon.body, /href='\/pub\/site\.git\/'/);
  assertNoTrace(anon.body, [...SECRET_TRACES, ...TOOLS_TRACES, "'reposection'>team"], 'the anonymous index');
  const ben = await get(gw, '/', 'ben');
  assert.match(ben.body, /href='\/team\/tools\.git\/'/);
  assertNoTrace(ben.body, SECRET_TRACES, "ben's index");
  const ann = await get(gw, '/', 'ann');
  for (const repo of ['pub/site', 'team/tools', 'team/secret'])
    assert.ok(ann.body.includes(`href='/${repo}.git/'`), `ann's index lists ${repo}`);
  // One audit line per page, as a web read (written when each response has closed).
  const pages = () => gw.audit.records.filter((r) => r.service === 'web');
  await waitFor(() => pages().length >= 3, 'three web audit lines', 10_000);
  assert.equal(pages().length, 3);
  assert.deepEqual(
    pages().map((r) => [r.user, r.decision, r.status]),
    [
      [null, 'allowed', 200],
      ['ben', 'allowed', 200],
      ['ann', 'allowed', 200],
    ],
  );
});

test('existence oracle: every page of a hidden repo is the same 404 as a missing repo, and search finds nothing', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t);
  const pages = [
    '',
    'about/',
    'log/',
    'tree/',
    'tree/README.md',
    'plain/README.md',
    'commit/',
    'diff/',
    'patch/',
    'atom/',
    'refs/',
    'stats/',
    'snapshot/secret-main.tar.gz',
  ];
  for (const page of pages) {
    const hidden = await get(gw, `/team/secret.git/${page}`, 'ben');
    const missing = await get(gw, `/team/nothere.git/${page}`, 'ben');
    assert.equal(hidden.status, 404, `hidden ${page}`);
    assert.equal(missing.status, 404, `missing ${page}`);
    assert.equal(hidden.body.replace('secret', 'X'), missing.body.replace('nothere', 'X'), `same answer for ${page}`);
    assert.deepEqual(Object.keys(hidden.headers).sort(), Object.keys(missing.headers).sort());
    const anon = await get(gw, `/team/secret.git/${page}`);
    assert.equal(anon.status, 404, `anonymous ${page}: 404, not a password prompt`);
  }
  for (const q of ['secret', 'team', 'marker']) {
    // cgit answers 404 when nothing matches in the view; what matters is that nothing shows.
    const search = await get(gw, `/?q=${q}`, 'ben');
    assertNoTrace(search.body, SECRET_TRACES, `ben's search for ${q}`);
  }
  // The repo pages' own search runs in that repo's config, which holds that repo alone.
  const scoped = await get(gw, '/pub/site.git/log/?qt=grep&q=secret');
  assertNoTrace(scoped.body, SECRET_TRACES, 'a repo-scoped search');
});

test('warm cache: a page cached for a wider view is never served to a narrower one, in either order', async (t) => {
  if (!haveCgit(t)) return;
  const cacheDir = path.join(tempDir(t), 'web-cache');
  const { gw } = await startWebFixture(t, { cache_dir: cacheDir });
  const cacheFiles = (): string[] => {
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (path.basename(path.dirname(p)) === 'cache') out.push(path.relative(cacheDir, p));
      }
    };
    walk(cacheDir);
    return out;
  };
  // ann renders the index and the search; both are now in cgit's cache.
  for (const target of ['/', '/?q=team']) {
    const first = await get(gw, target, 'ann');
    assert.ok(first.body.includes('team/secret'));
  }
  const warm = cacheFiles();
  assert.ok(warm.length >= 2, `cgit cached ann's pages: ${warm.join(', ')}`);
  // Served from the cache to ann again: the same bytes, no new cache file.
  const again = await get(gw, '/', 'ann');
  assert.ok(again.body.includes('team/secret'));
  assert.deepEqual(cacheFiles().sort(), [...warm].sort());
  // Now the same URLs for ben and for anonymous: never ann's cached pages.
  for (const target of ['/', '/?q=team']) {
    assertNoTrace((await get(gw, target, 'ben')).body, SECRET_TRACES, `ben's ${target} after ann's`);
    assertNoTrace((await get(gw, target)).body, [...SECRET_TRACES, ...TOOLS_TRACES], `anonymous ${target} after ann's`);
  }
  // And the other order: anonymous first, ann then sees her three repos, not anonymous' one.
  assert.ok((await get(gw, '/?s=name')).body.includes('pub/site'));
  assert.ok((await get(gw, '/?s=name', 'ann')).body.includes('team/secret'));
  // Each readable set has its own cache folder: ann's, ben's and anonymous' are three.
  const indexFolders = new Set(
    cacheFiles()
      .filter((f) => f.split(path.sep)[1]?.startsWith('index-'))
      .map((f) => f.split(path.sep)[1]),
  );
  assert.equal(indexFolders.size, 3);
});

test('one URL for both: a browser GET of the clone URL is the repo page, and git clones it as before', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t);
  const page = await get(gw, '/pub/site.git', undefined, { accept: 'text/html' });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.body, /https:\/\/git\.example\.org\/pub\/site\.git/, 'the clone URL is shown');
  assert.ok(!page.body.includes('127.0.0.1'), 'absolute links use the configured host, never the Host header');
  // git's routes are git's, whatever the Accept header says.
  const refs = await get(gw, '/pub/site.git/info/refs?service=git-upload-pack', undefined, { accept: 'text/html' });
  assert.equal(refs.status, 200);
  assert.equal(refs.headers['content-type'], 'application/x-git-upload-pack-advertisement');
  const dumb = await get(gw, '/pub/site.git/info/refs', undefined, { accept: 'text/html' });
  assert.equal(dumb.status, 400, 'dumb HTTP stays off (gitward), and cgit serves no clone');
  const head = await get(gw, '/pub/site.git/HEAD');
  assert.equal(head.status, 400);
  const dir = tempDir(t);
  const env = gitEnv(path.join(dir, 'home'));
  const clone = await git(['clone', '--quiet', gw.url('pub/site'), path.join(dir, 'clone')], { cwd: dir, env });
  assert.equal(clone.code, 0, clone.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'clone', 'README.md')));
});

test('log in: 401 with the Basic challenge without credentials, then a redirect back to the page; bad passwords count', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t);
  const challenge = await get(gw, '/?login');
  assert.equal(challenge.status, 401);
  assert.equal(challenge.headers['www-authenticate'], 'Basic realm="gitward", charset="UTF-8"');
  const back = await get(gw, '/?login', 'ann', { referer: `${gw.origin}/pub/site.git/tree/?h=main` });
  assert.equal(back.status, 302);
  assert.equal(back.headers.location, '/pub/site.git/tree/?h=main');
  assert.equal(back.headers['set-cookie'], undefined, 'no cookie of our own');
  // Only the path of a Referer is used: the redirect never leaves this site.
  const elsewhere = await get(gw, '/?login', 'ann', { referer: 'https://evil.example/phish' });
  assert.equal(elsewhere.headers.location, '/phish');
  const wrong = await get(gw, '/?login', undefined, {
    authorization: `Basic ${Buffer.from('ann:nope').toString('base64')}`,
  });
  assert.equal(wrong.status, 401);
  assert.ok(
    gw.logs.lines.some((l) => l.event === 'auth.failed'),
    'a failed web login is an auth.failed line (fail2ban, brute-force limit)',
  );
});

test('brute force through the log-in URL: the same limit as git, 429 with Retry-After even for the right password', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t, {}, { brute_force: { max_failures: 3, window_seconds: 300 } });
  const wrong = { authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}` };
  for (let i = 0; i < 3; i++) assert.equal((await get(gw, '/?login', undefined, wrong)).status, 401);
  const blocked = await get(gw, '/?login', 'ann');
  assert.equal(blocked.status, 429);
  assert.ok(Number(blocked.headers['retry-after']) > 0);
  // Pages too: a throttled address is not identified anywhere.
  assert.equal((await get(gw, '/', 'ann')).status, 429);
});

test('returnPath keeps only a path under base_path', () => {
  assert.equal(returnPath(undefined, '/'), '/');
  assert.equal(returnPath('http://h/web/site.git/log/?h=dev', '/'), '/web/site.git/log/?h=dev');
  assert.equal(returnPath('http://h/other/x', '/git/'), '/git/');
  assert.equal(returnPath('http://h//evil.example/x', '/'), '/');
  assert.equal(returnPath('http://h/?login', '/'), '/');
  assert.equal(returnPath('not a url', '/'), '/');
});

test('header injection into cgit: no Authorization, Cookie, Proxy or identity header reaches it; replace objects off', async (t) => {
  const dir = tempDir(t);
  const fake = path.join(dir, 'fake-cgit.sh');
  // A stand-in for cgit that answers with its environment.
  fs.writeFileSync(fake, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nenv\n', { mode: 0o755 });
  const { gw } = await startWebFixture(t, { cgit_path: fake });
  const page = await get(gw, '/pub/site.git/tree/', 'ann', {
    cookie: 'session=abc',
    proxy: 'http://evil:1',
    'x-remote-user': 'admin',
    'x-other': 'kept',
    x_remote_user: 'admin2',
  });
  assert.equal(page.status, 200);
  const env = new Map(
    page.body
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  for (const name of ['HTTP_AUTHORIZATION', 'HTTP_COOKIE', 'HTTP_PROXY', 'HTTP_X_REMOTE_USER', 'GITWARD_CONFIG'])
    assert.ok(!env.has(name), `${name} reached cgit`);
  assert.equal(env.get('HTTP_X_OTHER'), 'kept');
  assert.equal(env.get('REMOTE_USER'), 'ann');
  assert.equal(env.get('PATH_INFO'), '/pub/site.git/tree/');
  assert.equal(env.get('GIT_NO_REPLACE_OBJECTS'), '1');
  assert.equal(env.get('HTTP_HOST'), 'git.example.org');
  assert.ok(env.get('CGIT_CONFIG')?.endsWith('/cgitrc'));
  const cgitrc = fs.readFileSync(env.get('CGIT_CONFIG') as string, 'utf8');
  assert.match(cgitrc, /^enable-http-clone=0$/m);
  assert.deepEqual(cgitrc.match(/^repo\.url=.*$/gm), ['repo.url=pub/site.git'], 'a repo page sees its repo alone');
  assert.ok(!/scan-path/.test(cgitrc));
});

test('query parameters that would pick another repo or page than the authorised path are refused', async (t) => {
  if (!haveCgit(t)) return;
  const { gw } = await startWebFixture(t);
  for (const q of ['url=team/secret.git/', 'r=team/secret.git', 'p=log', 'u%72l=team/secret.git/', 'URL=x', 'foo=1']) {
    const page = await get(gw, `/pub/site.git/?${q}`);
    assert.equal(page.status, 400, q);
    assertNoTrace(page.body, SECRET_TRACES, q);
  }
});

test('config: web keys are validated like the rest', () => {
  const bad =
    'repo_root: ./r\nweb:\n  enabled: yes\n  filters: [markdown, asciidoc]\n  clone_urls: ["ftp://x/"]\n  site_titel: x\n';
  assert.throws(
    () => buildConfig(bad, '/etc/gitward/gitward.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /gitward\.yaml:6: web\.site_titel: unknown key/);
      assert.match(text, /gitward\.yaml:4: web\.filters\[1\]: unknown filter "asciidoc"/);
      assert.match(text, /gitward\.yaml:5: web\.clone_urls\[0\]: expected an http\(s\) URL prefix/);
      return true;
    },
  );
  const good = buildConfig(
    'repo_root: ./r\nweb: {enabled: true, site_title: Ours, filters: [pygments]}\n',
    '/etc/gitward/gitward.yaml',
  );
  assert.deepEqual(
    [good.web.enabled, good.web.siteTitle, good.web.filters, good.web.cacheSize],
    [true, 'Ours', ['pygments'], 1000],
  );
  assert.equal(buildConfig('repo_root: ./r\n', '/x/g.yaml').web.enabled, false);
});

test('gitward check says the web view needs proxy mode, and when cgit is missing', () => {
  const sidecar = buildConfig(
    'repo_root: ./r\nsidecar: {enabled: true}\nweb: {enabled: true, cgit_path: /nonexistent/cgit.cgi}\n',
    '/x/g.yaml',
  );
  const warnings = webWarnings(sidecar);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] as string, /^web\.enabled: the web view needs proxy mode/);
  assert.match(warnings[1] as string, /^web\.cgit_path: \/nonexistent\/cgit\.cgi is not an executable file/);
  assert.deepEqual(
    webWarnings(
      buildConfig('repo_root: ./r\nsidecar: {enabled: false}\nweb: {enabled: true, cgit_path: /bin/sh}\n', '/x/g.yaml'),
    ),
    [],
  );
  assert.deepEqual(webWarnings(buildConfig('repo_root: ./r\n', '/x/g.yaml')), []);
});
