// The warm server's end of its link with skiff-front (addon/remote.h, mirrored here; change
// together): the request a call arrives as, and the steps that must happen in the caller's own
// process -- starting skiff-init, becoming subreaper, waiting for children -- sent back to it.
import { constants } from 'node:os';
import { SkiffError } from './errors';
import type { InitMessage, Native, WaitStatus } from './native';

export const Remote = {
  REQUEST: 1,
  SPAWN: 2,
  SPAWNED: 3,
  SUBREAPER: 4,
  DONE: 5,
  WAITPID: 6,
  WAITED: 7,
  WAIT_FOREGROUND: 8,
  EXIT: 9,
  HANDOVER: 10,
  REQUEST_DOCK: 11,
  STARTED: 12,
  NULL_STDIN: 13,
} as const;
export const REMOTE_VERSION = 1;
/** Where the servers live; SKIFF_SERVER_DIR: a private one (skiff-front passes it on to the server it starts). */
export function remoteDir(): string {
  const d = process.env.SKIFF_SERVER_DIR;
  return d && d.startsWith('/') && d.length < 64 ? d : '/run/skiff-server';
}

export interface RemoteMessage {
  type: number;
  a: number;
  b: number;
  c: number;
  d: number;
  payload: Buffer;
  /** fds passed with the message (SCM_RIGHTS), close-on-exec. */
  fds: number[];
}

/** addon/remote.c */
export interface NativeRemote {
  remoteListen(path: string): number;
  /** null when nothing came within timeoutMs (-1: no limit). */
  remoteAccept(fd: number, timeoutMs: number): { fd: number; pid: number; uid: number } | null;
  /** null at end of file; an ETIMEDOUT error after timeoutMs (-1 or undefined: no limit). */
  remoteRecv(fd: number, timeoutMs?: number): RemoteMessage | null;
  remoteSend(fd: number, type: number, a: number, b: number, c: number, d: number, payload?: Buffer): void;
  /** This thread gets its own cwd and umask. */
  threadIsolate(): void;
  /** The caller's cwd and umask for this thread. */
  threadEnter(cwd: string, umask: number): void;
  /** This thread enters the network, UTS and IPC namespaces of `pid` (0: back to its own; with
   * release, the fds that kept its own are closed: the thread ends). */
  threadJoinNamespaces(pid: number, release?: 0 | 1): void;
  /** Index of the first fd readable (or hung up), -1 after timeoutMs. */
  pollReadable(fds: number[], timeoutMs: number): number;
}

/** Thrown before anything was done: the front runs this call with the CLI on Node instead. */
export class HandoverError extends Error {
  constructor(why: string) {
    super(`handed over to the CLI: ${why}`);
    this.name = 'HandoverError';
  }
}

export interface CallRequest {
  /** Which CLI the call is for: REQUEST is skiff's, REQUEST_DOCK dock's (src/cli/dock-serve.ts). */
  program: 'skiff' | 'dock';
  cwd: string;
  umask: number;
  argv: string[];
  env: Record<string, string>;
  /** The caller's stdin, stdout, stderr (received fds); a dock call adds its signal pipe's read end. */
  stdio: number[];
}

/** A dock call, as the server's main thread hands it to a dock worker (src/cli/dock-serve.ts). */
export interface DockCall {
  conn: number;
  pid: number;
  req: CallRequest;
}

/** Slots of a dock worker's shared array: [0] set once the worker has let its call's fds go itself;
 * [1] how many child pids follow; then the pids of its children that may outlive it. */
export const DOCK_SHARED_SLOTS = 2 + 256;

/** A REQUEST message, or undefined when it is not one this build understands. */
export function parseRequest(m: RemoteMessage): CallRequest | undefined {
  const program = m.type === Remote.REQUEST ? 'skiff' : m.type === Remote.REQUEST_DOCK ? 'dock' : undefined;
  if (!program || m.a !== REMOTE_VERSION || m.fds.length !== (program === 'dock' ? 4 : 3)) return undefined;
  const parts = m.payload.toString('utf8').split('\0');
  if (parts.length !== 1 + m.c + m.d + 1 || parts[parts.length - 1] !== '') return undefined;
  const env: Record<string, string> = {};
  for (const kv of parts.slice(1 + m.c, 1 + m.c + m.d)) {
    const eq = kv.indexOf('=');
    if (eq > 0 && !(kv.slice(0, eq) in env)) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { program, cwd: parts[0], umask: m.b & 0o777, argv: parts.slice(1, 1 + m.c), env, stdio: [...m.fds] };
}

/** How long the front may take to answer a step that does not wait for a container. */
const ANSWER_MS = 30_000;

function errnoError(what: string, errno: number, text?: string): Error {
  const code = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? 'EUNKNOWN';
  return Object.assign(new Error(`${what}: ${text || code}`), { code, errno });
}

/**
 * The Native functions that act on the caller's process, as requests to the front on `fd`.
 * recvMsg also watches the front: a caller that died (killed while its container was being made)
 * ends the call, and create's undo removes what it made, as when the CLI itself is killed.
 */
export function callerOverrides(fd: number, base: Native & NativeRemote): Partial<Native> {
  const ask = (type: number, a: number, b: number, timeoutMs = ANSWER_MS): RemoteMessage => {
    base.remoteSend(fd, type, a, b, 0, 0);
    const m = base.remoteRecv(fd, timeoutMs);
    if (!m) throw new SkiffError('init', 'ECALLER', 'the calling skiff went away');
    return m;
  };
  const waited = (m: RemoteMessage): WaitStatus | null => {
    if (m.type !== Remote.WAITED) throw new SkiffError('init', 'EPROTO', `unexpected message ${m.type} from skiff-front`);
    if (m.a < 0) throw errnoError('waitpid', m.b);
    return m.a === 0 ? null : { exitCode: m.c, signal: m.d || null };
  };
  return {
    spawnInit(path, fdTarget, preserveFds, stdio) {
      if (stdio) throw new Error('spawnInit with other stdio is not served for a caller');
      const m = ask(Remote.SPAWN, fdTarget, preserveFds);
      if (m.type !== Remote.SPAWNED) throw new SkiffError('init', 'EPROTO', `unexpected message ${m.type} from skiff-front`);
      const [step, text] = m.payload.toString('utf8').split('\n');
      if (m.b || m.fds.length !== 1) throw errnoError(`${step} ${path}`, m.b || constants.errno.EPROTO, text);
      return { pid: m.a, fd: m.fds[0] };
    },
    nullStdin() {
      const m = ask(Remote.NULL_STDIN, 0, 0);
      if (m.b) throw errnoError('stdin from /dev/null', m.b);
    },
    setSubreaper() {
      const m = ask(Remote.SUBREAPER, 0, 0);
      if (m.b) throw errnoError('set child subreaper', m.b);
    },
    waitPidSync(pid, nohang) {
      return waited(ask(Remote.WAITPID, pid, nohang ? 1 : 0, nohang ? ANSWER_MS : -1));
    },
    async waitPid(pid) {
      return waited(ask(Remote.WAIT_FOREGROUND, pid, 0, -1))!;
    },
    recvMsg(initFd: number, timeoutMs?: number): InitMessage | null {
      // The caller first: once it is gone, what the init says no longer matters.
      const which = base.pollReadable([fd, initFd], timeoutMs ?? -1);
      if (which === 0) throw new SkiffError('init', 'ECALLER', 'the calling skiff went away');
      return base.recvMsg(initFd, which === 1 ? timeoutMs : 0);
    },
  };
}
