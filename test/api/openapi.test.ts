import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { API_ERROR_CODES } from '../../app/routes/api.js';
import type { ApiAnswer } from './api-client.js';
import { apiServer, caller } from './api-fixture.js';

// The document lives in the source tree; tests run from dist/test/api.
const ROOT = path.resolve(__dirname, '..', '..', '..');

interface SchemaObject {
  type?: string;
  required?: string[];
  properties?: Record<string, SchemaObject>;
  items?: SchemaObject;
  enum?: unknown[];
  nullable?: boolean;
  $ref?: string;
}
interface Operation {
  responses: Record<
    string,
    { content?: { 'application/json': { schema: SchemaObject } }; headers?: Record<string, unknown> }
  >;
}
interface OpenApiDoc {
  servers: { url: string }[];
  components: { schemas: Record<string, SchemaObject> };
  paths: Record<string, Record<string, Operation | unknown>>;
}

const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'openapi.json'), 'utf8')) as OpenApiDoc;
const METHODS = ['get', 'post', 'patch', 'delete', 'put'];

function resolve(s: SchemaObject): SchemaObject {
  return s.$ref ? (doc.components.schemas[s.$ref.replace('#/components/schemas/', '')] as SchemaObject) : s;
}

/** Where `value` breaks `schema` (required fields, types, enums, nullability), as readable strings. */
function problems(schema: SchemaObject, value: unknown, at = '$'): string[] {
  const s = resolve(schema);
  if (value === null) return s.nullable ? [] : [`${at}: null where ${s.type ?? 'a value'} is required`];
  const out: string[] = [];
  if (s.enum && !s.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`);
  switch (s.type) {
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return [`${at}: not an object`];
      const obj = value as Record<string, unknown>;
      for (const r of s.required ?? []) if (!(r in obj)) out.push(`${at}.${r}: required, missing`);
      for (const [k, v] of Object.entries(obj)) {
        const p = s.properties?.[k];
        if (!p) out.push(`${at}.${k}: not in the document`);
        else out.push(...problems(p, v, `${at}.${k}`));
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${at}: not an array`];
      value.forEach((v, i) => out.push(...problems(s.items as SchemaObject, v, `${at}[${i}]`)));
      break;
    case 'string':
      if (typeof value !== 'string') out.push(`${at}: not a string`);
      break;
    case 'integer':
      if (!Number.isInteger(value)) out.push(`${at}: not an integer`);
      break;
    default:
      break;
  }
  return out;
}

/** One request that makes a documented route answer a documented status. */
interface Case {
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly run: (api: ReturnType<typeof caller>) => Promise<ApiAnswer>;
}

const B = { body: { name: 'team/doc' } };
const CASES: readonly Case[] = [
  { route: '/repos', method: 'get', status: 200, run: (api) => api('GET', '/repos', 'carl') },
  { route: '/repos', method: 'get', status: 400, run: (api) => api('GET', '/repos?page=x', 'carl') },
  {
    route: '/repos',
    method: 'get',
    status: 401,
    run: (api) => api('GET', '/repos', null, { headers: { authorization: 'Basic !!' } }),
  },
  { route: '/repos', method: 'post', status: 201, run: (api) => api('POST', '/repos', 'ann', B) },
  {
    route: '/repos',
    method: 'post',
    status: 400,
    run: (api) => api('POST', '/repos', 'ann', { body: { name: 'a/../b' } }),
  },
  { route: '/repos', method: 'post', status: 401, run: (api) => api('POST', '/repos', null, B) },
  { route: '/repos', method: 'post', status: 403, run: (api) => api('POST', '/repos', 'carl', B) },
  {
    route: '/repos',
    method: 'post',
    status: 409,
    run: (api) => api('POST', '/repos', 'ann', { body: { name: 'team/old' } }),
  },
  {
    route: '/repos',
    method: 'post',
    status: 413,
    run: (api) => api('POST', '/repos', 'ann', { body: { name: 'x', description: 'd'.repeat(40_000) } }),
  },
  {
    route: '/repos',
    method: 'post',
    status: 415,
    run: (api) => api('POST', '/repos', 'ann', { body: 'x', contentType: 'text/plain' }),
  },
  { route: '/repos/{name}', method: 'get', status: 200, run: (api) => api('GET', '/repos/team/old', 'carl') },
  { route: '/repos/{name}', method: 'get', status: 400, run: (api) => api('GET', '/repos/team/.x', 'carl') },
  { route: '/repos/{name}', method: 'get', status: 401, run: (api) => api('GET', '/repos/team/old', null) },
  { route: '/repos/{name}', method: 'get', status: 404, run: (api) => api('GET', '/repos/team/old', 'dave') },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 200,
    run: (api) => api('PATCH', '/repos/team/doc', 'ann', { body: { name: 'team/doc2' } }),
  },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 400,
    run: (api) => api('PATCH', '/repos/team/old', 'ann', { body: { name: 'team/old', x: 1 } }),
  },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 401,
    run: (api) => api('PATCH', '/repos/team/old', null, { body: { name: 'team/n' } }),
  },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 403,
    run: (api) => api('PATCH', '/repos/team/old', 'carl', { body: { name: 'team/n' } }),
  },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 404,
    run: (api) => api('PATCH', '/repos/team/none', 'ann', { body: { name: 'team/n' } }),
  },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 409,
    run: (api) => api('PATCH', '/repos/team/fixed', 'ann', { body: { name: 'team/n' } }),
  },
  {
    route: '/repos/{name}',
    method: 'patch',
    status: 415,
    run: (api) => api('PATCH', '/repos/team/old', 'ann', { body: 'x', contentType: 'text/plain' }),
  },
  { route: '/repos/{name}', method: 'delete', status: 200, run: (api) => api('DELETE', '/repos/team/doc2', 'ann') },
  { route: '/repos/{name}', method: 'delete', status: 400, run: (api) => api('DELETE', '/repos/-x', 'ann') },
  { route: '/repos/{name}', method: 'delete', status: 401, run: (api) => api('DELETE', '/repos/team/old', null) },
  { route: '/repos/{name}', method: 'delete', status: 403, run: (api) => api('DELETE', '/repos/team/old', 'carl') },
  { route: '/repos/{name}', method: 'delete', status: 404, run: (api) => api('DELETE', '/repos/team/old', 'dave') },
  { route: '/repos/{name}', method: 'delete', status: 409, run: (api) => api('DELETE', '/repos/team/fixed', 'ann') },
];
/** Answered by every route alike (the identity chain); checked on one route each, by the 429 case below. */
const SHARED_STATUSES = new Set(['429']);

