import { SAFETY_NET_MS } from '../helpers/procs.js';

export { git, gitOk } from '../helpers/git.js';

/** Polls `check` every 20 ms until it returns a value (not undefined), or fails after `timeoutMs` (a safety net). */
export async function eventually<T>(check: () => T | undefined, what: string, timeoutMs = SAFETY_NET_MS): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
