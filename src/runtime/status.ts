import { openCgroupManager } from './cgroups';
import type { CgroupManager } from './cgroups/types';
import type { Runtime } from './runtime';
import type { ContainerRecord, Status } from './state';
import { isRootless } from './userns';

export function cgroupsOf(rt: Runtime, rec: ContainerRecord): CgroupManager {
  return openCgroupManager({ id: rec.id, cgroupsPath: rec.cgroupsPath, systemd: rec.systemdCgroup, rootless: isRootless(), onWarning: (m: string) => rt.log.debug(m) });
}

/** Status from the init's pid and start time, the exec fifo, and the freezer. */
export function containerStatus(rt: Runtime, rec: ContainerRecord): Status {
  return rt.store.status(rec, () => {
    try {
      return cgroupsOf(rt, rec).isFrozen();
    } catch {
      return false;
    }
  });
}
