// A small HTTP layer for the registry client over node:http/https: keep-alive agents, redirects
// (Authorization is dropped when a redirect leaves the registry's host, as blob downloads are
// often redirected to object storage), TLS verification off only for insecure registries, and
// network failures turned into RegistryError('ENETWORK').

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import { RegistryError } from './errors';

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer | (() => Readable);
  /** Skip TLS certificate verification (insecure registries only). */
  insecureTls?: boolean;
  /** Milliseconds without any socket activity before giving up. */
  idleTimeoutMs?: number;
  /** Aborts the request (and its response body) when the caller gives up. */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  url: URL;
  body: http.IncomingMessage;
}

/**
 * The CA bundle the caller named in NODE_EXTRA_CA_CERTS, which bin/dock sets aside so that Node does
 * not parse it at every start (~50 ms): trusted here beside Node's own roots, as Node would do.
 */
function callerCa(): string[] | undefined {
  const file = process.env.SKIFF_CALLER_NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  try {
    return [...rootCertificates, readFileSync(file, 'utf8')];
  } catch (e) {
    // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS file.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
    return undefined;
  }
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 16, ca: callerCa() }),
  httpsInsecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
};

const MAX_REDIRECTS = 5;

export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  let headers = { ...(req.headers ?? {}) };
  let method = req.method;
  for (let hop = 0; ; hop++) {
    const res = await once(method, url, headers, req);
    if (res.status >= 300 && res.status < 400 && res.status !== 304 && res.headers.location) {
      if (hop >= MAX_REDIRECTS) {
        res.body.resume();
        throw new RegistryError('EHTTP', `too many redirects from ${req.url.href}`);
      }
      res.body.resume();
      const next = new URL(res.headers.location, url);
      if (next.host !== url.host) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      if (res.status === 303) method = 'GET';
      url = next;
      continue;
    }
    return res;
  }
}

function once(method: string, url: URL, headers: Record<string, string>, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const agent = isHttps ? (req.insecureTls ? agents.httpsInsecure : agents.https) : agents.http;
    const body = req.body;
    const h: Record<string, string> = { 'User-Agent': 'skiff-dock/0.1', ...headers };
    if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
    if (req.signal?.aborted) return reject(cancelled(url));
    const r = mod.request(url, { method, headers: h, agent, signal: req.signal }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res });
    });
    r.setTimeout(req.idleTimeoutMs ?? 60_000, () => r.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    r.on('error', (err) => reject(req.signal?.aborted ? cancelled(url) : networkError(url, err)));
    if (body === undefined) r.end();
    else if (Buffer.isBuffer(body)) r.end(body);
    else {
      const s = body();
      s.on('error', (e) => r.destroy(e));
      s.pipe(r);
    }
  });
}

export function cancelled(url: URL): RegistryError {
  return new RegistryError('ECANCELED', `the transfer from ${url.protocol}//${url.host} was cancelled`);
}

export function networkError(url: URL, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'no such host' : e.code === 'ETIMEDOUT' ? 'timed out' : (e.message || String(err));
  return new RegistryError('ENETWORK', `cannot reach ${url.protocol}//${url.host}: ${why}`, { cause: err });
}

export async function readBody(res: HttpResponse, limit = 64 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        throw new RegistryError('ESIZE', `response from ${res.url.host} is larger than ${limit} bytes`);
      }
      chunks.push(c as Buffer);
    }
  } catch (err) {
    throw networkError(res.url, err);
  }
  return Buffer.concat(chunks);
}

/** The registry's own error text from an error response body ({"errors":[{code,message}]}). */
export async function registryErrorText(res: HttpResponse): Promise<string> {
  let body: Buffer;
  try {
    body = await readBody(res, 1 << 20);
  } catch {
    return `HTTP ${res.status}`;
  }
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> };
    if (Array.isArray(doc.errors) && doc.errors.length) {
      return doc.errors.map((e) => [e.code?.toLowerCase().replace(/_/g, ' '), e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    /* not JSON */
  }
  const text = body.toString('utf8').trim().split('\n')[0].slice(0, 200);
  return text ? `HTTP ${res.status}: ${text}` : `HTTP ${res.status}`;
}
