import http from 'node:http';

/** One API answer as a test sees it. */
export interface ApiAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
  readonly text: string;
}

/** What a request carries besides method and path. */
export interface ApiRequest {
  readonly user?: { user: string; password: string };
  /** JSON-encoded unless a string; sent as application/json unless `contentType` says otherwise. */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

/**
 * Sends one request to `origin` on its own connection (no keep-alive agent), so requests started
 * together really run concurrently, and reads the whole answer.
 */
export function apiRequest(origin: string, method: string, path: string, req: ApiRequest = {}): Promise<ApiAnswer> {
  const url = new URL(path, origin);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  let payload: Buffer | null = null;
  if (req.body !== undefined) {
    payload = Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
    headers['content-type'] = req.contentType ?? 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (req.user)
    headers.authorization = `Basic ${Buffer.from(`${req.user.user}:${req.user.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? null : JSON.parse(text);
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(payload ?? undefined);
  });
}
