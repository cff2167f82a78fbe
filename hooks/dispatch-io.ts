import type { Readable, Writable } from 'node:stream';

/** The outside world of one dispatcher run; only `main` builds the real one. */
export interface DispatchIO {
  /** `pre-receive` or `post-receive` (the name the dispatcher was invoked as). */
  readonly hookName: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The repository git runs the hook in (the bare repo's directory). */
  readonly cwd: string;
  /** The ref update lines git writes; a number is a file descriptor to read synchronously (main's fd 0). */
  readonly stdin: Readable | number;
  /** Lines for the pusher (git relays a hook's stderr as `remote:` lines). */
  readonly stderr: Writable;
  readonly pid: number;
  readonly now: () => number;
}
