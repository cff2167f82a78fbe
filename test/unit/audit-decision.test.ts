import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditDecision } from '../../app/audit/request-audit.js';

/** [policy, errorStatus, outcome, status sent, decision, why] */
const CASES: ReadonlyArray<
  readonly ['allowed' | 'denied' | null, number | null, 'invalid' | 'denied' | 'error' | null, number, string, string]
> = [
  ['allowed', null, null, 200, 'allowed', 'the policy allowed, git answered'],
  ['allowed', null, null, 0, 'allowed', 'allowed, the client left before an answer'],
  ['allowed', 502, null, 502, 'error', 'allowed, the backend failed'],
  ['allowed', 404, null, 404, 'allowed', 'allowed, the repo is missing on disk'],
  ['denied', 404, null, 404, 'denied', 'hidden'],
  [null, 401, null, 401, 'denied', 'bad credentials, before the policy'],
  [null, 429, null, 429, 'denied', 'throttled'],
  [null, 400, null, 400, 'invalid', 'not a git request'],
  [null, 405, null, 405, 'invalid', 'a method git does not use'],
  [null, 500, null, 500, 'error', 'an internal error'],
  [null, null, 'invalid', 403, 'invalid', 'a malformed sidecar subrequest (403 to nginx)'],
  ['allowed', null, 'denied', 403, 'denied', 'a user name the sidecar cannot pass on'],
  ['allowed', null, 'error', 403, 'error', 'identity headers too large for nginx'],
  [null, null, null, 200, 'allowed', '/healthz'],
  [null, null, null, 0, 'error', 'no answer and nothing known'],
];

for (const [policy, errorStatus, outcome, status, decision, why] of CASES) {
  test(`auditDecision: ${why} → ${decision}`, () => {
    assert.equal(auditDecision({ policy, errorStatus, outcome }, status), decision);
  });
}
