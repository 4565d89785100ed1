/*
 * skiff_native: the Node addon. Small system calls Node does not offer (socketpair, mkfifo,
 * flock, pidfd, subreaper, SCM_RIGHTS), and posix_spawn of skiff-init. No fork() here: Node is
 * multi-threaded (see init.c for why the container's first process is a separate program).
 * Every function is synchronous except waitPid, which blocks on a libuv pool thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "napi-util.h"
#include "protocol.h"
#include "spawn-init.h"

extern char **environ;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "napi call failed: " #call);                                     \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

/* "<what>: <strerror>" as an Error with .code and .errno. */
static napi_value throw_errno(napi_env env, const char *what, int err) { return skiff_throw(env, what, err, NULL); }




/*
 * spawnInit(path, fdTarget, preserveFds, stdio?): start skiff-init with one end of a SOCK_SEQPACKET
 * socketpair at fd `fdTarget` (chosen above the preserved range by the caller) and fds
 * 3..3+preserveFds-1 passed on. Signal mask and dispositions are reset (Node blocks and ignores
 * some, e.g. SIGPIPE, and both survive execve). Returns { pid, fd } with fd the parent's end.
 * `stdio`, when given, is [in, out, err]: fds of ours that become the init's 0, 1, 2 instead of
 * our own stdio (dock build captures a RUN step's output through pipes this way).
 */
static napi_value spawn_init(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  skiff_args(env, info, 4, argv);
  char *path = skiff_get_string(env, argv[0]);
  int32_t target, preserve;
  int32_t stdio[3] = {0, 1, 2};
  bool is_array = false;
  if (path && napi_is_array(env, argv[3], &is_array) == napi_ok && is_array) {
    for (uint32_t i = 0; i < 3; i++) {
      napi_value el;
      if (napi_get_element(env, argv[3], i, &el) != napi_ok || skiff_i32(env, el, &stdio[i]) || stdio[i] < 0) {
        free(path);
        napi_throw_type_error(env, NULL, "spawnInit: stdio must be [in, out, err] fds");
        return NULL;
      }
    }
  }
  if (!path || skiff_i32(env, argv[1], &target) || skiff_i32(env, argv[2], &preserve)) {
    free(path);
    napi_throw_type_error(env, NULL, "spawnInit(path, fdTarget, preserveFds, stdio?)");
    return NULL;
  }
  pid_t pid = 0;
  int fd = -1;
  const char *step = "";
  int rc = skiff_spawn_init(path, target, preserve, stdio, &pid, &fd, &step);
  if (rc != 0) {
    char what[600];
    snprintf(what, sizeof what, "%s %s", step, path);
    free(path);
    return throw_errno(env, what, rc);
  }
  free(path);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", skiff_number(env, pid));
  napi_set_named_property(env, out, "fd", skiff_number(env, fd));
  return out;
}

