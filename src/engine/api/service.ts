// `dock system service`: the Docker Engine API on a unix socket (default /run/dock/dock.sock, mode
// 0660), on loopback TCP (with a warning: no authentication), or on a socket handed over by a
// service manager (LISTEN_FDS). It holds no container: every container keeps its own supervisor,
// so stopping the service loses nothing, and dock commands work beside it on the same store.

import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { openEngine, type Engine } from '../containers/engine';
import { registerContainers } from './containers';
import { ApiError, toApiError } from './errors';
import { registerExec } from './exec';
import { registerImages } from './images';
import { registerNetworks } from './networks';
import { type Ctx, JSON_LIMIT, Router, sendError } from './router';
import { registerSystem } from './system';
import { registerEvents } from './events';
import { registerVolumes } from './volumes';
import { NO_BUILDKIT, registerBuild } from './build';

export const DEFAULT_URI = 'unix:///run/dock/dock.sock';

export interface ServiceOptions {
  /** unix:///path or tcp://127.0.0.1:PORT (loopback only). */
  uri?: string;
  /** Exit after this many seconds without a request or connection (0: never). */
  idleSeconds?: number;
  root?: string;
  /** Group (name or gid) that owns the unix socket. */
  group?: string;
  debug?: boolean;
  log?: (line: string) => void;
}

