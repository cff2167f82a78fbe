/**
 * Largest CGI header block accepted from git-http-backend, in bytes. Its real headers are a few
 * hundred bytes; anything bigger is garbage, and this is all that is ever held in memory.
 */
export const CGI_HEADER_MAX_BYTES = 64 * 1024;

/** The parsed CGI header block (RFC 3875 §6). */
export interface CgiHead {
  readonly status: number;
  /** Header fields in order; repeated names are kept as separate entries. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** Result of feeding bytes to the parser. */
export type CgiHeadResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'head'; readonly head: CgiHead; readonly body: Buffer }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Headers that belong to one hop; Node sets its own. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
]);

/**
 * One header line (the block is decoded as latin1). The value may hold only what HTTP allows in a
 * field value (tab, visible ASCII, obs-text): a NUL or other control character would make Node's
 * setHeader throw after the status is chosen, leaving the request hung and the backend running.
 */
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/;

/**
 * An incremental parser of the CGI header block of git-http-backend's stdout. Feed it chunks until
 * it answers `head` (with the first bytes of the body) or `invalid` (garbage, or more than
 * CGI_HEADER_MAX_BYTES without the blank line).
 */
export function createCgiHeadParser(): { feed(chunk: Buffer): CgiHeadResult } {
  const chunks: Buffer[] = [];
  let size = 0;
  // The last 3 bytes fed: a blank line ("\r\n\r\n") may straddle two chunks. Only the new chunk
  // and these are searched, and the chunks are joined once, when the blank line has come: the
  // work stays linear however small the chunks are.
  let tail = Buffer.alloc(0);
  return {
    feed(chunk) {
      chunks.push(chunk);
      size += chunk.length;
      const window = Buffer.concat([tail, chunk]);
      tail = window.subarray(Math.max(0, window.length - 3));
      if (findBlankLine(window) === null) {
        if (size > CGI_HEADER_MAX_BYTES)
          return { kind: 'invalid', reason: `no end of CGI headers within ${CGI_HEADER_MAX_BYTES} bytes` };
        return { kind: 'need-more' };
      }
      const buf = Buffer.concat(chunks);
      const end = findBlankLine(buf) as { headEnd: number; bodyStart: number };
      if (end.headEnd > CGI_HEADER_MAX_BYTES)
        return { kind: 'invalid', reason: `CGI headers longer than ${CGI_HEADER_MAX_BYTES} bytes` };
      const parsed = parseBlock(buf.subarray(0, end.headEnd).toString('latin1'));
      if (typeof parsed === 'string') return { kind: 'invalid', reason: parsed };
      return { kind: 'head', head: parsed, body: buf.subarray(end.bodyStart) };
    },
  };
}

function findBlankLine(buf: Buffer): { headEnd: number; bodyStart: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headEnd: lf, bodyStart: lf + 2 };
  return null;
}

function parseBlock(text: string): CgiHead | string {
  let status = 200;
  const headers: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    const m = FIELD.exec(line);
    if (!m) return `invalid CGI header line ${JSON.stringify(line.slice(0, 80))}`;
    const name = m[1] as string;
    const value = m[2] as string;
    if (name.toLowerCase() === 'status') {
      // Only the code matters; the reason phrase is never used as a body (a git4nginx bug).
      const code = /^([1-5]\d\d)(?:\s|$)/.exec(value);
      if (!code) return `invalid CGI Status ${JSON.stringify(value.slice(0, 80))}`;
      status = Number(code[1]);
    } else if (!HOP_BY_HOP.has(name.toLowerCase())) {
      headers.push([name, value]);
    }
  }
  return { status, headers };
}
