// `delete`: remove a stopped (or, with force, any) container: its processes, cgroups and state;
// then the poststop hooks.
import { rmSync } from 'node:fs';
import { containerError } from './errors';
import { runHooks } from './hooks';
import { signalInit } from './kill';
import { isAlive } from './procfs';
import { pollUntil } from './poll';
import type { Runtime } from './runtime';
import { type ContainerRecord, ociState } from './state';
import { cgroupsOf, containerStatus } from './status';

/** `hooksCwd`: where poststop hooks run (run passes the bundle, as runc's run works there; delete: the caller's directory). */
export function deleteContainer(rt: Runtime, id: string, force = false, hooksCwd?: string): void {
  let lock;
  try {
    lock = rt.store.lock(id);
  } catch (e) {
    if (force) {
      rmSync(rt.store.dir(id), { recursive: true, force: true });
      return;
    }
    throw e;
  }
  let rec: ContainerRecord;
  try {
    try {
      rec = rt.store.read(id);
    } catch (e) {
      // A create that died before writing state.json leaves only a directory.
      rt.store.remove(id);
      if (force) return;
      throw e;
    }
    const status = containerStatus(rt, rec);
    if (status === 'creating' && !force) throw containerError('ESTATUS', `cannot delete container ${id} that is being created`);
    if ((status === 'running' || status === 'paused') && !force) {
      throw containerError('ESTATUS', `cannot delete container ${id} that is not stopped: ${status}`);
    }
    const cg = cgroupsOf(rt, rec);
    rt.log.debug(`delete ${id}: ${status}, cgroup ${cg.path}`);
    if (status !== 'stopped' && rec.pid > 0) {
      // A created container is deleted without force (its init never ran the process).
      if (status === 'paused') cg.killAll(9);
      signalInit(rec.pid, rec.initStartTime, 9);
      waitGone(rec);
    }
    if (cg.exists()) {
      // Processes that outlived the init (no pid namespace, or joined ones) go too.
      if (cg.pids(true).length) {
        cg.killAll(9);
        waitEmpty(() => cg.pids(true).length === 0);
      }
      cg.destroy();
    }
    rt.store.remove(id);
  } finally {
    lock.release();
  }
  try {
    runHooks('poststop', rec.config.hooks?.poststop, ociState(rec, 'stopped'), hooksCwd);
  } catch (e) {
    rt.log.warn((e as Error).message); // poststop failures are warnings (runtime spec)
  }
}

function waitGone(rec: ContainerRecord): void {
  waitEmpty(() => !isAlive(rec.pid, rec.initStartTime));
}

/** Poll briefly (the kernel tears processes down asynchronously), at most ~5 s. */
function waitEmpty(done: () => boolean): void {
  pollUntil(done, 5000, 5);
}
