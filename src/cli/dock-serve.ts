// dock calls served by the warm server (src/cli/server.ts) instead of a new Node each: a worker
// thread that has loaded dist/dock.js and registered its commands takes a call, stands in for the
// caller, answers, and takes the next one.
//
// What the worker takes on from the caller (skiff-front in dock mode, addon/front-remote.c): its
// cwd and umask (this thread's own, unshare(CLONE_FS)), its network, UTS and IPC namespaces, its
// environment and argv, and its stdin, stdout and stderr as process.stdin/stdout/stderr. What
// runtime calls do in their caller's process (start an init, be its subreaper, wait for it: `dock
// exec`) the front does, as for skiff's own calls (src/runtime/remote.ts). Signals the front gets
// arrive as bytes on a pipe and are emitted on `process` as Node would; one that dock leaves
// unhandled ends the call and the front dies of it.
//
// A call ends with its exit status (the front exits with it) and gives back what a Node process
// would have got back from the kernel at its exit: the fds it opened and left open (a container
// lock's flock among them) are closed, the listeners it added removed, env, cwd, argv and stdio put
// back. The worker serves another call only when the call left nothing running (no timer, socket
// or child beyond what the worker had before it); otherwise, and after a process.exit, a signal
// that ends the call, or a caller that was killed, the worker ends, and children that outlive it
// are left to the main thread to reap.
import { appendFileSync, closeSync, createReadStream, fstatSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants, setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import tty from 'node:tty';
import { parentPort, workerData } from 'node:worker_threads';
import { native, serveCaller, type Native } from '../runtime/native';
import { output } from '../runtime/output';
import { DOCK_SHARED_SLOTS, Remote, callerOverrides, type DockCall, type NativeRemote } from '../runtime/remote';
import { crash } from '../engine/containers/start';

/**
 * The commands the server runs: those of a container's life that engines, scripts and people call
 * again and again (`container` includes the exit and health commands of supervisors). The others stay on Node: build and compose run steps whose init dock itself must
 * parent, the API daemon would hold a worker as long as it runs, and the rest gain little.
 */
const SERVED = new Set(['container', 'ps', 'run', 'create', 'start', 'stop', 'restart', 'kill', 'rm', 'exec', 'inspect', 'images', 'logs', 'top', 'port', 'wait', 'pause', 'unpause', 'rename', 'version', 'info']);

function handOver(args: string[]): boolean {
  return !SERVED.has(args.find((a) => !a.startsWith('-')) ?? '');
}

/** What most calls load: loaded while the worker gets ready, not during a call. */
const BUILTINS = ['child_process', 'net', 'tty', 'crypto', 'readline', 'stream', 'http', 'zlib'];

/** process events whose listeners a call may add; removed when it ends. */
const EVENTS = ['exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

/**
 * A dock worker: it gets ready (at the lowest priority of its thread, bin/skiff-server.js, so that
 * getting ready never slows a call being served), then serves the calls its main thread hands it.
 */
export function serveDockWorker(prepare: () => void, run: (args: string[]) => Promise<number>): void {
  const { shared, log } = workerData as { shared: Int32Array; log: string };
  (native() as Native & NativeRemote).threadIsolate(); // a cwd and umask of this thread's own
  for (const b of BUILTINS) builtin(b);
  prepare();
  const fds = trackFds();
  const children = trackChildren(shared);
  const n = native() as Native & NativeRemote;
  // A worker that ends between calls lets go of the fds that kept its thread's own namespaces.
  function end(code: number): never {
    n.threadJoinNamespaces(0, 1);
    return process.exit(code);
  }
  const next = () =>
    parentPort!.once('message', (m: { call?: DockCall }) => {
      if (!m.call) end(0);
      setPriority(0); // this thread's own nice value; root may lower it
      serveDockCall(m.call, shared, run, fds, children).then(
        (again) => {
          if (!again) end(0);
          parentPort!.postMessage({ idle: true });
          next();
        },
        (e) => {
          appendFileSync(log, `${new Date().toISOString()} dock call from pid ${m.call!.pid}: ${(e as Error)?.stack ?? e}\n`);
          end(1);
        },
      );
    });
  next();
}

/** Serves one call; true when the worker may serve another. */
async function serveDockCall(call: DockCall, shared: Int32Array, run: (args: string[]) => Promise<number>, opened: Set<number>, children: () => void): Promise<boolean> {
  const n = native() as Native & NativeRemote;
  const { conn, req } = call;
  const signals = req.stdio[3]!;
  const owned = new Set<number>([req.stdio[0], req.stdio[1], req.stdio[2], signals]);
  const letGo = () => {
    for (const fd of owned) close(fd);
    owned.clear();
    Atomics.store(shared, 0, 1);
  };
  if (handOver(req.argv)) {
    letGo();
    n.remoteSend(conn, Remote.HANDOVER, 0, 0, 0, 0);
    close(conn);
    Atomics.store(shared, 0, 0); // the next call's fds are the main thread's to close if this worker dies
    return true;
  }
  n.threadEnter(req.cwd, req.umask);
  n.threadJoinNamespaces(call.pid);
  n.remoteSend(conn, Remote.STARTED, 0, 0, 0, 0);

  // What the worker is without a call: put back at the end.
  const before = {
    env: { ...process.env },
    cwd: process.cwd,
    argv: process.argv,
    stdio: (['stdin', 'stdout', 'stderr'] as const).map((k) => [k, Object.getOwnPropertyDescriptor(process, k)!] as const),
    listeners: EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals)] as const),
    resources: resources(),
    crash: crash.now,
  };
  serveCaller({ pid: call.pid, overrides: callerOverrides(conn, n) });
  [output.in, output.out, output.err] = [req.stdio[0], req.stdio[1], req.stdio[2]];
  opened.clear();
  let dieOf = 0;
  let input: Readable | undefined;
  // The ends that stop the worker (process.exit, a signal, a killed caller) answer from here.
  process.on('exit', (code) => {
    serveCaller();
    n.threadJoinNamespaces(0, 1);
    letGo();
    // A file as stdin is closed by its stream, asynchronously: too late in a thread that ends. (A
    // handle's fd -- terminal, pipe, socket -- is closed with the thread's loop.)
    if (input && 'bytesRead' in input && !input.destroyed) close(req.stdio[0]);
    for (const fd of opened) close(fd);
    children();
    try {
      n.remoteSend(conn, Remote.EXIT, code, dieOf, 0, 0);
    } catch {
      // the caller was killed meanwhile
    }
    close(conn);
  });
  process.on('uncaughtException', (e) => {
    process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  });
  crash.now = () => {
    // DOCK_CRASH_AT: as a dock killed at that step, its caller dies and nothing more is done.
    process.kill(call.pid, 'SIGKILL');
    process.exit(137);
  };

  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, req.env);
  process.cwd = () => req.cwd;
  process.argv = [process.execPath, join(dirname(__filename), '..', 'bin', 'dock.js'), ...req.argv];
  const out = writer(req.stdio[1], owned);
  const err = writer(req.stdio[2], owned);
  define('stdout', () => out);
  define('stderr', () => err);
  define('stdin', () => (input ??= reader(req.stdio[0], owned)));

  const sig = new Socket({ fd: signals, readable: true, writable: false });
  owned.delete(signals);
  sig.unref();
  sig.on('data', (bytes: Buffer) => {
    for (const s of bytes) {
      const name = Object.entries(constants.signals).find(([, v]) => v === s)?.[0] as NodeJS.Signals | undefined;
      if (!name) continue;
      if (name === 'SIGWINCH') {
        for (const w of [out, err]) (w as tty.WriteStream & { _refreshSize?: () => void })._refreshSize?.();
      } else if (process.listenerCount(name) > 0) {
        process.emit(name, name);
      } else if (name !== 'SIGCONT') {
        dieOf = s;
        process.exit(128 + s);
      }
    }
  });
  // The front is gone (killed): so is the call, as a killed dock was.
  const gone = () => process.exit(137);
  sig.on('end', gone);
  sig.on('error', gone);

  const code = await run(req.argv);

  // The call is over: give back what it took, answer, and see whether it left anything running.
  sig.off('end', gone).off('error', gone);
  sig.destroy();
  input?.destroy();
  for (const w of [out, err]) w instanceof tty.WriteStream ? w.destroy() : ((w as { dead?: boolean }).dead = true);
  for (const [k, d] of before.stdio) Object.defineProperty(process, k, d);
  for (const [e, ls] of before.listeners) {
    process.removeAllListeners(e);
    for (const l of ls) process.on(e, l as (...a: unknown[]) => void);
  }
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, before.env);
  process.cwd = before.cwd;
  process.argv = before.argv;
  process.exitCode = undefined;
  crash.now = before.crash;
  serveCaller();
  [output.in, output.out, output.err] = [0, 1, 2];
  letGo();
  n.threadJoinNamespaces(0);
  n.threadEnter('/', 0o022);
  try {
    n.remoteSend(conn, Remote.EXIT, code, 0, 0, 0);
  } catch {
    // the caller was killed meanwhile
  }
  close(conn);
  // Closed handles leave the loop's list on its next turn, and what the call left in flight (an fs
  // request, a child's pipe) ends soon after: given half a second, the worker is as it was, or ends.
  let clean = false;
  for (let i = 0; i < 50 && !clean; i++) {
    await new Promise((r) => setTimeout(r, i ? 10 : 0));
    clean = JSON.stringify(resources()) === JSON.stringify(before.resources);
  }
  // Only now, with nothing of the call in flight, what it opened and left open: closed earlier, a
  // stream still finishing would close its fd a second time (or another's with the same number).
  for (const fd of opened) close(fd);
  opened.clear();
  if (clean) Atomics.store(shared, 0, 0);
  return clean;
}

