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
// The systemd driver (systemd.ts, `systemd: true`) runs on cgroup v2 hosts with systemd as PID 1;
// elsewhere it fails with one clear line, as runc's does (no silent fallback to cgroupfs paths).

import { DEFAULT_CGROUP_ROOT, detectCgroupVersion, systemdRunning } from './detect';
import { cgroupError } from './files';
import { DEFAULT_PARENT, cleanCgroupPath, isSystemdPath, resolveCgroupPath } from './paths';
import type { CgroupManager, CgroupManagerOptions } from './types';
import { CgroupV1Manager } from './v1';
import { CgroupV2Manager } from './v2';
import { CgroupSystemdManager, annotationProperties } from './systemd';

export type { CgroupManager, CgroupManagerOptions, Disposable, LinuxResources, OomEvent, OomWatch, Stats } from './types';
export { cpuSharesToWeight, blkioWeightToIoWeight, memorySwapToV2 } from './convert';
export { DEFAULT_ALLOWED_DEVICES, emulateDeviceRules } from './devices';
export { compileDeviceFilter, disassemble } from './devicefilter';
export { detectCgroupVersion } from './detect';
export { resolveCgroupPath, DEFAULT_PARENT } from './paths';
export { systemdUnitName } from './systemd';
export { setWriteTracer } from './files';

export function openCgroupManager(opts: CgroupManagerOptions): CgroupManager {
  if (opts.systemd) {
    if (opts.cgroupsPath && !isSystemdPath(opts.cgroupsPath)) {
      throw cgroupError('EINVAL', `invalid cgroupsPath ${JSON.stringify(opts.cgroupsPath)} for the systemd driver: expected "slice:prefix:name"`);
    }
    const root = opts.root ?? DEFAULT_CGROUP_ROOT;
    if (!opts.systemdBus && !systemdRunning()) throw cgroupError('ENOTSUP', 'systemd cgroup driver not available: no systemd running');
    if (detectCgroupVersion(root) !== 2) {
      throw cgroupError('ENOTSUP', 'systemd cgroup driver not available: skiff drives systemd on cgroup v2 only (this host has cgroup v1 hierarchies)');
    }
    if (opts.rootless) throw cgroupError('ENOTSUP', 'systemd cgroup driver not available: rootless (user manager) scopes are not supported');
    const extraProperties = annotationProperties(opts.annotations);
    return new CgroupSystemdManager({ root, id: opts.id, cgroupsPath: opts.cgroupsPath, warn: opts.onWarning ?? (() => {}), bus: opts.systemdBus, bpf: opts.bpf, extraProperties });
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
