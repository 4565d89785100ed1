// `dock rm` and `container prune`. Removal is safe to repeat after any crash: every step checks
// what is there (supervisor, runtime state, overlay mount, directory, record, volumes).

import { mkdirSync, rmSync } from 'node:fs';
import { filesSize } from '../store/usage';
import { join } from 'node:path';
import { openCgroupManager } from '../../runtime/cgroups';
import { deleteContainer } from '../../runtime/delete';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { ContainerError } from './errors';
import { ContainerLock } from './lock';
import { detachNetworks } from './network';
import { containerDir } from './paths';
import { unmountOverlay } from './rootfs';
import { liveState, readExit, runtimeRecord } from './status';
import { quitSupervisor, supervisorPid } from './supervisor';
import type { ContainerDoc } from './types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RemoveOptions {
  force?: boolean;
  /** Also remove the container's anonymous volumes. */
  volumes?: boolean;
  /** The caller holds the lock (the exit handler of an --rm container). */
  locked?: boolean;
}

export async function removeContainer(engine: Engine, doc: ContainerDoc, o: RemoveOptions = {}): Promise<void> {
  const dir = containerDir(engine.paths, doc.Id);
  mkdirSync(dir, { recursive: true }); // a create killed before it made the directory
  const lock = o.locked ? null : await ContainerLock.acquireAsync(dir);
  try {
    const cur = engine.containers.get(doc.Id);
    if (!cur) return; // removed meanwhile
    const live = liveState(engine, cur);
    const lastExit = readExit(dir);
    if (!o.force && (live.status === 'running' || live.status === 'paused' || live.status === 'restarting')) {
      throw new ContainerError('ESTATE', `cannot remove container "/${cur.Name}": container is ${live.status}: stop the container before attempting removal or force remove`);
    }
    engine.containers.update(cur.Id, (d) => {
      d.State.Removing = true;
      d.State.Restarting = false;
      d.State.ManualStop = true;
    });
    // No exit command for this exit: we clean up ourselves.
    quitSupervisor(dir);
    if (runtimeRecord(engine, cur.Id) || live.runtime) deleteContainer(engine.rt, cur.Id, true);
    else rmSync(engine.rt.store.dir(cur.Id), { recursive: true, force: true });
    killLeftovers(cur.Id);
    await detachNetworks(engine, cur);
    await stopSupervisor(dir);
    unmountOverlay(dir);
    rmSync(dir, { recursive: true, force: true });
    engine.containers.delete(cur.Id);
    engine.images.removeImageUser(cur.Id);
    // A run whose end no exit handler recorded (killed here, or removed before its handler ran)
    // still gets its die event, as Docker's events always show one before destroy.
    if (cur.State.StartedAt && !cur.State.FinishedAt) {
      const exit = lastExit;
      const running = live.status === 'running' || live.status === 'paused';
      if (running) containerEvent(engine, cur, 'kill', { signal: '9' });
      containerEvent(engine, cur, 'die', { exitCode: String(exit && exit.pid === cur.State.Pid ? exit.exitCode : running ? 137 : live.exitCode) });
    }
    containerEvent(engine, cur, 'destroy');
    if (o.volumes) {
      for (const m of cur.Mounts) {
        if (m.Type === 'volume' && m.Anonymous && m.Name) {
          try {
            engine.volumes.remove(m.Name, { force: true });
          } catch {
            /* still used by another container (--volumes-from): Docker keeps it too */
          }
        }
      }
    }
  } finally {
    lock?.release();
  }
}

/**
 * Processes left in the container's cgroup without a runtime record (a start that died between
 * the init's fork and its state file) are killed, and the cgroup removed.
 */
function killLeftovers(id: string): void {
  const cg = openCgroupManager({ id, cgroupsPath: `/dock/${id}`, rootless: false });
  if (!cg.exists()) return;
  if (cg.pids(true).length) cg.killAll(9);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 200 && cg.pids(true).length; i++) Atomics.wait(pause, 0, 0, 10);
  try {
    cg.destroy();
  } catch {
    /* reported by the next rm */
  }
}

/** The supervisor leaves by itself once its container is gone; one that lingers is killed. */
async function stopSupervisor(dir: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (supervisorPid(dir) === null) return;
    await sleep(20);
  }
  const pid = supervisorPid(dir);
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** `container prune`: every stopped container; the ids and the bytes of their writable layers. */
export async function pruneContainers(engine: Engine): Promise<{ ids: string[]; bytes: number }> {
  const ids: string[] = [];
  let bytes = 0;
  for (const d of engine.containers.list()) {
    const s = liveState(engine, d).status;
    if (s === 'exited' || s === 'created' || s === 'dead') {
      const size = filesSize(join(containerDir(engine.paths, d.Id), 'upper'));
      await removeContainer(engine, d, { volumes: false });
      ids.push(d.Id);
      bytes += size;
    }
  }
  return { ids, bytes };
}