/** The worker's live resources (timers, sockets, children...) by kind, for "did the call leave any". */
function resources(): Record<string, number> {
  const r: Record<string, number> = {};
  for (const k of process.getActiveResourcesInfo()) r[k] = (r[k] ?? 0) + 1;
  return Object.fromEntries(Object.entries(r).sort());
}

function close(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}

/**
 * process.stdin/stdout/stderr as the caller's for the call. A worker's own stdio streams talk to
 * its main thread, which calls back on `process[name]` by an internal symbol when it has taken what
 * was written there (a warning of Node's, say): the stand-in passes such calls on to the original.
 */
function define(name: 'stdin' | 'stdout' | 'stderr', get: () => object): void {
  const original = Object.getOwnPropertyDescriptor(process, name)?.get?.call(process) as Record<symbol, unknown> | undefined;
  const internal: symbol[] = [];
  for (let o = original; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) internal.push(...Object.getOwnPropertySymbols(o).filter((k) => /^kStdio/.test(k.description ?? '')));
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: true,
    get() {
      const stream = get() as Record<symbol, unknown>;
      for (const k of internal) if (!(k in stream)) stream[k] = (...a: unknown[]) => (original![k] as (...a: unknown[]) => unknown).apply(original, a);
      return stream;
    },
  });
}

