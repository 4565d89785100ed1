// The OCI config of a dock container, as safe as Docker's defaults (moby's oci.DefaultSpec and
// daemon/oci_linux.go): Docker's 14 default capabilities, masked and read-only /proc and /sys
// paths, Docker's default seccomp profile, private namespaces, device cgroup deny-all plus the
// standard nodes; then what the flags change (privileged, caps, resources, mounts, rlimits).

import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CAPABILITIES } from '../../oci/capabilities';
import type { LinuxDevice, LinuxResources, LinuxSeccomp, Mount, RlimitType, Spec } from '../../oci/types';
import { dockerProfileToOci, defaultDockerProfile, type DockerSeccompProfile } from '../../runtime/seccomp/docker-profile';
import { ContainerError, usage } from './errors';
import type { ResolvedUser } from './rootfs';
import type { ContainerDoc } from './types';

export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** RLIM_INFINITY (uint64 max): the runtime reads uint64 values as bigint. */
const UNLIMITED = 2n ** 64n - 1n;

const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

/** "All" capabilities are those of our own bounding set (Docker's GetAllCapabilities): a host or a
 * sandbox may lack some, and capset would refuse them. */
function hostCapabilities(): string[] {
  const m = /^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) return [...CAPABILITIES];
  const bnd = BigInt(`0x${m[1]}`);
  return CAPABILITIES.filter((_c, i) => (bnd >> BigInt(i)) & 1n);
}

/** Docker's capability arithmetic: defaults (or all when privileged), then --cap-add, then --cap-drop. */
export function effectiveCaps(privileged: boolean, add: string[], drop: string[]): string[] {
  const all = hostCapabilities();
  if (privileged) return all;
  for (const c of [...add, ...drop]) if (c !== 'ALL' && !CAPABILITIES.includes(c as (typeof CAPABILITIES)[number])) throw usage(`unknown capability: "${c}"`);
  let caps = add.includes('ALL') ? all : [...new Set([...DEFAULT_CAPS, ...add])];
  if (drop.includes('ALL')) caps = add.filter((c) => c !== 'ALL' && !drop.includes(c) && !add.includes('ALL'));
  caps = caps.filter((c) => !drop.includes(c));
  return caps;
}

export interface SpecInput {
  doc: ContainerDoc;
  dir: string;
  rootfs: string;
  args: string[];
  env: string[];
  user: ResolvedUser;
  cwd: string;
  /** Host path of the supervisor binary, bind-mounted as /dev/init with --init. */
  initBinary: string;
  /** Host directory per mount point, already made (volumes, binds). */
  cgroupsPath: string;
  cgroupV2: boolean;
  /** --network container:X: the namespace to join (X's init's). */
  netnsPath?: string;
  /** --pid/--ipc container:X: the namespaces to join (start.ts finds X's init). */
  pidnsPath?: string;
  ipcnsPath?: string;
}

