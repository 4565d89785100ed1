/*
 * skiff-init: the container's first process (runc's `runc init` / nsexec role).
 *
 * Why a separate single-threaded program and not fork() from Node: after fork() a multi-threaded
 * process may only make async-signal-safe calls, setns() into user and mount namespaces fails for
 * multi-threaded callers, and a forked Node would sit in the container's cgroup with Node's
 * memory. The addon starts this program with posix_spawn (vfork+exec, safe from a threaded
 * parent); it is small, static-libgcc, and never runs JavaScript.
 *
 *   argv[1] = fd number of the init socket (SOCK_SEQPACKET), see protocol.h
 *
 * Stage 1 (this process): read the plan, join namespaces given by path, unshare the user
 * namespace (the parent writes the id maps), unshare the rest, fork. Stage 2 (the child, pid 1
 * of a new pid namespace): build the rootfs, pivot_root, apply the process settings, report
 * MSG_CREATED, then block on the exec fifo until `skiff start`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "protocol.h"
#include "sealed-exe.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_ITEMS 512

/* ---------- the plan, as parsed ---------- */

struct mount_item {
  const struct plan_mount *m;
  const char *source, *dest, *fstype, *data;
  const char *uidmap, *gidmap; /* MOUNT_EXTRA_IDMAP: maps of the user namespace to idmap with */
  int tree;                    /* the detached, id-mapped tree (open_tree), or -1 */
};
struct device_item {
  const struct plan_device *d;
  const char *path;
};
struct hook_item {
  const struct plan_hook *h;
  const char *path;
  char *const *argv; /* NULL-terminated, allocated */
  char *const *envp;
};
struct pair {
  const char *a, *b;
};
struct affinity {
  const void *mask; /* cpu_set_t bytes; NULL: not set */
  uint32_t len;
};

static struct {
  uint32_t mode;
  uint32_t ns_new;
  int njoin;
  struct { uint32_t type; const char *path; } join[16];
  const char *time_offsets;
  const char *rootfs;
  int root_readonly;
  uint32_t root_propagation;
  int no_pivot;
  int nmounts;
  struct mount_item mounts[MAX_ITEMS];
  int ndevices;
  struct device_item devices[MAX_ITEMS];
  int nsymlinks;
  struct pair symlinks[64];
  int nmasks;
  const char *masks[MAX_ITEMS];
  int nreadonly;
  const char *readonly[MAX_ITEMS];
  const char *hostname, *domainname;
  int nsysctls;
  struct pair sysctls[MAX_ITEMS];
  int nargs;
  char *args[MAX_ITEMS + 1];
  int nenv;
  char *env[MAX_ITEMS * 2 + 1];
  const char *cwd;
  const struct plan_user *user;
  const uint32_t *groups;
  int nrlimits;
  const struct plan_rlimit *rlimits[64];
  const struct plan_caps *caps;
  int no_new_privs;
  int has_oom;
  int32_t oom_score_adj;
  uint32_t seccomp_flags;
  const struct sock_filter *seccomp;
  unsigned seccomp_len;
  const char *console_socket;
  uint32_t console_rows, console_cols;
  const char *fifo;
  int nhooks_cc, nhooks_sc;
  struct hook_item hooks_cc[64], hooks_sc[64];
  uint32_t preserve_fds;
  int runtime_hooks;
  int setup_dev;
  int userns_devices;
  int has_personality;
  uint32_t personality;
  const struct plan_sched *sched;
  int has_ioprio;
  int32_t ioprio_class, ioprio_prio;
  struct affinity affinity_initial, affinity_final;
  const char *apparmor;
  const char *selinux;
  int detached_exec;
  const char *session_keyring;
  int dev_readonly;
  uint32_t dev_flags;
} P;

/* ---------- reporting ---------- */

static int sock_fd = -1;   /* init socket, until MSG_CREATED */
static int fifo_wr = -1;   /* exec fifo opened for writing, after `start` */
static int rootfd = -1;    /* O_PATH fd of the rootfs, before pivot_root */
static int fifo_fd = -1;   /* O_PATH fd of the exec fifo, from stage 1 until it is reopened */

