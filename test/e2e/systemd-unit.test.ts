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
    execFile(
      'systemd-analyze',
      ['verify', file],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEMD_LOG_COLOR: '0' } },
      (err, _out, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
      },
    );
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
  assert.ok(
    aboutUnit(r2.stderr, typo).some((l) => /Unknown key/.test(l)),
    r2.stderr,
  );
});

/** One finding of `systemd-analyze security --offline=yes --json=short`. */
interface Finding {
  readonly name: string;
  readonly set: boolean;
  readonly description: string;
}

/**
 * systemd's own review of the staged unit's sandboxing (`systemd-analyze security --offline`),
 * which reads the unit as systemd does: a misspelt or overridden setting shows as not set.
 */
function security(file: string, threshold?: number): Promise<{ code: number; findings: Finding[]; out: string }> {
  const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        'systemd-analyze',
        ['security', '--offline=yes', ...args, file],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SYSTEMD_LOG_COLOR: '0' } },
        (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        },
      );
    });
  // Two runs: the exposure is judged by the table run (--threshold), the findings read from the
  // JSON run.
  return Promise.all([run(threshold === undefined ? [] : [`--threshold=${threshold}`]), run(['--json=short'])]).then(
    ([table, json]) => {
      let findings: Finding[] = [];
      try {
        findings = JSON.parse(json.stdout) as Finding[];
      } catch {
        // No JSON: the assertions below show the output.
      }
      return { code: table.code, findings, out: `${table.stdout}${table.stderr}${json.stderr}` };
    },
  );
}

/** The sandboxing the unit must have, by systemd-analyze security's names, and what each is for. */
const HARDENING: ReadonlyArray<[string, string]> = [
  ['User=/DynamicUser=', 'a static non-root user'],
  ['NoNewPrivileges=', 'no new privileges'],
  ['ProtectSystem=', 'a read-only system'],
  ['PrivateTmp=', 'a private /tmp'],
  ['ProtectHome=', 'no access to homes'],
  ['PrivateDevices=', 'no devices'],
  ['AmbientCapabilities=', 'no ambient capabilities'],
  ['CapabilityBoundingSet=~CAP_SYS_ADMIN', 'no capabilities (admin)'],
  ['CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)', 'no capabilities (file permissions)'],
  ['CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)', 'no capabilities (network)'],
  ['RestrictAddressFamilies=~AF_PACKET', 'unix and IP sockets only (no packet sockets)'],
  ['RestrictAddressFamilies=~AF_NETLINK', 'unix and IP sockets only (no netlink)'],
  ['RestrictAddressFamilies=~…', 'unix and IP sockets only (no exotic families)'],
  ['SystemCallFilter=~@privileged', 'the system-service syscall filter without @privileged'],
  ['SystemCallFilter=~@mount', 'the system-service syscall filter (no mounts)'],
  ['SystemCallArchitectures=', 'native system calls only'],
  ['RestrictNamespaces=~user', 'no user namespaces'],
  ['ProtectKernelTunables=', 'no kernel tunables'],
];

test('systemd-analyze security (offline) finds the unit sandboxed as intended', async (t) => {
  if (requireBinary(t, 'systemd-analyze') === null) return;
  const file = stagedUnit(tempDir(t));
  // The overall exposure is 1.6 today ("OK"); --threshold counts in tenths of the printed
  // figure, so 20 fails the run when it grows past 2.0.
  const r = await security(file, 20);
  assert.equal(r.code, 0, `exposure above 2.0: ${r.out}`);
  const byName = new Map(r.findings.map((f) => [f.name, f]));
  for (const [name, what] of HARDENING) {
    assert.equal(byName.get(name)?.set, true, `${what}: ${name} ${JSON.stringify(byName.get(name))}`);
  }
  assert.match(byName.get('ProtectSystem=')?.description ?? '', /strict/, 'ProtectSystem=strict');
  // Deliberately not set: V8's JIT needs writable and executable memory.
  assert.equal(byName.get('MemoryDenyWriteExecute=')?.set, false, 'MemoryDenyWriteExecute= would stop V8');
});

test('systemd-analyze security notices a unit that loses its sandboxing (the check above can fail)', async (t) => {
  if (requireBinary(t, 'systemd-analyze') === null) return;
  const text = fs
    .readFileSync(UNIT, 'utf8')
    .replace('NoNewPrivileges=yes', 'NoNewPrivileges=no')
    .replace('ProtectSystem=strict', 'ProtectSystem=full');
  const r = await security(stagedUnit(tempDir(t), text));
  const byName = new Map(r.findings.map((f) => [f.name, f]));
  assert.equal(byName.get('NoNewPrivileges=')?.set, false, r.out);
  assert.doesNotMatch(byName.get('ProtectSystem=')?.description ?? '', /strict/);
});

/**
 * What systemd-analyze cannot judge offline (it has no manager to load the unit into): how the
 * service is started, reloaded and restarted, and where it may write. These stay text checks.
 */
const REQUIRED: ReadonlyArray<[string, RegExp]> = [
  ['a dedicated user', /^User=gitward$/m],
  ['a runtime directory for the socket', /^RuntimeDirectory=gitward$/m],
  [
    'a config check before the reload signal',
    /^ExecReload=\/opt\/gitward\/app\/gitward check --config \/etc\/gitward\/gitward\.yaml\nExecReload=\/bin\/kill -HUP \$MAINPID$/m,
  ],
  ['no restart loop on a bad config (exit 78)', /^RestartPreventExitStatus=78$/m],
  [
    'the socket group of its own, the gitward group for config and repos',
    /^Group=gitward-sock\nSupplementaryGroups=gitward$/m,
  ],
  ['restart on failure', /^Restart=on-failure$/m],
  ['writable repos and logs only', /^ReadWritePaths=\/srv\/git -\/var\/log\/gitward$/m],
];

for (const [what, pattern] of REQUIRED) {
  test(`gitward.service has ${what}`, () => {
    assert.match(fs.readFileSync(UNIT, 'utf8'), pattern);
  });
}

test("gitward.service does not re-own /var/log/gitward (LogsDirectory=), where sidecar mode's hook log belongs to fcgiwrap's user", () => {
  // systemd chowns a LogsDirectory= and everything below it to User= at each start.
  assert.doesNotMatch(fs.readFileSync(UNIT, 'utf8'), /^LogsDirectory=/m);
});

test('gitward.service does not claim socket activation (gitward binds its own socket)', () => {
  assert.doesNotMatch(fs.readFileSync(UNIT, 'utf8'), /^Sockets=/m);
});