/** The caller's stdout or stderr: a terminal as Node makes it, anything else written synchronously
 * as Node writes to files and pipes. */
function writer(fd: number, owned: Set<number>): NodeJS.WriteStream {
  if (tty.isatty(fd)) {
    owned.delete(fd); // the stream's handle closes it
    return new tty.WriteStream(fd);
  }
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      // Once the call is over its fd is closed, and the number may be another's: never written.
      if ((w as { dead?: boolean }).dead) return cb(Object.assign(new Error('write after the call ended'), { code: 'EBADF' }));
      try {
        writeAll(fd, chunk);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(w, { fd, isTTY: false });
  return w;
}

const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAll(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length; ) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      // The caller's pipe may be non-blocking (shared with it): wait for room as Node's stdio does.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** The caller's stdin as Node would make it: a terminal, a socket or pipe, or a file. */
function reader(fd: number, owned: Set<number>): Readable {
  owned.delete(fd); // the stream closes it (destroyed at the end of the call)
  if (tty.isatty(fd)) return new tty.ReadStream(fd);
  const st = fstatSync(fd);
  return st.isFIFO() || st.isSocket() ? new Socket({ fd, readable: true, writable: false }) : createReadStream('', { fd });
}

/** The module object itself, whose functions every import of it calls through (the bundle's
 * lazy builtins are getters over it, scripts/build.mjs): patched, it sees every call. */
function builtin(name: string): Record<string, (...a: unknown[]) => unknown> {
  return (process as unknown as { getBuiltinModule(n: string): Record<string, (...a: unknown[]) => unknown> }).getBuiltinModule(`node:${name}`);
}

/** fds the calls open with fs and leave open: closed when each ends, as the kernel would. */
function trackFds(): Set<number> {
  const opened = new Set<number>();
  const f = builtin('fs');
  const { openSync, open, closeSync: closeS, close: closeA } = f;
  f.openSync = (...a) => {
    const fd = openSync(...a) as number;
    opened.add(fd);
    return fd;
  };
  f.open = (...a) => {
    const cb = a.pop() as (e: Error | null, fd?: number) => void;
    return open(...a, (e: Error | null, fd?: number) => {
      if (!e) opened.add(fd!);
      cb(e, fd);
    });
  };
  f.closeSync = (fd) => {
    opened.delete(fd as number);
    return closeS(fd);
  };
  f.close = (fd, ...rest) => {
    opened.delete(fd as number);
    return closeA(fd, ...rest);
  };
  return opened;
}

/** Children spawned by this call: those not yet reaped when it ends are written to the shared
 * array for the server's main thread to reap (nothing in this thread will wait for them then). */
function trackChildren(shared: Int32Array): () => void {
  const live = new Set<number>();
  const cp = builtin('child_process');
  const spawn = cp.spawn;
  cp.spawn = (...a) => {
    const c = spawn(...a) as import('node:child_process').ChildProcess;
    if (c.pid) {
      const pid = c.pid;
      live.add(pid);
      c.once('exit', () => live.delete(pid));
    }
    return c;
  };
  return () => {
    const pids = [...live].slice(0, DOCK_SHARED_SLOTS - 2);
    pids.forEach((p, i) => Atomics.store(shared, 2 + i, p));
    Atomics.store(shared, 1, pids.length);
  };
}
