// What dock keeps about a container, in Docker's vocabulary (Config, HostConfig, Mounts, State)
// so that `dock inspect` reads like `docker inspect`.

export interface HealthConfig {
  /** ["CMD", ...], ["CMD-SHELL", "cmd"], or ["NONE"]. */
  Test: string[];
  /** Nanoseconds, as Docker stores them. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Labels: Record<string, string>;
  StopSignal?: string;
  /** Seconds. */
  StopTimeout?: number;
  Healthcheck?: HealthConfig;
  /** The image's EXPOSEd ports ("80/tcp": {}), published by -P. */
  ExposedPorts?: Record<string, object>;
  /** --mac-address: the MAC address of the container's interface on its (first) network. */
  MacAddress?: string;
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** json-file (default), local (the same records with local's rotation defaults) or none. */
export type LogDriver = 'json-file' | 'local' | 'none';

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** A mount as asked for (--mount / -v / --tmpfs), before volumes are resolved. */
export interface MountRequest {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume; empty for an anonymous one). */
  Source: string;
  Target: string;
  ReadOnly: boolean;
  /** bind: rprivate (default), private, rshared, shared, rslave, slave. */
  Propagation?: string;
  /** volume: do not copy the image's content into a new volume. */
  NoCopy?: boolean;
  /** tmpfs: bytes and mode. */
  TmpfsSize?: number;
  TmpfsMode?: number;
  /** Extra tmpfs options from --tmpfs (e.g. "noexec,size=1m"). */
  TmpfsOptions?: string;
  /** -v made it: a missing host directory is created (Docker's -v behaviour, not --mount's). */
  CreateSource?: boolean;
}

export interface HostConfig {
  Binds: string[];
  Mounts: MountRequest[];
  Tmpfs: Record<string, string>;
  VolumesFrom: string[];
  NetworkMode: string;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[];
  CapDrop: string[];
  SecurityOpt: string[];
  Ulimits: Ulimit[];
  Init: boolean;
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  CpuShares: number;
  CpusetCpus: string;
  PidsLimit: number;
  Devices: DeviceMapping[];
  LogConfig: { Type: LogDriver; Config: Record<string, string> };
  /** --cidfile (dock's client writes it, as docker's does). */
  ContainerIDFile?: string;
  /** --group-add: extra groups of the process (names from the image's /etc/group, or gids). */
  GroupAdd?: string[];
  /** --shm-size in bytes (0: Docker's 64 MiB). */
  ShmSize?: number;
  /** --sysctl KEY=VALUE, namespaced ones only (as Docker checks them). */
  Sysctls?: Record<string, string>;
  /** --pid, --ipc, --uts: "" (private), "host", or "container:ID". */
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  /** --userns host: dock never makes a user namespace, so "host" is the only mode. */
  UsernsMode?: string;
  /** --cgroupns: "host" or "private". */
  CgroupnsMode?: string;
  /** --annotation KEY=VALUE: the OCI config's annotations. */
  Annotations?: Record<string, string>;
  /** --blkio-weight (10-1000; 0 leaves the runtime's default). */
  BlkioWeight?: number;
  /** --device-read-bps and friends: a device path and a rate. */
  BlkioDeviceReadBps?: ThrottleDevice[];
  BlkioDeviceWriteBps?: ThrottleDevice[];
  BlkioDeviceReadIOps?: ThrottleDevice[];
  BlkioDeviceWriteIOps?: ThrottleDevice[];
  /** --oom-kill-disable, --oom-score-adj, --memory-reservation (bytes). */
  OomKillDisable?: boolean;
  OomScoreAdj?: number;
  MemoryReservation?: number;
  /** --cpu-period and --cpu-quota (microseconds). */
  CpuPeriod?: number;
  CpuQuota?: number;
  /** -p specs as typed (validated by create). */
  PortBindings?: string[];
  /** -P: every ExposedPorts entry on a free host port. */
  PublishAllPorts?: boolean;
  /** --add-host NAME:IP. */
  ExtraHosts?: string[];
  /** --dns servers. */
  Dns?: string[];
  /** --dns-search domains, --dns-option resolver options. */
  DnsSearch?: string[];
  DnsOptions?: string[];
}

/** A resolved mount, as `docker inspect` lists it. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Anonymous volume made for this container (removed with rm -v / --rm). */
  Anonymous?: boolean;
  TmpfsOptions?: string;
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

/** What dock records; the live part (running, pid) comes from the runtime and the supervisor. */
export interface ContainerRuntimeState {
  /** Set by start; the init pid of the current (or last) run. */
  Pid: number;
  StartedAt: string;
  FinishedAt: string;
  ExitCode: number;
  Error: string;
  RestartCount: number;
  /** `dock stop`/`kill` asked for the exit: no restart (Docker's HasBeenManuallyStopped). */
  ManualStop: boolean;
  /** The exit handler is waiting out the restart delay. */
  Restarting: boolean;
  /** A `dock rm` is under way (a killed rm leaves the container listed as "removing"). */
  Removing: boolean;
  /** The last run was killed by the kernel's OOM killer (its cgroup counted an oom_kill). */
  OOMKilled?: boolean;
}

export interface NetworkAttachment {
  /** "none", "host", "container:ID", or "bridge" for a bridge network (the default one or a user-defined one: the key). */
  Mode: string;
  /** --network-alias names on this network. */
  Aliases?: string[];
  /** A fixed address asked for on this network (--ip, compose ipv4_address). */
  IPv4Address?: string;
  /** A fixed MAC address of the container's interface on this network (--mac-address). */
  MacAddress?: string;
  /** Bridge: the engine's host network namespace it was made in ($DOCK_HOST_NETNS; "" for dock's own). */
  HostNetns?: string;
}

export interface ContainerDoc {
  Id: string;
  Name: string;
  Created: string;
  /** The image's id (config digest). */
  ImageId: string;
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Mounts: MountPoint[];
  State: ContainerRuntimeState;
  Networks: Record<string, NetworkAttachment>;
}
