// `start`: release the init blocked on the exec fifo and confirm that it executed the process.
import { closeSync, constants, openSync, readSync, unlinkSync } from 'node:fs';
import { SkiffError, containerError } from './errors';
import { runHooks } from './hooks';
import { isAlive } from './procfs';
import type { Runtime } from './runtime';
import { type ContainerRecord, ociState } from './state';
import { containerStatus } from './status';

export function start(rt: Runtime, id: string): ContainerRecord {
  const lock = rt.store.lock(id);
  let rec: ContainerRecord;
  try {
    rec = rt.store.read(id);
    const status = containerStatus(rt, rec);
    if (status === 'stopped') throw containerError('ESTATUS', 'cannot start a container that has stopped');
    if (status !== 'created') throw containerError('ESTATUS', `cannot start an already ${status} container`);
    const fifo = rt.store.fifoPath(id);
    rt.log.debug(`start ${id}: opening the exec fifo of init ${rec.pid}`);
    const out = releaseInit(fifo, rec);
    unlinkSync(fifo);
    if (out !== '0') {
      const why = out.startsWith('0') ? out.slice(1) : out;
      throw new SkiffError('init', 'ESTART', why || 'container init exited before it executed the process');
    }
  } finally {
    lock.release();
  }
  try {
    runHooks('poststart', rec.config.hooks?.poststart, ociState(rec, 'running'), rec.bundle);
  } catch (e) {
    rt.log.warn((e as Error).message); // poststart failures are warnings (runtime spec)
  }
  return rec;
}

/**
 * Open the fifo for reading (non-blocking: the init may have died) and read until the writer
 * closes it. The init writes "0" just before execve; its fifo fd is close-on-exec.
 */
function releaseInit(fifo: string, rec: ContainerRecord): string {
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let seen = false;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        n = -1;
      }
      if (n > 0) {
        seen = true;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        continue;
      }
      // 0 before anything was read only means the writer has not woken up yet.
      if (n === 0 && seen) break;
      if (!isAlive(rec.pid, rec.initStartTime)) {
        // Drain what a dying init wrote.
        try {
          const m = readSync(fd, buf, 0, buf.length, null);
          if (m > 0) chunks.push(Buffer.from(buf.subarray(0, m)));
        } catch {
          /* nothing left */
        }
        break;
      }
      Atomics.wait(pause, 0, 0, 1);
    }
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(chunks).toString('utf8');
}
