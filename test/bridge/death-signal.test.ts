import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsDeathSignal } from '../../app/backend/run-backend.js';

describe('which backends run under setpriv --pdeathsig', () => {
  const cases: Array<[string, Record<string, string>, boolean, boolean]> = [
    ['a receive-pack POST with a Content-Length', { PATH_INFO: '/web/site.git/git-receive-pack', CONTENT_LENGTH: '4' }, true, true],
    ['a chunked receive-pack POST (no CONTENT_LENGTH: read to EOF)', { PATH_INFO: '/web/site.git/git-receive-pack' }, true, false],
    ['a receive-pack POST with CONTENT_LENGTH 0', { PATH_INFO: '/web/site.git/git-receive-pack', CONTENT_LENGTH: '0' }, true, false],
    ['an upload-pack POST with a Content-Length (read_in_full ends at EOF)', { PATH_INFO: '/web/site.git/git-upload-pack', CONTENT_LENGTH: '120' }, true, false],
    ['a GET of info/refs', { PATH_INFO: '/web/site.git/info/refs' }, true, false],
    ['a repo whose name ends like the service is not the service', { PATH_INFO: '/web/git-receive-pack.git/info/refs', CONTENT_LENGTH: '4' }, true, false],
    ['no setpriv on the machine', { PATH_INFO: '/web/site.git/git-receive-pack', CONTENT_LENGTH: '4' }, false, false],
  ];
  for (const [name, env, haveSetpriv, want] of cases) {
    it(`${name}: ${want ? 'yes' : 'no'}`, () => assert.equal(needsDeathSignal(env, haveSetpriv), want));
  }
});
