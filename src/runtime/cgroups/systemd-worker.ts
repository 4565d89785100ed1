// The D-Bus side of the systemd driver, run in a worker thread (bundled to dist/skiff-systemd-bus.js).
// The cgroup library is synchronous (like runc's), D-Bus clients in Node are not: the main thread
// posts one request, sleeps in Atomics.wait, and this worker answers it on the port and wakes it
// (see systemd-bus.ts). The worker only speaks to org.freedesktop.systemd1 on the system bus
// (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket), with @jellybrick/dbus-next.

import { type MessagePort, workerData } from 'node:worker_threads';
import { Message, type MessageBus, Variant, systemBus } from '@jellybrick/dbus-next';
import type { BusReply, BusRequest } from './systemd-bus';

const SYSTEMD = 'org.freedesktop.systemd1';
const OBJECT = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };

let bus: MessageBus | undefined;
/** Rejecters of the requests in progress, for connection errors (dbus-next never settles those calls). */
const inFlight = new Set<(err: Error) => void>();
/** Results of JobRemoved signals by job path, and who waits for which job. */
const finished = new Map<string, string>();
const waiting = new Map<string, (result: string) => void>();

async function connect(): Promise<MessageBus> {
  if (bus) return bus;
  const b = systemBus();
  // A connection error (no socket, refused, closed) fails every request in flight; the next
  // request connects again.
  (b as unknown as NodeJS.EventEmitter).on('error', (err: Error) => {
    if (bus === b) bus = undefined;
    for (const f of inFlight) f(err);
    inFlight.clear();
  });
  b.on('message', (m: Message) => {
    if (m.interface !== MANAGER || m.member !== 'JobRemoved') return;
    const [, job, , result] = m.body as [number, string, string, string];
    const w = waiting.get(job);
    if (w) {
      waiting.delete(job);
      w(result);
    } else {
      finished.set(job, result);
    }
  });
  // Job results come as JobRemoved signals: match them before the first job can end.
  await b.call(
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [`type='signal',sender='${SYSTEMD}',interface='${MANAGER}',member='JobRemoved'`],
    }),
  );
  bus = b;
  return b;
}

async function call(member: string, signature: string, body: unknown[], iface = MANAGER, path = OBJECT): Promise<unknown[]> {
  const b = await connect();
  const reply = await b.call(new Message({ destination: SYSTEMD, path, interface: iface, member, signature, body }));
  return reply?.body ?? [];
}

/** Wait for a job's JobRemoved; systemd's result word ("done", "failed", "timeout"...). */
function jobResult(job: string, timeoutMs: number): Promise<string> {
  const done = finished.get(job);
  if (done !== undefined) {
    finished.delete(job);
    return Promise.resolve(done);
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      waiting.delete(job);
      resolve('timeout');
    }, timeoutMs);
    waiting.set(job, (r) => {
      clearTimeout(t);
      resolve(r);
    });
  });
}

/** Properties as systemd wants them: a(sv), byte arrays as Buffers. */
function props(list: [string, string, unknown][]): [string, Variant][] {
  return list.map(([name, sig, value]) => [name, new Variant(sig, sig === 'ay' && value instanceof Uint8Array ? Buffer.from(value) : value)]);
}

async function handle(req: BusRequest): Promise<unknown> {
  switch (req.op) {
    case 'start': {
      const [job] = (await call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [req.unit, 'replace', props(req.properties), []])) as [string];
      return jobResult(job, req.timeoutMs);
    }
    case 'stop': {
      const [job] = (await call('StopUnit', 'ss', [req.unit, 'replace'])) as [string];
      return jobResult(job, req.timeoutMs);
    }
    case 'set':
      await call('SetUnitProperties', 'sba(sv)', [req.unit, true, props(req.properties)]);
      return null;
    case 'reset-failed':
      await call('ResetFailedUnit', 's', [req.unit]);
      return null;
    case 'state': {
      const [unitPath] = (await call('GetUnit', 's', [req.unit])) as [string];
      const [v] = (await call('Get', 'ss', ['org.freedesktop.systemd1.Unit', 'ActiveState'], 'org.freedesktop.DBus.Properties', unitPath)) as [Variant];
      return v.value;
    }
    case 'version': {
      const [v] = (await call('Get', 'ss', [MANAGER, 'Version'], 'org.freedesktop.DBus.Properties')) as [Variant];
      return v.value;
    }
  }
}

function answer(reply: BusReply): void {
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function guarded<T>(p: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    inFlight.add(reject);
    p.then(resolve, reject).finally(() => inFlight.delete(reject));
  });
}

port.on('message', (req: BusRequest) => {
  guarded(handle(req)).then(
    (value) => answer({ ok: true, value }),
    (err: { type?: string; text?: string; message?: string }) => answer({ ok: false, name: err.type ?? 'Error', message: err.text ?? err.message ?? String(err) }),
  );
});
