import { BadRequest } from '../errors.js';
import type { RepoName } from '../types.js';

/** Longest repo name accepted, in bytes: a common file-name limit, and far beyond any real name. */
export const MAX_REPO_NAME_BYTES = 255;

/** One path segment of a repo name: starts with a letter or digit, then letters, digits, `.`, `_`, `-`. */
export const REPO_NAME_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The optional suffix of a repo name in a URL; on disk it is always there. */
export const GIT_SUFFIX = '.git';

/**
 * Parses the repo part of a URL path (`web/site.git`, percent-encoded as received) into a
 * canonical `RepoName` without `.git`. The text is percent-decoded exactly once per segment and
 * then validated; nothing is rewritten. Throws BadRequest for anything that is not a valid name.
 */
export function parseRepoName(raw: string): RepoName {
  if (raw.length === 0) throw new BadRequest('missing repository name');
  // Split before decoding, so an encoded slash (%2f) can never create a segment boundary.
  const segments = raw.split('/').map(decodeSegment);
  const last = segments.length - 1;
  if (segments[last]?.endsWith(GIT_SUFFIX)) segments[last] = (segments[last] as string).slice(0, -GIT_SUFFIX.length);
  for (const segment of segments) {
    if (segment === '') throw new BadRequest('invalid repository name: empty path segment');
    if (!REPO_NAME_SEGMENT.test(segment))
      throw new BadRequest('invalid repository name: segments use A-Z a-z 0-9 . _ - and start with a letter or digit');
    if (segment.includes('..')) throw new BadRequest('invalid repository name: ".." is not allowed');
    // `a.git/b` or `a.git.git` would make two URLs name one directory, or one URL two.
    if (segment.endsWith(GIT_SUFFIX))
      throw new BadRequest('invalid repository name: only the last segment may end in .git, once');
  }
  const name = segments.join('/');
  if (Buffer.byteLength(name, 'utf8') > MAX_REPO_NAME_BYTES)
    throw new BadRequest(`invalid repository name: longer than ${MAX_REPO_NAME_BYTES} bytes`);
  return name as RepoName;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadRequest('invalid repository name: bad percent-encoding');
  }
}
