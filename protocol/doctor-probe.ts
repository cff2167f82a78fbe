/**
 * `gitward doctor`'s write probe. doctor pushes a real pack (over 1 MiB, so git streams it
 * chunked) to a ref under DOCTOR_PROBE_PREFIX; the pre-receive dispatcher refuses every such ref
 * by design, after it has set up the push (config, repo, pusher) as for any other, and says so in
 * one line. The pack travels the whole way, the hook runs, and no ref is ever written: nothing to
 * delete afterwards, so `receive.denyDeletes` does not matter.
 */
export const DOCTOR_PROBE_PREFIX = 'refs/gitward/doctor/';

/** The line the dispatcher prints for a probe ref (doctor looks for it after `remote: `). */
export function doctorProbeLine(ref: string, user: string | null, repo: string): string {
  const who = user ?? 'anonymous';
  return `gitward: doctor probe ${ref}: the hook ran for ${who} on ${repo}; refused by design, nothing was written`;
}

/** Matches doctorProbeLine of `ref` in git's output. */
export function doctorProbePattern(ref: string): RegExp {
  const escaped = ref.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^remote: gitward: doctor probe ${escaped}: the hook ran for `, 'm');
}
