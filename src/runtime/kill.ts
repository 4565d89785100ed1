// `kill`: signal the container's init (through a pidfd, after checking it is still the same
// process), or with `all` every process in its cgroup.
import { containerError } from './errors';
import { native } from './native';
import { isAlive } from './procfs';
import type { Runtime } from './runtime';
import { cgroupsOf, containerStatus } from './status';

export function kill(rt: Runtime, id: string, signal: number, all = false): void {
  const lock = rt.store.lock(id);
  try {
    const rec = rt.store.read(id);
    const status = containerStatus(rt, rec);
    if (status === 'stopped' && !all) throw containerError('ESTATUS', 'container not running');
    rt.log.debug(`kill ${id}: signal ${signal} to ${all ? 'every process of its cgroup' : `init ${rec.pid}`}`);
    if (all) {
      cgroupsOf(rt, rec).killAll(signal);
      return;
    }
    signalInit(rec.pid, rec.initStartTime, signal);
  } finally {
    lock.release();
  }
}

/** Send a signal to exactly the process that (pid, startTime) names; false if it is gone. */
export function signalInit(pid: number, startTime: string, signal: number): boolean {
  const n = native();
  let fd: number;
  try {
    fd = n.pidfdOpen(pid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    // The pidfd pins the process: if the start time still matches, the signal reaches it.
    if (!isAlive(pid, startTime)) return false;
    n.pidfdSignal(fd, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw containerError('EKILL', `send signal ${signal} to container init: ${(e as Error).message}`);
  } finally {
    n.close(fd);
  }
}
