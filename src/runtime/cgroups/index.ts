// The cgroup library: one interface (CgroupManager, types.ts) over the v1 and v2 drivers, chosen
// at run time from the filesystem at the cgroup root.
//
// Lifecycle order (what create/run/exec/delete call):
//   const cg = openCgroupManager({ id, cgroupsPath, systemd, rootless, onWarning });
//   cg.create();                     // mkdir in every hierarchy (undo: cg.destroy())
//   cg.apply(spec.linux.resources);  // limits and the device filter, before any process joins
//   cg.addProcess(initPid);          // while the init is still blocked, before it execs
//   ... cg.paths() into state.json; later: freeze/thaw (pause/resume), killAll (kill --all,
//   delete --force), update (update), stats/oomEvents (events), pids (ps) ...
//   cg.destroy();                    // once every process has exited
//
// The systemd driver is not implemented: there is no systemd on the machines this is built and
// tested on, and a driver that cannot be tested against systemd (or a fake D-Bus) would be a
// guess. `systemd: true` fails with a clear error instead.

import { DEFAULT_CGROUP_ROOT, detectCgroupVersion, systemdRunning } from './detect';
import { cgroupError } from './files';
import { DEFAULT_PARENT, cleanCgroupPath, isSystemdPath, resolveCgroupPath } from './paths';
import type { CgroupManager, CgroupManagerOptions } from './types';
import { CgroupV1Manager } from './v1';
import { CgroupV2Manager } from './v2';

export type { CgroupManager, CgroupManagerOptions, Disposable, LinuxResources, OomEvent, OomWatch, Stats } from './types';
export { cpuSharesToWeight, blkioWeightToIoWeight, memorySwapToV2 } from './convert';
export { DEFAULT_ALLOWED_DEVICES, emulateDeviceRules } from './devices';
export { compileDeviceFilter, disassemble } from './devicefilter';
export { detectCgroupVersion } from './detect';
export { resolveCgroupPath, DEFAULT_PARENT } from './paths';
export { setWriteTracer } from './files';

export function openCgroupManager(opts: CgroupManagerOptions): CgroupManager {
  if (opts.systemd) {
    if (opts.cgroupsPath && !isSystemdPath(opts.cgroupsPath)) {
      throw cgroupError('EINVAL', `invalid cgroupsPath ${JSON.stringify(opts.cgroupsPath)} for the systemd driver: expected "slice:prefix:name"`);
    }
    throw cgroupError(
      'ENOTSUP',
      systemdRunning()
        ? 'systemd cgroup driver not available: not implemented by skiff (use the cgroupfs driver)'
        : 'systemd cgroup driver not available: no systemd running',
    );
  }
  const root = opts.root ?? DEFAULT_CGROUP_ROOT;
  const path = resolveCgroupPath({ id: opts.id, cgroupsPath: opts.cgroupsPath, parent: opts.parent });
  const warn = opts.onWarning ?? (() => {});
  const rootless = !!opts.rootless;
  // The parent skiff creates on demand is removed again by destroy once empty (see removeEmptyParents).
  const parent = cleanCgroupPath(opts.parent ?? DEFAULT_PARENT);
  if (detectCgroupVersion(root) === 2) {
    return new CgroupV2Manager({ root, path, rootless, warn, bpf: opts.bpf, controllers: opts.controllers, parent });
  }
  return new CgroupV1Manager({ root, path, rootless, warn, parent });
}
