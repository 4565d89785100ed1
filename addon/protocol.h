/*
 * The contract between the runtime (TypeScript, through the addon) and skiff-init.
 * Mirrored in src/runtime/protocol.ts: change both together.
 *
 * 1. The plan. TypeScript resolves config.json into a flat list of records so that the init
 *    needs no JSON parser. The parent sends it first on the init socket:
 *        u32 total_length, then records { u16 tag; u16 zero; u32 len; u8 payload[len] }.
 *    Strings inside payloads are NUL-terminated; integers are little-endian (host order).
 *
 * 2. Messages. After the plan, both sides exchange fixed-size messages on the same socket
 *    (SOCK_SEQPACKET, so one write is one message), optionally followed by `len` bytes of
 *    payload in the same packet:
 *
 *    | type               | dir          | value / payload                     | when                                    |
 *    |--------------------|--------------|-------------------------------------|-----------------------------------------|
 *    | MSG_USERNS_READY   | init->parent | -                                   | after unshare(CLONE_NEWUSER)            |
 *    | MSG_USERNS_MAPPED  | parent->init | -                                   | uid_map/gid_map written                 |
 *    | MSG_CHILD_PID      | init->parent | value = host pid of stage 2         | after the fork into the new pid ns      |
 *    | MSG_HOOKS          | init->parent | -                                   | mounts done, before pivot_root          |
 *    | MSG_HOOKS_DONE     | parent->init | payload = state JSON for hooks      | prestart/createRuntime hooks ran        |
 *    | MSG_CREATED        | init->parent | -                                   | ready, about to wait on the exec fifo   |
 *    | MSG_EXECED         | init->parent | -                                   | exec mode: about to execve (cloexec)    |
 *    | MSG_ERROR          | init->parent | step, err (errno), payload = detail | any failure; the init exits after it    |
 *    | MSG_SECCOMP_FD     | init->parent | SCM_RIGHTS: the seccomp listener fd | filter loaded with NEW_LISTENER         |
 *    | MSG_SECCOMP_DONE   | parent->init | -                                   | fd and state sent to listenerPath       |
 *
 *    The parent treats EOF before MSG_CREATED as a failure of the init.
 *
 *    Seccomp with SCMP_ACT_NOTIFY: the init loads the filter while the socket is still open (before
 *    MSG_CREATED, or MSG_EXECED in exec mode), sends the listener fd with MSG_SECCOMP_FD and waits
 *    for MSG_SECCOMP_DONE; the parent, which knows the container state, connects to listenerPath
 *    and sends the state JSON with the fd (runtime-spec, "seccomp notify").
 *
 * 3. After MSG_CREATED the socket is closed. The init blocks opening the exec fifo for writing;
 *    `start` opens it for reading. The init writes "0" right before execve; failures after that
 *    point (startContainer hooks, execve) are written as text to the fifo, which is close-on-exec,
 *    so `start` reads until EOF: "0" alone means the process was executed.
 */
#ifndef SKIFF_PROTOCOL_H
#define SKIFF_PROTOCOL_H

#include <stdint.h>

enum skiff_msg_type {
  MSG_USERNS_READY = 1,
  MSG_USERNS_MAPPED = 2,
  MSG_CHILD_PID = 3,
  MSG_HOOKS = 4,
  MSG_HOOKS_DONE = 5,
  MSG_CREATED = 6,
  MSG_EXECED = 7,
  MSG_ERROR = 8,
  MSG_SECCOMP_FD = 9,
  MSG_SECCOMP_DONE = 10,
};

struct skiff_msg {
  uint32_t type;
  uint32_t step; /* enum skiff_step, for MSG_ERROR */
  int32_t err;   /* errno, for MSG_ERROR */
  uint32_t len;  /* bytes of payload following this header in the same packet */
  int64_t value;
};

#define SKIFF_MSG_MAX 65536

/* Steps of the init, reported with MSG_ERROR so the parent can say what failed. */
enum skiff_step {
  STEP_PLAN = 1,
  STEP_SETNS,
  STEP_UNSHARE,
  STEP_USERNS,
  STEP_TIMENS,
  STEP_FORK,
  STEP_SETSID,
  STEP_PROPAGATION,
  STEP_ROOTFS,
  STEP_MOUNT,
  STEP_DEVICE,
  STEP_SYMLINK,
  STEP_HOOK,
  STEP_PIVOT,
  STEP_MASK,
  STEP_READONLY,
  STEP_HOSTNAME,
  STEP_DOMAINNAME,
  STEP_SYSCTL,
  STEP_CONSOLE,
  STEP_RLIMIT,
  STEP_OOM,
  STEP_CWD,
  STEP_USER,
  STEP_CAPS,
  STEP_NNP,
  STEP_SECCOMP,
  STEP_EXEC,
  STEP_FIFO,
  STEP_APPARMOR,
  STEP_SCHED,
  STEP_IOPRIO,
  STEP_PERSONALITY,
  STEP_AFFINITY,
  STEP_SELINUX,
};

