import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { isCI } from '../helpers/nginx.js';
import { haveCgit, PASSWORDS, startWebFixture, type WebFixture } from './fixture.js';

/** Debian's chromium (package chromium); playwright-core drives it and downloads nothing. */
const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, offline browser (playwright adds --headless). */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go: GITWARD_TEST_ARTEFACTS (CI can keep them), else dist/test-artefacts. */
const ARTEFACTS = process.env.GITWARD_TEST_ARTEFACTS ?? path.resolve(__dirname, '..', '..', 'test-artefacts');

/** Safety net for one page load; the tests wait on the load event, never on time. */
const PAGE_TIMEOUT_MS = 60_000;

function haveChromium(t: TestContext): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  if (isCI(process.env))
    throw new Error(`${CHROMIUM} is missing: CI must run the browser tests (.ci/run installs chromium)`);
  t.skip('chromium is not installed');
  return false;
}

/**
 * One chromium for the whole file, launched when the first test needs it and closed after the
 * last: a launch costs seconds of CPU (browser, zygote, GPU and network processes), and each test
 * still gets a browser context of its own, with nothing shared (cookies, cache, credentials).
 */
let browser: Promise<Browser> | null = null;
after(async () => {
  if (browser) await (await browser).close();
});

/** A fresh browser context (an empty, throw-away profile) for one test, closed after it. */
async function openBrowser(
  t: TestContext,
  options: { httpCredentials?: { username: string; password: string } } = {},
): Promise<BrowserContext> {
  browser ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  const context = await (await browser).newContext({ viewport: { width: 1000, height: 700 }, ...options });
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  t.after(() => context.close());
  return context;
}

/** Saves a screenshot of `page` under this test's artefact folder; returns its path. */
async function screenshot(t: TestContext, page: Page, name: string): Promise<string> {
  const dir = path.join(ARTEFACTS, 'web-browser', t.name.replace(/[^A-Za-z0-9-]+/g, '-').slice(0, 80));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 1000, `screenshot ${file} was written`);
  return file;
}

async function ready(t: TestContext): Promise<WebFixture | null> {
  if (!haveCgit(t) || !haveChromium(t)) return null;
  return startWebFixture(t);
}

test('browser: the anonymous index lists the public repo only, styled by cgit.css', async (t) => {
  const fx = await ready(t);
  if (!fx) return;
  const page = await (await openBrowser(t)).newPage();
  const answer = await page.goto(`${fx.gw.origin}/`);
  assert.equal(answer?.status(), 200);
  const repos = await page.locator('td.sublevel-repo a, td.toplevel-repo a').allTextContents();
  assert.deepEqual(repos, ['pub/site']);
  // The stylesheet applied: cgit.css gives the header's logo cell its width.
  // A string: the test is compiled without the DOM's types.
  const css = await page.evaluate(
    "Array.from(document.styleSheets).some((s) => (s.href || '').endsWith('/cgit.css') && s.cssRules.length > 0)",
  );
  assert.ok(css, 'cgit.css loaded');
  await screenshot(t, page, 'index-anonymous');
});

test('browser: logging in through the link brings the Basic prompt, then the wider view', async (t) => {
  const fx = await ready(t);
  if (!fx) return;
  const context = await openBrowser(t, { httpCredentials: { username: 'ann', password: PASSWORDS.ann } });
  const page = await context.newPage();
  await page.goto(`${fx.gw.origin}/pub/site.git/`);
  // The first pages go without credentials: the browser sends them only when challenged.
  assert.equal(await page.locator('text=log in').count(), 1);
  await Promise.all([page.waitForURL(`${fx.gw.origin}/pub/site.git/`), page.click('text=log in')]);
  // Back where the link was; the browser now sends ann's credentials below the site root.
  const index = await page.goto(`${fx.gw.origin}/`);
  assert.equal(index?.status(), 200);
  const repos = await page.locator('td.sublevel-repo a').allTextContents();
  assert.deepEqual(repos.sort(), ['pub/site', 'team/secret', 'team/tools']);
  await screenshot(t, page, 'index-ann');
  const loginLines = fx.gw.audit.records.filter((r) => r.service === 'web' && r.repo === null && r.status === 401);
  assert.ok(loginLines.length >= 1, 'the log-in URL answered 401 first');
});

