import path from 'node:path';
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
 * Parses argv against a table of options. `--name=value` and `--name value` both work; `--`
 * ends options. An unknown option or a missing value is a UsageError (exit 2).
 */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | boolean | undefined> = {};
  const byShort = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.short) byShort.set(s.short, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.length === 2 && arg.startsWith('-') && arg !== '-') {
      name = byShort.get(arg.slice(1));
      if (!name) throw new UsageError(`unknown option ${arg}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      options[name] = value;
    }
  }
  return { positionals, options };
}

/** The config path a command uses: `--config`, then `$GITWARD_CONFIG`, then `./gitward.yaml`. */
export function configPathFrom(option: string | boolean | undefined, env: Readonly<Record<string, string | undefined>>, cwd: string): string {
  if (typeof option === 'string' && option !== '') return path.resolve(cwd, option);
  if (env.GITWARD_CONFIG) return path.resolve(cwd, env.GITWARD_CONFIG);
  return path.resolve(cwd, 'gitward.yaml');
}