/* sendPlan(fd, buf): u32 length, then the plan in chunks (a packet is at most the socket buffer). */
static napi_value send_plan(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t fd;
  void *data;
  size_t len;
  if (skiff_i32(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendPlan(fd, buffer)");
    return NULL;
  }
  uint32_t total = (uint32_t)len;
  if (send(fd, &total, sizeof total, MSG_NOSIGNAL) < 0) return throw_errno(env, "send plan", errno);
  size_t off = 0;
  while (off < len) {
    size_t n = len - off > 32768 ? 32768 : len - off;
    ssize_t w = send(fd, (char *)data + off, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return throw_errno(env, "send plan", errno);
    off += (size_t)w;
  }
  return NULL;
}

/* sendMsg(fd, type, value, payload?) */
static napi_value send_msg(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  skiff_args(env, info, 4, argv);
  int32_t fd, type;
  double value = 0;
  if (skiff_i32(env, argv[0], &fd) || skiff_i32(env, argv[1], &type)) {
    napi_throw_type_error(env, NULL, "sendMsg(fd, type, value, payload?)");
    return NULL;
  }
  napi_get_value_double(env, argv[2], &value);
  void *data = NULL;
  size_t len = 0;
  bool isbuf = false;
  napi_is_buffer(env, argv[3], &isbuf);
  if (isbuf) napi_get_buffer_info(env, argv[3], &data, &len);
  if (len > SKIFF_MSG_MAX) {
    napi_throw_range_error(env, NULL, "message payload too large");
    return NULL;
  }
  char *buf = malloc(sizeof(struct skiff_msg) + len);
  if (!buf) return throw_errno(env, "send", ENOMEM);
  struct skiff_msg m = {.type = (uint32_t)type, .len = (uint32_t)len, .value = (int64_t)value};
  memcpy(buf, &m, sizeof m);
  if (len) memcpy(buf + sizeof m, data, len);
  ssize_t w;
  do {
    w = send(fd, buf, sizeof m + len, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  int e = errno;
  free(buf);
  if (w < 0) return throw_errno(env, "send to init", e);
  return NULL;
}

/*
 * recvMsg(fd, timeoutMs?) -> { type, step, err, value, payload } or null at EOF. Blocks, at most
 * timeoutMs when given (then an ETIMEDOUT error): an init stuck in a frozen cgroup, or one that
 * never answers, must not hang its caller forever.
 */
static napi_value recv_msg(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t fd, timeout = -1;
  napi_valuetype tt;
  napi_typeof(env, argv[1], &tt);
  if (skiff_i32(env, argv[0], &fd) || (tt != napi_undefined && skiff_i32(env, argv[1], &timeout))) {
    napi_throw_type_error(env, NULL, "recvMsg(fd, timeoutMs?)");
    return NULL;
  }
  if (timeout >= 0) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      long left = timeout - ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L);
      int r = left <= 0 ? 0 : poll(&p, 1, (int)left);
      if (r > 0) break;
      if (r == 0) return throw_errno(env, "no answer from the container init in time", ETIMEDOUT);
      if (errno != EINTR) return throw_errno(env, "wait for the container init", errno);
    }
  }
  /* Not static: the warm server receives in several worker threads at once. */
  char *buf = malloc(sizeof(struct skiff_msg) + SKIFF_MSG_MAX);
  if (!buf) return throw_errno(env, "receive from init", ENOMEM);
  /* A message may carry one fd (MSG_SECCOMP_FD): receive it close-on-exec, as .fd. */
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof(struct skiff_msg) + SKIFF_MSG_MAX};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n;
  do {
    n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int saved = errno;
  int passed = -1;
  for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
      memcpy(&passed, CMSG_DATA(c), sizeof passed);
  if (n < 0) {
    if (saved == ECONNRESET) n = 0;
    else {
      free(buf);
      return throw_errno(env, "receive from init", saved);
    }
  }
  napi_value out;
  if (n == 0) {
    free(buf);
    napi_get_null(env, &out);
    return out;
  }
  if ((size_t)n < sizeof(struct skiff_msg)) {
    free(buf);
    return throw_errno(env, "receive from init: short message", EPROTO);
  }
  struct skiff_msg m;
  memcpy(&m, buf, sizeof m);
  napi_value payload;
  void *pdata;
  size_t plen = (size_t)n - sizeof m;
  napi_create_buffer_copy(env, plen, buf + sizeof m, &pdata, &payload);
  free(buf);
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "type", skiff_number(env, m.type));
  napi_set_named_property(env, out, "step", skiff_number(env, m.step));
  napi_set_named_property(env, out, "err", skiff_number(env, m.err));
  napi_set_named_property(env, out, "value", skiff_number(env, (double)m.value));
  napi_set_named_property(env, out, "payload", payload);
  if (passed >= 0) napi_set_named_property(env, out, "fd", skiff_number(env, passed));
  return out;
}

/*
 * unixSendFd(path, fd, payload): connect to the SOCK_STREAM unix socket at `path` and send
 * `payload` with `fd` as SCM_RIGHTS in one message, then close the connection (the seccomp
 * listener fd and the container process state to listenerPath, runtime-spec "seccomp notify").
 */
static napi_value unix_send_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  skiff_args(env, info, 3, argv);
  char *path = skiff_get_string(env, argv[0]);
  int32_t fd;
  void *data = NULL;
  size_t len = 0;
  if (!path || skiff_i32(env, argv[1], &fd) || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    free(path);
    napi_throw_type_error(env, NULL, "unixSendFd(path, fd, payload)");
    return NULL;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  char what[600];
  snprintf(what, sizeof what, "connect to %s", path);
  if (strlen(path) >= sizeof addr.sun_path) {
    free(path);
    return throw_errno(env, what, ENAMETOOLONG);
  }
  strcpy(addr.sun_path, path);
  free(path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket", errno);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int e = errno;
    close(s);
    return throw_errno(env, what, e);
  }
  ssize_t w = skiff_send_fd(s, data, len, fd);
  int e = errno;
  close(s);
  snprintf(what, sizeof what, "send to %s", addr.sun_path);
  if (w < 0) return throw_errno(env, what, e);
  if ((size_t)w != len) return throw_errno(env, what, EMSGSIZE);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  int32_t fd;
  if (skiff_i32(env, argv[0], &fd) == 0 && fd >= 0) close(fd);
  return NULL;
}

static napi_value mkfifo_(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  char *path = skiff_get_string(env, argv[0]);
  int32_t mode;
  if (!path || skiff_i32(env, argv[1], &mode)) {
    free(path);
    napi_throw_type_error(env, NULL, "mkfifo(path, mode)");
    return NULL;
  }
  int rc = mkfifo(path, (mode_t)mode);
  int e = errno;
  if (rc == 0) chmod(path, (mode_t)mode); /* mkfifo applies the umask */
  char what[600];
  snprintf(what, sizeof what, "mkfifo %s", path);
  free(path);
  if (rc < 0) return throw_errno(env, what, e);
  return NULL;
}

