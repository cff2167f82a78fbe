/**
 * `gitward doctor` never puts the password in a git command line, where any local user reads it
 * (`ps`, /proc/PID/cmdline): not one it got from a credential helper, nor one given in the URL.
 * Every git run of doctor goes through a `git` wrapper first on PATH that records its argv; the
 * password reaches git through doctor's GIT_ASKPASS program, and the clone check proves it did.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startGitward } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const PASSWORD = 'doctor-argv-s3cret';

function runDoctorCli(url: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const main = path.join(__dirname, '..', '..', 'app', 'main.js');
    const child = spawn(process.execPath, [main, 'doctor', url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString() }));
  });
}

test('gitward doctor keeps the password out of every git command line: from a credential helper or from the URL', async (t) => {
  const gw = await startGitward(t, {
    users: { ann: PASSWORD },
    config: { users: { ann: {} }, repos: { 'site.git': { '.write': ['ann'] } } },
    repos: ['site'],
  });
  const dir = tempDir(t, 'gitward-doctor-argv-');
  // The wrapper: one line per git run (its arguments, NUL-separated), then the real git.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const argvLog = path.join(dir, 'argv.log');
  fs.writeFileSync(
    path.join(bin, 'git'),
    `#!/bin/sh\nprintf '%s\\0' "$@" >>'${argvLog}'\nprintf '\\n' >>'${argvLog}'\nexec /usr/bin/git "$@"\n`,
    { mode: 0o755 },
  );
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: home, LANG: 'C' };
  const repoUrl = new URL(`${gw.origin}/site.git`);
  repoUrl.username = 'ann';

  // 1. The password from a credential helper (git's own `store`, a file in HOME).
  const withUser = repoUrl.toString();
  const withPassword = new URL(withUser);
  withPassword.password = PASSWORD;
  fs.writeFileSync(
    path.join(home, '.git-credentials'),
    `${withPassword.origin.replace('//', `//ann:${PASSWORD}@`)}\n`,
    {
      mode: 0o600,
    },
  );
  fs.writeFileSync(path.join(home, '.gitconfig'), '[credential]\n\thelper = store\n');
  // 2. The password in the URL, no helper.
  const cases: Array<[string, string, () => void]> = [
    ['a credential helper', withUser, () => undefined],
    [
      'the URL',
      withPassword.toString(),
      () => {
        fs.rmSync(path.join(home, '.gitconfig'));
        fs.rmSync(path.join(home, '.git-credentials'));
      },
    ],
  ];
  for (const [source, url, before] of cases) {
    before();
    fs.rmSync(argvLog, { force: true });
    const r = await runDoctorCli(url, env);
    assert.match(r.out, /^ok +clone/m, `the password from ${source} reached git:\n${r.out}`);
    assert.ok(!r.out.includes(PASSWORD), `doctor printed the password from ${source}`);
    const runs = fs
      .readFileSync(argvLog, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.ok(runs.length >= 3, `doctor's git runs were recorded (${runs.length})`);
    for (const run of runs)
      assert.ok(!run.includes(PASSWORD), `the password from ${source} was in a git argv: ${run.replaceAll('\0', ' ')}`);
  }
});
