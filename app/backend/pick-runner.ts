import type { IncomingMessage } from 'node:http';
import type { GitRequest } from '../types.js';

/**
 * The pkt-line that opens a protocol v2 `ls-refs` request body (gitprotocol-v2: `command=ls-refs`,
 * its length prefix included). https://git-scm.com/docs/protocol-v2#_ls_refs
 */
const LS_REFS_COMMAND = Buffer.from('0014command=ls-refs\n');

/** Whether a request's answer is small enough that the fcgiwrap workers should serve it. */
export type RunnerChoice = 'pool' | 'spawn' | 'peek';

/**
 * Which runner suits a request when fcgiwrap workers are there. Workers save the 1–2 ms fork of
 * gitward on every request, but relaying a pack through one more process costs throughput (a
 * 100 MB clone ran 5–13 % slower through them, bench/), and they report no exit code. So the
 * workers take what is answered in a few kilobytes — ref advertisements, dumb-HTTP files other
 * than packs, and protocol v2 `ls-refs` (`peek`: the caller looks at the body's first pkt-line) —
 * and pack transfers spawn. Pushes never come here: they always spawn.
 */
export function pickRunner(git: GitRequest, headers: IncomingMessage['headers']): RunnerChoice {
  if (git.kind === 'info-refs') return 'pool';
  if (git.kind === 'dumb') return git.suffix.endsWith('.pack') ? 'spawn' : 'pool';
  if (git.service !== 'git-upload-pack') return 'spawn';
  // A gzip'd body would have to be inflated to be read; v0 POSTs are always pack negotiations.
  const v2 = String(headers['git-protocol'] ?? '').split(':').includes('version=2');
  return v2 && headers['content-encoding'] === undefined ? 'peek' : 'spawn';
}

/** Whether the first bytes of an upload-pack body are a protocol v2 `ls-refs` command. */
export function isLsRefs(first: Buffer): boolean {
  return first.length >= LS_REFS_COMMAND.length && first.subarray(0, LS_REFS_COMMAND.length).equals(LS_REFS_COMMAND);
}

/**
 * Resolves with the first chunk of `req`'s body (empty when the body ends or the request closes
 * first) and puts it back, so the body still streams whole to whoever reads it next. `req` is left
 * paused: pipe() resumes it (and ends its destination at once if the body had already ended).
 */
export function peekBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const done = (chunk: Buffer): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onEnd);
      req.pause();
      if (chunk.length > 0) req.unshift(chunk);
      resolve(chunk);
    };
    const onData = (chunk: Buffer): void => done(chunk);
    const onEnd = (): void => done(Buffer.alloc(0));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onEnd);
  });
}