static void send_msg(uint32_t type, uint32_t step, int err, int64_t value, const void *payload, uint32_t len) {
  if (sock_fd < 0) return;
  char buf[sizeof(struct skiff_msg) + 4096];
  if (len > 4096) len = 4096;
  struct skiff_msg m = {.type = type, .step = step, .err = err, .len = len, .value = value};
  memcpy(buf, &m, sizeof m);
  if (len) memcpy(buf + sizeof m, payload, len);
  while (send(sock_fd, buf, sizeof m + len, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

/* Report a failure (step, errno, detail) to whoever listens, then exit. */
static void __attribute__((noreturn, format(printf, 3, 4))) fail(uint32_t step, int err, const char *fmt, ...) {
  char detail[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  (void)n;
  /* "<what failed>: <strerror>", lower-case like the rest of skiff's messages. */
  char line[2304];
  int m = err ? snprintf(line, sizeof line, "%s: %s", detail, strerror(err)) : snprintf(line, sizeof line, "%s", detail);
  if (m < 0) m = 0;
  if (m >= (int)sizeof line) m = sizeof line - 1;
  if (err && m > 0) {
    char *e = line + strlen(detail) + 2;
    if (e < line + m && *e >= 'A' && *e <= 'Z') *e = (char)(*e - 'A' + 'a');
  }
  if (sock_fd >= 0) {
    send_msg(MSG_ERROR, step, err, 0, line, (uint32_t)m);
  } else if (fifo_wr >= 0) {
    /* After MSG_CREATED: the reader is `skiff start`, which shows this text. */
    ssize_t w = write(fifo_wr, line, (size_t)m);
    (void)w;
  }
  _exit(err == ENOENT && step == STEP_EXEC ? 127 : 1);
}

static int recv_msg(struct skiff_msg *m, char *payload, size_t cap) {
  char buf[sizeof(struct skiff_msg) + SKIFF_MSG_MAX];
  ssize_t n;
  do {
    n = recv(sock_fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < (ssize_t)sizeof *m) return -1;
  memcpy(m, buf, sizeof *m);
  size_t len = (size_t)n - sizeof *m;
  if (len > cap - 1) len = cap - 1;
  if (payload) {
    memcpy(payload, buf + sizeof *m, len);
    payload[len] = 0;
  }
  return 0;
}

static void expect_msg(uint32_t type, char *payload, size_t cap) {
  struct skiff_msg m;
  if (recv_msg(&m, payload, cap) < 0) _exit(1); /* the parent went away: nobody to report to */
  if (m.type != type) fail(STEP_PLAN, EPROTO, "unexpected message %u from the runtime (wanted %u)", m.type, type);
}

/* ---------- plan parsing ---------- */

static char *plan_buf;

static void read_plan(void) {
  uint32_t total;
  ssize_t n;
  do {
    n = recv(sock_fd, &total, sizeof total, 0);
  } while (n < 0 && errno == EINTR);
  if (n != sizeof total || total > (64u << 20)) fail(STEP_PLAN, EPROTO, "read plan header");
  plan_buf = malloc(total + 1);
  if (!plan_buf) fail(STEP_PLAN, ENOMEM, "allocate plan");
  size_t got = 0;
  while (got < total) {
    n = recv(sock_fd, plan_buf + got, total - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(STEP_PLAN, n < 0 ? errno : EPROTO, "read plan");
    got += (size_t)n;
  }

  char *p = plan_buf, *end = plan_buf + total;
  while (p + 8 <= end) {
    uint16_t tag;
    uint32_t len;
    memcpy(&tag, p, 2);
    memcpy(&len, p + 4, 4);
    char *v = p + 8;
    if (v + len > end) fail(STEP_PLAN, EPROTO, "truncated plan record %u", tag);
    p = v + len;
    /* Records are 8-byte aligned by the encoder, so structs can be read in place. */
    p += (8 - ((uintptr_t)(p - plan_buf) & 7)) & 7;
    const char *s2 = v + strlen(v) + 1; /* second string of a record, when it has one */
    switch (tag) {
    case T_MODE: P.mode = *(uint32_t *)v; break;
    case T_NS_NEW: P.ns_new = *(uint32_t *)v; break;
    case T_NS_JOIN:
      if (P.njoin >= 16) fail(STEP_PLAN, E2BIG, "too many namespaces");
      P.join[P.njoin].type = *(uint32_t *)v;
      P.join[P.njoin].path = v + 4;
      P.njoin++;
      break;
    case T_TIME_OFFSETS: P.time_offsets = v; break;
    case T_ROOTFS: P.rootfs = v; break;
    case T_ROOT_READONLY: P.root_readonly = 1; break;
    case T_ROOT_PROPAGATION: P.root_propagation = *(uint32_t *)v; break;
    case T_NO_PIVOT: P.no_pivot = 1; break;
    case T_MOUNT: {
      if (P.nmounts >= MAX_ITEMS) fail(STEP_PLAN, E2BIG, "too many mounts");
      struct mount_item *mi = &P.mounts[P.nmounts++];
      mi->m = (const struct plan_mount *)v;
      mi->source = v + sizeof(struct plan_mount);
      mi->dest = mi->source + strlen(mi->source) + 1;
      mi->fstype = mi->dest + strlen(mi->dest) + 1;
      mi->data = mi->fstype + strlen(mi->fstype) + 1;
      mi->tree = -1;
      if (mi->m->extra & MOUNT_EXTRA_IDMAP) {
        mi->uidmap = mi->data + strlen(mi->data) + 1;
        mi->gidmap = mi->uidmap + strlen(mi->uidmap) + 1;
        if (mi->gidmap >= v + len) fail(STEP_PLAN, EPROTO, "truncated id-mapped mount record");
      }
      break;
    }
    case T_DEVICE:
      if (P.ndevices >= MAX_ITEMS) fail(STEP_PLAN, E2BIG, "too many devices");
      P.devices[P.ndevices].d = (const struct plan_device *)v;
      P.devices[P.ndevices].path = v + sizeof(struct plan_device);
      P.ndevices++;
      break;
    case T_SYMLINK:
      if (P.nsymlinks >= 64) fail(STEP_PLAN, E2BIG, "too many symlinks");
      P.symlinks[P.nsymlinks].a = v;
      P.symlinks[P.nsymlinks].b = s2;
      P.nsymlinks++;
      break;
    case T_MASK:
      if (P.nmasks >= MAX_ITEMS) fail(STEP_PLAN, E2BIG, "too many masked paths");
      P.masks[P.nmasks++] = v;
      break;
    case T_READONLY_PATH:
      if (P.nreadonly >= MAX_ITEMS) fail(STEP_PLAN, E2BIG, "too many readonly paths");
      P.readonly[P.nreadonly++] = v;
      break;
    case T_HOSTNAME: P.hostname = v; break;
    case T_DOMAINNAME: P.domainname = v; break;
    case T_SYSCTL:
      if (P.nsysctls >= MAX_ITEMS) fail(STEP_PLAN, E2BIG, "too many sysctls");
      P.sysctls[P.nsysctls].a = v;
      P.sysctls[P.nsysctls].b = s2;
      P.nsysctls++;
      break;
    case T_ARG:
      if (P.nargs >= MAX_ITEMS) fail(STEP_PLAN, E2BIG, "too many arguments");
      P.args[P.nargs++] = v;
      break;
    case T_ENV:
      if (P.nenv >= MAX_ITEMS * 2) fail(STEP_PLAN, E2BIG, "too many environment variables");
      P.env[P.nenv++] = v;
      break;
    case T_CWD: P.cwd = v; break;
    case T_USER:
      P.user = (const struct plan_user *)v;
      P.groups = (const uint32_t *)(v + sizeof(struct plan_user));
      break;
    case T_RLIMIT:
      if (P.nrlimits >= 64) fail(STEP_PLAN, E2BIG, "too many rlimits");
      P.rlimits[P.nrlimits++] = (const struct plan_rlimit *)v;
      break;
    case T_CAPS: P.caps = (const struct plan_caps *)v; break;
    case T_NO_NEW_PRIVS: P.no_new_privs = 1; break;
    case T_OOM_SCORE_ADJ: P.has_oom = 1; P.oom_score_adj = *(int32_t *)v; break;
    case T_SECCOMP:
      P.seccomp_flags = *(uint32_t *)v;
      P.seccomp = (const struct sock_filter *)(v + 8);
      P.seccomp_len = (len - 8) / sizeof(struct sock_filter);
      break;
    case T_CONSOLE_SOCKET: P.console_socket = v; break;
    case T_CONSOLE_SIZE: P.console_rows = ((uint32_t *)v)[0]; P.console_cols = ((uint32_t *)v)[1]; break;
    case T_FIFO: P.fifo = v; break;
    case T_HOOK_CREATE_CONTAINER:
    case T_HOOK_START_CONTAINER: {
      struct hook_item *hi;
      if (tag == T_HOOK_CREATE_CONTAINER) {
        if (P.nhooks_cc >= 64) fail(STEP_PLAN, E2BIG, "too many hooks");
        hi = &P.hooks_cc[P.nhooks_cc++];
      } else {
        if (P.nhooks_sc >= 64) fail(STEP_PLAN, E2BIG, "too many hooks");
        hi = &P.hooks_sc[P.nhooks_sc++];
      }
      hi->h = (const struct plan_hook *)v;
      const char *s = v + sizeof(struct plan_hook);
      hi->path = s;
      s += strlen(s) + 1;
      char **argv = calloc(hi->h->nargs + 1, sizeof(char *));
      char **envp = calloc(hi->h->nenv + 1, sizeof(char *));
      if (!argv || !envp) fail(STEP_PLAN, ENOMEM, "allocate hook");
      for (uint32_t i = 0; i < hi->h->nargs; i++, s += strlen(s) + 1) argv[i] = (char *)s;
      for (uint32_t i = 0; i < hi->h->nenv; i++, s += strlen(s) + 1) envp[i] = (char *)s;
      hi->argv = argv;
      hi->envp = envp;
      break;
    }
    case T_PRESERVE_FDS: P.preserve_fds = *(uint32_t *)v; break;
    case T_RUNTIME_HOOKS: P.runtime_hooks = 1; break;
    case T_SETUP_DEV: P.setup_dev = 1; break;
    case T_USERNS_DEVICES: P.userns_devices = 1; break;
    case T_PERSONALITY: P.has_personality = 1; P.personality = *(uint32_t *)v; break;
    case T_SCHED: P.sched = (const struct plan_sched *)v; break;
    case T_IOPRIO: P.has_ioprio = 1; P.ioprio_class = ((int32_t *)v)[0]; P.ioprio_prio = ((int32_t *)v)[1]; break;
    case T_CPU_AFFINITY: {
      if (len < 8) fail(STEP_PLAN, EPROTO, "short cpu affinity record");
      struct affinity *a = *(uint32_t *)v == 0 ? &P.affinity_initial : &P.affinity_final;
      a->mask = v + 8;
      a->len = len - 8;
      break;
    }
    case T_APPARMOR: P.apparmor = v; break;
    case T_SELINUX: P.selinux = v; break;
    case T_DETACHED_EXEC: P.detached_exec = 1; break;
    case T_SESSION_KEYRING: P.session_keyring = v; break;
    case T_DEV_READONLY: P.dev_readonly = 1; P.dev_flags = *(uint32_t *)v; break;
    default: fail(STEP_PLAN, EPROTO, "unknown plan record %u", tag);
    }
  }
  P.args[P.nargs] = NULL;
  P.env[P.nenv] = NULL;
  if (P.nargs == 0) fail(STEP_PLAN, EINVAL, "no process arguments in plan");
}

/* ---------- paths inside the rootfs ---------- */

static int openat2_in_root(int dirfd, const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static const char *skip_slashes(const char *p) {
  while (*p == '/') p++;
  return *p ? p : ".";
}

/*
 * Open `path` inside the rootfs, every symlink resolved as if the rootfs were "/", so that a
 * symlink such as /etc -> /host/etc can never make a mount land outside (openat2 RESOLVE_IN_ROOT).
 * Missing components are created: directories, and the last one as a file when `as_file`. A
 * dangling symlink on the way (/var/run -> /run with no /run yet) is followed, inside the root,
 * and what it names is created, as runc's MkdirAllInRoot does.
 */
static int open_in_rootfs(const char *path, int as_file, mode_t mode) {
  const char *rel = skip_slashes(path);
  int fd = openat2_in_root(rootfd, rel, O_PATH | O_CLOEXEC);
  if (fd >= 0 || errno != ENOENT) return fd;

  char buf[PATH_MAX];
  if (strlen(rel) >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buf, rel);
  int followed = 0;
restart:
  /* Walk each prefix; create what is missing below the deepest existing directory. */
  for (char *s = buf;; s++) {
    int last = (*s == 0);
    if (*s != '/' && !last) continue;
    char saved = *s;
    *s = 0;
    if (*buf) {
      int t = openat2_in_root(rootfd, buf, O_PATH | O_CLOEXEC);
      if (t < 0 && errno != ENOENT) return -1;
      if (t < 0) {
        /* Create in the (already resolved) parent. */
        char *slash = strrchr(buf, '/');
        const char *name = slash ? slash + 1 : buf;
        int parent;
        if (slash) {
          *slash = 0;
          parent = openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
          *slash = '/';
        } else {
          parent = dup(rootfd);
        }
        if (parent < 0) return -1;
        int r;
        if (last && as_file) {
          int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode ? mode : 0644);
          r = f < 0 ? -1 : close(f);
        } else {
          r = mkdirat(parent, name, mode ? mode : 0755);
        }
        int e = errno;
        if (r < 0 && e == EEXIST) {
          /* It exists but does not resolve: a dangling symlink. Go on from what it names. */
          char target[PATH_MAX];
          ssize_t n = readlinkat(parent, name, target, sizeof target - 1);
          if (n > 0 && ++followed <= 40) {
            target[n] = 0;
            char next[PATH_MAX];
            const char *rest = last ? "" : s + 1;
            int len;
            if (target[0] == '/') {
              len = snprintf(next, sizeof next, "%s%s%s", skip_slashes(target), *rest ? "/" : "", rest);
            } else {
              *(char *)name = 0; /* buf is now the parent's path, with a trailing '/' or empty */
              len = snprintf(next, sizeof next, "%s%s%s%s", buf, target, *rest ? "/" : "", rest);
            }
            close(parent);
            if (len < 0 || len >= (int)sizeof next) {
              errno = ENAMETOOLONG;
              return -1;
            }
            strcpy(buf, next);
            goto restart;
          }
        }
        close(parent);
        if (r < 0 && e != EEXIST) {
          errno = e;
          return -1;
        }
      } else {
        close(t);
      }
    }
    *s = saved;
    if (last) break;
  }
  return openat2_in_root(rootfd, buf, O_PATH | O_CLOEXEC);
}

static void fdpath(char *out, size_t cap, int fd) { snprintf(out, cap, "/proc/self/fd/%d", fd); }

/* Flags that a bind remount must keep when they are locked (user namespaces, nosuid hosts...). */
static unsigned long locked_flags(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static int remount_bind(const char *target, unsigned long flags) {
  unsigned long f = MS_BIND | MS_REMOUNT | flags;
  if (mount(NULL, target, NULL, f, NULL) == 0) return 0;
  if (errno != EPERM) return -1;
  /* Locked flags must be repeated in a remount (mount_namespaces(7)). */
  return mount(NULL, target, NULL, f | locked_flags(target), NULL);
}

/* ---------- tmpcopyup: copy what a tmpfs hides into it ---------- */

static int copy_tree(int src, int dst, int depth) {
  if (depth > 64) return 0;
  int sfd = dup(src);
  if (sfd < 0) return -1;
  DIR *d = fdopendir(sfd);
  if (!d) {
    close(sfd);
    return -1;
  }
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst, e->d_name, st.st_mode & 07777) < 0 && errno != EEXIST) { rc = -1; break; }
      int s2 = openat(src, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int d2 = openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (s2 >= 0 && d2 >= 0) rc = copy_tree(s2, d2, depth + 1);
      if (s2 >= 0) close(s2);
      if (d2 >= 0) close(d2);
      if (rc < 0) break;
    } else if (S_ISREG(st.st_mode)) {
      int in = openat(src, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      int out = openat(dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
      if (in >= 0 && out >= 0) {
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
          if (write(out, buf, (size_t)n) != n) { rc = -1; break; }
      }
      if (in >= 0) close(in);
      if (out >= 0) close(out);
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlinkat(src, e->d_name, target, sizeof target - 1);
      if (n >= 0) {
        target[n] = 0;
        if (symlinkat(target, dst, e->d_name) < 0 && errno != EEXIST) rc = -1;
      }
    } else {
      if (mknodat(dst, e->d_name, st.st_mode, st.st_rdev) < 0 && errno != EEXIST) rc = -1;
    }
    if (rc < 0) break;
    fchownat(dst, e->d_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  }
  closedir(d);
  return rc;
}

/* ---------- mounts ---------- */

/* ---------- id-mapped mounts ---------- */

/*
 * A user namespace with the given maps, as an fd: a child unshares it and waits while we (still
 * privileged in the parent namespace) write its maps and open /proc/CHILD/ns/user.
 */
static int make_userns(const char *uidmap, const char *gidmap, const char *dest) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) fail(STEP_MOUNT, errno, "id-mapped mount %s: pipe", dest);
  pid_t c = fork();
  if (c < 0) fail(STEP_MOUNT, errno, "id-mapped mount %s: fork", dest);
  if (c == 0) {
    close(p[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* never outlive the init, whatever happens to it */
    char ok = unshare(CLONE_NEWUSER) == 0 ? '1' : '0';
    if (write(p[1], &ok, 1) != 1) _exit(1);
    for (;;) pause(); /* until the parent has what it needs and kills us */
  }
  close(p[1]);
  char ok = '0';
  ssize_t n;
  do {
    n = read(p[0], &ok, 1);
  } while (n < 0 && errno == EINTR);
  close(p[0]);
  int fd = -1, err = 0;
  const char *step = "unshare a user namespace";
  char path[64];
  if (n == 1 && ok == '1') {
    step = "write its uid_map";
    snprintf(path, sizeof path, "/proc/%d/uid_map", c);
    int f = open(path, O_WRONLY | O_CLOEXEC);
    if (f < 0 || write(f, uidmap, strlen(uidmap)) != (ssize_t)strlen(uidmap)) err = errno;
    if (f >= 0) close(f);
    if (!err) {
      step = "write its gid_map";
      snprintf(path, sizeof path, "/proc/%d/gid_map", c);
      f = open(path, O_WRONLY | O_CLOEXEC);
      if (f < 0 || write(f, gidmap, strlen(gidmap)) != (ssize_t)strlen(gidmap)) err = errno;
      if (f >= 0) close(f);
    }
    if (!err) {
      step = "open its user namespace";
      snprintf(path, sizeof path, "/proc/%d/ns/user", c);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) err = errno;
    }
  } else {
    err = EPERM;
  }
  kill(c, SIGKILL);
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {}
  if (fd < 0) fail(STEP_MOUNT, err, "id-mapped mount %s: %s", dest, step);
  return fd;
}

/*
 * Before any namespace is entered: clone each id-mapped bind source into a detached tree
 * (open_tree OPEN_TREE_CLONE) and idmap it (mount_setattr MOUNT_ATTR_IDMAP). This needs
 * CAP_SYS_ADMIN over the source filesystem, which the container's user namespace lacks; the
 * detached tree is attached later, in the container's mount namespace, with move_mount.
 */
static void prepare_idmapped_mounts(void) {
  for (int i = 0; i < P.nmounts; i++) {
    struct mount_item *mi = &P.mounts[i];
    if (!(mi->m->extra & MOUNT_EXTRA_IDMAP)) continue;
    unsigned tflags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((mi->m->flags & MS_REC) ? AT_RECURSIVE : 0);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, mi->source, tflags);
    if (tree < 0) fail(STEP_MOUNT, errno, "id-mapped mount %s: clone %s", mi->dest, mi->source);
    int userns = make_userns(mi->uidmap, mi->gidmap, mi->dest);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
    unsigned aflags = AT_EMPTY_PATH | ((mi->m->extra & MOUNT_EXTRA_IDMAP_RECURSIVE) ? AT_RECURSIVE : 0);
    if (syscall(SYS_mount_setattr, tree, "", aflags, &attr, sizeof attr) < 0)
      fail(STEP_MOUNT, errno, "id-mapped mount %s: idmap %s", mi->dest, mi->source);
    close(userns);
    mi->tree = tree;
  }
}

/*
 * With a new user namespace, the container's root may not search the way to a bind source (a
 * 0700 directory of the host's root): as runc does, every source is taken now, with the caller's
 * credentials, as a detached copy of its mount (open_tree OPEN_TREE_CLONE), attached later in the
 * container's mount namespace with move_mount, as id-mapped mounts are.
 */
static void open_bind_sources(void) {
  for (int i = 0; i < P.nmounts; i++) {
    struct mount_item *mi = &P.mounts[i];
    if (mi->m->kind != MOUNT_KIND_BIND || mi->tree >= 0) continue;
    unsigned tflags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((mi->m->flags & MS_REC) ? AT_RECURSIVE : 0);
    mi->tree = (int)syscall(SYS_open_tree, AT_FDCWD, mi->source, tflags);
    /* A source that cannot be taken fails at the mount, with the kernel's reason, as before. */
  }
}

static void do_mount(const struct mount_item *mi) {
  const struct plan_mount *m = mi->m;
  int is_bind = m->kind == MOUNT_KIND_BIND;
  int target = open_in_rootfs(mi->dest, is_bind && (m->extra & MOUNT_EXTRA_SOURCE_IS_FILE), 0);
  if (target < 0) fail(STEP_MOUNT, errno, "create mount destination %s", mi->dest);
  char tpath[64];
  fdpath(tpath, sizeof tpath, target);

  int below = -1; /* what the new mount hides, for tmpcopyup */
  if (m->extra & MOUNT_EXTRA_TMPCOPYUP) below = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  const char *data = *mi->data ? mi->data : NULL;
  if (mi->tree >= 0) {
    if (syscall(SYS_move_mount, mi->tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
      fail(STEP_MOUNT, errno, "attach %s mount of %s to %s", (m->extra & MOUNT_EXTRA_IDMAP) ? "id-mapped" : "bind", mi->source, mi->dest);
    close(mi->tree);
  } else if (is_bind) {
    unsigned long bflags = MS_BIND | (m->flags & MS_REC);
    if (mount(mi->source, tpath, NULL, bflags, NULL) < 0)
      fail(STEP_MOUNT, errno, "bind mount %s to %s", mi->source, mi->dest);
  } else {
    if (mount(mi->source, tpath, mi->fstype, m->flags & ~(unsigned long)MS_REC, data) < 0)
      fail(STEP_MOUNT, errno, "mount %s (%s) to %s", mi->source, mi->fstype, mi->dest);
  }
  close(target);

  /* The O_PATH fd names the mount point underneath: reopen to reach the new mount. */
  target = open_in_rootfs(mi->dest, 0, 0);
  if (target < 0) fail(STEP_MOUNT, errno, "reopen mount %s", mi->dest);
  fdpath(tpath, sizeof tpath, target);

  unsigned long remount = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
  if (is_bind && remount && remount_bind(tpath, remount) < 0)
    fail(STEP_MOUNT, errno, "remount %s with its options", mi->dest);

  if (below >= 0) {
    int top = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top < 0 || copy_tree(below, top, 0) < 0) fail(STEP_MOUNT, errno, "tmpcopyup into %s", mi->dest);
    close(top);
    close(below);
  }
  if (m->propagation && mount(NULL, tpath, NULL, m->propagation, NULL) < 0)
    fail(STEP_MOUNT, errno, "set propagation of %s", mi->dest);
  if (m->attr_set || m->attr_clr) {
    struct mount_attr attr = {.attr_set = m->attr_set, .attr_clr = m->attr_clr};
    if (syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
      fail(STEP_MOUNT, errno, "set recursive attributes of %s", mi->dest);
  }
  close(target);
}

static void make_devices(void) {
  for (int i = 0; i < P.ndevices; i++) {
    const struct plan_device *d = P.devices[i].d;
    const char *path = P.devices[i].path;
    if (P.userns_devices) {
      /* mknod is not allowed in a user namespace: bind the host's node instead. */
      int t = open_in_rootfs(path, 1, 0600);
      if (t < 0) fail(STEP_DEVICE, errno, "create %s", path);
      char tp[64];
      fdpath(tp, sizeof tp, t);
      if (mount(path, tp, NULL, MS_BIND, NULL) < 0) fail(STEP_DEVICE, errno, "bind device %s", path);
      close(t);
      continue;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? slash + 1 : dir;
    if (slash) *slash = 0;
    int parent = open_in_rootfs(slash ? dir : "/", 0, 0);
    if (parent < 0) fail(STEP_DEVICE, errno, "create directory of %s", path);
    int pfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(parent);
    if (pfd < 0) fail(STEP_DEVICE, errno, "open directory of %s", path);
    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    unlinkat(pfd, name, 0);
    if (mknodat(pfd, name, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0)
      fail(STEP_DEVICE, errno, "mknod %s", path);
    /* mknod applies the umask; the spec's fileMode is exact. */
    if (fchmodat(pfd, name, d->mode & 07777, 0) < 0) fail(STEP_DEVICE, errno, "chmod %s", path);
    if (fchownat(pfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) fail(STEP_DEVICE, errno, "chown %s", path);
    close(pfd);
  }
  for (int i = 0; i < P.nsymlinks; i++) {
    const char *target = P.symlinks[i].a, *link = P.symlinks[i].b;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", link);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? slash + 1 : dir;
    if (slash) *slash = 0;
    int parent = open_in_rootfs(slash && *dir ? dir : "/", 0, 0);
    if (parent < 0) fail(STEP_SYMLINK, errno, "open directory of %s", link);
    int pfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(parent);
    if (pfd < 0 || (symlinkat(target, pfd, name) < 0 && errno != EEXIST))
      fail(STEP_SYMLINK, errno, "symlink %s -> %s", link, target);
    close(pfd);
  }
}

/* ---------- hooks run by the init (createContainer, startContainer) ---------- */

/* `cwd`: the hook's working directory (runc: the rootfs for createContainer), or NULL. */
static void run_hooks(struct hook_item *hooks, int n, const char *state, const char *kind, const char *cwd) {
  for (int i = 0; i < n; i++) {
    struct hook_item *h = &hooks[i];
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0) fail(STEP_HOOK, errno, "%s hook %s: pipe", kind, h->path);
    pid_t pid = fork();
    if (pid < 0) fail(STEP_HOOK, errno, "%s hook %s: fork", kind, h->path);
    if (pid == 0) {
      dup2(in[0], 0);
      /* The hook's output is not the container's (runc keeps it to itself). */
      int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
      }
      if (cwd && chdir(cwd) < 0) _exit(127);
      execve(h->path, h->argv[0] ? h->argv : (char *const[]){(char *)h->path, NULL}, (h->h->flags & PLAN_HOOK_INHERIT_ENV) ? P.env : h->envp);
      _exit(127);
    }
    close(in[0]);
    size_t len = strlen(state), off = 0;
    signal(SIGPIPE, SIG_IGN);
    while (off < len) {
      ssize_t w = write(in[1], state + off, len - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    signal(SIGPIPE, SIG_DFL);
    close(in[1]);
    int status = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      pid_t r = waitpid(pid, &status, h->h->timeout ? WNOHANG : 0);
      if (r == pid) break;
      if (r < 0 && errno != EINTR) fail(STEP_HOOK, errno, "%s hook %s: wait", kind, h->path);
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (h->h->timeout && now.tv_sec - start.tv_sec >= (time_t)h->h->timeout) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail(STEP_HOOK, 0, "%s hook %s: timed out after %us", kind, h->path, h->h->timeout);
      }
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
      fail(STEP_HOOK, 0, "%s hook %s: exited with status %d", kind, h->path, WEXITSTATUS(status));
    if (WIFSIGNALED(status)) fail(STEP_HOOK, 0, "%s hook %s: killed by signal %d", kind, h->path, WTERMSIG(status));
  }
}

/* ---------- rootfs ---------- */

/*
 * --no-pivot: chroot leaves the host's mounts in the container's mount namespace, out of sight but
 * still counted by the kernel: a full, unmasked proc or sysfs there lets a nested user namespace
 * mount a fresh proc (mount_too_revealing). As runc's msMoveRoot: every full proc and sysfs mount
 * outside the rootfs is detached (made slave first so the host never sees it), or, where it may
 * not be, covered with an empty tmpfs.
 */
static void hide_host_proc_sys(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) fail(STEP_PIVOT, errno, "read /proc/self/mountinfo");
  char line[4096];
  char (*targets)[PATH_MAX] = calloc(256, PATH_MAX);
  if (!targets) fail(STEP_PIVOT, ENOMEM, "hide host proc and sysfs");
  int n = 0;
  size_t rlen = strlen(P.rootfs);
  while (n < 256 && fgets(line, sizeof line, f)) {
    char root[PATH_MAX], mnt[PATH_MAX];
    if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2) continue;
    const char *sep = strstr(line, " - ");
    if (!sep) continue;
    char fstype[64];
    if (sscanf(sep + 3, "%63s", fstype) != 1) continue;
    if (strcmp(root, "/") || (strcmp(fstype, "proc") && strcmp(fstype, "sysfs"))) continue;
    if (!strncmp(mnt, P.rootfs, rlen) && (mnt[rlen] == '/' || mnt[rlen] == 0)) continue;
    if (strchr(mnt, '\\')) continue; /* an escaped name (\040): not a host /proc or /sys */
    snprintf(targets[n++], PATH_MAX, "%s", mnt);
  }
  fclose(f);
  /* Deepest first, so that /proc/sys/fs/binfmt_misc and the like go before /proc. */
  for (int i = n - 1; i >= 0; i--) {
    const char *p = targets[i];
    if (mount(NULL, p, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
      if (errno == ENOENT || errno == EINVAL) continue;
      fail(STEP_PIVOT, errno, "make %s rslave", p);
    }
    if (umount2(p, MNT_DETACH) < 0) {
      if (errno != EINVAL && errno != EPERM) fail(STEP_PIVOT, errno, "detach %s", p);
      if (mount("tmpfs", p, "tmpfs", 0, NULL) < 0) fail(STEP_PIVOT, errno, "cover %s", p);
    }
  }
  free(targets);
}

static void pivot(void) {
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  int newroot = open(P.rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0 || newroot < 0) fail(STEP_PIVOT, errno, "open root directories");
  if (P.no_pivot) {
    /* --no-pivot: move the rootfs over / and chroot (for ramfs roots, where pivot_root fails). */
    hide_host_proc_sys();
    if (fchdir(newroot) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
      fail(STEP_PIVOT, errno, "chroot into %s", P.rootfs);
  } else {
    /* pivot_root(".", "."): the old root is stacked under the new one, then detached. */
    if (fchdir(newroot) < 0) fail(STEP_PIVOT, errno, "chdir %s", P.rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0) fail(STEP_PIVOT, errno, "pivot_root to %s", P.rootfs);
    if (fchdir(oldroot) < 0) fail(STEP_PIVOT, errno, "chdir old root");
    /* Make the old root a slave so that the unmount does not propagate to the host. */
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) fail(STEP_PIVOT, errno, "make old root rslave");
    if (umount2(".", MNT_DETACH) < 0) fail(STEP_PIVOT, errno, "detach old root");
    if (chdir("/") < 0) fail(STEP_PIVOT, errno, "chdir /");
  }
  close(oldroot);
  close(newroot);
}

/*
 * CVE-2025-31133: a file is masked by binding /dev/null over it, and /dev may come from a volume
 * another container writes to: /dev/null could be a symlink to a host file (or another file) by
 * then. Open it once without following, check it is the null device (1:3), and bind that fd.
 */
static void mask_paths(void) {
  int null_fd = -1;
  char null_path[64];
  for (int i = 0; i < P.nmasks; i++) {
    const char *p = P.masks[i];
    struct stat st;
    if (stat(p, &st) < 0) {
      if (errno == ENOENT) continue;
      fail(STEP_MASK, errno, "mask %s", p);
    }
    if (!S_ISDIR(st.st_mode) && null_fd < 0) {
      struct stat ns;
      null_fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (null_fd < 0 || fstat(null_fd, &ns) < 0) fail(STEP_MASK, errno, "mask %s: open /dev/null", p);
      if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3)) fail(STEP_MASK, EPERM, "mask %s: /dev/null is not the null device", p);
      fdpath(null_path, sizeof null_path, null_fd);
    }
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k")
                                : mount(null_path, p, NULL, MS_BIND, NULL);
    if (r < 0) fail(STEP_MASK, errno, "mask %s", p);
  }
  if (null_fd >= 0) close(null_fd);
}

static void readonly_paths(void) {
  for (int i = 0; i < P.nreadonly; i++) {
    const char *p = P.readonly[i];
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT) continue;
      fail(STEP_READONLY, errno, "bind %s read-only", p);
    }
    if (remount_bind(p, MS_RDONLY | MS_REC) < 0) fail(STEP_READONLY, errno, "remount %s read-only", p);
  }
}

/* ---------- writes to /proc (CVE-2025-52881) ----------
 *
 * Everything the init writes under /proc (sysctls, LSM labels, oom_score_adj, time offsets) goes
 * through a verified procfs handle, never through a path walk of "/proc/...": a mount placed over
 * /proc, /proc/sys/..., /proc/self/attr/... (by the config's mounts, a shared volume raced into a
 * symlink, or a container with mount rights for exec) would otherwise take the write to another
 * file, e.g. a host sysctl or a host file (runc's 1.3.3/1.2.8 fix does the same).
 *   1. "/proc" is opened O_PATH and must be the root of a procfs: fstatfs says PROC_SUPER_MAGIC
 *      and its inode is procfs's root inode (not a subdirectory of procfs bound there).
 *   2. The file is opened from that fd with openat2 RESOLVE_BENEATH | RESOLVE_NO_XDEV |
 *      RESOLVE_NO_MAGICLINKS: no step may cross into another mount (EXDEV: something is mounted
 *      over the path) nor follow /proc/PID/fd-style magic links; "self" and "thread-self" are
 *      ordinary symlinks inside procfs and stay allowed.
 *   3. The opened file is checked to be on procfs again (fstatfs).
 * Anything else is refused with one line naming the file; nothing is written. */
#define SKIFF_PROC_SUPER_MAGIC 0x9fa0
#define SKIFF_PROC_ROOT_INO 1

static int is_procfs(int fd) {
  struct statfs sf;
  return fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == SKIFF_PROC_SUPER_MAGIC;
}

/* Open /proc/<rel> for writing through a verified handle; -1 with errno on failure (EXDEV for a
 * path covered by another mount or a /proc that is not procfs's root). */
static int proc_open_write(const char *rel) {
  int root = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) return -1;
  struct stat st;
  if (!is_procfs(root) || fstat(root, &st) < 0 || st.st_ino != SKIFF_PROC_ROOT_INO) {
    close(root);
    errno = EXDEV;
    return -1;
  }
  struct open_how how = {.flags = O_WRONLY | O_CLOEXEC | O_NOCTTY, .resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
  int e = errno;
  close(root);
  if (fd >= 0 && !is_procfs(fd)) {
    close(fd);
    fd = -1;
    e = EXDEV;
  }
  errno = e;
  return fd;
}

/* Why a /proc file could not be opened, for fail(): the CVE's case in words, else strerror. */
static void __attribute__((noreturn)) fail_proc(uint32_t step, int err, const char *what, const char *rel) {
  if (err == EXDEV || err == ELOOP)
    fail(step, 0, "%s: /proc/%s is not reached on the container's procfs (another mount covers it, or /proc is not procfs): refusing to write through it", what, rel);
  fail(step, err, "%s: open /proc/%s", what, rel);
}

/* Write data to /proc/<rel> (see above); fails the step on any error. */
static void write_proc(const char *rel, const char *data, uint32_t step, const char *what) {
  int fd = proc_open_write(rel);
  if (fd < 0) fail_proc(step, errno, what, rel);
  size_t len = strlen(data);
  ssize_t w = write(fd, data, len);
  int e = errno;
  close(fd);
  if (w != (ssize_t)len) fail(step, w < 0 ? e : EIO, "%s: write %s to /proc/%s", what, data, rel);
}

static void setup_sysctls(void) {
  for (int i = 0; i < P.nsysctls; i++) {
    char rel[PATH_MAX] = "sys/";
    size_t off = strlen(rel);
    for (const char *k = P.sysctls[i].a; *k && off < sizeof rel - 1; k++) rel[off++] = *k == '.' ? '/' : *k;
    rel[off] = 0;
    char what[PATH_MAX + 16];
    snprintf(what, sizeof what, "sysctl %s", P.sysctls[i].a);
    int fd = proc_open_write(rel);
    if (fd < 0) {
      if (errno == EXDEV || errno == ELOOP) fail_proc(STEP_SYSCTL, errno, what, rel);
      fail(STEP_SYSCTL, errno, "%s", what);
    }
    size_t len = strlen(P.sysctls[i].b);
    if (write(fd, P.sysctls[i].b, len) != (ssize_t)len) fail(STEP_SYSCTL, errno, "sysctl %s=%s", P.sysctls[i].a, P.sysctls[i].b);
    close(fd);
  }
}

/* ---------- terminal ---------- */

static int console_fd = -1; /* connected console socket, opened before pivot_root */

static void send_fd(int sock, int fd, const char *name) {
  if (skiff_send_fd(sock, name, strlen(name), fd) < 0) fail(STEP_CONSOLE, errno, "send pty master to console socket");
}

static void connect_console(void) {
  if (!P.console_socket) return;
  console_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(P.console_socket) >= sizeof addr.sun_path) fail(STEP_CONSOLE, ENAMETOOLONG, "console socket %s", P.console_socket);
  strcpy(addr.sun_path, P.console_socket);
  if (console_fd < 0 || connect(console_fd, (struct sockaddr *)&addr, sizeof addr) < 0)
    fail(STEP_CONSOLE, errno, "connect to console socket %s", P.console_socket);
}

/* Make a pty in the container's devpts; its slave becomes stdio, the master goes to the socket. */
static void setup_console(void) {
  if (console_fd < 0) return;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(STEP_CONSOLE, errno, "open /dev/ptmx");
  int unlock = 0, n = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0) fail(STEP_CONSOLE, errno, "unlock pty");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail(STEP_CONSOLE, errno, "open pty slave");
  if (P.console_rows || P.console_cols) {
    struct winsize ws = {.ws_row = (unsigned short)P.console_rows, .ws_col = (unsigned short)P.console_cols};
    ioctl(slave, TIOCSWINSZ, &ws);
  }
  char name[64];
  snprintf(name, sizeof name, "/dev/pts/%d", n);
  send_fd(console_fd, master, name);
  close(master);
  close(console_fd);
  console_fd = -1;
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) fail(STEP_CONSOLE, errno, "dup pty to stdio");
  close(slave);
  if (ioctl(0, TIOCSCTTY, 0) < 0) fail(STEP_CONSOLE, errno, "set controlling terminal");
}

/* ---------- process ---------- */

static char exec_path[PATH_MAX];

static const char *env_get(const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < P.nenv; i++)
    if (!strncmp(P.env[i], name, n) && P.env[i][n] == '=') return P.env[i] + n + 1;
  return NULL;
}

