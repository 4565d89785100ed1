// Types of the OCI Runtime Specification v1.3.0 as skiff reads and writes it: config.json (Linux
// part), the state, the features document and the seccomp notify process state. Hand-written from
// the spec text and its JSON Schemas (schemas/), field for field; Solaris, Windows, VM, z/OS and
// FreeBSD sections are not modelled (skiff is a Linux runtime, and validation ignores them).
//
// 64-bit integers: JSON numbers beyond 2^53 cannot be held exactly by a JS number, and they are
// common in configs (RLIM_INFINITY is 18446744073709551615, seccomp masks use the high bits). The
// parser in json.ts returns such integers as bigint, so every uint64/int64 field is typed
// `Uint64`/`Int64` = number | bigint: a number when it is a safe integer, a bigint otherwise.
// Use BigInt(v) for exact arithmetic, String(v) to write it to a kernel file.

/** A uint64 of the spec: a number when within Number.MAX_SAFE_INTEGER, else a bigint. */
export type Uint64 = number | bigint;
/** An int64 of the spec: a number when it is a safe integer, else a bigint. */
export type Int64 = number | bigint;

/* ------------------------------------------------------------------------------------------ */
/* config.json                                                                                 */
/* ------------------------------------------------------------------------------------------ */

export interface Spec {
  /** Version of the spec the document complies with (SemVer); skiff accepts 1.x. */
  ociVersion: string;
  process?: Process;
  /** REQUIRED on Linux (checked by validateConfig). */
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  /** Path to the root filesystem, absolute or relative to the bundle. */
  path: string;
  readonly?: boolean;
}

export interface Mount {
  /** Absolute path in the container (relative is deprecated and taken relative to "/"). */
  destination: string;
  /** Filesystem type for mount(2); ignored for bind mounts. */
  type?: string;
  source?: string;
  /** mount(8) options; see mount-options.ts for the ones skiff understands. */
  options?: string[];
  /** Id-mapped mount: mappings for the mount's user namespace (with gidMappings). */
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user?: User;
  /** argv; at least one entry on Linux (the program, looked up like execvp). */
  args?: string[];
  /** Windows only in the spec; kept so that a config carrying it round-trips. */
  commandLine?: string;
  /** "KEY=value" entries. */
  env?: string[];
  /** Absolute path in the container. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  /** /proc/self/oom_score_adj, -1000..1000. */
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: LinuxIOPriority;
  execCPUAffinity?: CPUAffinity;
}

export interface Box {
  height: Uint64;
  width: Uint64;
}

export interface User {
  uid?: number;
  gid?: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only in the spec. */
  username?: string;
}

export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export type RlimitType =
  | 'RLIMIT_AS'
  | 'RLIMIT_CORE'
  | 'RLIMIT_CPU'
  | 'RLIMIT_DATA'
  | 'RLIMIT_FSIZE'
  | 'RLIMIT_LOCKS'
  | 'RLIMIT_MEMLOCK'
  | 'RLIMIT_MSGQUEUE'
  | 'RLIMIT_NICE'
  | 'RLIMIT_NOFILE'
  | 'RLIMIT_NPROC'
  | 'RLIMIT_RSS'
  | 'RLIMIT_RTPRIO'
  | 'RLIMIT_RTTIME'
  | 'RLIMIT_SIGPENDING'
  | 'RLIMIT_STACK';

export interface POSIXRlimit {
  type: RlimitType;
  hard: Uint64;
  soft: Uint64;
}

export type SchedulerPolicy =
  | 'SCHED_OTHER'
  | 'SCHED_FIFO'
  | 'SCHED_RR'
  | 'SCHED_BATCH'
  | 'SCHED_ISO'
  | 'SCHED_IDLE'
  | 'SCHED_DEADLINE';

export type SchedulerFlag =
  | 'SCHED_FLAG_RESET_ON_FORK'
  | 'SCHED_FLAG_RECLAIM'
  | 'SCHED_FLAG_DL_OVERRUN'
  | 'SCHED_FLAG_KEEP_POLICY'
  | 'SCHED_FLAG_KEEP_PARAMS'
  | 'SCHED_FLAG_UTIL_CLAMP_MIN'
  | 'SCHED_FLAG_UTIL_CLAMP_MAX';

/** sched_setattr(2) parameters. */
export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  /** Nanoseconds; SCHED_DEADLINE only. */
  runtime?: Uint64;
  deadline?: Uint64;
  period?: Uint64;
}

