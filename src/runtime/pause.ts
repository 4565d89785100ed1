// `pause` and `resume`: freeze and thaw every process of the container through its cgroup (the v1
// freezer or cgroup.freeze on v2). `state` then reports "paused" (status.ts asks isFrozen()).
import { containerError } from './errors';
import type { Runtime } from './runtime';
import { cgroupsOf, containerStatus } from './status';

export function pause(rt: Runtime, id: string): void {
  const lock = rt.store.lock(id);
  try {
    const rec = rt.store.read(id);
    const status = containerStatus(rt, rec);
    if (status === 'paused') throw containerError('ESTATUS', `container ${id} is already paused`);
    // runc pauses a created container too: its init stays frozen on the exec fifo, `start` refuses
    // a paused container, and `resume` gives back a created one.
    if (status !== 'running' && status !== 'created') throw containerError('ESTATUS', 'container not running');
    cgroupsOf(rt, rec).freeze();
  } finally {
    lock.release();
  }
}

export function resume(rt: Runtime, id: string): void {
  const lock = rt.store.lock(id);
  try {
    const rec = rt.store.read(id);
    if (containerStatus(rt, rec) !== 'paused') throw containerError('ESTATUS', 'container not paused');
    cgroupsOf(rt, rec).thaw();
  } finally {
    lock.release();
  }
}