/*
 * mountOverlay(target, data): mount(2) of an overlay, for dock's container roots. Spawning
 * mount(8) from the engine's large Node process cost a fork and an exec per container.
 */
static napi_value mount_overlay(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  char *target = skiff_get_string(env, argv[0]);
  char *data = skiff_get_string(env, argv[1]);
  if (!target || !data) {
    free(target);
    free(data);
    napi_throw_type_error(env, NULL, "mountOverlay(target, data)");
    return NULL;
  }
  int rc = mount("overlay", target, "overlay", 0, data);
  int e = errno;
  char what[600];
  snprintf(what, sizeof what, "mount overlay on %s", target);
  free(target);
  free(data);
  if (rc < 0) return throw_errno(env, what, e);
  return NULL;
}

/* umount(target, detach): umount2(2), MNT_DETACH when detach is true. */
static napi_value umount_(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  char *target = skiff_get_string(env, argv[0]);
  bool detach = false;
  if (!target || napi_get_value_bool(env, argv[1], &detach) != napi_ok) {
    free(target);
    napi_throw_type_error(env, NULL, "umount(target, detach)");
    return NULL;
  }
  int rc = umount2(target, detach ? MNT_DETACH : 0);
  int e = errno;
  char what[600];
  snprintf(what, sizeof what, "umount %s", target);
  free(target);
  if (rc < 0) return throw_errno(env, what, e);
  return NULL;
}

/* flock(fd, exclusive, wait) -> boolean (false: would block) */
static napi_value flock_(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  skiff_args(env, info, 3, argv);
  int32_t fd;
  bool excl = true, wait = true;
  skiff_i32(env, argv[0], &fd);
  napi_get_value_bool(env, argv[1], &excl);
  napi_get_value_bool(env, argv[2], &wait);
  int op = (excl ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  int rc;
  do {
    rc = flock(fd, op);
  } while (rc < 0 && errno == EINTR);
  napi_value out;
  if (rc < 0 && errno == EWOULDBLOCK) {
    napi_get_boolean(env, false, &out);
    return out;
  }
  if (rc < 0) return throw_errno(env, "flock", errno);
  napi_get_boolean(env, true, &out);
  return out;
}

static napi_value set_subreaper(napi_env env, napi_callback_info info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return throw_errno(env, "set child subreaper", errno);
  return NULL;
}

/* signalPid(pid, sig): through a pidfd, so that the signal reaches the process we checked. */
static napi_value pidfd_open_(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  int32_t pid;
  skiff_i32(env, argv[0], &pid);
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return throw_errno(env, "pidfd_open", errno);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return skiff_number(env, fd);
}

static napi_value pidfd_signal(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t fd, sig;
  skiff_i32(env, argv[0], &fd);
  skiff_i32(env, argv[1], &sig);
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return throw_errno(env, "send signal", errno);
  return NULL;
}

/* waitPidSync(pid, nohang) -> null (still running) | { exitCode, signal } */
static napi_value status_obj(napi_env env, int status) {
  napi_value out;
  napi_create_object(env, &out);
  if (WIFSIGNALED(status)) {
    napi_set_named_property(env, out, "exitCode", skiff_number(env, 128 + WTERMSIG(status)));
    napi_set_named_property(env, out, "signal", skiff_number(env, WTERMSIG(status)));
  } else {
    napi_set_named_property(env, out, "exitCode", skiff_number(env, WEXITSTATUS(status)));
    napi_value nul;
    napi_get_null(env, &nul);
    napi_set_named_property(env, out, "signal", nul);
  }
  return out;
}

static napi_value wait_pid_sync(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t pid;
  bool nohang = false;
  skiff_i32(env, argv[0], &pid);
  napi_get_value_bool(env, argv[1], &nohang);
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, nohang ? WNOHANG : 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "waitpid", errno);
  if (r == 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  return status_obj(env, status);
}

/* waitPid(pid) -> Promise<{ exitCode, signal }>, waiting on a pool thread. */
struct wait_work {
  napi_async_work work;
  napi_deferred deferred;
  pid_t pid;
  int status, err;
};

static void wait_execute(napi_env env, void *data) {
  struct wait_work *w = data;
  pid_t r;
  do {
    r = waitpid(w->pid, &w->status, 0);
  } while (r < 0 && errno == EINTR);
  w->err = r < 0 ? errno : 0;
}

static void wait_complete(napi_env env, napi_status st, void *data) {
  struct wait_work *w = data;
  if (w->err) {
    char msg[128];
    snprintf(msg, sizeof msg, "waitpid %d: %s", w->pid, strerror(w->err));
    napi_value m, e;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &e);
    napi_reject_deferred(env, w->deferred, e);
  } else {
    napi_resolve_deferred(env, w->deferred, status_obj(env, w->status));
  }
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value wait_pid(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  int32_t pid;
  skiff_i32(env, argv[0], &pid);
  struct wait_work *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, "waitPid", ENOMEM);
  w->pid = pid;
  napi_value promise, name;
  CHECK(napi_create_promise(env, &w->deferred, &promise));
  napi_create_string_utf8(env, "skiff:waitpid", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, wait_execute, wait_complete, w, &w->work));
  CHECK(napi_queue_async_work(env, w->work));
  return promise;
}

