// The example config.json that `skiff spec` writes: runc's `runc spec` (libcontainer/specconv
// Example and ToRootless), field for field and in the same key order, with ociVersion 1.3.0 (OCI_VERSION) and
// hostname "skiff".
import { statfsSync } from 'node:fs';
import type { LinuxNamespace, Mount, Spec } from './types';
import { OCI_VERSION } from './version';

export interface DefaultSpecOptions {
  /** `skiff spec --rootless`: a user namespace mapping the current user to root, no network namespace. */
  rootless?: boolean;
  /** Host uid/gid mapped to root with rootless (default: the effective ids of this process). */
  uid?: number;
  gid?: number;
  /**
   * Add a cgroup namespace. Default: only on a pure cgroup v2 host, as runc does (with v1 or a
   * hybrid hierarchy a cgroup namespace would hide the controllers the container expects).
   */
  cgroupns?: boolean;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** True when /sys/fs/cgroup is itself cgroup2 (runc's cgroups.IsCgroup2UnifiedMode). */
function cgroup2Unified(): boolean {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  let namespaces: LinuxNamespace[] = [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (opts.cgroupns ?? cgroup2Unified()) namespaces.push({ type: 'cgroup' });

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'skiff',
    mounts,
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
        '/sys/devices/virtual/tpm',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (!opts.rootless) return spec;

  // runc's ToRootless: no network namespace (an unprivileged user cannot set one up usefully),
  // a user namespace mapping the caller to root, /sys bind-mounted (sysfs cannot be mounted
  // without owning the network namespace), no uid=/gid= mount options (ids 5 etc. are unmapped),
  // and no cgroup settings (an unprivileged user usually cannot write them).
  namespaces = namespaces.filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  namespaces.push({ type: 'user' });
  const linux = spec.linux!;
  spec.linux = {
    uidMappings: [{ containerID: 0, hostID: opts.uid ?? process.geteuid!(), size: 1 }],
    gidMappings: [{ containerID: 0, hostID: opts.gid ?? process.getegid!(), size: 1 }],
    namespaces,
    maskedPaths: linux.maskedPaths,
    readonlyPaths: linux.readonlyPaths,
  };
  spec.mounts = mounts.map((m): Mount => {
    if (m.destination === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    if (!m.options) return m;
    return { ...m, options: m.options.filter((o) => !o.startsWith('gid=') && !o.startsWith('uid=')) };
  });
  return spec;
}
