import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { requireBinary } from '../helpers/nginx.js';
import { tempDir } from '../helpers/tmp.js';

const UNIT = path.resolve(__dirname, '..', '..', '..', 'deploy', 'systemd', 'gitward.service');
/** The ExecStart binary of the shipped unit; verify insists that it exists and is executable. */
const SHIPPED_BINARY = '/opt/gitward/app/gitward';

function verify(file: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', ['verify', file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEMD_LOG_COLOR: '0' } }, (err, _out, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

/**
 * Copies the shipped unit into `dir`, pointing ExecStart at a stub executable there: the real
 * path (/opt/gitward) does not exist on a test machine, and `systemd-analyze verify` fails a unit
 * whose command is missing. Only that one path changes.
 */
function stagedUnit(dir: string, text = fs.readFileSync(UNIT, 'utf8')): string {
  const stub = path.join(dir, 'gitward-stub');
  fs.writeFileSync(stub, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  assert.ok(text.includes(SHIPPED_BINARY), 'the unit starts /opt/gitward/app/gitward');
  const file = path.join(dir, 'gitward.service');
  fs.writeFileSync(file, text.split(SHIPPED_BINARY).join(stub));
  return file;
}

/** Lines of verify's output about our file (the host may add unrelated noise about its own units). */
function aboutUnit(stderr: string, file: string): string[] {
  return stderr.split('\n').filter((l) => l.includes(file) || l.includes('gitward.service'));
}

test('systemd-analyze verify accepts the shipped gitward.service without warnings', async (t) => {
  if (requireBinary(t, 'systemd-analyze') === null) return;
  const dir = tempDir(t);
  const file = stagedUnit(dir);
  const r = await verify(file);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(aboutUnit(r.stderr, file), []);
});

test('systemd-analyze verify catches a broken unit (the check above can fail)', async (t) => {
  if (requireBinary(t, 'systemd-analyze') === null) return;
  const dir = tempDir(t);
  // ExecStart pointing at a path that does not exist: verify must refuse it.
  const missing = path.join(dir, 'missing.service');
  fs.writeFileSync(missing, fs.readFileSync(UNIT, 'utf8').split(SHIPPED_BINARY).join(path.join(dir, 'nope')));
  const r1 = await verify(missing);
  assert.notEqual(r1.code, 0);
  // A misspelt directive is only a warning for systemd; our check above treats it as a failure.
  const typo = stagedUnit(dir, fs.readFileSync(UNIT, 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
  const r2 = await verify(typo);
  assert.ok(aboutUnit(r2.stderr, typo).some((l) => /Unknown key/.test(l)), r2.stderr);
});

const REQUIRED: ReadonlyArray<[string, RegExp]> = [
  ['a dedicated user', /^User=gitward$/m],
  ['a runtime directory for the socket', /^RuntimeDirectory=gitward$/m],
  ['reload through SIGHUP', /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m],
  ['a config check before the reload signal', /^ExecReload=\/opt\/gitward\/app\/gitward check --config \/etc\/gitward\/gitward\.yaml\nExecReload=\/bin\/kill -HUP/m],
  ['no restart loop on a bad config (exit 78)', /^RestartPreventExitStatus=78$/m],
  ['the socket group of its own, the gitward group for config and repos', /^Group=gitward-sock\nSupplementaryGroups=gitward$/m],
  ['restart on failure', /^Restart=on-failure$/m],
  ['no new privileges', /^NoNewPrivileges=yes$/m],
  ['a read-only system', /^ProtectSystem=strict$/m],
  ['writable repos and logs only', /^ReadWritePaths=\/srv\/git -\/var\/log\/gitward$/m],
  ['a private /tmp', /^PrivateTmp=yes$/m],
  ['no access to homes', /^ProtectHome=yes$/m],
  ['no capabilities', /^CapabilityBoundingSet=$/m],
  ['unix and IP sockets only', /^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$/m],
  ['the system-service syscall filter', /^SystemCallFilter=@system-service$/m],
];

for (const [what, pattern] of REQUIRED) {
  test(`gitward.service has ${what}`, () => {
    assert.match(fs.readFileSync(UNIT, 'utf8'), pattern);
  });
}

test('gitward.service does not re-own /var/log/gitward (LogsDirectory=), where sidecar mode\'s hook log belongs to fcgiwrap\'s user', () => {
  // systemd chowns a LogsDirectory= and everything below it to User= at each start.
  assert.doesNotMatch(fs.readFileSync(UNIT, 'utf8'), /^LogsDirectory=/m);
});

test('gitward.service does not deny W^X memory (V8 needs it) nor claim socket activation', () => {
  const text = fs.readFileSync(UNIT, 'utf8');
  assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes/m);
  assert.doesNotMatch(text, /^Sockets=/m);
});