/* recvFd(sockFd) -> { fd, name }: one SCM_RIGHTS message (console socket). Blocks. */
static napi_value recv_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  int32_t sock;
  skiff_i32(env, argv[0], &sock);
  char name[4096];
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "receive console fd", errno);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return throw_errno(env, "receive console fd: no fd in message", EPROTO);
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  name[n] = 0;
  napi_value out, s;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "fd", skiff_number(env, fd));
  napi_create_string_utf8(env, name, (size_t)n, &s);
  napi_set_named_property(env, out, "name", s);
  return out;
}

/* unixListen(path) -> fd of a listening SOCK_STREAM unix socket; unixAccept(fd) -> fd. */
static napi_value unix_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  char *path = skiff_get_string(env, argv[0]);
  if (!path) return NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    free(path);
    return throw_errno(env, "console socket path", ENAMETOOLONG);
  }
  strcpy(addr.sun_path, path);
  free(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "listen on console socket", e);
  }
  return skiff_number(env, fd);
}

static napi_value unix_accept(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t fd, timeout = -1;
  skiff_i32(env, argv[0], &fd);
  skiff_i32(env, argv[1], &timeout);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do {
    r = poll(&p, 1, timeout);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return throw_errno(env, "accept on console socket", ETIMEDOUT);
  int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return throw_errno(env, "accept on console socket", errno);
  return skiff_number(env, c);
}

/* unixConnect(path) -> fd of a connected SOCK_STREAM unix socket (close-on-exec, blocking). A
 * path too long for sun_path may be given as "/proc/self/fd/DIRFD/name". */
static napi_value unix_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  char *path = skiff_get_string(env, argv[0]);
  if (!path) {
    napi_throw_type_error(env, NULL, "unixConnect(path)");
    return NULL;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  char what[600];
  snprintf(what, sizeof what, "connect to %s", path);
  if (strlen(path) >= sizeof addr.sun_path) {
    free(path);
    return throw_errno(env, what, ENAMETOOLONG);
  }
  strcpy(addr.sun_path, path);
  free(path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_errno(env, "socket", errno);
  int rc;
  do {
    rc = connect(s, (struct sockaddr *)&addr, sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int e = errno;
    close(s);
    return throw_errno(env, what, e);
  }
  return skiff_number(env, s);
}

/* setWinsize(fd, rows, cols): forward a terminal size to a pty master. */
static napi_value set_winsize(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  skiff_args(env, info, 3, argv);
  int32_t fd, rows, cols;
  skiff_i32(env, argv[0], &fd);
  skiff_i32(env, argv[1], &rows);
  skiff_i32(env, argv[2], &cols);
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, "set window size", errno);
  return NULL;
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

/* addon/bpf.c: cgroup v2 device filter (bpfLoadDeviceProgram, bpfAttachCgroup, ...). */
napi_value skiff_bpf_init(napi_env env, napi_value exports);
/* addon/netlink.c: rtnetlink transport and netns entry for dock's networks (netlinkOpen, ...). */
napi_value skiff_netlink_init(napi_env env, napi_value exports);
napi_value skiff_remote_init(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      FN("spawnInit", spawn_init),   FN("sendPlan", send_plan),       FN("sendMsg", send_msg),
      FN("recvMsg", recv_msg),       FN("close", close_fd),           FN("mkfifo", mkfifo_),
      FN("flock", flock_),           FN("setSubreaper", set_subreaper), FN("pidfdOpen", pidfd_open_),
      FN("pidfdSignal", pidfd_signal), FN("waitPidSync", wait_pid_sync), FN("waitPid", wait_pid),
      FN("recvFd", recv_fd),         FN("unixListen", unix_listen),   FN("unixAccept", unix_accept),     FN("setWinsize", set_winsize),
      FN("unixSendFd", unix_send_fd), FN("unixConnect", unix_connect),
      FN("mountOverlay", mount_overlay), FN("umount", umount_),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  skiff_bpf_init(env, exports);
  skiff_netlink_init(env, exports);
  skiff_remote_init(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