test('the OpenAPI document and the cases below name the same routes, methods and statuses', () => {
  assert.equal(doc.servers[0]?.url, '/_gitward/api/v1');
  const documented = new Set<string>();
  for (const [route, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method] as Operation | undefined;
      if (!op) continue;
      for (const status of Object.keys(op.responses))
        if (!SHARED_STATUSES.has(status)) documented.add(`${method} ${route} ${status}`);
    }
  }
  const covered = new Set(CASES.map((c) => `${c.method} ${c.route} ${c.status}`));
  assert.deepEqual([...documented].filter((d) => !covered.has(d)).sort(), [], 'documented but never tried');
  assert.deepEqual([...covered].filter((c) => !documented.has(c)).sort(), [], 'tried but not documented');
  // The error codes the document lists are exactly the server's.
  const errorSchema = doc.components.schemas.Error as SchemaObject;
  assert.deepEqual([...(errorSchema.properties?.code?.enum ?? [])].sort(), Object.keys(API_ERROR_CODES).sort());
});

test('every route answers as the OpenAPI document says: status, required fields and their types', async (t) => {
  const gw = await apiServer(t);
  const api = caller(gw);
  for (const c of CASES) {
    const a = await c.run(api);
    const label = `${c.method.toUpperCase()} ${c.route} → ${c.status}`;
    assert.equal(a.status, c.status, `${label}: ${a.text}`);
    const response = (doc.paths[c.route]?.[c.method] as Operation).responses[String(c.status)];
    const schema = response?.content?.['application/json'].schema;
    assert.ok(schema, `${label}: no schema documented`);
    assert.match(String(a.headers['content-type']), /^application\/json/, label);
    assert.deepEqual(problems(schema, a.body), [], `${label}: ${a.text}`);
    if (c.status >= 400) {
      const code = (a.body as { code: keyof typeof API_ERROR_CODES }).code;
      assert.equal(API_ERROR_CODES[code], c.status, `${label}: code ${code} belongs to its status`);
    }
    for (const h of Object.keys(response?.headers ?? {}))
      assert.ok(a.headers[h.toLowerCase()], `${label}: header ${h}`);
  }
});

test('the shared 429 answers as documented on every route', async (t) => {
  const gw = await apiServer(t, { brute_force: { max_failures: 1, window_seconds: 600 } });
  const api = caller(gw);
  const wrong: { headers: Record<string, string> } = {
    headers: { authorization: `Basic ${Buffer.from('ann:wrong').toString('base64')}` },
  };
  assert.equal((await api('GET', '/repos', null, wrong)).status, 401);
  for (const [route, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method] as Operation | undefined;
      if (!op) continue;
      assert.ok(op.responses['429'], `${method} ${route} documents 429`);
      const p = route.replace('{name}', 'team/old');
      const a = await api(
        method.toUpperCase(),
        p,
        'ann',
        method === 'post' || method === 'patch' ? { body: { name: 'team/z' } } : {},
      );
      assert.equal(a.status, 429, `${method} ${route}: ${a.text}`);
      assert.deepEqual(problems(op.responses['429'].content?.['application/json'].schema as SchemaObject, a.body), []);
    }
  }
});
