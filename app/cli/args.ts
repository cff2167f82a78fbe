import path from 'node:path';
import { parseArgs as parseArgv } from 'node:util';
import { UsageError } from '../errors.js';

/** Declares one option of a command: `--name VALUE` (string) or `--flag` (boolean). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

/** Parsed arguments: positionals in order and options by name. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly options: Record<string, string | boolean | undefined>;
}

/**
 * Parses argv against a table of options with `node:util` parseArgs (strict): `--name=value` and
 * `--name value` both work; `--` ends options. An unknown option, a missing value or a value given
 * to a flag is a UsageError (exit 2).
 */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  try {
    const options = { ...spec };
    const { values, positionals } = parseArgv({ args: [...argv], options, strict: true, allowPositionals: true });
    return { positionals, options: { ...values } as Record<string, string | boolean | undefined> };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      // node's messages end in advice about `--`; keep the first sentence, which names the option.
      throw new UsageError((err as Error).message.split(/\.(?:\s|$)/)[0] as string);
    }
    throw err;
  }
}

/** The config path a command uses: `--config`, then `$GITWARD_CONFIG`, then `./gitward.yaml`. */
export function configPathFrom(
  option: string | boolean | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): string {
  if (typeof option === 'string' && option !== '') return path.resolve(cwd, option);
  if (env.GITWARD_CONFIG) return path.resolve(cwd, env.GITWARD_CONFIG);
  return path.resolve(cwd, 'gitward.yaml');
}
