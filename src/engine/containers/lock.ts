// One lock per container (flock on its directory): start, stop, kill, rm and the exit handler take
// it, so that two dock processes acting on one container serialize. Waiting is never done while
// holding it (stop waits for the exit without the lock; the exit handler needs it).
// flock is taken synchronously; within one process (the API service runs many requests at once)
// callers queue on a promise per directory first, so that a second request never blocks the event
// loop on a lock that an awaiting first request of the same process holds.

import { closeSync, openSync } from 'node:fs';
import { native } from '../../runtime/native';
import { ContainerError } from './errors';

const queues = new Map<string, Promise<void>>();

export class ContainerLock {
  private constructor(private fd: number) {}

  private done?: () => void;

  /** Waits for this process's earlier holders of `dir`, then takes the flock. */
  static async acquireAsync(dir: string): Promise<ContainerLock> {
    const before = queues.get(dir) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const tail = before.then(() => mine);
    queues.set(dir, tail);
    await before;
    try {
      const l = ContainerLock.acquire(dir);
      l.done = () => {
        done();
        if (queues.get(dir) === tail) queues.delete(dir);
      };
      return l;
    } catch (e) {
      done();
      if (queues.get(dir) === tail) queues.delete(dir);
      throw e;
    }
  }

  static acquire(dir: string): ContainerLock {
    let fd: number;
    try {
      fd = openSync(dir, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ContainerError('ENOTFOUND', 'the container is being removed');
      throw e;
    }
    native().flock(fd, true, true);
    return new ContainerLock(fd);
  }

  release(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.done?.();
    this.done = undefined;
  }
}

export function withLock<T>(dir: string, fn: () => T): T {
  const l = ContainerLock.acquire(dir);
  try {
    return fn();
  } finally {
    l.release();
  }
}

export async function withLockAsync<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  const l = await ContainerLock.acquireAsync(dir);
  try {
    return await fn();
  } finally {
    l.release();
  }
}