/*
 * HOME, when the process's environment has none: the user's home directory from the container's
 * /etc/passwd, or "/" (runc's setupUser does the same). Read after pivot_root, so the file is the
 * container's; only a regular file is read (O_NONBLOCK: a FIFO planted there cannot block us), at
 * most 1 MiB of it.
 */
static void set_home(void) {
  if (env_get("HOME") || P.nenv >= MAX_ITEMS * 2) return;
  static char home_var[PATH_MAX + 8];
  const char *home = "/";
  static char buf[1 << 20];
  ssize_t len = 0;
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    ssize_t n;
    while (len < (ssize_t)sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0) len += n;
  }
  if (fd >= 0) close(fd);
  buf[len] = 0;
  uint32_t uid = P.user ? P.user->uid : 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    /* name:password:uid:gid:gecos:home:shell */
    char *f[7] = {0};
    int nf = 0;
    for (char *p = line; nf < 7; nf++) {
      f[nf] = p;
      p = strchr(p, ':');
      if (!p) {
        nf++;
        break;
      }
      *p++ = 0;
    }
    char *end;
    if (nf < 6 || !*f[2]) continue;
    unsigned long u = strtoul(f[2], &end, 10);
    if (*end || u != uid) continue;
    if (*f[5]) home = f[5];
    break;
  }
  snprintf(home_var, sizeof home_var, "HOME=%s", home);
  P.env[P.nenv++] = home_var;
  P.env[P.nenv] = NULL;
}

