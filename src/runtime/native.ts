// The one typed door to the native addon (addon/native.c) and the path of skiff-init.
// Nothing else in the project loads the .node file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface InitMessage {
  type: number;
  step: number;
  err: number;
  value: number;
  payload: Buffer;
  /** An fd passed with the message (SCM_RIGHTS, close-on-exec): MSG_SECCOMP_FD. */
  fd?: number;
}

export interface WaitStatus {
  /** Exit status, or 128+signal when killed by a signal (as a shell reports it). */
  exitCode: number;
  signal: number | null;
}

export interface Native {
  /** `stdio`: [in, out, err] fds of ours given to the init as its 0, 1, 2 (default: our own). */
  spawnInit(path: string, fdTarget: number, preserveFds: number, stdio?: [number, number, number]): { pid: number; fd: number };
  sendPlan(fd: number, plan: Buffer): void;
  sendMsg(fd: number, type: number, value: number, payload?: Buffer): void;
  /** Blocks until a message arrives; null when the init closed its end. */
  /** Blocks, at most timeoutMs when given (then an error with code ETIMEDOUT). */
  recvMsg(fd: number, timeoutMs?: number): InitMessage | null;
  close(fd: number): void;
  mkfifo(path: string, mode: number): void;
  /** Returns false when `wait` is false and the lock is held elsewhere. */
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
  setSubreaper(): void;
  /** Only while the warm server serves a call (src/runtime/remote.ts): the caller's stdin becomes /dev/null. */
  nullStdin?(): void;
  pidfdOpen(pid: number): number;
  pidfdSignal(pidfd: number, signal: number): void;
  waitPidSync(pid: number, nohang: boolean): WaitStatus | null;
  waitPid(pid: number): Promise<WaitStatus>;
  recvFd(sock: number): { fd: number; name: string };
  unixListen(path: string): number;
  unixAccept(fd: number, timeoutMs: number): number;
  setWinsize(fd: number, rows: number, cols: number): void;
  /** Connect to a unix stream socket and send `payload` with `fd` (SCM_RIGHTS) in one message. */
  unixSendFd(path: string, fd: number, payload: Buffer): void;
  /** Connect to a unix stream socket; returns the fd (blocking, close-on-exec). */
  unixConnect(path: string): number;
  /** mount(2) of an overlay on `target` with these options (dock's container roots). */
  mountOverlay(target: string, data: string): void;
  /** umount2(2); `detach`: MNT_DETACH. */
  umount(target: string, detach: boolean): void;
}

/** Where node-gyp put the build: <package>/build/Release, two levels above dist/ or src/runtime/. */
function buildDir(): string {
  // (three levels: a test bundle under node_modules/.cache/skiff-test/)
  for (const rel of ['../build/Release', '../../build/Release', '../../../build/Release']) {
    const dir = join(__dirname, rel);
    if (existsSync(join(dir, 'skiff_native.node'))) return dir;
  }
  throw new Error(`skiff's native addon is not built (run npm install): looked in ${join(__dirname, '../build/Release')}`);
}

let cached: Native | undefined;
let caller: { pid: number; overrides: Partial<Native>; composed: Native } | undefined;

export function native(): Native {
  if (caller) return caller.composed;
  if (!cached) cached = require(join(buildDir(), 'skiff_native.node')) as Native;
  return cached;
}

/**
 * Serving a call for another process (the warm server, src/cli/server.ts): what must happen in the
 * caller's own process -- starting skiff-init, becoming subreaper, waiting for children -- goes to
 * it (src/runtime/remote.ts). One call at a time per thread; undefined ends it.
 */
export function serveCaller(c?: { pid: number; overrides: Partial<Native> }): void {
  caller = undefined;
  // Own properties over the addon's (which are read-only, so they cannot be assigned over).
  const own = Object.fromEntries(Object.entries(c?.overrides ?? {}).map(([k, value]) => [k, { value }]));
  if (c) caller = { ...c, composed: Object.create(native(), own) as Native };
}

/** Is this thread serving another process's call (the warm server)? */
export function servingCaller(): boolean {
  return caller !== undefined;
}

/** The process skiff runs for: ourselves, or the caller the server serves. */
export function callerPid(): number {
  return caller?.pid ?? process.pid;
}

export function initPath(): string {
  return join(buildDir(), 'skiff-init');
}

/** dock's per-container supervisor (addon/supervisor.c), built beside skiff-init. */
export function supervisorPath(): string {
  return join(buildDir(), 'skiff-supervisor');
}

/* ---- eBPF for the cgroup v2 device controller (addon/bpf.c; owned by the cgroups library) ---- */

export interface NativeBpf {
  /** BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program (struct bpf_insn[]); returns its fd. */
  bpfLoadDeviceProgram(insns: Buffer, license: string): number;
  /** BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI[, BPF_F_REPLACE]) to a cgroup v2 directory. */
  bpfAttachCgroup(progFd: number, cgroupDir: string, replaceProgFd?: number): void;
  bpfDetachCgroup(progFd: number, cgroupDir: string): void;
  /** BPF_PROG_QUERY: ids of the device programs attached to the directory. */
  bpfQueryCgroup(cgroupDir: string): number[];
  bpfProgFdById(id: number): number;
}

export function nativeBpf(): NativeBpf {
  return native() as unknown as NativeBpf;
}

/* ---- rtnetlink and network namespaces (addon/netlink.c; owned by src/engine/network) ---- */

export interface NativeNetlink {
  /** A NETLINK_ROUTE socket (close-on-exec) created in the netns at `netnsPath` (null: our own). */
  netlinkOpen(netnsPath: string | null): number;
  /** Sends one request (its seq identifies the replies) and returns the reply messages, acks removed. */
  netlinkTalk(fd: number, request: Buffer): Buffer;
  /** The calling (main) thread joins a netns; returns an fd of the one it left. */
  netnsEnter(path: string): number;
  /** Back to the netns netnsEnter left (closes the fd). */
  netnsRestore(fd: number): void;
}

export function nativeNetlink(): NativeNetlink {
  return native() as unknown as NativeNetlink;
}
