#!/usr/bin/env node
import { runCli } from './cli/main.js';

/**
 * Process entry point: the only place (with the hook dispatcher) that reads process.env,
 * process.argv and signals.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const code = await runCli(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stdin.isTTY),
    onSignal: (signal, handler) => {
      process.on(signal, handler);
    },
  });
  process.exitCode = code;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `gitward: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 70;
  });
}