/* Resolve args[0] with the container's PATH, as execvp would, before reporting created. */
static void resolve_exec(void) {
  const char *arg0 = P.args[0];
  if (strchr(arg0, '/')) {
    snprintf(exec_path, sizeof exec_path, "%s", arg0);
    struct stat st;
    if (stat(exec_path, &st) < 0) fail(STEP_EXEC, errno, "exec %s", arg0);
    if (S_ISDIR(st.st_mode)) fail(STEP_EXEC, EISDIR, "exec %s", arg0);
    return;
  }
  const char *path = env_get("PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int seen_eacces = 0;
  for (const char *p = path;;) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    snprintf(exec_path, sizeof exec_path, "%.*s/%s", (int)len, len ? p : ".", arg0);
    struct stat st;
    if (stat(exec_path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(exec_path, X_OK) == 0) return;
      seen_eacces = 1;
    }
    if (!colon) break;
    p = colon + 1;
  }
  if (seen_eacces) fail(STEP_EXEC, EACCES, "exec %s", arg0);
  fail(STEP_EXEC, 0, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static const char *const rlimit_names[] = {
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

static void set_rlimits(void) {
  for (int i = 0; i < P.nrlimits; i++) {
    struct rlimit rl = {.rlim_cur = P.rlimits[i]->soft, .rlim_max = P.rlimits[i]->hard};
    uint32_t r = P.rlimits[i]->resource;
    if (setrlimit((int)r, &rl) < 0)
      fail(STEP_RLIMIT, errno, "setrlimit %s (soft %llu, hard %llu)", r < 16 ? rlimit_names[r] : "?",
           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  }
}

static int last_cap = CAP_LAST_CAP;

static void drop_bounding(void) {
  if (!P.caps) return;
  for (int c = 0; c <= last_cap; c++)
    if (!(P.caps->bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      fail(STEP_CAPS, errno, "drop capability %d from the bounding set", c);
}

static void set_caps(void) {
  if (!P.caps) return;
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(P.caps->effective >> (32 * i));
    data[i].permitted = (uint32_t)(P.caps->permitted >> (32 * i));
    data[i].inheritable = (uint32_t)(P.caps->inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) < 0) fail(STEP_CAPS, errno, "set capabilities");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    fail(STEP_CAPS, errno, "clear ambient capabilities");
  /*
   * Raise what the kernel allows and skip the rest, as runc does: an ambient capability must be
   * permitted and inheritable, and `runc spec` lists ambient ones with no inheritable set (so
   * under runc CapAmb ends 0). Refusing such a config would break every bundle made by runc spec.
   */
  for (int c = 0; c <= last_cap; c++)
    if ((P.caps->ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
      fail(STEP_CAPS, errno, "raise ambient capability %d", c);
}

static void set_user(void) {
  if (!P.user) return;
  const struct plan_user *u = P.user;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) fail(STEP_USER, errno, "keep capabilities");
  /* setgroups is denied in a user namespace whose setgroups file says deny; skip when empty. */
  if (setgroups(u->ngroups, (const gid_t *)P.groups) < 0 && !(errno == EPERM && u->ngroups == 0))
    fail(STEP_USER, errno, "setgroups");
  if (setresgid(u->gid, u->gid, u->gid) < 0) fail(STEP_USER, errno, "setgid %u", u->gid);
  if (setresuid(u->uid, u->uid, u->uid) < 0) fail(STEP_USER, errno, "setuid %u", u->uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) fail(STEP_USER, errno, "reset keep capabilities");
  if (u->umask != UINT32_MAX) umask((mode_t)u->umask);
}

/* ---------- scheduling, affinity and LSM labels (process settings of runtime-spec 1.2+) ---------- */

/* struct sched_attr of sched_setattr(2) (glibc has no wrapper). */
struct sched_attr_v1 {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
};

static void set_scheduling(void) {
  if (P.sched) {
    struct sched_attr_v1 a = {
        .size = sizeof a,
        .sched_policy = P.sched->policy,
        .sched_flags = P.sched->flags,
        .sched_nice = (int32_t)(int64_t)P.sched->nice,
        .sched_priority = P.sched->priority,
        .sched_runtime = P.sched->runtime,
        .sched_deadline = P.sched->deadline,
        .sched_period = P.sched->period,
    };
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
      fail(STEP_SCHED, errno, "sched_setattr (policy %u, priority %u, nice %d)", a.sched_policy, a.sched_priority, a.sched_nice);
  }
  if (P.has_ioprio) {
    /* IOPRIO_PRIO_VALUE(class, level) for IOPRIO_WHO_PROCESS, this process. */
    int value = (P.ioprio_class << 13) | P.ioprio_prio;
    if (syscall(SYS_ioprio_set, 1, 0, value) < 0)
      fail(STEP_IOPRIO, errno, "ioprio_set (class %d, priority %d)", P.ioprio_class, P.ioprio_prio);
  }
}

static void set_affinity(const struct affinity *a, const char *which) {
  if (!a->mask) return;
  if (syscall(SYS_sched_setaffinity, 0, a->len, a->mask) < 0) fail(STEP_AFFINITY, errno, "set execCPUAffinity.%s", which);
}

/*
 * AppArmor profile and SELinux label of the process, both applied by the kernel at execve.
 * The runtime refuses them before it starts the init when the host lacks the LSM (lsm.ts); the
 * attr files are reached through the container's /proc, by its verified handle (write_proc).
 */
static void write_attr(const char *const *paths, const char *data, uint32_t step, const char *what) {
  for (int i = 0; paths[i]; i++) {
    int fd = proc_open_write(paths[i]);
    if (fd < 0 && errno == ENOENT && paths[i + 1]) continue;
    if (fd < 0) fail_proc(step, errno, what, paths[i]);
    ssize_t w = write(fd, data, strlen(data));
    int e = errno;
    close(fd);
    if (w < 0) fail(step, e, "%s", what);
    return;
  }
}

static void apply_lsm_labels(void) {
  char buf[4200];
  if (P.apparmor) {
    static const char *const paths[] = {"thread-self/attr/apparmor/exec", "thread-self/attr/exec", NULL};
    snprintf(buf, sizeof buf, "exec %s", P.apparmor);
    write_attr(paths, buf, STEP_APPARMOR, "apply apparmor profile");
  }
  if (P.selinux) {
    static const char *const paths[] = {"thread-self/attr/exec", NULL};
    write_attr(paths, P.selinux, STEP_SELINUX, "set selinux exec label");
  }
}

/* MSG_SECCOMP_FD: the listener fd to the parent as SCM_RIGHTS, then wait for MSG_SECCOMP_DONE. */
static void send_listener_fd(int fd) {
  if (sock_fd < 0) fail(STEP_SECCOMP, EPROTO, "seccomp listener fd: the runtime is no longer listening");
  struct skiff_msg m = {.type = MSG_SECCOMP_FD};
  if (skiff_send_fd(sock_fd, &m, sizeof m, fd) < 0) fail(STEP_SECCOMP, errno, "send seccomp listener fd to the runtime");
  expect_msg(MSG_SECCOMP_DONE, NULL, 0);
}

static void load_seccomp(void) {
  if (!P.seccomp) return;
  struct sock_fprog prog = {.len = (unsigned short)P.seccomp_len, .filter = (struct sock_filter *)P.seccomp};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, P.seccomp_flags, &prog);
  if (r < 0) fail(STEP_SECCOMP, errno, "load seccomp filter");
  if (P.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
    /* r is the notify listener fd: the parent passes it on to listenerPath with the state. */
    send_listener_fd((int)r);
    close((int)r);
  }
}

/* CVE-2024-21626: a cwd that resolves outside the root shows as "(unreachable)" in getcwd. */
static void check_cwd_inside(void) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf) || buf[0] != '/') fail(STEP_CWD, EPERM, "current working directory is outside of the container root");
}

/* Entered while still privileged, as runc does: a user may run in a cwd it could not enter
 * itself (user 1000 in /root, mode 0700). */
static void check_cwd(void) {
  const char *cwd = P.cwd ? P.cwd : "/";
  if (chdir(cwd) < 0) fail(STEP_CWD, errno, "chdir to cwd (\"%s\") set in config.json", cwd);
  check_cwd_inside();
}

/*
 * runc's fixStdioPermissions: stdio that is not /dev/null and not already the user's becomes the
 * user's (uid only; the group stays, e.g. tty for a pty slave), so a non-root process can use its
 * terminal. EINVAL/EPERM (ids not mapped in a user namespace) are not errors.
 */
static void fix_stdio_owner(void) {
  if (!P.user) return;
  struct stat null_st;
  if (stat("/dev/null", &null_st) < 0) fail(STEP_USER, errno, "stat /dev/null");
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0) {
      if (errno == EBADF) continue;
      fail(STEP_USER, errno, "stat stdio fd %d", fd);
    }
    if (st.st_uid == P.user->uid || (S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev)) continue;
    if (fchown(fd, P.user->uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM)
      fail(STEP_USER, errno, "chown stdio fd %d to uid %u", fd, P.user->uid);
  }
}

/* Close every fd but stdio, the preserved ones and `keep`; returns where `keep` now lives. */
static int close_fds(int keep) {
  unsigned first = 3 + P.preserve_fds;
  if (keep >= 0 && (unsigned)keep < first + 1) {
    int moved = fcntl(keep, F_DUPFD_CLOEXEC, (int)first);
    close(keep);
    keep = moved;
  }
  if (keep < 0) {
    syscall(SYS_close_range, first, ~0U, 0);
  } else {
    if ((unsigned)keep > first) syscall(SYS_close_range, first, (unsigned)keep - 1, 0);
    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0);
  }
  return keep;
}