export type IOPriorityClass = 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';

export interface LinuxIOPriority {
  class: IOPriorityClass;
  /** 0 (highest) to 7. */
  priority?: number;
}

/** CPU lists ("0-3,7") for the exec'd process: before (initial) and after (final) joining the cgroup. */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

export interface Hook {
  /** Absolute path of the program (execv semantics). */
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, at least 1. */
  timeout?: number;
}

export type HookName = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export interface Hooks {
  /** Deprecated in favour of createRuntime, createContainer and startContainer; still run. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/* ---------------------------------------- linux ---------------------------------------- */

export interface Linux {
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  cgroupsPath?: string;
  namespaces?: LinuxNamespace[];
  devices?: LinuxDevice[];
  /** Host interface name -> how it appears in the container's network namespace. */
  netDevices?: Record<string, LinuxNetDevice>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: LinuxIntelRdt;
  memoryPolicy?: LinuxMemoryPolicy;
  personality?: LinuxPersonality;
  /** Clock name ("monotonic", "boottime") -> offset, applied to a new time namespace. */
  timeOffsets?: Record<string, LinuxTimeOffset>;
}

export type LinuxNamespaceType = 'mount' | 'pid' | 'network' | 'uts' | 'ipc' | 'user' | 'cgroup' | 'time';

export interface LinuxNamespace {
  type: LinuxNamespaceType;
  /** Namespace file to join (absolute); absent: create a new namespace. */
  path?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LinuxTimeOffset {
  secs?: Int64;
  nanosecs?: number;
}

export type LinuxDeviceType = 'c' | 'b' | 'u' | 'p';

export interface LinuxDevice {
  type: LinuxDeviceType;
  /** Absolute path in the container. */
  path: string;
  /** Required unless type is "p". */
  major?: Int64;
  minor?: Int64;
  /** Permission bits (decimal in JSON: 438 = 0666). */
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface LinuxNetDevice {
  /** Name inside the container; defaults to the host name. A trailing %d lets the kernel pick. */
  name?: string;
}

/** runc accepts the r-forms too (containerd's CRI sends rslave/rshared for pods with propagated mounts). */
export type RootfsPropagation = 'private' | 'shared' | 'slave' | 'unbindable' | 'rprivate' | 'rshared' | 'rslave' | 'runbindable';

export type PersonalityDomain = 'LINUX' | 'LINUX32';

export interface LinuxPersonality {
  domain: PersonalityDomain;
  /** No flag is defined yet; runtimes ignore them. */
  flags?: string[];
}

export type MemoryPolicyMode =
  | 'MPOL_DEFAULT'
  | 'MPOL_BIND'
  | 'MPOL_INTERLEAVE'
  | 'MPOL_WEIGHTED_INTERLEAVE'
  | 'MPOL_PREFERRED'
  | 'MPOL_PREFERRED_MANY'
  | 'MPOL_LOCAL';

export type MemoryPolicyFlag = 'MPOL_F_NUMA_BALANCING' | 'MPOL_F_RELATIVE_NODES' | 'MPOL_F_STATIC_NODES';

/** set_mempolicy(2) for the container process. */
export interface LinuxMemoryPolicy {
  mode?: MemoryPolicyMode;
  /** Node list, "0-3,7". */
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

export interface LinuxIntelRdt {
  closID?: string;
  /** Lines written to the resctrl group's schemata file, after l3CacheSchema and memBwSchema. */
  schemata?: string[];
  l3CacheSchema?: string;
  /** Starts with "MB:", one line. */
  memBwSchema?: string;
  enableMonitoring?: boolean;
}

/* -------------------------------------- resources -------------------------------------- */

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  /** Device name -> limits. */
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 file name -> value, written as is. */
  unified?: Record<string, string>;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  /** All (the default), char or block devices. */
  type?: 'a' | 'c' | 'b';
  /** Absent: any (wildcard). */
  major?: Int64;
  minor?: Int64;
  /** Combination of "r", "w" and "m". */
  access?: string;
}

/** Bytes; -1 means unlimited. */
export interface LinuxMemory {
  limit?: Int64;
  reservation?: Int64;
  /** Memory plus swap. */
  swap?: Int64;
  /** Deprecated: ignored by current kernels. */
  kernel?: Int64;
  /** Deprecated. */
  kernelTCP?: Int64;
  /** 0..100. */
  swappiness?: Uint64;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: Uint64;
  /** Microseconds per period; -1 or absent: no limit. */
  quota?: Int64;
  burst?: Uint64;
  period?: Uint64;
  realtimeRuntime?: Int64;
  realtimePeriod?: Uint64;
  /** CPU list, "0-3,7". */
  cpus?: string;
  /** Memory node list. */
  mems?: string;
  /** 1: SCHED_IDLE for the cgroup. */
  idle?: Int64;
}

export interface LinuxPids {
  /** Maximum number of tasks; 0 or less means unlimited (runc's reading). */
  limit: Int64;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxBlockIODevice {
  major: Int64;
  minor: Int64;
}

/** At least one of weight and leafWeight. */
export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  /** Bytes or operations per second. */
  rate?: Uint64;
}

export interface LinuxHugepageLimit {
  /** "<size><K|M|G>B", e.g. "2MB". */
  pageSize: string;
  limit: Uint64;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

/** At least one of the two. */
export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

/* --------------------------------------- seccomp --------------------------------------- */

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type SeccompArch =
  | 'SCMP_ARCH_X86'
  | 'SCMP_ARCH_X86_64'
  | 'SCMP_ARCH_X32'
  | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64'
  | 'SCMP_ARCH_LOONGARCH64'
  | 'SCMP_ARCH_M68K'
  | 'SCMP_ARCH_MIPS'
  | 'SCMP_ARCH_MIPS64'
  | 'SCMP_ARCH_MIPS64N32'
  | 'SCMP_ARCH_MIPSEL'
  | 'SCMP_ARCH_MIPSEL64'
  | 'SCMP_ARCH_MIPSEL64N32'
  | 'SCMP_ARCH_PPC'
  | 'SCMP_ARCH_PPC64'
  | 'SCMP_ARCH_PPC64LE'
  | 'SCMP_ARCH_S390'
  | 'SCMP_ARCH_S390X'
  | 'SCMP_ARCH_SH'
  | 'SCMP_ARCH_SHEB'
  | 'SCMP_ARCH_PARISC'
  | 'SCMP_ARCH_PARISC64'
  | 'SCMP_ARCH_RISCV64';

export type SeccompFlag =
  | 'SECCOMP_FILTER_FLAG_TSYNC'
  | 'SECCOMP_FILTER_FLAG_LOG'
  | 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'
  | 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';

export type SeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  /** errno for SCMP_ACT_ERRNO / SCMP_ACT_TRACE defaults; EPERM when absent. */
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  /** Absent: the runtime's default (SECCOMP_FILTER_FLAG_SPEC_ALLOW when supported); []: none. */
  flags?: SeccompFlag[];
  /** Unix socket that receives the notify fd (SCMP_ACT_NOTIFY). */
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

export interface LinuxSyscall {
  /** At least one name. */
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccompArg {
  /** Syscall argument index, 0..5. */
  index: number;
  value: Uint64;
  /** Second operand of SCMP_CMP_MASKED_EQ (value is the mask). */
  valueTwo?: Uint64;
  op: SeccompOperator;
}

/* ------------------------------------------------------------------------------------------ */
/* state, features, seccomp notify                                                              */
/* ------------------------------------------------------------------------------------------ */

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped';

/** What `skiff state` prints and hooks read on stdin. */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Absent once the container is stopped. */
  pid?: number;
  /** Absolute path of the bundle. */
  bundle: string;
  annotations?: Record<string, string>;
}

/** What the runtime sends over linux.seccomp.listenerPath with the notify fd. */
export interface ContainerProcessState {
  ociVersion: string;
  /** Names of the fds sent with SCM_RIGHTS, in order ("seccompFd"). */
  fds?: string[];
  pid: number;
  metadata?: string;
  state: State;
}

/** The document `skiff features` prints (features.md). */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: HookName[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface LinuxFeatures {
  namespaces?: LinuxNamespaceType[];
  capabilities?: string[];
  cgroup?: {
    v1?: boolean;
    v2?: boolean;
    systemd?: boolean;
    systemdUser?: boolean;
    rdma?: boolean;
  };
  seccomp?: {
    enabled?: boolean;
    actions?: SeccompAction[];
    operators?: SeccompOperator[];
    archs?: SeccompArch[];
    knownFlags?: SeccompFlag[];
    supportedFlags?: SeccompFlag[];
  };
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean };
  mountExtensions?: { idmap?: { enabled?: boolean } };
  netDevices?: { enabled?: boolean };
}
