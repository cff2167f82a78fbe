/**
 * Typed errors that carry an HTTP status and a message safe to show a client.
 * One error middleware turns them into a status and one plain-text line.
 */
export class HttpError extends Error {
  /** HTTP status sent to the client. */
  readonly status: number;
  /** Extra response headers, e.g. `WWW-Authenticate` or `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.headers = headers;
  }
}

/** 400: malformed path, service or repo name. */
export class BadRequest extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}

/** The `WWW-Authenticate` value of a Basic challenge for `realm` (quotes and line breaks dropped). */
export function basicChallenge(realm: string): string {
  return `Basic realm="${realm.replace(/["\\\r\n]/g, '')}", charset="UTF-8"`;
}

/** 401: credentials missing or rejected; carries the Basic challenge. */
export class Unauthorized extends HttpError {
  constructor(message: string, realm: string) {
    super(401, message, { 'WWW-Authenticate': basicChallenge(realm) });
  }
}

/** 403: authenticated but not allowed. */
export class Forbidden extends HttpError {
  constructor(message: string) {
    super(403, message);
  }
}

/** 404: no such repo, or one the user may not know about. */
export class NotFound extends HttpError {
  constructor(message: string) {
    super(404, message);
  }
}

/** 405: a method git's HTTP protocol does not use on this route. */
export class MethodNotAllowed extends HttpError {
  constructor(message: string, allow: readonly string[]) {
    super(405, message, { Allow: allow.join(', ') });
  }
}

/** 429: too many failed logins from one address. */
export class TooManyRequests extends HttpError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

/** 502: git-http-backend failed before sending a valid header block. */
export class BadGateway extends HttpError {
  constructor(message: string) {
    super(502, message);
  }
}

/**
 * A config file with problems. `problems` holds every problem found, each formatted as
 * `FILE:LINE: key.path: problem`, so an admin sees them all at once.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A CLI usage error: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