export interface Service {
  /** Where it listens, as a URI. */
  address: string;
  server: http.Server;
  /** Stops listening, ends open connections, closes the engine. */
  close(): Promise<void>;
  /** Resolves when the service stopped (closed, or idle for --time). */
  closed: Promise<void>;
}

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number } | { kind: 'fd'; fd: number };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Where to listen: LISTEN_FDS from a service manager wins over the URI (systemd's convention). */
export function listenTarget(uri: string | undefined, env: NodeJS.ProcessEnv = process.env): Listen {
  if (env.LISTEN_FDS && Number(env.LISTEN_PID) === process.pid) {
    const n = Number(env.LISTEN_FDS);
    if (!Number.isInteger(n) || n < 1) throw new ApiError(400, `invalid LISTEN_FDS "${env.LISTEN_FDS}"`);
    return { kind: 'fd', fd: 3 };
  }
  const u = uri ?? DEFAULT_URI;
  if (u.startsWith('unix://')) {
    const path = u.slice('unix://'.length);
    if (!path.startsWith('/')) throw new ApiError(400, `invalid URI "${u}": unix:// needs an absolute path`);
    if (path.length > 107) throw new ApiError(400, `invalid URI "${u}": a unix socket path is at most 107 bytes`);
    return { kind: 'unix', path };
  }
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(u);
  if (m) {
    if (!LOOPBACK.has(m[1])) throw new ApiError(400, `refusing to listen on ${m[1]}: the API has no authentication, so TCP is allowed only on loopback (127.0.0.1, ::1)`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new ApiError(400, `invalid port in "${u}"`);
    return { kind: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port };
  }
  throw new ApiError(400, `invalid URI "${u}": want unix:///PATH or tcp://127.0.0.1:PORT`);
}

export function buildRouter(): Router {
  const r = new Router();
  registerSystem(r);
  registerEvents(r);
  registerImages(r);
  registerContainers(r);
  registerExec(r);
  registerNetworks(r);
  registerVolumes(r);
  registerBuild(r);
  return r;
}

/** The Content-Length bytes of an upgrade request (from `head`, then the socket), and what follows. */
async function upgradeBody(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len < 0 || len > JSON_LIMIT) throw new Error('bad content-length');
  let buf = head;
  while (buf.length < len) {
    const chunk = await new Promise<Buffer>((resolve, reject) => {
      const fail = () => {
        socket.off('data', ok);
        reject(new Error('connection ended'));
      };
      const ok = (d: Buffer) => {
        socket.off('end', fail).off('error', fail);
        resolve(d);
      };
      socket.once('data', ok).once('end', fail).once('error', fail);
    });
    buf = Buffer.concat([buf, chunk]);
  }
  socket.pause();
  return { body: buf.subarray(0, len), rest: buf.subarray(len) };
}

/** A stale socket file (nobody accepts on it) is replaced; a live one means another service. */
async function clearSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ApiError(500, `${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect({ path });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new ApiError(500, `another service is listening on ${path}`);
  unlinkSync(path);
}

function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  if (!line) throw new ApiError(400, `unknown group "${group}"`);
  return Number(line.split(':')[2]);
}

export async function startService(o: ServiceOptions = {}): Promise<Service> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const target = listenTarget(o.uri);
  const engine: Engine = await openEngine(o.root, { debug: o.debug });
  const router = buildRouter();
  const sockets = new Set<Duplex>();
  let active = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let finish!: () => void;
  const closed = new Promise<void>((r) => (finish = r));

  const idleMs = (o.idleSeconds ?? 0) * 1000;
  const touch = (delta: number) => {
    active += delta;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    if (idleMs > 0 && active === 0) {
      idleTimer = setTimeout(() => {
        log(`dock service: idle for ${o.idleSeconds}s, stopping`);
        void close();
      }, idleMs);
    }
  };

  const dispatch = async (ctx: Omit<Ctx, 'params' | 'query' | 'version' | 'engine' | 'signal' | 'log'>, abort: AbortController) => {
    touch(1);
    const started = Date.now();
    let status = 0;
    try {
      const m = router.match(ctx.req.method ?? 'GET', ctx.req.url ?? '/');
      await m.handler({ ...ctx, params: m.params, query: m.query, version: m.version, engine, signal: abort.signal, log });
      status = ctx.res?.statusCode ?? 101;
    } catch (e) {
      if (o.debug && e instanceof Error && !(e as { domain?: string }).domain) log(e.stack ?? String(e)); // domain errors are answers, not faults
      sendError(ctx, e);
      status = toApiError(e).status;
      if (!(e as { domain?: string }).domain) log(`dock service: ${ctx.req.method} ${ctx.req.url}: ${(e as Error)?.message ?? e}`);
    } finally {
      touch(-1);
      if (o.debug) log(`${ctx.req.method} ${ctx.req.url} ${status} ${Date.now() - started}ms`);
    }
  };

  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    void dispatch({ req, res }, abort);
  });
  // Attach and exec start take the connection over (Upgrade: tcp).
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const abort = new AbortController();
    socket.on('close', () => abort.abort());
    socket.on('error', () => abort.abort());
    // BuildKit's gRPC and session streams (Upgrade: h2c): Docker's 501 with what to do instead.
    if (/^(\/v\d+\.\d+)?\/(grpc|session)\/?(\?|$)/.test(req.url ?? '')) {
      sendError({ req, socket }, new ApiError(501, NO_BUILDKIT));
      return;
    }
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'tcp') {
      sendError({ req, socket }, new ApiError(400, `unsupported upgrade "${req.headers.upgrade}": only tcp`));
      return;
    }
    // The request's own body (exec start's JSON) arrives before the stream: split it off.
    void upgradeBody(req, socket, head).then(
      ({ body, rest }) => dispatch({ req, socket, head: rest, body }, abort),
      () => socket.destroy(),
    );
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    touch(1);
    s.on('close', () => {
      sockets.delete(s);
      touch(-1);
    });
  });
  server.on('clientError', (_e, s: Duplex) => {
    if (!s.destroyed) s.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"malformed request"}\n');
  });

  let address: string;
  if (target.kind === 'unix') {
    mkdirSync(dirname(target.path), { recursive: true, mode: 0o755 });
    await clearSocket(target.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target.path, () => resolve());
    });
    chmodSync(target.path, 0o660);
    if (o.group) chownSync(target.path, 0, groupId(o.group));
    address = `unix://${target.path}`;
  } else if (target.kind === 'tcp') {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target.port, target.host, () => resolve());
    });
    const a = server.address() as net.AddressInfo;
    address = `tcp://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    log(`dock service: WARNING: the API on ${address} has no authentication: any local user can drive the engine as root`);
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd: target.fd }, () => resolve());
    });
    address = `fd://${target.fd}`;
  }
  touch(0);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      if (idleTimer) clearTimeout(idleTimer);
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
      if (target.kind === 'unix') {
        try {
          unlinkSync(target.path);
        } catch {
          /* gone */
        }
      }
      engine.close();
      finish();
    })());
  return { address, server, close, closed };
}
