// Attaching to a container's stdio through its supervisor (ctl.sock "attach" request): output
// frames to our stdout/stderr, our stdin as frames, terminal size changes, and the exit code
// when the container exits. The frame format is documented in addon/supervisor.c.

import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ContainerError } from './errors';
import { SUN_PATH_MAX } from './paths';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /**
   * This client handles the exit (cleanup, restart policy, --rm): no exit command while it is
   * attached. It must call the result's `handled` once it has; if it dies before, the supervisor
   * runs the exit command after all.
   */
  claim?: boolean;
  /** Close the container's stdin when our input ends or we go away (Docker's StdinOnce). */
  stdinOnce?: boolean;
  /** Our terminal: raw mode and window sizes (with a container that has a tty). */
  tty?: boolean;
  /** Docker's --detach-keys ("ctrl-p,ctrl-q" by default): typed on a terminal, they detach. */
  detachKeys?: string;
  /** Resolves once the supervisor confirmed the attach (before the container is started). */
  onReady?: () => void;
  input?: NodeJS.ReadableStream;
  /** Ends the attach (the API service: its client went away). */
  signal?: AbortSignal;
  output?: NodeJS.WritableStream;
  errors?: NodeJS.WritableStream;
}

export interface AttachResult {
  /** Null when the connection ended without an exit (detached, or the supervisor went away). */
  exitCode: number | null;
  /** With `claim`: tells the supervisor the exit is handled, and closes the connection. */
  handled?: () => void;
}

const DETACH = Buffer.from([0x10, 0x11]); // ctrl-p ctrl-q, Docker's default detach keys

/**
 * Docker's detach-key syntax (moby's term.ToBytes): comma-separated keys, each one character or
 * ctrl-X where X is a letter or one of @ [ \ ] ^ _.
 */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    if (k.length === 1) out.push(k.charCodeAt(0));
    else if (/^ctrl-[a-z]$/i.test(k)) out.push(k.toLowerCase().charCodeAt(5) - 0x60);
    else if (/^ctrl-[@[\\\]^_]$/.test(k)) out.push(k.charCodeAt(5) - 0x40);
    else throw new ContainerError('EUSAGE', `invalid detach keys (${spec}): unknown character: '${k}'`);
  }
  if (!out.length) throw new ContainerError('EUSAGE', `invalid detach keys (${spec})`);
  return Buffer.from(out);
}

function frame(kind: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(5);
  h[0] = kind;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

export function connectCtl(dir: string, allowHalfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let path = join(dir, 'ctl.sock');
    let dirFd = -1;
    if (path.length > SUN_PATH_MAX) {
      dirFd = openSync(dir, 'r');
      path = `/proc/self/fd/${dirFd}/ctl.sock`;
    }
    const s = net.connect({ path, allowHalfOpen });
    const done = () => {
      if (dirFd >= 0) closeSync(dirFd);
      dirFd = -1;
    };
    s.once('connect', () => {
      done();
      resolve(s);
    });
    s.once('error', (e) => {
      done();
      reject(new ContainerError('ESUPERVISOR', `cannot attach: the container's supervisor is not running (${(e as NodeJS.ErrnoException).code ?? e.message})`));
    });
  });
}