/* ---------- the two stages ---------- */

/*
 * A session keyring of the container's own, so that its processes do not share the caller's
 * (runc does the same): join "_ses.<id>", made on first use, and let the container's users search
 * it (possessor and user rights are kept; "other" search with a user namespace, where the owner
 * may be unmapped, "user" search otherwise). A kernel without keyrings (ENOSYS) is no error.
 * exec joins the same keyring and leaves its permissions alone.
 */
static void join_session_keyring(void) {
  if (!P.session_keyring) return;
  long id = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, P.session_keyring, 0, 0, 0);
  if (id < 0) {
    if (errno == ENOSYS) return;
    fail(STEP_USER, errno, "join session keyring %s", P.session_keyring);
  }
  /* exec only joins, as runc's setns init does: the permissions were set by the container's init.
   * In a user namespace the exec'd init is not the keyring's owner (it still has the host's root
   * credentials, unmapped there) and has no CAP_SYS_ADMIN outside: KEYCTL_SETPERM would fail. */
  if (P.mode == 1) return;
  char desc[512];
  long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, desc, sizeof desc - 1, 0);
  if (n < 0) fail(STEP_USER, errno, "describe session keyring %s", P.session_keyring);
  desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = 0;
  /* "type;uid;gid;perm;description": the perm field is hex. */
  char *p = desc;
  for (int i = 0; i < 3 && p; i++) p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL;
  if (!p) fail(STEP_USER, EPROTO, "describe session keyring %s: unexpected %s", P.session_keyring, desc);
  unsigned long perm = strtoul(p, NULL, 16) | ((P.ns_new & CLONE_NEWUSER) ? 0x8 : 0x80000);
  if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, id, perm, 0, 0) < 0)
    fail(STEP_USER, errno, "set permissions of session keyring %s", P.session_keyring);
}

