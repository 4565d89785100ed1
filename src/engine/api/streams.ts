// Docker's stream shapes. Attach and exec take the connection over ("hijack"): the client asks
// with `Upgrade: tcp`, gets `101 UPGRADED`, then the socket carries the process's output (raw with
// a TTY, otherwise frames with an 8-byte header: stream 1/2, three zero bytes, big-endian length)
// and the client's input. A client that does not ask for the upgrade gets the same bytes as a
// plain 200 answer. Pull, push, load and build answer with JSON lines of progress.

import { Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import type { Ctx } from './router';

export interface Hijacked {
  /** Where output goes. */
  out: Duplex | NodeJS.WritableStream;
  /** What the client sends (stdin). */
  input: NodeJS.ReadableStream;
  end(): void;
}

export const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
export const RAW_STREAM = 'application/vnd.docker.raw-stream';

/** Answers the request with the stream's headers and gives the two directions. */
export function hijack(ctx: Ctx, tty: boolean): Hijacked {
  const type = tty ? RAW_STREAM : MULTIPLEXED;
  if (ctx.socket) {
    const s = ctx.socket;
    s.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    if (ctx.head?.length) s.unshift(ctx.head);
    return {
      out: s,
      input: s,
      end: () => {
        if (!s.destroyed) s.end();
      },
    };
  }
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': type });
  res.flushHeaders();
  return { out: res, input: ctx.req, end: () => res.end() };
}

/** One 8-byte header per write: stream 0 stdin, 1 stdout, 2 stderr. */
export function frame(stream: 0 | 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** A writable that puts what it gets on `out` as frames of one stream (or raw with a TTY). */
export function streamWriter(out: NodeJS.WritableStream, stream: 1 | 2, tty: boolean): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!b.length) return cb();
      try {
        (out as Writable).writableEnded || (out as Writable).destroyed ? undefined : out.write(tty ? b : frame(stream, b));
      } catch {
        /* the client went away */
      }
      cb();
    },
  });
}

/** A JSON-lines answer (chunked): each call writes one object. */
export function jsonLines(ctx: Ctx, o: { lazy?: boolean } = {}) {
  const res = ctx.res!;
  const start = () => {
    if (res.headersSent) return;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
  };
  // lazy: the answer starts with the first line, so a failure before it keeps its own status.
  if (!o.lazy) start();
  return {
    write(obj: unknown): void {
      start();
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(obj) + '\r\n');
    },
    /** Whether anything was sent (after that, errors can only be lines). */
    get started(): boolean {
      return res.headersSent;
    },
    end(): void {
      start();
      if (!res.writableEnded) res.end();
    },
  };
}
