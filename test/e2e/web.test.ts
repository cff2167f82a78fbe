// The web view through Debian's nginx with the shipped site files: proxy mode (nginx serves cgit's
// static files itself, gitward the pages) and proxy mode with nginx's auth_basic (REMOTE_USER).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import { requireBinary } from '../helpers/nginx.js';
import { haveCgit } from '../web/fixture.js';
import { E2E_USERS, startStack, type Stack, type StackMode } from './stack.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One GET through nginx over TLS, trusting the stack's test certificate. */
function fetchTls(stack: Stack, target: string, credentials?: { user: string; password: string }): Promise<Answer> {
  const url = new URL(target, stack.url('x'));
  const ca = fs.readFileSync(stack.env().GIT_SSL_CAINFO as string);
  const auth = credentials
    ? { authorization: `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}` }
    : {};
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ca,
        headers: { accept: 'text/html', ...auth },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
  });
}

async function webStack(t: TestContext, mode: StackMode): Promise<Stack | null> {
  if (!haveCgit(t)) return null;
  const nginx = requireBinary(t, 'nginx');
  if (nginx === null) return null;
  return startStack(t, mode, { nginx, fcgiwrap: null }, {}, { web: { enabled: true, site_title: 'e2e' } });
}

test('proxy mode: cgit.css and cgit.png come from nginx, the pages from gitward behind decide', async (t) => {
  const stack = await webStack(t, 'proxy');
  if (!stack) return;
  for (const file of ['cgit.css', 'cgit.png']) {
    const got = await fetchTls(stack, `/_gitward/cgit/${file}`);
    assert.equal(got.status, 200, file);
    assert.ok(got.body.equals(fs.readFileSync(`/usr/share/cgit/${file}`)), `${file} is Debian's`);
    // nginx answered itself: gitward puts an X-Request-Id on every answer of its own.
    assert.equal(got.headers['x-request-id'], undefined, `${file} came from gitward`);
  }
  const page = await fetchTls(stack, '/open.git');
  assert.equal(page.status, 200);
  assert.ok(page.headers['x-request-id'], 'the page came from gitward');
  assert.match(page.body.toString(), /<link rel='stylesheet' type='text\/css' href='\/_gitward\/cgit\/cgit\.css'\/>/);
  const hidden = await fetchTls(stack, '/private.git/');
  const missing = await fetchTls(stack, '/nothere.git/');
  assert.deepEqual([hidden.status, missing.status], [404, 404]);
  const ann = await fetchTls(stack, '/private.git/', { user: 'ann', password: E2E_USERS.ann as string });
  assert.equal(ann.status, 200);
  // git is routed as before through the same URL.
  const clone = await stack.git(['clone', '--quiet', stack.url('open'), 'open-clone']);
  assert.equal(clone.code, 0, clone.stderr);
});

test('proxy mode with nginx auth_basic: the nginx-authenticated REMOTE_USER decides the web view too', async (t) => {
  const stack = await webStack(t, 'proxy-auth-basic');
  if (!stack) return;
  const ben = await fetchTls(stack, '/', { user: 'ben', password: E2E_USERS.ben as string });
  assert.equal(ben.status, 200);
  const index = ben.body.toString();
  assert.ok(index.includes("href='/private.git/'") && index.includes("href='/open.git/'"));
  assert.ok(!index.includes('big.git'), "ben's index hides what he may not read");
  const hidden = await fetchTls(stack, '/big.git/', { user: 'ben', password: E2E_USERS.ben as string });
  assert.equal(hidden.status, 404);
  const annPage = await fetchTls(stack, '/big.git/', { user: 'ann', password: E2E_USERS.ann as string });
  assert.equal(annPage.status, 200);
});