/* What every process needs before it may run: terminal, limits, cwd, user and capabilities.
 * Shared by the container's init (create) and `exec`. */
static void prepare_process(void) {
  join_session_keyring();
  set_home();
  setup_console();
  set_rlimits();
  if (P.has_personality && personality(P.personality) < 0) fail(STEP_PERSONALITY, errno, "personality");
  check_cwd();
  resolve_exec();

  set_scheduling(); /* SCHED_FIFO/RR and IOPRIO_CLASS_RT need capabilities the process may not keep */
  apply_lsm_labels(); /* before seccomp and while still privileged, as runc does */
  if (!P.no_new_privs) load_seccomp(); /* needs CAP_SYS_ADMIN: before the capabilities go */
  fix_stdio_owner();
  drop_bounding();
  set_user();
  set_caps();
  check_cwd_inside(); /* again as the final user; no chdir: it was entered while privileged */

  /*
   * With no_new_privs, seccomp is loaded here, as the last step while the init socket is still
   * open, and not right before execve: an SCMP_ACT_NOTIFY filter gives a listener fd that must
   * reach the parent (MSG_SECCOMP_FD), and the socket is closed at MSG_CREATED (exec mode:
   * MSG_EXECED). runc does the same (standard_init_linux.go: seccomp after syncParentReady but
   * before the pipe is closed, before the wait on the exec fifo). What runs after it under the
   * filter is small: the fifo open and write, startContainer hooks, close_range and execve.
   */
  if (P.no_new_privs) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(STEP_NNP, errno, "set no_new_privs");
    load_seccomp();
  }
}

