// Mirror of addon/protocol.h: plan record tags, message types and init steps. Change together.

export const Msg = {
  USERNS_READY: 1,
  USERNS_MAPPED: 2,
  CHILD_PID: 3,
  HOOKS: 4,
  HOOKS_DONE: 5,
  CREATED: 6,
  EXECED: 7,
  ERROR: 8,
  SECCOMP_FD: 9,
  SECCOMP_DONE: 10,
} as const;

/** Message type -> name, for --debug lines. */
export const MSG_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(Msg).map(([k, v]) => [v, k]));

/** Index = enum skiff_step; what the init was doing, for error messages. */
export const STEP_NAMES = [
  '', 'read plan', 'join namespace', 'unshare namespaces', 'map user namespace', 'set time offsets',
  'fork', 'setsid', 'set mount propagation', 'prepare rootfs', 'mount', 'create device', 'create symlink',
  'run hook', 'pivot_root', 'mask path', 'make path read-only', 'set hostname', 'set domainname', 'set sysctl',
  'set up console', 'set rlimit', 'set oom_score_adj', 'set cwd', 'set user', 'set capabilities',
  'set no_new_privs', 'load seccomp', 'exec', 'open exec fifo', 'apply apparmor profile', 'set scheduler',
  'set io priority', 'set personality', 'set cpu affinity', 'apply selinux label',
] as const;

export const Tag = {
  MODE: 1,
  NS_NEW: 2,
  NS_JOIN: 3,
  TIME_OFFSETS: 4,
  ROOTFS: 5,
  ROOT_READONLY: 6,
  ROOT_PROPAGATION: 7,
  NO_PIVOT: 8,
  MOUNT: 9,
  DEVICE: 10,
  SYMLINK: 11,
  MASK: 12,
  READONLY_PATH: 13,
  HOSTNAME: 14,
  DOMAINNAME: 15,
  SYSCTL: 16,
  ARG: 17,
  ENV: 18,
  CWD: 19,
  USER: 20,
  RLIMIT: 21,
  CAPS: 22,
  NO_NEW_PRIVS: 23,
  OOM_SCORE_ADJ: 24,
  SECCOMP: 25,
  CONSOLE_SOCKET: 26,
  CONSOLE_SIZE: 27,
  FIFO: 28,
  HOOK_CREATE_CONTAINER: 29,
  HOOK_START_CONTAINER: 30,
  PRESERVE_FDS: 31,
  RUNTIME_HOOKS: 32,
  JOIN_CGROUP: 33,
  SETUP_DEV: 34,
  PERSONALITY: 35,
  SCHED: 36,
  IOPRIO: 37,
  CPU_AFFINITY: 38,
  APPARMOR: 39,
  SELINUX: 40,
  NOTIFY_SOCKET: 41,
  USERNS_DEVICES: 42,
  DETACHED_EXEC: 43,
  SESSION_KEYRING: 44,
  DEV_READONLY: 45,
} as const;

export const MOUNT_KIND_BIND = 1;
export const MOUNT_EXTRA_TMPCOPYUP = 1;
export const MOUNT_EXTRA_SOURCE_IS_FILE = 2;
/** Id-mapped bind mount: the record carries uid_map and gid_map text after its four strings. */
export const MOUNT_EXTRA_IDMAP = 8;
/** ... and the idmapping applies to every submount (ridmap). */
export const MOUNT_EXTRA_IDMAP_RECURSIVE = 16;

/** Namespace type -> CLONE_NEW* flag. */
export const CLONE_FLAGS: Record<string, number> = {
  mount: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
};

/** Namespace type -> /proc/PID/ns entry. */
export const NS_PROC_NAMES: Record<string, string> = {
  mount: 'mnt', cgroup: 'cgroup', uts: 'uts', ipc: 'ipc', user: 'user', pid: 'pid', network: 'net', time: 'time',
};
