// A small router over Node's http server: routes by method and path pattern (`:id` is one segment,
// `:name*` is greedy, for image names with slashes), the `/v1.XX` prefix Docker clients put in
// front of every path, request bodies read with a size limit, and Docker's JSON errors. Handlers
// get a context and either answer with JSON or stream; an error thrown before anything was
// written becomes `{"message": "..."}` with its status.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../containers/engine';
import { API_VERSION, MIN_API_VERSION } from '../system/info';
import { ApiError, badRequest, toApiError } from './errors';

/** JSON bodies larger than this are refused (archives and build contexts are streamed, not read). */
export const JSON_LIMIT = 4 << 20;

export interface Ctx {
  req: IncomingMessage;
  /** Absent for a hijacked (Upgrade: tcp) request: then `socket` is the raw connection. */
  res?: ServerResponse;
  socket?: Duplex;
  /** Bytes the client sent after the upgrade request's headers and body. */
  head?: Buffer;
  /** The body of a hijacked request (read before the stream starts). */
  body?: Buffer;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The client's API version (from the path prefix; the newest when there is none). */
  version: string;
  engine: Engine;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  log(line: string): void;
}

export type Handler = (ctx: Ctx) => Promise<void>;

interface Route {
  method: string;
  re: RegExp;
  keys: string[];
  handler: Handler;
}

export function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    const keys: string[] = [];
    const re = new RegExp(
      '^' +
        pattern.replace(/[.]/g, '\\.').replace(/:([a-zA-Z]+)(\*?)/g, (_m, k: string, greedy: string) => {
          keys.push(k);
          return greedy ? '(.+)' : '([^/]+)';
        }) +
        '/?$',
    );
    this.routes.push({ method, re, keys, handler });
    return this;
  }

  /** The route for a request, with its parameters and the client's version; throws 400/404. */
  match(method: string, rawUrl: string): { handler: Handler; params: Record<string, string>; query: URLSearchParams; version: string } {
    const url = new URL(rawUrl, 'http://dock');
    let path = url.pathname;
    let version = API_VERSION;
    const v = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (v) {
      version = v[1];
      path = v[2];
      if (compareVersions(version, API_VERSION) > 0) throw badRequest(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      if (compareVersions(version, MIN_API_VERSION) < 0) throw badRequest(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
    }
    for (const r of this.routes) {
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const m = r.re.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      try {
        r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      } catch {
        throw badRequest(`malformed path: ${path}`);
      }
      return { handler: r.handler, params, query: url.searchParams, version };
    }
    throw new ApiError(404, `page not found`);
  }
}

// ---- answers ------------------------------------------------------------------------------------

export function sendJson(ctx: Ctx, status: number, body: unknown): void {
  const res = ctx.res!;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(ctx.req.method === 'HEAD' ? undefined : text);
}

export function sendEmpty(ctx: Ctx, status = 204): void {
  ctx.res!.writeHead(status);
  ctx.res!.end();
}

export function sendText(ctx: Ctx, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  ctx.res!.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  ctx.res!.end(text);
}

/** Writes Docker's error body; on a hijacked socket, as a plain HTTP answer before the upgrade. */
export function sendError(ctx: Pick<Ctx, 'res' | 'socket' | 'req'>, err: unknown): void {
  const e = toApiError(err);
  const text = JSON.stringify({ message: e.message }) + '\n';
  if (ctx.res) {
    if (ctx.res.headersSent) {
      ctx.res.destroy();
      return;
    }
    ctx.res.writeHead(e.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    ctx.res.end(text);
  } else if (ctx.socket && !ctx.socket.destroyed) {
    ctx.socket.end(`HTTP/1.1 ${e.status} ${STATUS_TEXT[e.status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  }
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 500: 'Internal Server Error', 501: 'Not Implemented' };

// ---- requests -----------------------------------------------------------------------------------

/** The whole body, refused past `limit` bytes (413) without reading the rest into memory. */
export async function readBody(ctx: Ctx, limit = JSON_LIMIT): Promise<Buffer> {
  if (ctx.socket) return ctx.body ?? Buffer.alloc(0);
  const declared = Number(ctx.req.headers['content-length'] ?? -1);
  if (declared > limit) throw new ApiError(413, `request body too large: ${declared} bytes (the limit is ${limit})`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req) {
    size += (c as Buffer).length;
    if (size > limit) throw new ApiError(413, `request body too large: more than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is `{}`. Unknown fields are ignored, as dockerd does. */
export async function readJson<T = Record<string, unknown>>(ctx: Ctx): Promise<T> {
  const body = await readBody(ctx);
  if (!body.length) return {} as T;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid JSON: the body must be an object');
  return v as T;
}

/** Docker's boolean query values: 1/true/True; 0/false/empty are false. */
export function qBool(ctx: Ctx, name: string, dflt = false): boolean {
  const v = ctx.query.get(name);
  if (v === null) return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

export function qInt(ctx: Ctx, name: string): number | undefined {
  const v = ctx.query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}" is not an integer`);
  return Number(v);
}

/** `filters={"status":["exited"],"label":{"a=b":true}}` as key=value pairs (both of Docker's forms). */
export function qFilters(ctx: Ctx): Array<[string, string]> {
  const raw = ctx.query.get('filters');
  if (!raw) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filters: ${raw}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid filters: ${raw}`);
  const out: Array<[string, string]> = [];
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(vals)) for (const x of vals) out.push([k, String(x)]);
    else if (vals && typeof vals === 'object') for (const [x, on] of Object.entries(vals)) if (on) out.push([k, x]);
    else throw badRequest(`invalid filters: ${raw}`);
  }
  return out;
}

/** Checks a field of a parsed body: Docker answers a wrong type with 400. */
export function field<T>(obj: Record<string, unknown>, key: string, type: 'string' | 'number' | 'boolean' | 'object' | 'array'): T | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === type;
  if (!ok) throw badRequest(`invalid value for ${key}: want ${type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`}`);
  return v as T;
}
