/** The type an option must have. */
export type OptionType = 'string' | 'number' | 'boolean' | 'string[]';

/**
 * Checks a plugin's options against a table: unknown keys, missing required keys and wrong
 * types throw one Error naming every problem (a typo in security config must not pass silently).
 */
export function checkOptions(
  options: Readonly<Record<string, unknown>>,
  table: Readonly<Record<string, OptionType>>,
  required: readonly string[] = [],
): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    const type = table[key];
    if (type === undefined) {
      problems.push(`unknown option "${key}" (known: ${Object.keys(table).join(', ') || 'none'})`);
      continue;
    }
    const ok =
      type === 'string[]'
        ? Array.isArray(value) && value.every((v) => typeof v === 'string')
        : type === 'number'
          ? typeof value === 'number' && Number.isFinite(value)
          : typeof value === type;
    if (!ok) problems.push(`option "${key}" must be ${type === 'string[]' ? 'a list of strings' : `a ${type}`}`);
  }
  for (const key of required) if (!(key in options)) problems.push(`option "${key}" is required`);
  if (problems.length > 0) throw new Error(problems.join('; '));
}
