// The warm skiff server: the calls that need a TypeScript CLI -- skiff's create, run and exec, and
// dock's container commands (dock-serve.ts) -- run in a Node process that has already paid for its
// start (`node -e 0` alone is about runc's whole `run`). skiff-front (addon/front-remote.c) starts
// it on demand, connects to it for each such call, and stays the caller's process: it starts
// skiff-init, is the subreaper and waits, so the container's processes are the caller's children as
// with runc. Each call runs in a worker thread that stands in for the caller: its stdout and stderr
// (output.ts), cwd and umask (unshare(CLONE_FS) of that thread), network, UTS and IPC namespaces,
// environment and argv, the same main() as bin/skiff.js. The server holds no state: everything is in
// the state root as always, and it exits after SKIFF_SERVER_IDLE seconds (120) without a call. One
// per build: the socket's name is a hash of the two bundles, the addon and skiff-init (the front
// computes the same), so a rebuilt skiff never talks to an old server.
import { appendFileSync, closeSync, constants, ftruncateSync, lstatSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { initPath, native, serveCaller, type Native } from '../runtime/native';
import { DOCK_SHARED_SLOTS, HandoverError, Remote, remoteDir, type DockCall, type NativeRemote, callerOverrides, parseRequest } from '../runtime/remote';
import { output } from '../runtime/output';
import { main } from './skiff';

const MAX_WORKERS = 16;
/** Idle dock workers kept for the next calls. */
const MAX_IDLE_DOCKS = 4;
/** How often an idle worker looks up from accept() to see whether the server stops. */
const ACCEPT_TICK_MS = 500;

function nr(): Native & NativeRemote {
  return native() as Native & NativeRemote;
}

/** The same hash of the same files as build_id() in addon/front-remote.c. */
export function buildId(): string {
  const release = dirname(initPath());
  const files = [join(release, '../../dist/skiff.js'), join(release, '../../dist/dock.js'), join(release, 'skiff_native.node'), join(release, 'skiff-init')];
  let h = 0xcbf29ce484222325n;
  for (const f of files) {
    const st = statSync(f, { bigint: true });
    for (const c of Buffer.from(`${st.dev}:${st.ino}:${st.mtimeNs}:${st.size}|`)) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n);
  }
  return h.toString(16).padStart(16, '0');
}

function idleMs(): number {
  const s = Number(process.env.SKIFF_SERVER_IDLE ?? 120);
  return Number.isFinite(s) && s > 0 ? Math.min(s, 86_400) * 1000 : 120_000;
}

/** The server's directory: root's own, nobody else may have written in it. */
function ownDir(): string {
  const dir = remoteDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o077) !== 0) throw new Error(`${dir} is not a directory of root's alone`);
  return dir;
}

