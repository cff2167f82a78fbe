/**
 * A git-http-backend still reading a request body with a Content-Length when gitward is killed
 * must not outlive gitward. git 2.39's http-backend loops on read() = 0 (pipe_fixed_length) once
 * its stdin is gone, at full CPU, for ever; the CGI spawner gives every program it started SIGTERM
 * when gitward dies (the kernel's parent-death signal, app/backend/cgi-spawner.py).
 */
import net from 'node:net';
import { test } from 'node:test';
import { prepareGitwardFiles } from '../helpers/server.js';
import { descendantsOf, describeProcs, processesWithEnv, SAFETY_NET_MS, waitFor } from '../helpers/procs.js';
import { serveChild } from './fault-kit.js';

test('a backend whose request body is cut off by gitward dying does not outlive gitward', async (t) => {
  const files = await prepareGitwardFiles(t, {
    users: { ann: 'ann-pw' },
    repos: ['o'],
    config: {
      listen: '127.0.0.1:0',
      log: { level: 'info', format: 'json', audit: null },
      users: { ann: {} },
      repos: { '.read': ['ann'], '.write': ['ann'] },
    },
  });
  t.after(() => {
    for (const p of processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const gw = await serveChild(t, files);
  const sock = net.connect({ host: '127.0.0.1', port: gw.port });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.on('error', () => undefined);
  t.after(() => sock.destroy());
  const auth = Buffer.from('ann:ann-pw').toString('base64');
  // Promises 4 bytes (git's "0000" probe), sends 2.
  sock.write(
    `POST /o.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 4\r\n\r\n00`,
  );
  await waitFor(
    () => descendantsOf(gw.pid).some((p) => p.comm.startsWith('git-http')),
    'git-http-backend runs',
    10_000,
  );
  gw.child.kill('SIGKILL');
  await gw.exited;
  await waitFor(
    () => processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot).length === 0,
    'the backend of the killed gitward has exited',
    SAFETY_NET_MS,
    () => describeProcs(processesWithEnv('GIT_PROJECT_ROOT', files.repoRoot)),
  );
});