export function buildSpec(inp: SpecInput): Spec {
  const { doc } = inp;
  const hc = doc.HostConfig;
  const privileged = hc.Privileged;
  const caps = effectiveCaps(privileged, hc.CapAdd, hc.CapDrop);
  const nnp = hc.SecurityOpt.some((s) => /^no-new-privileges([:=]true)?$/.test(s));

  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  // Docker's /dev/shm: a private tmpfs of --shm-size; the host's with --ipc host; none with --ipc none.
  const ipcMode = hc.IpcMode ?? '';
  if (ipcMode === 'host') mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
  else if (ipcMode !== 'none') mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${hc.ShmSize || 67108864}`] });
  for (const f of ['resolv.conf', 'hostname', 'hosts']) {
    mounts.push({ destination: `/etc/${f}`, type: 'bind', source: join(inp.dir, f), options: ['rbind', 'rprivate', ...(hc.ReadonlyRootfs ? ['ro'] : [])] });
  }
  // User mounts, shortest destination first so that nested ones land on top.
  const userMounts = [...doc.Mounts].sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
  for (const m of userMounts) {
    if (m.Type === 'tmpfs') {
      const opts = (m.TmpfsOptions ?? '').split(',').filter(Boolean);
      const base = ['nosuid', 'nodev', 'noexec'].filter((o) => !opts.includes(o.replace(/^no/, '')) && !opts.includes(o));
      mounts.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: [...base, ...opts, ...(m.RW ? [] : ['ro'])] });
    } else {
      mounts.push({ destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', m.Propagation || 'rprivate', m.RW ? 'rw' : 'ro'] });
    }
  }
  if (hc.Init) mounts.push({ destination: '/dev/init', type: 'bind', source: inp.initBinary, options: ['bind', 'ro', 'nosuid', 'nodev'] });

  // --pid/--ipc/--uts host: no namespace of that type (the host's is kept); container:X: X's.
  const namespaces: NonNullable<Spec['linux']>['namespaces'] = [{ type: 'mount' }];
  if (hc.PidMode !== 'host') namespaces.push({ type: 'pid', ...(inp.pidnsPath ? { path: inp.pidnsPath } : {}) });
  if (ipcMode !== 'host') namespaces.push({ type: 'ipc', ...(inp.ipcnsPath ? { path: inp.ipcnsPath } : {}) });
  const ownUts = hc.UTSMode !== 'host';
  if (ownUts) namespaces.push({ type: 'uts' });
  if (hc.NetworkMode !== 'host') namespaces.push({ type: 'network', ...(inp.netnsPath ? { path: inp.netnsPath } : {}) });
  if (hc.CgroupnsMode === 'private' || (hc.CgroupnsMode === undefined && inp.cgroupV2)) namespaces.push({ type: 'cgroup' });

  const devices: LinuxDevice[] = [];
  const resources: LinuxResources = { devices: [{ allow: false, access: 'rwm' }] };
  if (privileged) resources.devices = [{ allow: true, access: 'rwm' }];
  for (const d of hc.Devices) {
    let st;
    try {
      st = statSync(d.PathOnHost);
    } catch {
      throw new ContainerError('EMOUNT', `error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (!type) throw new ContainerError('EMOUNT', `"${d.PathOnHost}" is not a device node`);
    const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn) | Number((BigInt(st.rdev) >> 32n) & ~0xfffn);
    const minor = Number(BigInt(st.rdev) & 0xffn) | Number((BigInt(st.rdev) >> 12n) & ~0xffn);
    devices.push({ type, path: d.PathInContainer, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    if (!privileged) resources.devices!.push({ allow: true, type, major, minor, access: d.CgroupPermissions });
  }
  if (hc.Memory) resources.memory = { limit: hc.Memory, ...(hc.MemorySwap ? { swap: hc.MemorySwap } : { swap: hc.Memory * 2 }) };
  if (hc.MemoryReservation) resources.memory = { ...resources.memory, reservation: hc.MemoryReservation };
  if (hc.OomKillDisable) resources.memory = { ...resources.memory, disableOOMKiller: true };
  if (hc.NanoCpus) resources.cpu = { ...resources.cpu, period: 100000, quota: Math.round((hc.NanoCpus / 1e9) * 100000) };
  if (hc.CpuPeriod) resources.cpu = { ...resources.cpu, period: hc.CpuPeriod };
  if (hc.CpuQuota) resources.cpu = { ...resources.cpu, quota: hc.CpuQuota };
  const blockIO = blockIo(hc);
  if (blockIO) resources.blockIO = blockIO;
  if (hc.CpuShares) resources.cpu = { ...resources.cpu, shares: hc.CpuShares };
  if (hc.CpusetCpus) resources.cpu = { ...resources.cpu, cpus: hc.CpusetCpus };
  if (hc.PidsLimit) resources.pids = { limit: hc.PidsLimit > 0 ? hc.PidsLimit : -1 };

  const capSet = { bounding: caps, effective: caps, permitted: caps };
  const spec: Spec = {
    ociVersion: '1.3.0',
    process: {
      terminal: doc.Config.Tty,
      user: { uid: inp.user.uid, gid: inp.user.gid, ...(inp.user.additionalGids.length ? { additionalGids: inp.user.additionalGids } : {}) },
      args: hc.Init ? ['/dev/init', '--init', '--', ...inp.args] : inp.args,
      env: inp.env,
      cwd: inp.cwd,
      capabilities: capSet,
      ...(nnp ? { noNewPrivileges: true } : {}),
      ...(hc.Ulimits.length ? { rlimits: hc.Ulimits.map((u) => ({ type: RLIMITS[u.Name] as RlimitType, soft: u.Soft < 0 ? UNLIMITED : u.Soft, hard: u.Hard < 0 ? UNLIMITED : u.Hard })) } : {}),
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    },
    root: { path: inp.rootfs, readonly: hc.ReadonlyRootfs },
    ...(ownUts ? { hostname: doc.Config.Hostname } : {}),
    ...(hc.Annotations && Object.keys(hc.Annotations).length ? { annotations: { ...hc.Annotations } } : {}),
    mounts,
    linux: {
      namespaces,
      cgroupsPath: inp.cgroupsPath,
      resources,
      ...(devices.length ? { devices } : {}),
      // --sysctl (checked by config.ts: namespaced ones only); skiff-init writes them before /proc/sys turns read-only.
      ...(hc.Sysctls && Object.keys(hc.Sysctls).length ? { sysctl: { ...hc.Sysctls } } : {}),
      ...(privileged ? {} : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
    },
  };
  const seccomp = seccompProfile(hc.SecurityOpt, privileged);
  if (seccomp) spec.linux!.seccomp = dockerProfileToOci(seccomp, { capabilities: caps }) as LinuxSeccomp;
  if (privileged) spec.linux!.devices = [...hostDevices(), ...(spec.linux!.devices ?? [])];
  return spec;
}

/** --blkio-weight and the per-device throttles, with each device's major:minor from the host. */
function blockIo(hc: ContainerDoc['HostConfig']): LinuxResources['blockIO'] | undefined {
  const out: NonNullable<LinuxResources['blockIO']> = {};
  if (hc.BlkioWeight) out.weight = hc.BlkioWeight;
  const lists = [
    ['throttleReadBpsDevice', hc.BlkioDeviceReadBps],
    ['throttleWriteBpsDevice', hc.BlkioDeviceWriteBps],
    ['throttleReadIOPSDevice', hc.BlkioDeviceReadIOps],
    ['throttleWriteIOPSDevice', hc.BlkioDeviceWriteIOps],
  ] as const;
  for (const [key, list] of lists) {
    if (!list?.length) continue;
    out[key] = list.map((t) => ({ ...deviceNumbers(t.Path), rate: t.Rate }));
  }
  return Object.keys(out).length ? out : undefined;
}

function deviceNumbers(path: string): { major: number; minor: number } {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ContainerError('EMOUNT', `error gathering device information while adding device "${path}": no such file or directory`);
  }
  if (!st.isBlockDevice()) throw new ContainerError('EMOUNT', `"${path}" is not a block device`);
  const rdev = BigInt(st.rdev);
  return { major: Number((rdev >> 8n) & 0xfffn) | Number((rdev >> 32n) & ~0xfffn), minor: Number(rdev & 0xffn) | Number((rdev >> 12n) & ~0xffn) };
}