test('browser: a user with a wider view sees the repo that others get a 404 for', async (t) => {
  const fx = await ready(t);
  if (!fx) return;
  const ben = await (await openBrowser(t, { httpCredentials: { username: 'ben', password: PASSWORDS.ben } })).newPage();
  const hidden = await ben.goto(`${fx.gw.origin}/team/secret.git/`);
  assert.equal(hidden?.status(), 404);
  assert.equal((await ben.textContent('body'))?.trim(), 'repository team/secret not found');
  await screenshot(t, ben, 'hidden-repo-404');
  const missing = await ben.goto(`${fx.gw.origin}/team/nothere.git/`);
  assert.equal(missing?.status(), 404);
  assert.equal((await ben.textContent('body'))?.trim(), 'repository team/nothere not found');

  const ann = await (await openBrowser(t, { httpCredentials: { username: 'ann', password: PASSWORDS.ann } })).newPage();
  // ann's credentials are sent once the site root has challenged the browser.
  await ann.goto(`${fx.gw.origin}/?login`);
  const shown = await ann.goto(`${fx.gw.origin}/team/secret.git/about/`);
  assert.equal(shown?.status(), 200);
  assert.ok((await ann.textContent('#cgit'))?.includes('marker-team-secret'), 'the README of team/secret');
  await screenshot(t, ann, 'secret-for-ann');
});

test('browser: tree → blob → log → commit diff, with highlighting and the rendered README', async (t) => {
  const fx = await ready(t);
  if (!fx) return;
  const page = await (await openBrowser(t)).newPage();
  await page.goto(`${fx.gw.origin}/pub/site.git`);
  // The README, rendered from markdown on the about page (and linked from the summary).
  await page.click("a[href='/pub/site.git/about/']");
  assert.equal(await page.locator('#cgit .content strong').first().textContent(), 'the site');
  assert.equal(await page.locator('#cgit .content li').count(), 2);
  await screenshot(t, page, 'about-readme');
  await page.click("a[href='/pub/site.git/tree/']");
  await page.click("a[href='/pub/site.git/tree/src']");
  await page.click("a[href='/pub/site.git/tree/src/greet.py']");
  // Pygments' spans: `def` is a keyword.
  assert.ok((await page.locator('td.lines span').count()) > 3, 'highlighted source');
  assert.ok((await page.locator('td.lines').textContent())?.includes('def greet(name):'));
  await screenshot(t, page, 'blob-highlighted');
  await page.click("a[href='/pub/site.git/log/src/greet.py']");
  const rows = await page.locator('table.list td a[href*="/commit/"]').allTextContents();
  assert.ok(rows.includes('pub/site change 2') && rows.includes('pub/site change 1'), rows.join(' | '));
  await page.click('text=pub/site change 2');
  assert.ok(page.url().includes('/pub/site.git/commit/'));
  const added = await page.locator('div.add').allTextContents();
  assert.ok(
    added.some((line) => line.includes('# second version')),
    'the diff shows the added line',
  );
  await screenshot(t, page, 'commit-diff');
});

test('browser: warm cache — anonymous, after ann filled the cache, still sees only the public repo', async (t) => {
  const fx = await ready(t);
  if (!fx) return;
  const ann = await (await openBrowser(t, { httpCredentials: { username: 'ann', password: PASSWORDS.ann } })).newPage();
  await ann.goto(`${fx.gw.origin}/?login`);
  for (let i = 0; i < 2; i++) {
    await ann.goto(`${fx.gw.origin}/`);
    assert.equal(await ann.locator('td.sublevel-repo a').count(), 3);
  }
  const anon = await (await openBrowser(t)).newPage();
  await anon.goto(`${fx.gw.origin}/`);
  assert.deepEqual(await anon.locator('td.sublevel-repo a').allTextContents(), ['pub/site']);
  assert.ok(!(await anon.content()).includes('secret'));
  await screenshot(t, anon, 'warm-cache-anonymous');
});
