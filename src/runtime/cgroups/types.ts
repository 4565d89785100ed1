// Types of the cgroup library: the OCI `linux.resources` section it consumes, the statistics it
// produces (the JSON shape of runc's `events --stats`), and the manager interface every driver
// (v1, v2) implements, in the style of crun's `struct libcrun_cgroup_manager`.
//
// LinuxResources is the spec type of src/oci (integers are number | bigint there). Statistics are
// plain numbers: values above 2^53 (e.g. "unlimited" read back from the kernel) lose precision,
// as they would in any JSON consumer.

import type { LinuxResources } from '../../oci/types';

export type {
  LinuxResources,
  LinuxDeviceCgroup,
  LinuxMemory,
  LinuxCPU,
  LinuxBlockIO,
  LinuxWeightDevice,
  LinuxThrottleDevice,
  LinuxHugepageLimit,
  LinuxNetwork,
  LinuxInterfacePriority,
  LinuxRdma,
} from '../../oci/types';

// ---- statistics: the JSON of runc's `events --stats` (types/events.go) ----

export interface CpuUsage {
  /** nanoseconds */
  total: number;
  percpu?: number[];
  percpu_kernel?: number[];
  percpu_user?: number[];
  kernel: number;
  user: number;
}

export interface Throttling {
  periods?: number;
  throttledPeriods?: number;
  /** nanoseconds */
  throttledTime?: number;
}

export interface MemoryEntry {
  /** "unlimited" is reported as 2^64-1 on v2 and as the kernel's page-rounded maximum on v1. */
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

export interface Blkio {
  ioServiceBytesRecursive?: BlkioEntry[];
  ioServicedRecursive?: BlkioEntry[];
  ioQueueRecursive?: BlkioEntry[];
  ioServiceTimeRecursive?: BlkioEntry[];
  ioWaitTimeRecursive?: BlkioEntry[];
  ioMergedRecursive?: BlkioEntry[];
  ioTimeRecursive?: BlkioEntry[];
  sectorsRecursive?: BlkioEntry[];
}

export interface HugetlbStats {
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface Stats {
  cpu: { usage: CpuUsage; throttling: Throttling };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: Blkio;
  hugetlb: Record<string, HugetlbStats>;
}

// ---- the manager ----

export interface Disposable {
  dispose(): void;
}

/** A running OOM watch: `check()` looks once more at once (e.g. when the container just exited). */
export interface OomWatch extends Disposable {
  check(): void;
}

export interface OomEvent {
  /** Total OOM kills counted by the kernel for this cgroup so far (0 when only under_oom is known). */
  oomKills: number;
}

export interface OomWatchOptions {
  /** Polling period in milliseconds (default 250). v2 also reacts at once through fs.watch. */
  intervalMs?: number;
}

export interface CgroupManagerOptions {
  /** Container id; used for the default path `/skiff/<id>`. */
  id: string;
  /** linux.cgroupsPath: absolute `/a/b`, relative `a/b` (under `parent`), or `slice:prefix:name` with systemd. */
  cgroupsPath?: string;
  /** Use the systemd driver (`--systemd-cgroup`). */
  systemd?: boolean;
  /** The config's annotations: the systemd driver takes org.systemd.property.* as unit properties. */
  annotations?: Record<string, string>;
  /** Running without privileges: hierarchies we may not write are skipped with a warning. */
  rootless?: boolean;
  /** The cgroup filesystem root (default /sys/fs/cgroup). Tests point it at a fake tree. */
  root?: string;
  /** Parent of relative cgroupsPath values and of the default path (default `/skiff`). */
  parent?: string;
  /** Receives non-fatal warnings (ignored settings); they are also kept in `manager.warnings`. */
  onWarning?: (message: string) => void;
  /** v2: controllers to delegate down to the cgroup (default: every one the root offers). */
  controllers?: string[];
  /** eBPF operations for v2 device filtering; default: the native addon. Tests may pass a fake. */
  bpf?: import('./bpf').BpfOps;
  /** The systemd driver's D-Bus client; default: systemd's manager on the system bus. Tests pass a fake. */
  systemdBus?: import('./systemd-bus').SystemdBus;
}

export interface CgroupRemoval {
  dirs: string[];
  parents: string[][];
}

export interface FreezerProbe {
  file: string;
  frozen: string;
}

export interface CgroupManager {
  /** 1 for the legacy/hybrid hierarchies, 2 for the unified hierarchy. */
  readonly version: 1 | 2;
  /** The cgroup's path inside every hierarchy, e.g. "/skiff/abc". */
  readonly path: string;
  /** Warnings collected so far (settings that were ignored). */
  readonly warnings: readonly string[];

  /** mkdir the path (and missing parents) in every hierarchy; an existing cgroup is joined. */
  create(): void;
  /** Write every limit given in `resources`. Throws SkiffError('cgroup') naming file and value. */
  apply(resources: LinuxResources): void;
  /**
   * Move a process (all its threads) into the cgroup in every hierarchy. `sub` (runc's
   * `exec --cgroup`) puts it into an existing sub-cgroup instead: one relative path for every
   * hierarchy, or per controller (v1 controller names; key "" for the rest, and for v2).
   */
  addProcess(pid: number, sub?: string | Record<string, string>): void;
  /** `runc update`: only the given fields change; honours memory.checkBeforeUpdate. */
  update(resources: LinuxResources): void;
  /** Freeze every process and wait until the kernel reports FROZEN. */
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /**
   * What destroy() removes, for the native front's `delete` (none: only destroy() knows how): the
   * container's directories (removeCgroupDir each), then per hierarchy the parents to try in order.
   */
  removalPlan(): CgroupRemoval | undefined;
  /** The file isFrozen reads and its trimmed content when frozen (none: never frozen), for the native front. */
  freezerProbe(): FreezerProbe | undefined;
  /** Pids in the cgroup; with recursive, also those of descendant cgroups. */
  pids(recursive?: boolean): number[];
  /** Signal every process (v2 cgroup.kill for SIGKILL when available, else freeze, signal each, thaw). */
  killAll(signal: NodeJS.Signals | number): void;
  stats(): Stats;
  /** Call `onOom` each time the kernel reports an OOM in this cgroup, until disposed. */
  oomEvents(onOom: (event: OomEvent) => void, opts?: OomWatchOptions): OomWatch;
  /** rmdir the cgroup (and descendants) in every hierarchy, retrying EBUSY briefly; kills nothing. */
  destroy(): void;
  /** Whether the cgroup directory exists (in the first hierarchy for v1). */
  exists(): boolean;
  /** Hierarchy key → absolute directory, for state.json and `exec --cgroup`. v2 uses the key "". */
  paths(): Record<string, string>;
}
