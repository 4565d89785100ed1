// dock's side of the supervisor (addon/supervisor.c): starting one for a container, and its
// ctl.sock requests. Synchronous requests (spawn, pid, quit, status) use the addon's blocking unix
// socket calls; attach streams use node:net (attach.ts).
//
// Why the supervisor runs dock itself for the exit and health commands: the restart policy and the
// health state machine need the container record (SQLite) and the runtime library (plan building,
// exec), which are TypeScript. Keeping them in one language, in dock, keeps the C program small
// (stdio, logs, exit code, sockets) and dock stateless: nothing lives in a dock process between
// commands. The cost is a Node start (~0.1 s) per exit and per health check.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { native, supervisorPath, initPath } from '../../runtime/native';
import { ContainerError } from './errors';
import { SUN_PATH_MAX } from './paths';

export interface SupervisorOptions {
  dir: string;
  tty: boolean;
  stdin: boolean;
  logMaxSize?: number;
  logMaxFiles?: number;
  /** --log-driver none: the supervisor keeps no log. */
  noLog?: boolean;
  /** argv of the exit command (dock ... container _exited ID). */
  exitCommand: string[];
  /** argv of the health-check command, its period and a hard deadline (ms). */
  healthCommand?: string[];
  healthIntervalMs?: number;
  healthDeadlineMs?: number;
}

/** A socket path usable with connect(): through /proc/self/fd when the real one is too long. */
export function withSocketPath<T>(dir: string, name: string, fn: (path: string) => T): T {
  const direct = join(dir, name);
  if (direct.length <= SUN_PATH_MAX) return fn(direct);
  const fd = openSync(dir, 'r');
  try {
    return fn(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

/** Starts a supervisor for the container directory; resolves once it listens on ctl.sock. */
export async function launchSupervisor(o: SupervisorOptions): Promise<number> {
  const args = ['--dir', o.dir, '--init-path', initPath(), '--log', o.noLog ? '' : 'container.log'];
  if (o.tty) args.push('--tty');
  if (o.stdin) args.push('--stdin');
  if (o.logMaxSize) args.push('--log-max-size', String(o.logMaxSize));
  if (o.logMaxFiles) args.push('--log-max-files', String(o.logMaxFiles));
  for (const a of o.exitCommand) args.push('--exit-arg', a);
  if (o.healthCommand && o.healthIntervalMs) {
    for (const a of o.healthCommand) args.push('--health-arg', a);
    args.push('--health-interval', String(o.healthIntervalMs), '--health-deadline', String(o.healthDeadlineMs ?? 0));
  }
  args.push('--ready-fd', '3');
  const child = spawn(supervisorPath(), args, { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const ready = child.stdio[3] as NodeJS.ReadableStream;
  const pid = await new Promise<number>((resolve, reject) => {
    let line = '';
    ready.on('data', (d: Buffer) => {
      line += d.toString();
      if (line.includes('\n')) resolve(Number(line.trim()));
    });
    ready.on('end', () => {
      if (!line.includes('\n')) {
        const why = err.trim() || readErr(o.dir) || 'it exited before it was ready';
        reject(new ContainerError('ESUPERVISOR', `start the container's supervisor: ${why}`));
      }
    });
    child.on('error', (e) => reject(new ContainerError('ESUPERVISOR', `start the container's supervisor: ${e.message}`)));
  });
  (ready as unknown as { destroy(): void }).destroy();
  child.stderr!.destroy();
  child.unref();
  return pid;
}

function readErr(dir: string): string {
  try {
    return readFileSync(join(dir, 'supervisor.err'), 'utf8').trim().split('\n').pop() ?? '';
  } catch {
    return '';
  }
}

/** A connected ctl.sock fd, or null when no supervisor listens there. */
export function connectSupervisor(dir: string): number | null {
  if (!existsSync(join(dir, 'ctl.sock'))) return null;
  try {
    return withSocketPath(dir, 'ctl.sock', (p) => native().unixConnect(p));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') return null;
    throw e;
  }
}

function request(dir: string, line: string): string {
  const fd = connectSupervisor(dir);
  if (fd === null) throw new ContainerError('ESUPERVISOR', "the container's supervisor is not running");
  try {
    writeSync(fd, line + '\n');
    const buf = Buffer.alloc(256);
    let out = '';
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      out += buf.subarray(0, n).toString();
      if (out.includes('\n')) break;
    }
    return out.trim();
  } catch (e) {
    // A supervisor that was leaving (its container just stopped) accepted, then closed: it is gone.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ECONNRESET') throw new ContainerError('ESUPERVISOR', "the container's supervisor is not running");
    throw e;
  } finally {
    native().close(fd);
  }
}

export function supervisorAlive(dir: string): boolean {
  const fd = connectSupervisor(dir);
  if (fd === null) return false;
  native().close(fd);
  return true;
}

/** The supervisor starts skiff-init (its child) and hands us the init socket: runtime create's spawnInit. */
export function spawnInitVia(dir: string): { pid: number; fd: number } {
  const n = native();
  const sock = connectSupervisor(dir);
  if (sock === null) throw new ContainerError('ESUPERVISOR', "the container's supervisor is not running");
  try {
    writeSync(sock, 'spawn\n');
    const { fd, name } = n.recvFd(sock);
    if (name.startsWith('error')) {
      n.close(fd);
      throw new ContainerError('ESUPERVISOR', `the supervisor could not start skiff-init: ${name.slice(6).trim()}`);
    }
    return { pid: Number(name.trim()), fd };
  } finally {
    n.close(sock);
  }
}

export function registerPid(dir: string, pid: number): void {
  const r = request(dir, `pid ${pid}`);
  if (r !== 'ok') throw new ContainerError('ESUPERVISOR', `the supervisor refused the container's pid: ${r}`);
}

/** The loopback interface of the network namespace of `pid`, up. */
export function loopbackUp(dir: string, pid: number): void {
  const r = request(dir, `lo ${pid}`);
  if (r !== 'ok') throw new ContainerError('ERUNTIME', `bring up the loopback interface of the container: ${r.replace(/^error /, '')}`);
}

/** Ask the supervisor to leave once nothing runs (no exit command). False if none was running. */
export function quitSupervisor(dir: string): boolean {
  try {
    request(dir, 'quit');
    return true;
  } catch (e) {
    if (e instanceof ContainerError && e.code === 'ESUPERVISOR') return false;
    throw e;
  }
}

export function supervisorStatus(dir: string): string | null {
  try {
    return request(dir, 'status');
  } catch (e) {
    if (e instanceof ContainerError && e.code === 'ESUPERVISOR') return null;
    throw e;
  }
}

/** The supervisor's pid from supervisor.pid, if that process still runs it. */
export function supervisorPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, 'supervisor.pid'), 'utf8').trim());
    if (!pid) return null;
    const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return exe.includes('skiff-supervisor') && exe.includes(dir) ? pid : null;
  } catch {
    return null;
  }
}