/* Plan record tags. */
enum skiff_tag {
  T_MODE = 1,          /* u32: 0 create, 1 exec (join an existing container) */
  T_NS_NEW,            /* u32: CLONE_NEW* flags to unshare */
  T_NS_JOIN,           /* u32 CLONE_NEW* type, string path; in the order to join */
  T_TIME_OFFSETS,      /* string written to /proc/self/timens_offsets */
  T_ROOTFS,            /* string: absolute host path of root.path */
  T_ROOT_READONLY,     /* - */
  T_ROOT_PROPAGATION,  /* u32 MS_* propagation flags for the rootfs (rootfsPropagation) */
  T_NO_PIVOT,          /* - : chroot instead of pivot_root */
  T_MOUNT,             /* struct plan_mount + strings source, destination, fstype, data [, uid_map, gid_map] */
  T_DEVICE,            /* struct plan_device + string path (inside the container) */
  T_SYMLINK,           /* strings target, linkpath */
  T_MASK,              /* string path */
  T_READONLY_PATH,     /* string path */
  T_HOSTNAME,          /* string */
  T_DOMAINNAME,        /* string */
  T_SYSCTL,            /* strings key, value */
  T_ARG,               /* string; repeated */
  T_ENV,               /* string; repeated */
  T_CWD,               /* string */
  T_USER,              /* struct plan_user + u32 additional gids */
  T_RLIMIT,            /* struct plan_rlimit */
  T_CAPS,              /* struct plan_caps */
  T_NO_NEW_PRIVS,      /* - */
  T_OOM_SCORE_ADJ,     /* i32 */
  T_SECCOMP,           /* u32 flags + sock_filter[] */
  T_CONSOLE_SOCKET,    /* string: path of the unix socket receiving the pty master */
  T_CONSOLE_SIZE,      /* u32 rows, u32 cols */
  T_FIFO,              /* string: host path of the exec fifo */
  T_HOOK_CREATE_CONTAINER, /* struct plan_hook + strings path, args..., env... */
  T_HOOK_START_CONTAINER,  /* same */
  T_PRESERVE_FDS,      /* u32 count (fds 3..3+count-1 are passed on) */
  T_RUNTIME_HOOKS,     /* - : the parent has prestart/createRuntime hooks: stop and ask */
  T_JOIN_CGROUP,       /* string: cgroup.procs paths to join (exec); repeated */
  T_SETUP_DEV,         /* - : /dev is ours (tmpfs): create devices with mknod, else bind */
  T_PERSONALITY,       /* u32 domain */
  T_SCHED,             /* struct plan_sched */
  T_IOPRIO,            /* i32 class, i32 priority */
  T_CPU_AFFINITY,      /* u32 0 initial / 1 final, u32 zero, cpu_set_t bytes (execCPUAffinity) */
  T_APPARMOR,          /* string profile */
  T_SELINUX,           /* string label */
  T_NOTIFY_SOCKET,     /* string: host path of NOTIFY_SOCKET to bind into the container */
  T_USERNS_DEVICES,    /* - : bind-mount devices from the host instead of mknod */
  T_DETACHED_EXEC,     /* - : exec mode: do not wait for anything after MSG_EXECED */
  T_SESSION_KEYRING,   /* string: join (or make) this session keyring, "_ses.<id>" (not with --no-new-keyring) */
  T_DEV_READONLY,      /* u32 MS_* flags of a read-only /dev mount: mounted writable, remounted read-only last (runc) */
};

struct plan_mount {
  uint32_t flags;      /* MS_* flags to set */
  uint32_t propagation;/* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE | MS_REC, applied after the mount */
  uint64_t attr_set;   /* MOUNT_ATTR_* applied recursively (rro, rnosuid, ...) with mount_setattr */
  uint64_t attr_clr;
  uint32_t kind;       /* MOUNT_KIND_* */
  uint32_t extra;      /* MOUNT_EXTRA_* bits */
};

enum { MOUNT_KIND_NORMAL = 0, MOUNT_KIND_BIND = 1 };
enum { MOUNT_EXTRA_TMPCOPYUP = 1, MOUNT_EXTRA_SOURCE_IS_FILE = 2, MOUNT_EXTRA_CGROUP = 4 };
/* Id-mapped bind mount: two more strings follow data, the uid_map and gid_map text of the user
 * namespace to idmap it with; RECURSIVE: every submount too (ridmap). */
enum { MOUNT_EXTRA_IDMAP = 8, MOUNT_EXTRA_IDMAP_RECURSIVE = 16 };

struct plan_device {
  uint32_t type; /* 'c', 'b', 'p' */
  uint32_t major, minor;
  uint32_t mode; /* permission bits */
  uint32_t uid, gid;
};

struct plan_user {
  uint32_t uid, gid;
  uint32_t umask; /* UINT32_MAX: leave unchanged */
  uint32_t ngroups;
};

struct plan_rlimit {
  uint32_t resource;
  uint32_t pad;
  uint64_t soft, hard;
};

struct plan_caps {
  uint64_t bounding, effective, permitted, inheritable, ambient;
};

struct plan_hook {
  uint32_t timeout; /* seconds, 0 = none */
  uint32_t nargs;
  uint32_t nenv;
  uint32_t flags; /* PLAN_HOOK_* */
};
/* The hook has no env of its own: it gets the process's environment as it is when the hook runs
 * (runc's init has set it as its own by then: createContainer without HOME, startContainer with). */
#define PLAN_HOOK_INHERIT_ENV 1u

struct plan_sched {
  uint32_t policy, priority, flags, pad;
  uint64_t nice, runtime, deadline, period;
};

#endif
