/** Keys whose values never reach a log line, wherever they appear. */
const SECRET_KEY = /pass(word)?|passwd|authorization|secret|token|cookie|credential|^hash$|(stored|password|pw)_?hash/i;
/** `Basic dXNlcjpwYXNz`, `Bearer …` inside free text. */
const AUTH_SCHEME = /\b(Basic|Bearer|Digest)\s+[A-Za-z0-9+/=._~-]+/gi;
/** `scheme://user:password@host` inside free text. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi;
/** Bcrypt, apr1 and {SHA} hashes inside free text. */
const HASH_TEXT = /\$(2[abxy]|apr1)\$[^\s:"']+|\{SHA\}[A-Za-z0-9+/=]+/g;
/** Depth past which nested values are replaced: logs are not object dumps. */
const MAX_DEPTH = 8;

/** Removes passwords, hashes and Authorization headers from a string. */
export function redactText(text: string): string {
  return text
    .replace(AUTH_SCHEME, '$1 [redacted]')
    .replace(URL_PASSWORD, '$1[redacted]@')
    .replace(HASH_TEXT, '[redacted]');
}

/**
 * Returns a copy of `value` in which every secret-looking key is replaced by `[redacted]` and every
 * string is passed through `redactText`. Used by the logger on every line.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[deep]';
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redactText(value.message),
      stack: value.stack ? redactText(value.stack) : undefined,
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null && typeof v !== 'boolean' && typeof v !== 'number'
        ? '[redacted]'
        : redact(v, depth + 1);
  }
  return out;
}