export async function attach(dir: string, o: AttachOptions): Promise<AttachResult> {
  // A claimer keeps its side open after the exit frame, to say when it has handled the exit.
  const sock = await connectCtl(dir, !!o.claim);
  const out = o.output ?? process.stdout;
  const err = o.errors ?? process.stderr;
  const input = o.input ?? process.stdin;
  const cleanupsOnEnd: Array<() => void> = [];
  const flags = `${o.stdin ? 'i' : ''}${o.stdout ? 'o' : ''}${o.stderr ? 'e' : ''}${o.claim ? 'c' : ''}${o.stdinOnce ? 's' : ''}w`;
  sock.write(`attach ${flags}\n`);
  const abort = () => sock.destroy();
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener('abort', abort);
  cleanupsOnEnd.push(() => o.signal?.removeEventListener('abort', abort));

  let exitCode: number | null = null;
  let acked = false;
  let buf: Buffer = Buffer.alloc(0);
  const stdinTty = o.tty && (input as NodeJS.ReadStream).isTTY;
  const cleanups: Array<() => void> = [];

  const sendResize = () => {
    const so = process.stdout;
    if (so.isTTY && so.rows && so.columns) sock.write(frame(5, Buffer.from(`${so.rows} ${so.columns}`)));
  };

  const startInput = () => {
    if (!o.stdin) return;
    if (stdinTty) {
      (input as NodeJS.ReadStream).setRawMode(true);
      cleanups.push(() => (input as NodeJS.ReadStream).setRawMode(false));
    }
    const keys = o.detachKeys ? parseDetachKeys(o.detachKeys) : DETACH;
    let matched = 0; // how many bytes of the detach keys were just typed
    const onData = (d: Buffer) => {
      if (stdinTty) {
        // The detach keys end the attach and leave the container running.
        for (const b of d) {
          matched = b === keys[matched] ? matched + 1 : b === keys[0] ? 1 : 0;
          if (matched === keys.length) {
            err.write('read escape sequence\r\n'); // as docker prints it
            sock.end();
            return;
          }
        }
      }
      sock.write(frame(0, d));
    };
    const onEnd = () => {
      if (o.stdinOnce) sock.write(frame(4));
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume(); // a stream handed over paused (the API's hijacked connection) flows from here
    cleanups.push(() => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
    });
  };

  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (!acked) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString();
        buf = buf.subarray(nl + 1);
        if (line !== 'ok') {
          err.write(`dock: attach: ${line}\n`);
          sock.destroy();
          return;
        }
        acked = true;
        if (o.tty) {
          sendResize();
          process.stdout.on('resize', sendResize);
          cleanups.push(() => process.stdout.off('resize', sendResize));
        }
        startInput();
        o.onReady?.();
      }
      while (buf.length >= 5) {
        const n = buf.readUInt32BE(1);
        if (buf.length < 5 + n) break;
        const kind = buf[0];
        const payload = buf.subarray(5, 5 + n);
        buf = buf.subarray(5 + n);
        if (kind === 1) out.write(payload);
        else if (kind === 2) err.write(payload);
        else if (kind === 3) exitCode = Number(payload.toString());
      }
    });
    sock.on('close', () => resolve());
    sock.on('end', () => resolve()); // half-open (claim): the supervisor is done sending
    sock.on('error', () => resolve());
  });
  for (const c of cleanups.reverse()) c();
  for (const c of cleanupsOnEnd) c();
  if (!acked) {
    sock.destroy();
    throw new ContainerError('ESUPERVISOR', "cannot attach: the container's supervisor closed the connection");
  }
  if (!o.claim) return { exitCode };
  if (exitCode === null) {
    sock.end();
    return { exitCode };
  }
  // The supervisor may be gone already (an --rm removal quits it): a refused frame is fine.
  return { exitCode, handled: () => sock.end(frame(6)) };
}

/** Waits for the container's exit through the supervisor; null if it went away first. */
export async function waitExitVia(dir: string, timeoutMs?: number): Promise<number | null> {
  let sock: net.Socket;
  try {
    sock = await connectCtl(dir);
  } catch {
    return null;
  }
  sock.write('attach w\n');
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let code: number | null = null;
    const timer = timeoutMs !== undefined ? setTimeout(() => sock.destroy(), timeoutMs) : undefined;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(0x0a);
      let rest = nl >= 0 ? buf.subarray(nl + 1) : Buffer.alloc(0);
      while (rest.length >= 5) {
        const n = rest.readUInt32BE(1);
        if (rest.length < 5 + n) break;
        if (rest[0] === 3) code = Number(rest.subarray(5, 5 + n).toString());
        rest = rest.subarray(5 + n);
      }
    });
    sock.on('close', () => {
      if (timer) clearTimeout(timer);
      resolve(code);
    });
    sock.on('error', () => undefined);
  });
}

/** Sets the size of the container's terminal (a resize frame; the supervisor applies it to the pty). */
export async function resizeTerminal(dir: string, rows: number, cols: number): Promise<void> {
  const sock = await connectCtl(dir);
  await new Promise<void>((resolve) => {
    sock.on('error', () => resolve());
    sock.on('close', () => resolve());
    sock.on('data', (d: Buffer) => {
      // After the "ok" line the frame goes out, then we leave (the supervisor keeps the size).
      if (d.includes(0x0a)) sock.end(frame(5, Buffer.from(`${rows} ${cols}`)));
    });
    sock.write('attach \n');
  });
}
