// Which cgroup version a host runs, and where the v1 hierarchies are mounted.
//
// v2 is recognised like runc's IsCgroup2UnifiedMode: statfs(2) of the root returns
// CGROUP2_SUPER_MAGIC. A fake tree in a temp dir (tests) cannot have that magic, so a
// `cgroup.controllers` file at its top also means v2. Anything else is v1 (a tmpfs with one mount
// per hierarchy; "hybrid" hosts add a cgroup2 mount at <root>/unified, which the v1 driver leaves
// alone, as runc and crun do).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupError, errnoOf } from './files';
import { osReason } from '../errors';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
export const CGROUP2_SUPER_MAGIC = 0x63677270;
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const TMPFS_MAGIC = 0x01021994;

export function detectCgroupVersion(root = DEFAULT_CGROUP_ROOT): 1 | 2 {
  let magic: number;
  try {
    magic = fs.statfsSync(root).type;
  } catch (err) {
    throw cgroupError(errnoOf(err) ?? 'EIO', `cannot find the cgroup filesystem at ${root}: ${osReason(err)}`, err);
  }
  if (magic === CGROUP2_SUPER_MAGIC) return 2;
  if (fs.existsSync(path.join(root, 'cgroup.controllers'))) return 2;
  return 1;
}

/** One mounted v1 hierarchy: its directory and the controllers (or "name=X") bound to it. */
export interface V1Hierarchy {
  mountpoint: string;
  controllers: string[];
}

/** The v1 controllers the kernel has (Documentation/admin-guide/cgroup-v1). */
const V1_CONTROLLERS = new Set([
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma', 'misc', 'debug',
]);

/** Controllers of one mountinfo super-options field ("rw,cpu,cpuacct" → ["cpu", "cpuacct"]). */
export function controllersFromOptions(superOptions: string): string[] {
  return superOptions.split(',').filter((o) => V1_CONTROLLERS.has(o) || /^name=[^,]+$/.test(o));
}

/** Parse /proc/self/mountinfo text for cgroup (v1) mounts under `root`. */
export function parseV1Mounts(mountinfo: string, root: string): V1Hierarchy[] {
  const out: V1Hierarchy[] = [];
  const prefix = root.endsWith('/') ? root : root + '/';
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (right[0] !== 'cgroup') continue;
    const mountpoint = left[4]?.replace(/\\040/g, ' ');
    if (!mountpoint || !mountpoint.startsWith(prefix)) continue;
    const controllers = controllersFromOptions(right[2] ?? '');
    if (controllers.length === 0) continue;
    // A hierarchy mounted twice (bind mounts) is listed once.
    if (out.some((h) => h.controllers.join(',') === controllers.join(','))) continue;
    out.push({ mountpoint, controllers });
  }
  return out;
}

/**
 * The v1 hierarchies under `root`. For the real root they come from /proc/self/mountinfo; for a
 * fake tree each sub-directory is one hierarchy named after its controllers ("cpu,cpuacct",
 * "memory", "systemd" for name=systemd); symlinks (cpu -> cpu,cpuacct) and "unified" are skipped.
 */
export function listV1Hierarchies(root = DEFAULT_CGROUP_ROOT): V1Hierarchy[] {
  let fromMounts: V1Hierarchy[] = [];
  try {
    fromMounts = parseV1Mounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'), root);
  } catch {
    fromMounts = [];
  }
  if (fromMounts.length > 0) return fromMounts;
  const out: V1Hierarchy[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (err) {
    throw cgroupError(errnoOf(err) ?? 'EIO', `cannot list cgroup hierarchies in ${root}: ${osReason(err)}`, err);
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name === 'unified') continue;
    const controllers = e.name === 'systemd' ? ['name=systemd'] : e.name.split(',');
    out.push({ mountpoint: path.join(root, e.name), controllers });
  }
  return out;
}

/**
 * A hybrid host's cgroup2 mount at <root>/unified, or undefined. runc puts its containers (and
 * their exec processes) there too, in a directory of the same path: /proc/PID/cgroup then shows
 * "0::<path>", which tools inside the container read.
 */
export function hybridUnifiedMount(root = DEFAULT_CGROUP_ROOT): string | undefined {
  const want = path.join(root, 'unified');
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const sep = line.indexOf(' - ');
      if (sep > 0 && line.slice(sep + 3).startsWith('cgroup2 ') && line.slice(0, sep).split(' ')[4] === want) return want;
    }
  } catch {
    // no mountinfo: no hybrid mount to use
  }
  return undefined;
}

/** Whether systemd is PID 1 (the test sd_booted() uses). */
export function systemdRunning(): boolean {
  return fs.existsSync('/run/systemd/system');
}