/* The last step: execCPUAffinity.final, then execve. */
static void __attribute__((noreturn)) exec_process(void) {
  set_affinity(&P.affinity_final, "final");
  execve(exec_path, P.args, P.env);
  fail(STEP_EXEC, errno, "exec %s", P.args[0]);
}

static char hook_states[SKIFF_MSG_MAX + 2];

static void stage2(void) {
  if (setsid() < 0) fail(STEP_SETSID, errno, "setsid");

  if (P.ns_new & CLONE_NEWNS) {
    /* Our mounts must not propagate to the host: rslave now; rootfsPropagation is applied to the
     * new root after pivot_root (which refuses a shared parent mount). */
    if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) fail(STEP_PROPAGATION, errno, "make / rslave");
  }

  if (!P.rootfs) fail(STEP_ROOTFS, EINVAL, "no rootfs in plan");
  /* pivot_root needs the new root to be a mount point: bind it onto itself. */
  if (mount(P.rootfs, P.rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) fail(STEP_ROOTFS, errno, "bind rootfs %s", P.rootfs);
  rootfd = open(P.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail(STEP_ROOTFS, errno, "open rootfs %s", P.rootfs);

  for (int i = 0; i < P.nmounts; i++) do_mount(&P.mounts[i]);
  if (P.setup_dev || P.ndevices || P.nsymlinks) make_devices();
  if (P.dev_readonly) {
    /* A read-only /dev was mounted writable so that nodes, symlinks and the mounts below it could
     * be made: now it becomes read-only (runc's finalizeRootfs). */
    int d = open_in_rootfs("/dev", 0, 0);
    if (d < 0) fail(STEP_READONLY, errno, "open /dev");
    char dp[64];
    fdpath(dp, sizeof dp, d);
    if (remount_bind(dp, P.dev_flags | MS_RDONLY) < 0) fail(STEP_READONLY, errno, "remount /dev read-only");
    close(d);
  }
  if (P.cwd) {
    /* runc makes a missing cwd (0755) in the rootfs, before it may become read-only. */
    int c = open_in_rootfs(P.cwd, 0, 0755);
    if (c >= 0) close(c); /* what cannot be made (a symlink out, a file) chdir refuses later, with its reason */
  }

  /* The exec fifo and the console socket live on the host: open them before pivot_root. */
  int fifo_path = fifo_fd; /* opened in stage 1, with the console socket */

  if (P.runtime_hooks) {
    /* The parent runs prestart/createRuntime hooks now, then sends the state for ours:
     * "<createContainer state>\0<startContainer state>". */
    send_msg(MSG_HOOKS, 0, 0, 0, NULL, 0);
    expect_msg(MSG_HOOKS_DONE, hook_states, sizeof hook_states);
    run_hooks(P.hooks_cc, P.nhooks_cc, hook_states, "createContainer", P.rootfs);
  }

  pivot();
  close(rootfd);
  rootfd = -1;

  /* rootfsPropagation applies to the new root itself once it is "/". */
  if (P.root_propagation && mount(NULL, "/", NULL, P.root_propagation, NULL) < 0)
    fail(STEP_PROPAGATION, errno, "set rootfs propagation");

  /* sysctls before /proc/sys (usually a readonlyPath) becomes read-only, as runc orders them. */
  setup_sysctls();
  mask_paths();
  readonly_paths();
  if (P.root_readonly && remount_bind("/", MS_RDONLY) < 0) fail(STEP_READONLY, errno, "remount root read-only");

  if (P.hostname && sethostname(P.hostname, strlen(P.hostname)) < 0) fail(STEP_HOSTNAME, errno, "sethostname %s", P.hostname);
  if (P.domainname && setdomainname(P.domainname, strlen(P.domainname)) < 0)
    fail(STEP_DOMAINNAME, errno, "setdomainname %s", P.domainname);
  prepare_process();

  send_msg(MSG_CREATED, 0, 0, 0, NULL, 0);
  close(sock_fd);
  sock_fd = -1;
  fifo_path = close_fds(fifo_path);

  /* Block until `skiff start` opens the fifo for reading. */
  char fp[64];
  fdpath(fp, sizeof fp, fifo_path);
  int w;
  do {
    w = open(fp, O_WRONLY | O_CLOEXEC);
  } while (w < 0 && errno == EINTR);
  if (w < 0) _exit(1); /* nobody to report to: start sees the process gone */
  fifo_wr = w;
  close(fifo_path);

  if (P.nhooks_sc) run_hooks(P.hooks_sc, P.nhooks_sc, hook_states + strlen(hook_states) + 1, "startContainer", NULL);
  if (write(fifo_wr, "0", 1) != 1) _exit(1);
  exec_process();
}

/* Exec mode (`skiff exec`): stage 1 joined the container's namespaces (setns into its mount
 * namespace also moved us to its root); only the process settings remain. */
static void stage2_exec(void) {
  if (setsid() < 0) fail(STEP_SETSID, errno, "setsid");
  prepare_process();
  sock_fd = close_fds(sock_fd);
  /* The socket is close-on-exec: after this message the parent sees EOF on success, or an error. */
  send_msg(MSG_EXECED, 0, 0, 0, NULL, 0);
  exec_process();
}

static void stage1(void) {
  /* execCPUAffinity.initial: where the init does its work (final is set right before execve). */
  set_affinity(&P.affinity_initial, "initial");
  /* exec: the console socket is a host path, unreachable once we are in the container. */
  /*
   * The exec fifo and the console socket are host paths: reach them now, with the caller's
   * credentials, before any namespace is entered. In a user namespace the container's root may
   * not search the state directory (a 0700 --root) or the console socket's; and exec mode joins
   * the container's mount namespace, where the host paths do not resolve.
   */
  connect_console();
  if (P.fifo) {
    fifo_fd = open(P.fifo, O_PATH | O_CLOEXEC);
    if (fifo_fd < 0) fail(STEP_FIFO, errno, "open exec fifo %s", P.fifo);
  }
  if (P.mode == 0) prepare_idmapped_mounts(); /* while still privileged on the host */
  if (P.mode == 0 && (P.ns_new & CLONE_NEWUSER)) open_bind_sources();
  /* Open every namespace to join before joining any: paths may stop resolving afterwards. */
  int nsfd[16];
  for (int i = 0; i < P.njoin; i++) {
    nsfd[i] = open(P.join[i].path, O_RDONLY | O_CLOEXEC);
    if (nsfd[i] < 0) fail(STEP_SETNS, errno, "open namespace %s", P.join[i].path);
  }
  /* The user namespace first: it grants the rights to join the others. */
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < P.njoin; i++) {
      int is_user = P.join[i].type == CLONE_NEWUSER;
      if (is_user != (pass == 0)) continue;
      if (setns(nsfd[i], (int)P.join[i].type) < 0) fail(STEP_SETNS, errno, "join namespace %s", P.join[i].path);
      close(nsfd[i]);
    }

  if (P.ns_new & CLONE_NEWUSER) {
    if (unshare(CLONE_NEWUSER) < 0) fail(STEP_UNSHARE, errno, "unshare user namespace");
    /* The parent writes uid_map/gid_map: it has the rights in the parent namespace. A
     * non-dumpable process's /proc/PID files belong to root, so an unprivileged parent (or
     * newuidmap, which checks the owner) could not open them: be dumpable just while the maps are
     * written, as runc's nsexec does. No process of the container exists yet. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) fail(STEP_USERNS, errno, "set dumpable for the id maps");
    send_msg(MSG_USERNS_READY, 0, 0, 0, NULL, 0);
    expect_msg(MSG_USERNS_MAPPED, NULL, 0);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(STEP_USERNS, errno, "set non-dumpable");
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail(STEP_USERNS, errno, "become root in the user namespace");
  }

  uint32_t rest = P.ns_new & ~(uint32_t)CLONE_NEWUSER;
  if (rest && unshare((int)rest) < 0) fail(STEP_UNSHARE, errno, "unshare namespaces 0x%x", rest);
  if ((P.ns_new & CLONE_NEWTIME) && P.time_offsets) write_proc("self/timens_offsets", P.time_offsets, STEP_TIMENS, "set time namespace offsets");

  /* Fork so that the child is pid 1 of a new pid namespace (and enters a new time namespace).
   * Both stages write to the init socket: the child waits until stage 1 has reported its pid
   * (EOF on `order` when stage 1 exits), or under load its MSG_CREATED could reach the parent
   * before MSG_CHILD_PID and the parent would not know the container's pid. */
  int order[2];
  if (pipe2(order, O_CLOEXEC) < 0) fail(STEP_FORK, errno, "pipe");
  pid_t child = fork();
  if (child < 0) fail(STEP_FORK, errno, "fork container init");
  if (child > 0) {
    send_msg(MSG_CHILD_PID, 0, 0, child, NULL, 0);
    _exit(0);
  }
  close(order[1]);
  char b;
  while (read(order[0], &b, 1) < 0 && errno == EINTR) {}
  close(order[0]);
  if (P.mode == 1) stage2_exec();
  else stage2();
}

int main(int argc, char **argv, char **envp) {
  if (argc < 2) {
    fprintf(stderr, "skiff-init: this program is started by skiff, not by hand\n");
    return 2;
  }
  sock_fd = atoi(argv[1]);
  /* CVE-2019-5736: run from a sealed copy (sealed-exe.h), and be non-dumpable, so that nothing in
   * the container can reach a writable host file through /proc/PID/exe. */
  const char *what = "";
  if (skiff_run_sealed(argv, envp, "skiff-init", &what) < 0) fail(STEP_PLAN, errno, "run from a sealed copy of skiff-init: %s", what);
  prctl(PR_SET_NAME, "skiff-init", 0, 0, 0); /* the execveat of the copy named it after its fd */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(STEP_PLAN, errno, "set non-dumpable");
  read_plan();

  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) {
    if (fscanf(f, "%d", &last_cap) != 1) last_cap = CAP_LAST_CAP;
    fclose(f);
  }
  if (P.has_oom) {
    char v[16];
    snprintf(v, sizeof v, "%d", P.oom_score_adj);
    write_proc("self/oom_score_adj", v, STEP_OOM, "set oom_score_adj");
  }
  stage1();
  return 0;
}
