import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText } from '../../app/config/load.js';
import { compilePolicy } from '../../app/policy/compile.js';
import { hookSettingsFor } from '../../app/policy/hook-settings.js';

const CONFIG = `
repo_root: /srv/git
repos:
  .hooks:
    branch-protect: {branches: {main: {push: [ann]}}}
  web:
    .hooks:
      branch-flow: {flow: [dev, staging, main]}
    docs.git:
      .hooks:
        branch-flow: {enable: false}
    site.git:
      .hooks:
        branch-protect: {branches: {release: {push: [ben]}}}
    sub:
      .hooks:
        branch-flow: {enable: false}
      again.git:
        .hooks:
          branch-flow: {flow: [a, b]}
`;

const CASES: [repo: string, expected: Record<string, unknown>][] = [
  ['tools', { 'branch-protect': { branches: { main: { push: ['ann'] } } } }],
  [
    'web/unlisted',
    {
      'branch-protect': { branches: { main: { push: ['ann'] } } },
      'branch-flow': { flow: ['dev', 'staging', 'main'] },
    },
  ],
  ['web/docs', { 'branch-protect': { branches: { main: { push: ['ann'] } } } }],
  [
    'web/site',
    {
      'branch-protect': { branches: { release: { push: ['ben'] } } },
      'branch-flow': { flow: ['dev', 'staging', 'main'] },
    },
  ],
  ['web/sub/x', { 'branch-protect': { branches: { main: { push: ['ann'] } } } }],
  [
    'web/sub/again',
    { 'branch-protect': { branches: { main: { push: ['ann'] } } }, 'branch-flow': { flow: ['a', 'b'] } },
  ],
];

for (const [repo, expected] of CASES) {
  test(`hookSettingsFor ${repo}: deepest setting wins whole, enable:false removes`, () => {
    const policy = compilePolicy(loadConfigText(CONFIG, '/etc/gitward/gitward.yaml'));
    const got = Object.fromEntries([...hookSettingsFor(policy, repo)].map(([k, v]) => [k, v.options]));
    assert.deepEqual(got, expected);
  });
}

test('hookSettingsFor: each setting carries file:line', () => {
  const policy = compilePolicy(loadConfigText(CONFIG, '/etc/gitward/gitward.yaml'));
  assert.equal(hookSettingsFor(policy, 'web/site').get('branch-protect')?.where, '/etc/gitward/gitward.yaml:14');
});
