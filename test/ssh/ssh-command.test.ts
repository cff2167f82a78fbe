import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadRequest } from '../../app/errors.js';
import { parseSshCommand } from '../../app/ssh/ssh-command.js';

test('parseSshCommand accepts the three services with one repo in git quoting', () => {
  const ok: ReadonlyArray<[string, string, string, string]> = [
    ["git-upload-pack '/web/site.git'", 'git-upload-pack', 'web/site', 'read'],
    ["git-upload-pack 'web/site.git'", 'git-upload-pack', 'web/site', 'read'],
    ["git-upload-pack 'web/site'", 'git-upload-pack', 'web/site', 'read'],
    ["git-receive-pack '/web/site.git'", 'git-receive-pack', 'web/site', 'write'],
    ["git-upload-archive 'web/site.git'", 'git-upload-archive', 'web/site', 'read'],
    // git's sq quoting of an exclamation mark, joined back into one argument.
    ["git-upload-pack 'a'\\!'b.git'", 'git-upload-pack', 'a!b', 'read'],
  ];
  for (const [raw, service, repo, need] of ok) {
    if (raw.includes('!')) {
      // "!" is not a repo name character: the quoting is understood, the name then refused.
      assert.throws(() => parseSshCommand(raw), /invalid repository name/);
      continue;
    }
    assert.deepEqual(parseSshCommand(raw), { service, repo, need }, raw);
  }
});

test('parseSshCommand refuses hostile commands with one line (path traversal, shell injection, options, shells)', () => {
  const bad: ReadonlyArray<[string | undefined, RegExp]> = [
    [undefined, /interactive shells are not allowed/],
    ['', /interactive shells are not allowed/],
    ['   ', /interactive shells are not allowed/],
    ["git-upload-pack '../x.git'", /invalid repository name/],
    ["git-upload-pack 'web/../x.git'", /invalid repository name/],
    ["git-upload-pack '//etc/passwd'", /empty path segment/],
    ["git-upload-pack '~root/x.git'", /invalid repository name/],
    ["git-upload-pack 'web/%2e%2e/x.git'", /invalid repository name/],
    ["git-upload-pack 'a.git' 'b.git'", /exactly one quoted/],
    ["git-upload-pack 'a.git' ", /exactly one quoted/],
    ['git-upload-pack a.git', /exactly one quoted/],
    ["git-upload-pack 'a.git", /exactly one quoted/],
    ["git-upload-pack 'a.git'; rm -rf /", /exactly one quoted/],
    ["git-upload-pack 'a.git' | sh", /exactly one quoted/],
    ["git-upload-pack 'a.git'\nid", /exactly one quoted/],
    ["git-upload-pack '$(id)'", /invalid repository name/],
    ["git-upload-pack '`id`'", /invalid repository name/],
    ["git-upload-pack 'a;id'", /invalid repository name/],
    ["git-upload-pack 'a\u0000b'", /invalid repository name/],
    ['git-upload-pack --help', /exactly one quoted/],
    ["git-upload-pack --upload-pack=id 'a.git'", /exactly one quoted/],
    ['git-upload-pack', /needs a repository argument/],
    ["git-upload-pack  'a.git'", /exactly one quoted/],
    ["git upload-pack 'a.git'", /only git-upload-pack/],
    ["git-shell -c 'id'", /only git-upload-pack/],
    ["git-upload-pack\t'a.git'", /only git-upload-pack/],
    ['sh', /only git-upload-pack/],
    ['bash -i', /only git-upload-pack/],
    ['scp -t /tmp', /only git-upload-pack/],
    ['internal-sftp', /only git-upload-pack/],
    [`git-upload-pack '${'a'.repeat(2000)}'`, /too long/],
  ];
  for (const [raw, why] of bad) {
    assert.throws(
      () => parseSshCommand(raw),
      (err: unknown) => err instanceof BadRequest && why.test(err.message) && !err.message.includes('\n'),
      String(raw),
    );
  }
});