/** --security-opt seccomp=unconfined|FILE; privileged containers run without a filter (Docker). */
function seccompProfile(opts: string[], privileged: boolean): DockerSeccompProfile | null {
  const o = opts.find((s) => /^seccomp[=:]/.test(s));
  const value = o?.slice('seccomp='.length);
  if (value === 'unconfined') return null;
  if (value) {
    let text: string;
    try {
      text = readFileSync(value, 'utf8');
    } catch (e) {
      throw usage(`opening seccomp profile (${value}) failed: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
    try {
      return JSON.parse(text) as DockerSeccompProfile;
    } catch (e) {
      throw usage(`decoding seccomp profile ${value} failed: ${(e as Error).message}`);
    }
  }
  if (privileged) return null;
  return defaultDockerProfile();
}

/** Every device node of the host's /dev (privileged containers see them, as with Docker). */
function hostDevices(): LinuxDevice[] {
  const out: LinuxDevice[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (p === '/dev/pts' || p === '/dev/shm' || p === '/dev/mqueue' || p === '/dev/console' || p === '/dev/ptmx') continue;
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const rdev = BigInt(st.rdev);
        out.push({
          type: st.isCharacterDevice() ? 'c' : 'b',
          path: p,
          major: Number((rdev >> 8n) & 0xfffn) | Number((rdev >> 32n) & ~0xfffn),
          minor: Number(rdev & 0xffn) | Number((rdev >> 12n) & ~0xffn),
          fileMode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
        });
      }
    }
  };
  walk('/dev');
  return out;
}
