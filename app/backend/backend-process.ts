import type { Readable, Writable } from 'node:stream';

/** How a backend run ended. `code` is null when the process could not be started. */
export interface BackendEnd {
  readonly code: number | null;
  readonly signal: string | null;
  /** Set when the backend could not be started or its channel failed. */
  readonly error?: Error;
}

/**
 * One running CGI program (git-http-backend or cgit), started by the CGI spawner; runBackend only
 * talks to this.
 */
export interface BackendProcess {
  /** For log lines: the backend's pid. */
  readonly pid: number | undefined;
  /** The request body goes here; ending it is how a chunked body's end reaches the CGI. */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles once the backend is gone and its output streams have ended. */
  readonly done: Promise<BackendEnd>;
  /** Settles as soon as the backend is reported gone; what it wrote may still be unread. */
  readonly exited: Promise<void>;
  /** Sends `signal` to the backend and every process it started. */
  kill(signal: NodeJS.Signals): void;
}
