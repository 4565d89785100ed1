// The `cgroup` mount type of config.json, as podman and runc's default spec send it:
//   {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
// turned into mounts of the plan, from the container's own cgroups (the manager's paths()).
//
// cgroup v1 (runc's mountCgroupV1):
//   1. a tmpfs at the destination (mode 755, the mount's nosuid/nodev/noexec; read-only comes last);
//   2. one mount per hierarchy at <dest>/<name> (the host's mount name: "memory", "cpu,cpuacct",
//      "systemd"): with a cgroup namespace, the hierarchy itself (a cgroup mount made inside the
//      namespace has the container's cgroup as its root); without one, a bind of the container's
//      directory in that hierarchy, so the host's tree above it stays out of sight. A combined
//      hierarchy ("cpu,cpuacct") is mounted again under each controller's name: runc makes symlinks
//      there, but skiff-init makes symlinks after every mount, when a read-only tmpfs refuses them;
//   the tmpfs itself stays writable, as runc 1.1 leaves it ("ro" applies to the hierarchy mounts).
// cgroup v2: with a cgroup namespace a cgroup2 mount; without one a bind of the container's
// directory (runc's fallback when cgroup2 cannot be mounted): a fresh cgroup2 mount outside a
// cgroup namespace would show the host's whole tree.
import { basename } from 'node:path';
import { MS, parseMountOptions } from '../oci/mount-options';
import type { Mount, Spec } from '../oci/types';
import type { CgroupManager } from './cgroups/types';
import { configError } from './errors';
import type { PlannedMount } from './mounts';
import { MOUNT_KIND_BIND } from './protocol';

/** The `cgroupMounts` hook of buildCreatePlan for a container whose cgroups `cg` names (after create()). */
export function cgroupMountPlanner(cg: CgroupManager, spec: Spec): (m: Mount) => PlannedMount[] {
  const cgroupns = (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'cgroup');
  return (m) => planCgroupMount(m, cg.version, cg.path, cg.paths(), cgroupns);
}

/**
 * The mounts for one `cgroup` mount. `paths` is the manager's paths(): controller → the container's
 * directory in that hierarchy (v1), or {"": dir} (v2); `cgPath` the cgroup path inside each hierarchy.
 */
export function planCgroupMount(m: Mount, version: 1 | 2, cgPath: string, paths: Record<string, string>, cgroupns: boolean): PlannedMount[] {
  const dest = m.destination.replace(/\/+$/, '') || '/';
  if (!dest.startsWith('/')) throw configError('EMOUNT', `invalid config.json: cgroup mount destination ${JSON.stringify(m.destination)} must be an absolute path`);
  const opts = parseMountOptions(m.options ?? []);
  const flags = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  const propagation = opts.propagation.length ? opts.propagation[opts.propagation.length - 1] : 0;
  const base = { data: '', propagation: 0, attrSet: 0n, attrClr: 0n, extra: 0 };
  const bind = (source: string, destination: string): PlannedMount => ({ ...base, source, destination, fstype: '', flags: flags | MS.BIND, kind: MOUNT_KIND_BIND });

  if (version === 2) {
    const dir = paths[''];
    if (!dir) return []; // rootless without a cgroup: nothing to show
    if (cgroupns) return [{ ...base, source: 'cgroup2', destination: dest, fstype: 'cgroup2', flags, propagation, kind: 0 }];
    return [{ ...bind(dir, dest), propagation }];
  }

  // v1: group controllers by hierarchy directory.
  const byDir = new Map<string, string[]>();
  for (const [controller, dir] of Object.entries(paths)) {
    if (controller === '') continue; // a hybrid host's unified hierarchy: runc does not show it either
    byDir.set(dir, [...(byDir.get(dir) ?? []), controller]);
  }
  const tmpfsFlags = flags & ~MS.RDONLY;
  const out: PlannedMount[] = [
    { ...base, source: 'tmpfs', destination: dest, fstype: 'tmpfs', data: 'mode=755', flags: tmpfsFlags | MS.NOSUID | MS.NODEV | MS.NOEXEC, propagation, kind: 0 },
  ];
  for (const [dir, controllers] of byDir) {
    const mountpoint = dir.endsWith(cgPath) ? dir.slice(0, dir.length - cgPath.length) : dir;
    const name = basename(mountpoint);
    const names = [name, ...controllers.filter((c) => !c.startsWith('name=') && c !== name)];
    for (const n of names) {
      const target = `${dest}/${n}`;
      if (cgroupns) {
        const subsystems = controllers.join(',');
        const data = controllers.every((c) => c.startsWith('name=')) ? `none,${subsystems}` : subsystems;
        out.push({ ...base, source: 'cgroup', destination: target, fstype: 'cgroup', data, flags, kind: 0 });
      } else {
        out.push(bind(dir, target));
      }
    }
  }
  return out;
}
