/**
 * `gitward serve` (the real CLI, spawned) fails closed when an authentication plugin cannot be
 * loaded: exit 78 (bad config) before listening, with one line naming the config entry and what is
 * wrong — never a stack trace, never a server that runs without the plugin.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { prepareGitwardFiles } from '../helpers/server.js';

const MAIN = path.join(__dirname, '..', '..', 'app', 'main.js');
/** Exit code of a bad config (sysexits EX_CONFIG), DESIGN.md §7. */
const EXIT_CONFIG = 78;
/**
 * Safety net only: a failing start-up takes well under a second on an idle machine; generous,
 * because a cold Node start took over 20 s here while other suites loaded the machine.
 */
const EXIT_WAIT_MS = 120_000;

/** Runs `gitward serve --config FILE` and resolves with its exit code and output once it exits. */
function serve(configFile: string, cwd: string): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', configFile], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(cwd, 'home'), LANG: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

/** `text` as a RegExp source that matches exactly it. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** [what, plugin as written in the config, extra files, the problem the one line must name] */
const CASES: ReadonlyArray<readonly [string, string, Record<string, string>, RegExp]> = [
  [
    'a module path that does not exist',
    './plugins/missing.js',
    {},
    /: cannot find the module \/.*\/plugins\/missing\.js$/,
  ],
  ['a package name that is not installed', 'gitward-auth-not-installed', {}, /cannot find the module/],
  [
    'an export that is not a function',
    './plugins/number.js',
    { 'plugins/number.js': 'exports.createAuthPlugin = 42;\n' },
    /does not export a function "createAuthPlugin"/,
  ],
  [
    'no createAuthPlugin export at all',
    './plugins/other.js',
    { 'plugins/other.js': 'exports.makePlugin = () => ({});\n' },
    /does not export a function "createAuthPlugin"/,
  ],
  [
    'a factory whose plugin has no authenticate function',
    './plugins/half.js',
    { 'plugins/half.js': "exports.createAuthPlugin = () => ({ name: 'half' });\n" },
    /the plugin has no "authenticate" function/,
  ],
  [
    'a factory that throws on its options',
    './plugins/picky.js',
    { 'plugins/picky.js': 'exports.createAuthPlugin = () => { throw new Error(\'option "url" is required\'); };\n' },
    /option "url" is required/,
  ],
];

describe('gitward serve refuses to start when an authentication plugin fails to load', () => {
  for (const [what, plugin, files, problem] of CASES) {
    it(`${what}: exit 78, one line naming the entry, never listening`, async (t) => {
      const gw = await prepareGitwardFiles(t, { files });
      // A unix socket in the test's folder: whether gitward ever listened shows as the file.
      const socket = path.join(gw.dir, 'gitward.sock');
      gw.writeConfig({
        listen: `unix:${socket}`,
        authentication: [{ plugin: 'htpasswd', file: 'users.htpasswd' }, { plugin }],
      });
      const r = await serve(gw.configFile, gw.dir);
      assert.equal(r.code, EXIT_CONFIG, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
      const line = lines[0] as string;
      // The config names module paths relative to its folder; messages name them resolved.
      const named = plugin.startsWith('./') ? path.join(gw.dir, plugin) : plugin;
      assert.match(
        line,
        new RegExp(`^${literal(gw.configFile)}:\\d+: authentication\\[1\\]: plugin "${literal(named)}": `),
      );
      assert.match(line, problem);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(!r.stderr.includes('server.listening'));
      assert.equal(fs.existsSync(socket), false, 'gitward bound its socket');
    });
  }
});
