import type { Readable, Writable } from 'node:stream';

/** What a CLI command may touch of the outside world; only app/main.ts builds the real one. */
export interface CliIO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  /** The process environment (read-only view). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** True when stdin is a terminal (password prompts need one unless --password-stdin). */
  readonly isTTY: boolean;
  /** Registers a handler for SIGTERM/SIGINT/SIGHUP; `serve` uses it. */
  onSignal(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', handler: () => void): void;
}

/** Exit codes shared by every command (ARCHITECTURE.md §7). */
export const EXIT = Object.freeze({
  ok: 0,
  /** A denial, a failed check or a failed operation. */
  failed: 1,
  usage: 2,
  /** sysexits.h EX_CONFIG: the config file is bad. */
  config: 78,
});

/** A CLI command: parses its own arguments, returns the exit code. */
export type Command = (argv: readonly string[], io: CliIO) => Promise<number>;
