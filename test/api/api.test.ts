import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gitOk, makeWorkTree } from '../helpers/git.js';
import { startGitward, type TestGitward } from '../helpers/server.js';
import { apiRequest, type ApiAnswer } from './api-client.js';
import { apiServer, caller, PASSWORDS, type User } from './api-fixture.js';

const API = '/_gitward/api/v1';

function errorCode(a: ApiAnswer): string {
  return (a.body as { code?: string } | null)?.code ?? `(not an API error: ${a.status} ${a.text})`;
}

describe('repo administration API over HTTP', () => {
  it('ann creates a repo with a description and default branch; pushes; carl clones it with git and lists it', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    const made = await api('POST', '/repos', 'ann', {
      body: { name: 'team/app', description: 'The app', defaultBranch: 'trunk' },
    });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.headers.location, `${API}/repos/team/app`);
    assert.deepEqual(
      { ...(made.body as object), sizeBytes: 0 },
      {
        name: 'team/app',
        access: 'admin',
        description: 'The app',
        defaultBranch: 'trunk',
        sizeBytes: 0,
        lastPushAt: null,
      },
    );
    const bare = path.join(gw.repoRoot, 'team', 'app.git');
    // The defaults and hooks of `gitward repo create`.
    assert.equal((await gitOk(['config', 'receive.fsckObjects'], { cwd: bare, env: gw.gitEnv })).trim(), 'true');
    assert.ok(fs.lstatSync(path.join(bare, 'hooks', 'pre-receive')).isSymbolicLink());

    const work = path.join(gw.dir, 'work');
    const sha = await makeWorkTree(work, gw.gitEnv);
    await gitOk(['push', gw.url('team/app', { user: 'ann', password: PASSWORDS.ann }), 'main:trunk'], {
      cwd: work,
      env: gw.gitEnv,
    });
    const clone = path.join(gw.dir, 'clone');
    await gitOk(['clone', '--quiet', gw.url('team/app', { user: 'carl', password: PASSWORDS.carl }), clone], {
      cwd: gw.dir,
      env: gw.gitEnv,
    });
    assert.equal((await gitOk(['rev-parse', 'HEAD'], { cwd: clone, env: gw.gitEnv })).trim(), sha);
    assert.equal(fs.readFileSync(path.join(clone, 'file0.txt'), 'utf8'), 'content 0\n');

    const list = await api('GET', '/repos?group=team', 'carl');
    assert.equal(list.status, 200, list.text);
    const body = list.body as { repos: Array<Record<string, unknown>>; total: number; page: number; perPage: number };
    assert.deepEqual(
      body.repos.map((r) => [r.name, r.access]),
      [
        ['team/app', 'read'],
        ['team/fixed', 'read'],
        ['team/old', 'read'],
      ],
    );
    assert.equal(body.total, 3);
    const app = body.repos[0] as Record<string, unknown>;
    assert.equal(app.defaultBranch, 'trunk');
    assert.equal(app.description, 'The app');
    assert.equal(typeof app.lastPushAt, 'string');
    assert.ok((app.sizeBytes as number) > 0);
  });

  it('list: only readable repos, a project group by whole segments, and pages', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    for (const n of ['ci/a', 'ci/b', 'ci/c'])
      assert.equal((await api('POST', '/repos', 'ben', { body: { name: n } })).status, 201);
    fs.mkdirSync(path.join(gw.repoRoot, 'cim', 'x.git'), { recursive: true });
    const names = async (q: string, user: User | null): Promise<unknown> => {
      const a = await api('GET', `/repos${q}`, user);
      assert.equal(a.status, 200, a.text);
      return (a.body as { repos: Array<{ name: string }> }).repos.map((r) => r.name);
    };
    assert.deepEqual(await names('', 'ben'), ['ci/a', 'ci/b', 'ci/c']);
    assert.deepEqual(await names('?group=ci', 'ben'), ['ci/a', 'ci/b', 'ci/c']);
    assert.deepEqual(await names('?perPage=2&page=2', 'ben'), ['ci/c']);
    assert.deepEqual(await names('', 'dave'), []);
    assert.deepEqual(await names('', null), []);
    assert.equal(errorCode(await api('GET', '/repos?perPage=0', 'ben')), 'invalid_argument');
    assert.equal(errorCode(await api('GET', '/repos?group=../x', 'ben')), 'invalid_name');
  });

  it('who may: 401 anonymous, 403 without a grant, 404 for a repo the caller may not read', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    const anon = await api('POST', '/repos', null, { body: { name: 'team/x' } });
    assert.equal(anon.status, 401);
    assert.equal(errorCode(anon), 'unauthorized');
    assert.match(String(anon.headers['www-authenticate']), /^Basic realm="gitward"/);
    assert.equal(errorCode(await api('POST', '/repos', 'carl', { body: { name: 'team/x' } })), 'forbidden');
    assert.equal(errorCode(await api('POST', '/repos', 'ben', { body: { name: 'team/x' } })), 'forbidden');
    assert.equal(errorCode(await api('GET', '/repos/team/old', 'dave')), 'not_found');
    assert.equal((await api('GET', '/repos/team/old', 'dave')).status, 404);
    assert.equal(errorCode(await api('DELETE', '/repos/team/old', 'dave')), 'not_found');
    assert.equal(errorCode(await api('DELETE', '/repos/team/old', 'carl')), 'forbidden');
    assert.equal(errorCode(await api('PATCH', '/repos/team/old', 'carl', { body: { name: 'team/new' } })), 'forbidden');
    // ben may create under ci/ but not move a team repo there, nor a ci repo into team/.
    assert.equal((await api('POST', '/repos', 'ben', { body: { name: 'ci/mine' } })).status, 201);
    assert.equal(errorCode(await api('PATCH', '/repos/ci/mine', 'ben', { body: { name: 'ci/other' } })), 'forbidden');
    assert.equal(errorCode(await api('PATCH', '/repos/team/old', 'ann', { body: { name: 'ci/old' } })), 'forbidden');
    assert.equal(fs.existsSync(path.join(gw.repoRoot, 'team', 'old.git')), true);
  });

  it('a .create-only creator gets the tree grants of the node, nothing more', async (t) => {
    const gw = await startGitward(t, {
      users: PASSWORDS,
      config: { repos: { ci: { '.create': ['ben'], '.read': ['carl'] } } },
    });
    const api = caller(gw);
    const made = await api('POST', '/repos', 'ben', { body: { name: 'ci/tool' } });
    assert.equal(made.status, 201, made.text);
    assert.equal((made.body as { access: string }).access, 'none');
    assert.equal((await api('GET', '/repos/ci/tool', 'ben')).status, 404);
    assert.equal((await api('GET', '/repos/ci/tool', 'carl')).status, 200);
  });

  it('bad input: a name the config cannot hold is 400 naming the rule; unknown fields, bad JSON, wrong type, too big', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    const bad = await api('POST', '/repos', 'ann', { body: { name: 'team/.hidden' } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'invalid_name');
    assert.match((bad.body as { message: string }).message, /start with a letter or digit/);
    const dots = await api('POST', '/repos', 'ann', { body: { name: 'team/a..b' } });
    assert.match((dots.body as { message: string }).message, /"\.\." is not allowed/);
    assert.equal(
      errorCode(await api('POST', '/repos', 'ann', { body: { name: 'team/x', owner: 'me' } })),
      'invalid_argument',
    );
    assert.equal(
      errorCode(await api('POST', '/repos', 'ann', { body: { name: 'team/x', defaultBranch: 'a..b' } })),
      'invalid_argument',
    );
    assert.equal(
      errorCode(await api('POST', '/repos', 'ann', { body: { name: 'team/x', description: 'two\nlines' } })),
      'invalid_argument',
    );
    assert.equal(errorCode(await api('POST', '/repos', 'ann', { body: '{"name": ' })), 'bad_request');
    assert.equal(
      errorCode(
        await api('POST', '/repos', 'ann', { body: 'name=team/x', contentType: 'application/x-www-form-urlencoded' }),
      ),
      'unsupported_media_type',
    );
    assert.equal(
      errorCode(await api('POST', '/repos', 'ann', { body: { name: 'team/x', description: 'x'.repeat(20_000) } })),
      'payload_too_large',
    );
    assert.equal(errorCode(await api('PUT', '/repos/team/old', 'ann', { body: {} })), 'method_not_allowed');
    assert.equal(errorCode(await api('GET', '/nothing', 'ann')), 'not_found');
    assert.deepEqual(fs.readdirSync(path.join(gw.repoRoot, 'team')).sort(), ['fixed.git', 'old.git']);
  });

  it('rename and delete: moved whole, to the trash and recoverable; a repo the config names is refused', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    const moved = await api('PATCH', '/repos/team/old', 'ann', { body: { name: 'team/renamed' } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal((moved.body as { name: string }).name, 'team/renamed');
    assert.equal(errorCode(await api('GET', '/repos/team/old', 'ann')), 'not_found');
    assert.equal(
      errorCode(await api('PATCH', '/repos/team/renamed', 'ann', { body: { name: 'team/fixed' } })),
      'repo_exists',
    );

    const gone = await api('DELETE', '/repos/team/renamed', 'ann');
    assert.equal(gone.status, 200, gone.text);
    const trash = (gone.body as { trash: string }).trash;
    assert.match(trash, /^\.gitward-trash\/\d{8}T\d{6}Z-[0-9a-f]+\/team\/renamed\.git$/);
    assert.ok(fs.statSync(path.join(gw.repoRoot, trash, 'HEAD')).isFile(), 'the repo is whole in the trash');
    assert.equal(errorCode(await api('GET', '/repos/team/renamed', 'ann')), 'not_found');
    assert.equal(errorCode(await api('DELETE', '/repos/team/renamed', 'ann')), 'not_found');

    for (const [method, body] of [
      ['DELETE', undefined],
      ['PATCH', { name: 'team/elsewhere' }],
    ] as const) {
      const r = await api(method, '/repos/team/fixed', 'ann', body ? { body } : {});
      assert.equal(r.status, 409, r.text);
      assert.equal(errorCode(r), 'repo_configured');
      assert.match((r.body as { message: string }).message, /named in the config at .*gitward\.yaml:\d+/);
    }
    assert.ok(fs.statSync(path.join(gw.repoRoot, 'team', 'fixed.git', 'HEAD')).isFile());
  });

  it('every request writes one audit line naming the API action, the repo and the user', async (t) => {
    const gw = await apiServer(t);
    const api = caller(gw);
    const r = await api('POST', '/repos', 'ann', { body: { name: 'team/audited' } });
    const id = String(r.headers['x-request-id']);
    const line = await waitForRecord(gw, id);
    assert.deepEqual(
      [line.service, line.need, line.repo, line.user, line.decision, line.status],
      ['api', 'create', 'team/audited', 'ann', 'allowed', 201],
    );
    const denied = await api('DELETE', '/repos/team/old', 'carl');
    const dline = await waitForRecord(gw, String(denied.headers['x-request-id']));
    assert.deepEqual(
      [dline.service, dline.need, dline.repo, dline.decision, dline.status],
      ['api', 'delete', 'team/old', 'denied', 403],
    );
    assert.equal(gw.audit.records.filter((x) => x.requestId === id).length, 1);
  });

  it("brute-force limits are the git routes' own: failed logins on the API throttle the address with 429", async (t) => {
    const gw = await apiServer(t, { brute_force: { max_failures: 2, window_seconds: 600 } });
    const bad = { user: { user: 'ann', password: 'wrong' } };
    for (let i = 0; i < 2; i++)
      assert.equal(errorCode(await apiRequest(gw.origin, 'GET', `${API}/repos`, bad)), 'unauthorized');
    const r = await caller(gw)('GET', '/repos', 'ann');
    assert.equal(r.status, 429);
    assert.equal(errorCode(r), 'too_many_requests');
    assert.ok(Number(r.headers['retry-after']) >= 1);
    // The same address is throttled on the git routes too: one limiter.
    const git = await apiRequest(gw.origin, 'GET', '/team/old.git/info/refs?service=git-upload-pack', {
      user: { user: 'ann', password: PASSWORDS.ann },
    });
    assert.equal(git.status, 429);
  });

  it('api.enabled: false answers 404 for every API path', async (t) => {
    const gw = await apiServer(t, { api: { enabled: false } });
    assert.equal(errorCode(await caller(gw)('GET', '/repos', 'ann')), 'not_found');
  });
});

/** The audit record of request `id`, once written (it is written when the response closes). */
async function waitForRecord(gw: TestGitward, id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const r = gw.audit.records.find((x) => x.requestId === id);
    if (r) return r as unknown as Record<string, unknown>;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
