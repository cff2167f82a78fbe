import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildBackendEnv } from '../../app/backend/backend-env.js';
import { adminGitEnv } from '../../app/cli/repo-admin.js';
import { SERVER_GIT_ENV } from '../../app/git/server-git-env.js';
import { gitChildEnv } from '../../hooks/git-child-env.js';
import { receiveLocks } from '../../hooks/ref-namespace.js';
import { branchProtectGrants } from '../../plugins/hooks/branch-protect.js';
import type { GitRequest } from '../../app/types.js';
import { gitEnv, gitOk } from '../helpers/git.js';
import { tempDir } from '../helpers/tmp.js';

const SIDECAR_SITE = path.resolve(__dirname, '..', '..', '..', 'deploy', 'nginx', 'gitward-sidecar.conf');

describe('the server git environment has one owner', () => {
  it('the shipped sidecar site passes fcgiwrap every variable of SERVER_GIT_ENV, with its value', () => {
    const params = new Map<string, string>();
    for (const m of fs.readFileSync(SIDECAR_SITE, 'utf8').matchAll(/^\s*fastcgi_param\s+(\S+)\s+(\S+?);/gm))
      params.set(m[1] as string, m[2] as string);
    assert.ok(Object.keys(SERVER_GIT_ENV).length >= 2);
    for (const [name, value] of Object.entries(SERVER_GIT_ENV))
      assert.equal(params.get(name), value, `fastcgi_param ${name} ${value}; in ${SIDECAR_SITE}`);
  });

  it('the backend, the hook children and the CLI get it, and nothing a caller passes overrides it', () => {
    const hostile = { GIT_NO_REPLACE_OBJECTS: '', GIT_GRAFT_FILE: '/tmp/grafts', PATH: '/usr/bin' };
    const git = {
      repo: 'x',
      service: 'git-receive-pack',
      need: 'write',
      kind: 'rpc',
      suffix: '/git-receive-pack',
    } as unknown as GitRequest;
    const backend = buildBackendEnv({
      cgi: hostile,
      git,
      identity: { user: 'ann', source: 'htpasswd', groups: [], info: {} },
      repoRoot: '/srv/git',
      configFile: '',
      requestId: 'r',
      logDir: null,
      processEnv: {},
      git4nginxEnv: false,
    });
    for (const env of [backend, gitChildEnv(hostile), adminGitEnv(hostile)]) {
      for (const [name, value] of Object.entries(SERVER_GIT_ENV)) assert.equal(env[name], value, name);
    }
  });

  it('grafts ignored: a graft file in the repo changes no history git reports under it', async (t) => {
    const dir = tempDir(t, 'gitward-grafts-');
    const env = gitEnv(path.join(dir, 'home'));
    const repo = path.join(dir, 'r.git');
    await gitOk(['init', '--quiet', '--bare', repo], { cwd: dir, env });
    const g = (args: string[], e = env) => gitOk(args, { cwd: repo, env: e }).then((s) => s.trim());
    const empty = (await gitOk(['mktree'], { cwd: repo, env, input: '' })).trim();
    const a = await g(['commit-tree', empty, '-m', 'a']);
    const b = await g(['commit-tree', empty, '-m', 'b']);
    fs.writeFileSync(path.join(repo, 'info', 'grafts'), `${b} ${a}\n`);
    assert.equal(await g(['rev-list', '--parents', b]), `${b} ${a}\n${a}`, 'control: plain git follows the graft');
    const server = { ...env, ...SERVER_GIT_ENV };
    assert.equal(await g(['rev-list', '--parents', b], server), b);
    const r = await gitOk(['merge-base', '--is-ancestor', a, b], { cwd: repo, env: server }).then(
      () => 0,
      () => 1,
    );
    assert.equal(r, 1, 'a is not an ancestor of b');
  });
});

describe('receiveLocks: git locks where no rule grants', () => {
  const on = { denyNonFastForwards: true, denyDeletes: true };
  const value = (pairs: Array<readonly [string, string]>, key: string) =>
    pairs.filter(([k]) => k === key).map(([, v]) => v);
  it('no branch-protect: force and delete locked, every ref outside heads and tags hidden', () => {
    const l = receiveLocks(branchProtectGrants(undefined), on);
    assert.deepEqual(value(l, 'receive.denyNonFastForwards'), ['true']);
    assert.deepEqual(value(l, 'receive.denyDeletes'), ['true']);
    // gitward doctor's probe refs reach the hook, which refuses them all (protocol/doctor-probe.ts).
    assert.deepEqual(value(l, 'receive.hideRefs'), ['refs/', '!refs/heads/', '!refs/tags/', '!refs/gitward/doctor/']);
  });
  it('a force or delete grant anywhere lifts that lock; refs patterns are shown by their literal prefix', () => {
    const grants = branchProtectGrants({
      enable: true,
      branches: { main: { push: ['@eng'], force: ['admin'] }, 'wip/*': { delete: ['$authenticated'] } },
      tags: { '**': { delete: ['admin'] } },
      refs: { 'refs/notes/*': { push: ['@eng'] }, 'refs/review/**/head': {}, 'refs/meta/config': {} },
    });
    const l = receiveLocks(grants, on);
    assert.deepEqual(value(l, 'receive.denyNonFastForwards'), ['false']);
    assert.deepEqual(value(l, 'receive.denyDeletes'), ['false']);
    assert.deepEqual(value(l, 'receive.hideRefs'), [
      'refs/',
      '!refs/heads/',
      '!refs/tags/',
      '!refs/notes/',
      '!refs/review/',
      '!refs/meta/config',
      '!refs/gitward/doctor/',
    ]);
  });
  it('empty grant lists grant nothing; repo_defaults can turn a lock off', () => {
    const grants = branchProtectGrants({ branches: { main: { force: [], delete: [] } } });
    assert.deepEqual(value(receiveLocks(grants, on), 'receive.denyDeletes'), ['true']);
    assert.deepEqual(
      value(receiveLocks(grants, { denyNonFastForwards: false, denyDeletes: true }), 'receive.denyNonFastForwards'),
      ['false'],
    );
  });
});