/** The main thread: the socket, the pool of workers, the idle exit. */
export function serve(workerScript: string): void {
  if (process.geteuid?.() !== 0) throw new Error('the skiff server runs as root');
  const dir = ownDir();
  const id = buildId();
  const log = join(dir, `${id}.log`);
  const lock = openSync(join(dir, `${id}.lock`), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  if (!nr().flock(lock, true, false)) process.exit(0); // another one is starting or running
  ftruncateSync(lock);
  writeSync(lock, `${process.pid}\n`, 0); // who serves: `kill $(cat /run/skiff-server/*.lock)` stops it
  const sock = join(dir, `${id}.sock`);
  rmSync(sock, { force: true });
  const listenFd = nr().remoteListen(sock);
  rmSync(join(dir, `${id}.start`), { force: true });

  const busy = new Map<Worker, boolean>();
  // The fds of the call each worker serves: closed here if the worker dies in the middle of it,
  // so that its caller sees the end of the connection (and the readers of its pipes their end).
  const held = new Map<Worker, number[]>();
  // Set to 1 to stop: idle workers see it within ACCEPT_TICK_MS, busy ones after their call. The
  // process exits once they have all ended (a worker blocked in the addon cannot be terminated).
  const stopping = new Int32Array(new SharedArrayBuffer(4));
  let last = Date.now();
  const spawn = () => {
    // trackUnmanagedFds off: the fds of a call are received by one thread and closed by another.
    const w = new Worker(workerScript, { workerData: { listenFd, log, stopping }, stdout: true, stderr: true, trackUnmanagedFds: false });
    keepOutput(w, log);
    busy.set(w, false);
    w.on('message', (m: { state: 'busy' | 'idle' | 'holds' | 'dock'; fds?: number[]; call?: DockCall }) => {
      if (m.state === 'dock') {
        held.delete(w); // the dock worker holds the call's fds from now on
        return void serveDock(m.call!);
      }
      if (!busy.has(w)) return; // a message that trails the worker's exit must not bring it back
      last = Date.now();
      if (m.state === 'holds') return void held.set(w, m.fds ?? []);
      busy.set(w, m.state === 'busy');
      held.delete(w);
      if (m.state === 'busy' && [...busy.values()].every(Boolean) && busy.size < MAX_WORKERS) spawn();
    });
    w.on('error', (e) => appendFileSync(log, `${new Date().toISOString()} worker: ${e?.stack ?? e}\n`));
    w.on('exit', () => {
      for (const fd of held.get(w) ?? []) closeQuietly(fd);
      held.delete(w);
      busy.delete(w);
      if (Atomics.load(stopping, 0)) {
        if (!busy.size && !docks.size) process.exit(0);
      } else if (!busy.size) {
        spawn(); // never without a worker accepting
      }
    });
  };
  spawn();

  // dock calls: served by workers that have loaded dist/dock.js before the call came (dock-serve.ts).
  // A worker takes the next call when its last one left nothing running, else it ends. One more is
  // always getting ready while the others serve, for a call that comes meanwhile.
  const docks = new Map<Worker, { busy: boolean; held: number[]; shared: Int32Array; tid?: number }>();
  // Children of ended dock workers that no thread waits for any more (a supervisor's first fork, a
  // network helper): reaped here, by pid, so that none stays a zombie of the server.
  const orphans = new Set<number>();
  const ready: Worker[] = [];
  const spawnDock = () => {
    const shared = new Int32Array(new SharedArrayBuffer(4 * DOCK_SHARED_SLOTS));
    const w = new Worker(workerScript, { workerData: { dock: true, log, shared }, stdout: true, stderr: true, trackUnmanagedFds: false });
    keepOutput(w, log);
    docks.set(w, { busy: false, held: [], shared });
    w.on('message', (m: { tid?: number; idle?: boolean }) => {
      const d = docks.get(w);
      if (!d) return;
      if (m.tid) d.tid = m.tid;
      if (!m.idle) return;
      Object.assign(d, { busy: false, held: [] });
      last = Date.now();
      // The warmest first; a stopping server, or more idle than it needs, lets it go.
      if (Atomics.load(stopping, 0) || ready.length >= MAX_IDLE_DOCKS) w.postMessage({ stop: true });
      else ready.unshift(w);
    });
    w.on('error', (e) => appendFileSync(log, `${new Date().toISOString()} dock worker: ${e?.stack ?? e}\n`));
    w.on('exit', () => {
      const d = docks.get(w)!;
      docks.delete(w);
      if (ready.includes(w)) ready.splice(ready.indexOf(w), 1);
      if (!Atomics.load(d.shared, 0)) for (const fd of d.held) closeQuietly(fd); // it died before letting them go
      for (let i = 0; i < Atomics.load(d.shared, 1); i++) orphans.add(Atomics.load(d.shared, 2 + i));
      reap();
      if (Atomics.load(stopping, 0) && !busy.size && !docks.size) process.exit(0);
    });
    return w;
  };
  const reap = () => {
    for (const pid of orphans) {
      try {
        if (nr().waitPidSync(pid, true)) orphans.delete(pid);
      } catch {
        orphans.delete(pid); // not our child (reaped already)
      }
    }
  };
  const serveDock = (call: DockCall) => {
    last = Date.now();
    const w = ready.shift() ?? spawnDock();
    const d = Object.assign(docks.get(w)!, { busy: true, held: [call.conn, ...call.req.stdio] });
    try {
      if (d.tid) setPriority(d.tid, 0); // still getting ready at nice 19: the call waits on it now
    } catch {
      // it ended meanwhile
    }
    w.postMessage({ call });
    if (!Atomics.load(stopping, 0) && !ready.length) ready.push(spawnDock());
  };
  ready.push(spawnDock());
  const anyBusy = () => [...busy.values()].some(Boolean) || [...docks.values()].some((d) => d.busy);

  const stop = () => {
    // Unlinked first: a front that connects meanwhile runs the CLI on Node itself (or, if it got in
    // before, sees its connection closed before any answer and does the same).
    rmSync(sock, { force: true });
    // Not closed here: the workers share this fd number until they have seen the flag.
    Atomics.store(stopping, 0, 1);
    for (const w of ready.splice(0)) w.postMessage({ stop: true });
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);
  setInterval(() => {
    reap();
    if (Atomics.load(stopping, 0)) {
      if (!busy.size && !docks.size) process.exit(0); // every worker has ended (also checked at each exit)
      return;
    }
    if (Date.now() - last < idleMs() || anyBusy()) return;
    stop();
  }, 1000);
}

/** A worker: accept a call, serve it as the caller, again. */
export async function serveWorker(): Promise<void> {
  const n = nr();
  n.threadIsolate();
  const { listenFd, log, stopping } = workerData as { listenFd: number; log: string; stopping: Int32Array };
  while (!Atomics.load(stopping, 0)) {
    const conn = n.remoteAccept(listenFd, ACCEPT_TICK_MS);
    if (!conn) continue;
    parentPort!.postMessage({ state: 'busy' });
    parentPort!.postMessage({ state: 'holds', fds: [conn.fd] });
    let passed = false;
    try {
      passed = await serveCall(n, conn);
    } catch (e) {
      appendFileSync(log, `${new Date().toISOString()} call from pid ${conn.pid}: ${(e as Error)?.stack ?? e}\n`);
    } finally {
      serveCaller();
      n.threadEnter('/', 0o022);
      if (!passed) closeSync(conn.fd);
      parentPort!.postMessage({ state: 'holds', fds: [] });
      n.threadJoinNamespaces(0);
    }
    parentPort!.postMessage({ state: 'idle' });
  }
  // Stopping: end this thread even if a call left a handle behind (a timer, a socket) that would
  // keep its loop, and so the server, alive.
  process.exit(0);
}

/** Serves one connection; true when it was passed on (a dock call, to a dock worker). */
async function serveCall(n: Native & NativeRemote, conn: { fd: number; pid: number; uid: number }): Promise<boolean> {
  const m = n.remoteRecv(conn.fd, 10_000);
  const req = m && conn.uid === 0 ? parseRequest(m) : undefined;
  for (const fd of m?.fds ?? []) if (!req) closeSync(fd);
  if (!req) return false; // the front sees the end of file and runs the CLI itself
  if (req.program === 'dock') {
    parentPort!.postMessage({ state: 'dock', call: { conn: conn.fd, pid: conn.pid, req } satisfies DockCall });
    return true;
  }
  parentPort!.postMessage({ state: 'holds', fds: [conn.fd, ...req.stdio] });
  try {
    n.threadEnter(req.cwd, req.umask);
    n.threadJoinNamespaces(conn.pid);
  } catch (e) {
    for (const fd of req.stdio) closeSync(fd);
    parentPort!.postMessage({ state: 'holds', fds: [conn.fd] });
    throw e;
  }
  const realCwd = process.cwd;
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, req.env);
  process.cwd = () => req.cwd;
  serveCaller({ pid: conn.pid, overrides: callerOverrides(conn.fd, n) });
  [output.out, output.err] = [req.stdio[1], req.stdio[2]];
  let code: number | undefined;
  try {
    code = await main(req.argv);
  } catch (e) {
    if (!(e instanceof HandoverError)) throw e;
  } finally {
    serveCaller();
    process.cwd = realCwd;
    [output.out, output.err] = [1, 2];
    // The caller's stdio is let go before it is told to exit: a reader of its pipes sees their end.
    for (const fd of req.stdio) closeSync(fd);
    parentPort!.postMessage({ state: 'holds', fds: [conn.fd] });
    n.threadEnter('/', 0o022);
  }
  try {
    n.remoteSend(conn.fd, code === undefined ? Remote.HANDOVER : Remote.EXIT, code ?? 0, 0, 0, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e; // a caller killed meanwhile
  }
  return false;
}

/** What a worker writes on its own stdout or stderr (a warning of Node's, say), not its caller's: the log. */
function keepOutput(w: Worker, log: string): void {
  for (const stream of [w.stdout, w.stderr]) stream.on('data', (d: Buffer) => appendFileSync(log, `${new Date().toISOString()} worker ${w.threadId}: ${d}`));
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed by the worker already
  }
}
