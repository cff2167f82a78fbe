import { BadRequest } from '../errors.js';
import { parseRepoName } from '../request/repo-name.js';
import type { RepoName } from '../types.js';

/** The git services a forced command runs; anything else is refused. */
export type SshService = 'git-upload-pack' | 'git-receive-pack' | 'git-upload-archive';

/** What each service needs of the ACL. upload-archive reads the repo like a fetch does. */
export const SSH_SERVICE_NEED: Readonly<Record<SshService, 'read' | 'write'>> = Object.freeze({
  'git-upload-pack': 'read',
  'git-receive-pack': 'write',
  'git-upload-archive': 'read',
});

/** A validated SSH_ORIGINAL_COMMAND. */
export interface SshCommand {
  readonly service: SshService;
  readonly repo: RepoName;
  readonly need: 'read' | 'write';
}

/** Longest SSH_ORIGINAL_COMMAND looked at: a service name, quotes and a repo name fit easily. */
export const MAX_SSH_COMMAND_BYTES = 1024;

/**
 * Parses the command a git client sends over SSH (`git-upload-pack '/web/site.git'`): exactly one
 * of the three services, one space, and one argument in git's single-quote quoting (quote.c
 * `sq_quote_buf`: `'` and `!` are written as `'\''` and `'\!'`). One leading `/` (ssh:// URLs) is
 * dropped; the rest is a repo name by `parseRepoName`, the grammar HTTP uses. Anything else —
 * options, a second argument, text after the quote, a missing command (a shell) — is a BadRequest
 * with one line. Nothing is ever handed to a shell.
 */
export function parseSshCommand(raw: string | undefined): SshCommand {
  if (raw === undefined || raw.trim() === '') {
    throw new BadRequest('interactive shells are not allowed; use git clone, fetch or push');
  }
  if (Buffer.byteLength(raw, 'utf8') > MAX_SSH_COMMAND_BYTES) throw new BadRequest('command too long');
  const space = raw.indexOf(' ');
  const verb = space < 0 ? raw : raw.slice(0, space);
  if (!isService(verb)) {
    throw new BadRequest('only git-upload-pack, git-receive-pack and git-upload-archive are allowed');
  }
  if (space < 0) throw new BadRequest(`${verb} needs a repository argument`);
  const arg = dequoteOne(raw.slice(space + 1));
  if (arg === null) throw new BadRequest(`${verb} takes exactly one quoted repository argument`);
  const repo = parseRepoName(arg.startsWith('/') ? arg.slice(1) : arg);
  return { service: verb, repo, need: SSH_SERVICE_NEED[verb] };
}

function isService(word: string): word is SshService {
  return Object.prototype.hasOwnProperty.call(SSH_SERVICE_NEED, word);
}

/**
 * The one argument of `text` in git's sq quoting, or null when `text` is anything else (unquoted,
 * unterminated, several arguments, trailing text).
 */
function dequoteOne(text: string): string | null {
  if (!text.startsWith("'")) return null;
  let out = '';
  let i = 1;
  for (;;) {
    const close = text.indexOf("'", i);
    if (close < 0) return null;
    out += text.slice(i, close);
    const next = close + 1;
    if (next === text.length) return out;
    // git's only escape: leave the quote, a backslash and ' or !, then open the quote again.
    if (text[next] === '\\' && (text[next + 1] === "'" || text[next + 1] === '!') && text[next + 2] === "'") {
      out += text[next + 1];
      i = next + 3;
      continue;
    }
    return null;
  }
}
