import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from '../../app/cli/main.js';
import { hashPassword, parseHtpasswd, verifyPassword } from '../../app/identity/htpasswd-file.js';
import { loadHtpasswdUsers } from '../../app/identity/htpasswd-users.js';
import { createNullLogger } from '../../app/log/logger.js';
import { tempDir } from '../helpers/tmp.js';

const MAIN = path.join(__dirname, '..', '..', 'app', 'main.js');
const runFile = promisify(execFile);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/app/main.js ...args` as a real child process, with `input` on stdin. */
function gitwardProcess(args: readonly string[], opts: { cwd: string; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs `gitward ...args` in this process: the same runCli that main.js calls, with stdin
 * that is not a terminal and a minimal environment, as the child process above gets them. A Node
 * process costs about 0.1 s of CPU to start; only the tests about separate processes (locking
 * between them, main.js's exit code) pay for one.
 */
async function gitward(args: readonly string[], opts: { cwd: string; input?: string }): Promise<Run> {
  const stdin = new PassThrough();
  stdin.end(opts.input ?? '');
  let stdout = '';
  let stderr = '';
  const out = new PassThrough().on('data', (b: Buffer) => (stdout += b.toString()));
  const err = new PassThrough().on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await runCli(args, {
    stdin,
    stdout: out,
    stderr: err,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    cwd: opts.cwd,
    isTTY: false,
    onSignal: () => undefined,
  });
  return { code, stdout, stderr };
}

/** Cheapest cost: these tests check file handling, not hash strength. */
const COST = ['--cost', '4'];

describe('gitward user', () => {
  it('20 parallel `user add` processes give 20 users, and leave no lock or temp file behind', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        gitwardProcess(['user', 'add', `user${i}`, '--file', file, '--password-stdin', ...COST], {
          cwd: dir,
          input: `pw-${i}\n`,
        }),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const parsed = parseHtpasswd(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(parsed.warnings, []);
    assert.equal(parsed.entries.size, 20);
    for (let i = 0; i < 20; i++) {
      const e = parsed.entries.get(`user${i}`);
      assert.ok(e);
      assert.equal(await verifyPassword(e, `pw-${i}`), true);
    }
    assert.deepEqual(fs.readdirSync(dir), ['users.htpasswd']);
  });

  it("add, passwd, verify, list and delete round-trip; Apache's htpasswd -vb accepts what it wrote", async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    assert.equal(
      (
        await gitward(['user', 'add', 'ann', '--file', file, '--password-stdin', ...COST], {
          cwd: dir,
          input: 'first pw\n',
        })
      ).code,
      0,
    );
    assert.match(fs.readFileSync(file, 'utf8'), /^ann:\$2y\$04\$/);
    await runFile('htpasswd', ['-v', '-b', file, 'ann', 'first pw']);
    assert.equal(
      (
        await gitward(['user', 'passwd', 'ann', '--file', file, '--password-stdin', ...COST], {
          cwd: dir,
          input: 'second pw',
        })
      ).code,
      0,
    );
    await runFile('htpasswd', ['-v', '-b', file, 'ann', 'second pw']);
    await assert.rejects(runFile('htpasswd', ['-v', '-b', file, 'ann', 'first pw']));
    assert.equal(
      (await gitward(['user', 'verify', 'ann', '--file', file, '--password-stdin'], { cwd: dir, input: 'second pw\n' }))
        .code,
      0,
    );
    assert.equal(
      (await gitward(['user', 'verify', 'ann', '--file', file, '--password-stdin'], { cwd: dir, input: 'first pw\n' }))
        .code,
      1,
    );
    assert.equal(
      (await gitward(['user', 'add', 'ben', '--file', file, '--password-stdin', ...COST], { cwd: dir, input: 'b\n' }))
        .code,
      0,
    );
    assert.equal((await gitward(['user', 'list', '--file', file], { cwd: dir })).stdout, 'ann\nben\n');
    assert.equal((await gitward(['user', 'delete', 'ann', '--file', file], { cwd: dir })).code, 0);
    assert.equal((await gitward(['user', 'list', '--file', file], { cwd: dir })).stdout, 'ben\n');
  });

  it("uses the default cost 10 and verifies users made by Apache's htpasswd -B, -m and -s", async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    await runFile('htpasswd', ['-c', '-b', '-B', '-C', '5', file, 'b', 'pw-b']);
    await runFile('htpasswd', ['-b', '-m', file, 'm', 'pw-m']);
    await runFile('htpasswd', ['-b', '-s', file, 's', 'pw-s']);
    for (const u of ['b', 'm', 's'])
      assert.equal(
        (await gitward(['user', 'verify', u, '--file', file, '--password-stdin'], { cwd: dir, input: `pw-${u}\n` }))
          .code,
        0,
        u,
      );
    assert.equal(
      (await gitward(['user', 'add', 'ten', '--file', file, '--password-stdin'], { cwd: dir, input: 'pw\n' })).code,
      0,
    );
    assert.match(fs.readFileSync(file, 'utf8'), /\nten:\$2y\$10\$/);
  });

  it('replaces the file by rename, keeping its mode, owner, CRLF line ends and the lines it does not touch', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    const text = `# team users\r\nann:${await hashPassword('a', 4)}\r\nben:${await hashPassword('b', 4)}\r\n`;
    fs.writeFileSync(file, text);
    fs.chmodSync(file, 0o640);
    const isRoot = process.getuid?.() === 0;
    // As root, give the file another owner to prove it is kept (nobody:nogroup on Debian).
    if (isRoot) fs.chownSync(file, 65534, 65534);
    const before = fs.statSync(file);
    const r = await gitward(['user', 'passwd', 'ann', '--file', file, '--password-stdin', ...COST], {
      cwd: dir,
      input: 'new\n',
    });
    assert.equal(r.code, 0, r.stderr);
    const after = fs.statSync(file);
    assert.notEqual(after.ino, before.ino, 'written to a temp file and renamed over');
    assert.equal(after.mode & 0o7777, 0o640);
    assert.equal(after.uid, before.uid);
    assert.equal(after.gid, before.gid);
    const lines = fs.readFileSync(file, 'utf8').split('\r\n');
    assert.equal(lines[0], '# team users');
    assert.equal(lines[2], text.split('\r\n')[2]);
    assert.equal(lines.length, 4);
    assert.equal(
      (await gitward(['user', 'add', 'carl', '--file', file, '--password-stdin', ...COST], { cwd: dir, input: 'c\n' }))
        .code,
      0,
    );
    assert.match(fs.readFileSync(file, 'utf8'), /\r\ncarl:\$2y\$04\$[^\r\n]+\r\n$/);
  });

  it('deleting the last user leaves an empty file, byte for byte what `htpasswd -D` leaves, which the server reads as no users', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    const apache = path.join(dir, 'apache.htpasswd');
    assert.equal(
      (await gitward(['user', 'add', 'ann', '--file', file, '--password-stdin', ...COST], { cwd: dir, input: 'pw\n' }))
        .code,
      0,
    );
    fs.copyFileSync(file, apache);
    const store = await loadHtpasswdUsers(file, { logger: createNullLogger() });
    t.after(() => store.close());
    assert.deepEqual([...(await store.entries()).keys()], ['ann']);
    assert.equal((await gitward(['user', 'delete', 'ann', '--file', file], { cwd: dir })).code, 0);
    await runFile('htpasswd', ['-D', apache, 'ann']);
    assert.deepEqual(fs.readFileSync(file), fs.readFileSync(apache));
    assert.equal(fs.readFileSync(file, 'utf8'), '');
    assert.deepEqual([...(await store.entries()).keys()], [], 'ann is gone on the next read');
    assert.equal((await gitward(['user', 'list', '--file', file], { cwd: dir })).stdout, '');
  });

  it('deleting the last user keeps the comments around it', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    fs.writeFileSync(file, `# team users\nann:${await hashPassword('pw', 4)}\n`);
    assert.equal((await gitward(['user', 'delete', 'ann', '--file', file], { cwd: dir })).code, 0);
    assert.equal(fs.readFileSync(file, 'utf8'), '# team users\n');
  });

  it('creates a new file with mode 0640 and the group of its folder', async (t) => {
    const dir = tempDir(t);
    // As root, a folder of another group (the guide's /etc/gitward is root:gitward): the file
    // takes that group, so that the server reads it. Otherwise the creator's own group.
    const isRoot = process.getuid?.() === 0;
    const gid = isRoot ? 65534 : (process.getgid?.() ?? 0);
    if (isRoot) fs.chownSync(dir, 0, gid);
    const file = path.join(dir, 'new.htpasswd');
    assert.equal(
      (await gitward(['user', 'add', 'ann', '--file', file, '--password-stdin', ...COST], { cwd: dir, input: 'a\n' }))
        .code,
      0,
    );
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    assert.equal(fs.statSync(file).gid, gid);
  });

  it('on a fresh install, check passes with a warning and `user add --config` creates the file the config names', async (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'git'));
    const config = path.join(dir, 'gitward.yaml');
    fs.writeFileSync(
      config,
      `repo_root: ${path.join(dir, 'git')}\nauthentication:\n  - {plugin: htpasswd, file: users.htpasswd}\n` +
        'users:\n  ann: {groups: [eng]}\nrepos:\n  web:\n    .read: ["@eng"]\n',
    );
    const check = await gitward(['check', '--config', config], { cwd: dir });
    assert.equal(check.code, 0, check.stderr);
    assert.match(
      check.stderr,
      /gitward\.yaml:3: warning: authentication\[0\]\.file: \S+users\.htpasswd does not exist yet: no users yet/,
    );
    const add = await gitward(['user', 'add', 'ann', '--config', config, '--password-stdin', ...COST], {
      cwd: dir,
      input: 'pw\n',
    });
    assert.equal(add.code, 0, add.stderr);
    const file = path.join(dir, 'users.htpasswd');
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    assert.deepEqual([...parseHtpasswd(fs.readFileSync(file, 'utf8')).entries.keys()], ['ann']);
    const again = await gitward(['check', '--config', config], { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /does not exist yet/);
    // Nothing else was left in the folder: no lock, no temp file.
    assert.deepEqual(fs.readdirSync(dir).sort(), ['git', 'gitward.yaml', 'users.htpasswd']);
  });

  it('breaks a stale lock left by a dead process', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    // A pid far above pid_max's default that no process has.
    fs.writeFileSync(`${file}.lock`, `${(await import('node:os')).hostname()} 4194300\n`);
    const r = await gitward(['user', 'add', 'ann', '--file', file, '--password-stdin', ...COST], {
      cwd: dir,
      input: 'a\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.existsSync(`${file}.lock`), false);
  });

  it('finds the file through --config (the first htpasswd plugin)', async (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'repos'));
    fs.writeFileSync(path.join(dir, 'users.htpasswd'), '');
    fs.writeFileSync(
      path.join(dir, 'gitward.yaml'),
      'repo_root: ./repos\nauthentication:\n  - {plugin: htpasswd, file: users.htpasswd}\n',
    );
    const r = await gitward(['user', 'add', 'ann', '--config', 'gitward.yaml', '--password-stdin', ...COST], {
      cwd: dir,
      input: 'a\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(dir, 'users.htpasswd'), 'utf8'), /^ann:/);
  });

  it('delete of a user the config still names warns with every file:line, and anna is not ann', async (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'repos'));
    fs.writeFileSync(
      path.join(dir, 'users.htpasswd'),
      `ann:${await hashPassword('a', 4)}\nanna:${await hashPassword('b', 4)}\n`,
    );
    const config = [
      'repo_root: ./repos',
      'authentication:',
      '  - {plugin: htpasswd, file: users.htpasswd}',
      'groups:',
      '  eng: [ann, anna]',
      'repos:',
      '  web:',
      '    .read: [anna]',
      '    site.git: {.write: [ann]}',
      'tests:',
      '  - {user: ann, repo: web/site, can: write}',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'gitward.yaml'), config);
    const r = await gitward(['user', 'delete', 'ann', '--config', 'gitward.yaml'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(dir, 'gitward.yaml');
    assert.equal(
      r.stderr,
      [
        `gitward user: warning: ${file} still names "ann"; remove it there before the next reload:`,
        `${file}:5: groups.eng[0]`,
        `${file}:9: repos.web.site.git.write[0]`,
        `${file}:11: tests[0].user`,
        '',
      ].join('\n'),
    );
    const other = await gitward(['user', 'delete', 'anna', '--file', 'users.htpasswd'], { cwd: dir });
    assert.equal(other.stderr, '', 'with --file there is no config to search');
  });

  const errors: Array<[string, string[], string | undefined, number, RegExp]> = [
    ['a user name with ":"', ['add', 'a:b'], 'pw\n', 2, /cannot contain ":"/],
    ['an empty user name', ['add', ''], 'pw\n', 2, /cannot be empty/],
    ['a user name with a control character', ['add', 'a\u0007b'], 'pw\n', 2, /control characters/],
    ['a password in argv', ['add', 'ann', 'secret'], 'pw\n', 2, /never taken from the command line/],
    ['no terminal and no --password-stdin', ['add', 'zed', '--cost', '4'], undefined, 2, /use --password-stdin/],
    ['a bad cost', ['add', 'ann', '--cost', '3', '--password-stdin'], 'pw\n', 2, /--cost must be/],
    ['an empty password', ['add', 'zed', '--password-stdin'], '\n', 1, /empty password/],
    ['an unknown action', ['rename', 'ann'], undefined, 2, /expected one of/],
    ['passwd of an unknown user', ['passwd', 'nobody', '--password-stdin'], 'pw\n', 1, /no user "nobody"/],
    ['delete of an unknown user', ['delete', 'nobody'], undefined, 1, /no user "nobody"/],
    ['add of an existing user', ['add', 'ann', '--password-stdin'], 'pw\n', 1, /already exists/],
    ['verify of an unknown user', ['verify', 'nobody', '--password-stdin'], 'pw\n', 1, /no user "nobody"/],
  ];
  for (const [n, [what, args, input, code, message]] of errors.entries()) {
    it(`refuses ${what} (exit ${code})`, async (t) => {
      const dir = tempDir(t);
      const file = path.join(dir, 'users.htpasswd');
      const before = `ann:${await hashPassword('a', 4)}\n`;
      fs.writeFileSync(file, before);
      // The first case as a real process: a refusal reaches the exit status through main.js.
      const r = await (n === 0 ? gitwardProcess : gitward)(['user', ...args, '--file', file], {
        cwd: dir,
        ...(input === undefined ? {} : { input }),
      });
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(fs.readFileSync(file, 'utf8'), before, 'the file is untouched');
    });
  }

  it('refuses to edit a missing file except with add (exit 1)', async (t) => {
    const dir = tempDir(t);
    for (const args of [
      ['passwd', 'ann', '--password-stdin'],
      ['delete', 'ann'],
      ['list'],
      ['verify', 'ann', '--password-stdin'],
    ]) {
      const r = await gitward(['user', ...args, '--file', 'missing.htpasswd'], { cwd: dir, input: 'pw\n' });
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /no such file/);
    }
    assert.equal(fs.existsSync(path.join(dir, 'missing.htpasswd')), false);
  });

  it('prompts on a terminal in raw mode (no echo), twice for a new password', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'users.htpasswd');
    const stdin = new PassThrough() as PassThrough & { setRawMode(on: boolean): void; rawCalls: boolean[] };
    stdin.rawCalls = [];
    stdin.setRawMode = (on: boolean) => void stdin.rawCalls.push(on);
    const stderr = new PassThrough();
    let errText = '';
    stderr.on('data', (b: Buffer) => (errText += b.toString()));
    const stdout = new PassThrough();
    stdout.resume();
    const io = { stdin, stdout, stderr, env: {}, cwd: dir, isTTY: true, onSignal: () => undefined };
    // Typed key by key, with a backspace, as a terminal in raw mode delivers it.
    stderr.on('data', (b: Buffer) => {
      if (/password: $/i.test(b.toString()))
        setImmediate(() => stdin.write(b.toString().startsWith('Retype') ? 's3cretx\u007f\r' : 's3cret\r'));
    });
    const code = await runCli(['user', 'add', 'ann', '--file', file, '--cost', '4'], io);
    assert.equal(code, 0, errText);
    assert.deepEqual(stdin.rawCalls, [true, false, true, false]);
    assert.ok(!errText.includes('s3cret'), 'the password is never echoed');
    const e = parseHtpasswd(fs.readFileSync(file, 'utf8')).entries.get('ann');
    assert.ok(e);
    assert.equal(await verifyPassword(e, 's3cret'), true);
  });
});
