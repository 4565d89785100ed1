// Synchronous calls to systemd's manager over the system D-Bus, for the systemd driver.
//
// The cgroup library is synchronous, like runc's (create, delete and update call it between
// blocking native steps), and Node's D-Bus clients are asynchronous. So the client
// (@jellybrick/dbus-next, in systemd-worker.ts) runs in a worker thread: a call posts one request
// on a MessagePort, then sleeps in Atomics.wait on a shared word until the worker has posted the
// answer and set the word; receiveMessageOnPort takes the answer without the event loop. Every
// wait is bounded. The worker is unref'd and ended by close(), so it never keeps a process alive.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { cgroupError } from './files';

/** One unit property: name, D-Bus signature of its value, value (bigint for "t", Uint8Array for "ay"). */
export type UnitProperty = [name: string, signature: string, value: unknown];

export type BusRequest =
  | { op: 'start'; unit: string; properties: UnitProperty[]; timeoutMs: number }
  | { op: 'stop'; unit: string; timeoutMs: number }
  | { op: 'set'; unit: string; properties: UnitProperty[] }
  | { op: 'reset-failed'; unit: string }
  | { op: 'state'; unit: string }
  | { op: 'version' };

export type BusReply = { ok: true; value: unknown } | { ok: false; name: string; message: string };

/** What the driver needs from systemd; tests may pass a fake. */
export interface SystemdBus {
  /** StartTransientUnit in mode "replace", then wait for its job; throws unless the job is "done". */
  startTransientUnit(unit: string, properties: UnitProperty[]): void;
  /** StopUnit and wait for the job. A unit systemd does not know is already stopped. */
  stopUnit(unit: string): void;
  /** SetUnitProperties (runtime: true). */
  setUnitProperties(unit: string, properties: UnitProperty[]): void;
  /** ActiveState of the unit, or undefined when systemd does not know it. */
  unitState(unit: string): string | undefined;
  resetFailed(unit: string): void;
  close(): void;
}

const JOB_TIMEOUT_MS = 30_000;
/** A job wait plus the D-Bus round trips around it. */
const CALL_TIMEOUT_MS = JOB_TIMEOUT_MS + 15_000;

/** The worker script: beside the bundle (dist/), or dist/ of the source tree when run from src (tests). */
function workerScript(): string {
  const candidates = [join(__dirname, 'skiff-systemd-bus.js'), join(__dirname, '..', '..', '..', 'dist', 'skiff-systemd-bus.js')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw cgroupError('ENOENT', `systemd cgroup driver: ${candidates[0]} is missing (run npm run build)`);
  return found;
}

export class DbusSystemdBus implements SystemdBus {
  private worker?: Worker;
  private port?: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));

  private request(req: BusRequest): unknown {
    if (!this.worker) {
      const { port1, port2 } = new MessageChannel();
      this.worker = new Worker(workerScript(), { workerData: { port: port2, flag: this.flag }, transferList: [port2] });
      this.worker.unref();
      port1.unref();
      this.port = port1;
    }
    Atomics.store(this.flag, 0, 0);
    this.port!.postMessage(req);
    const end = Date.now() + CALL_TIMEOUT_MS;
    let got: { message: BusReply } | undefined;
    while (!(got = receiveMessageOnPort(this.port!) as { message: BusReply } | undefined)) {
      const left = end - Date.now();
      if (left <= 0) {
        this.close();
        throw cgroupError('ETIMEDOUT', `systemd did not answer ${describe(req)} within ${CALL_TIMEOUT_MS / 1000} s`);
      }
      Atomics.wait(this.flag, 0, 0, Math.min(left, 1000));
    }
    const reply = got.message;
    if (!reply.ok) throw busError(req, reply.name, reply.message);
    return reply.value;
  }

  startTransientUnit(unit: string, properties: UnitProperty[]): void {
    const result = this.request({ op: 'start', unit, properties, timeoutMs: JOB_TIMEOUT_MS });
    if (result !== 'done') throw cgroupError('EIO', `systemd could not start ${unit}: job ${result} (see: journalctl -u ${unit})`);
  }

  stopUnit(unit: string): void {
    try {
      const result = this.request({ op: 'stop', unit, timeoutMs: JOB_TIMEOUT_MS });
      if (result !== 'done') throw cgroupError('EIO', `systemd could not stop ${unit}: job ${result}`);
    } catch (err) {
      if ((err as { dbusName?: string }).dbusName === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw err;
    }
  }

  setUnitProperties(unit: string, properties: UnitProperty[]): void {
    this.request({ op: 'set', unit, properties });
  }

  unitState(unit: string): string | undefined {
    try {
      return this.request({ op: 'state', unit }) as string;
    } catch (err) {
      if ((err as { dbusName?: string }).dbusName === 'org.freedesktop.systemd1.NoSuchUnit') return undefined;
      throw err;
    }
  }

  resetFailed(unit: string): void {
    try {
      this.request({ op: 'reset-failed', unit });
    } catch {
      /* not failed, or gone: nothing to reset */
    }
  }

  close(): void {
    const w = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    if (w) void w.terminate();
  }
}

function describe(req: BusRequest): string {
  return 'unit' in req ? `${req.op} ${req.unit}` : req.op;
}

function busError(req: BusRequest, name: string, message: string): Error {
  const noBus = /ENOENT|ECONNREFUSED|EACCES/.test(message) && !name.startsWith('org.freedesktop');
  const err = noBus
    ? cgroupError('ENOTCONN', `cannot reach systemd on the system bus: ${message}`)
    : cgroupError('EIO', `systemd refused ${describe(req)}: ${message} (${name})`);
  (err as Error & { dbusName?: string }).dbusName = name;
  return err;
}
