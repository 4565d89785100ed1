// One lock per container (flock on its directory): start, stop, kill, rm and the exit handler take
// it, so that two dock processes acting on one container serialize. Waiting is never done while
// holding it (stop waits for the exit without the lock; the exit handler needs it).

import { closeSync, openSync } from 'node:fs';
import { native } from '../../runtime/native';
import { ContainerError } from './errors';

export class ContainerLock {
  private constructor(private fd: number) {}

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

export async function withLockAsync<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const l = ContainerLock.acquire(dir);
  try {
    return await fn();
  } finally {
    l.release();
  }
}
