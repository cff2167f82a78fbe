/**
 * The client side of FastCGI 1.0 (https://fastcgi-archives.github.io/FastCGI_Specification.html),
 * as much of it as gitward needs to hand one CGI request to fcgiwrap: the Responder role, one
 * request per connection, PARAMS and STDIN out, STDOUT, STDERR and END_REQUEST in.
 */

/** FCGI_VERSION_1: the only version there is. */
export const FCGI_VERSION = 1;

/** Record types (spec §8). */
export const FcgiType = {
  BeginRequest: 1,
  AbortRequest: 2,
  EndRequest: 3,
  Params: 4,
  Stdin: 5,
  Stdout: 6,
  Stderr: 7,
} as const;

/** FCGI_RESPONDER: the role of a CGI program. */
const ROLE_RESPONDER = 1;

/** Record header length, in bytes. */
const HEADER_BYTES = 8;

/** A record's content length is a 16-bit field. */
export const FCGI_MAX_CONTENT_BYTES = 0xffff;

/** Name-value lengths of 128 and above take four bytes with the top bit set (spec §3.4). */
const LONG_LENGTH_FLAG = 0x80000000;

/**
 * Largest content the reader accepts in one record: the field's own maximum. Anything that does
 * not parse as a record header is a protocol error, never a reason to buffer more.
 */
const READER_MAX_PENDING_BYTES = HEADER_BYTES + FCGI_MAX_CONTENT_BYTES + 255;

/** The peer sent bytes that are not FastCGI 1.0 records. */
export class FastCgiProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FastCgiProtocolError';
  }
}

/** One record as read from the wire. */
export interface FcgiRecord {
  readonly type: number;
  readonly requestId: number;
  readonly content: Buffer;
}

/**
 * Encodes `content` as records of `type` for `requestId`, split at the 65,535-byte limit and
 * padded to a multiple of 8. Empty content gives one empty record (the end-of-stream marker).
 */
export function encodeRecords(type: number, requestId: number, content: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  do {
    const length = Math.min(FCGI_MAX_CONTENT_BYTES, content.length - offset);
    const padding = (8 - (length % 8)) % 8;
    const header = Buffer.alloc(HEADER_BYTES);
    header[0] = FCGI_VERSION;
    header[1] = type;
    header.writeUInt16BE(requestId, 2);
    header.writeUInt16BE(length, 4);
    header[6] = padding;
    parts.push(header, content.subarray(offset, offset + length));
    if (padding > 0) parts.push(Buffer.alloc(padding));
    offset += length;
  } while (offset < content.length);
  return Buffer.concat(parts);
}

/** The BEGIN_REQUEST record of a Responder request; the server closes the connection after it. */
export function encodeBeginRequest(requestId: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(ROLE_RESPONDER, 0);
  // flags = 0: FCGI_KEEP_CONN off, one request per connection.
  return encodeRecords(FcgiType.BeginRequest, requestId, body);
}

function encodeLength(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | LONG_LENGTH_FLAG) >>> 0, 0);
  return b;
}

/**
 * Encodes an environment as FastCGI name-value pairs (spec §3.4). Names and values are bytes;
 * a NUL in either is refused, since the CGI would see a different environment than was meant.
 */
export function encodeParams(env: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (name === '' || name.includes('=') || name.includes('\0') || value.includes('\0')) {
      throw new FastCgiProtocolError(`environment entry ${JSON.stringify(name)} cannot be passed to a CGI`);
    }
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(encodeLength(n.length), encodeLength(v.length), n, v);
  }
  return Buffer.concat(parts);
}

/** Decodes name-value pairs (the inverse of encodeParams; used by tests and fuzzing). */
export function decodeParams(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const length = (): number => {
    if (i >= data.length) throw new FastCgiProtocolError('truncated name-value length');
    const first = data[i] as number;
    if (first < 128) {
      i += 1;
      return first;
    }
    if (i + 4 > data.length) throw new FastCgiProtocolError('truncated name-value length');
    const n = data.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return n;
  };
  while (i < data.length) {
    const nl = length();
    const vl = length();
    if (i + nl + vl > data.length) throw new FastCgiProtocolError('truncated name-value pair');
    out[data.toString('utf8', i, i + nl)] = data.toString('utf8', i + nl, i + nl + vl);
    i += nl + vl;
  }
  return out;
}

/** The END_REQUEST body: the application's status and the protocol status (spec §5.5). */
export function decodeEndRequest(content: Buffer): { appStatus: number; protocolStatus: number } {
  if (content.length < 8) throw new FastCgiProtocolError('END_REQUEST body shorter than 8 bytes');
  return { appStatus: content.readUInt32BE(0), protocolStatus: content[4] as number };
}

/**
 * Splits a byte stream into records. Holds at most one incomplete record; throws
 * FastCgiProtocolError on a wrong version byte.
 */
export function createRecordReader(): { feed(chunk: Buffer): FcgiRecord[] } {
  let pending: Buffer = Buffer.alloc(0);
  return {
    feed(chunk: Buffer): FcgiRecord[] {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const out: FcgiRecord[] = [];
      let offset = 0;
      while (pending.length - offset >= HEADER_BYTES) {
        if (pending[offset] !== FCGI_VERSION) throw new FastCgiProtocolError(`record with version ${String(pending[offset])}`);
        const length = pending.readUInt16BE(offset + 4);
        const total = HEADER_BYTES + length + (pending[offset + 6] as number);
        if (pending.length - offset < total) break;
        out.push({
          type: pending[offset + 1] as number,
          requestId: pending.readUInt16BE(offset + 2),
          content: pending.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length),
        });
        offset += total;
      }
      pending = pending.subarray(offset);
      if (pending.length > READER_MAX_PENDING_BYTES) throw new FastCgiProtocolError('record longer than FastCGI allows');
      return out;
    },
  };
}
