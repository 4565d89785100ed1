/*
 * The warm server's side of the front <-> server link (remote.h; src/cli/server.ts): a listening
 * SOCK_SEQPACKET socket that every worker thread accepts on, messages with fds, and what makes one
 * worker thread stand in for the caller's process: its cwd and umask (unshare(CLONE_FS) of that
 * thread only) and its network, UTS and IPC namespaces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "napi-util.h"
#include "remote.h"

#define MAX_FDS 8

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* remoteListen(path) -> fd: non-blocking (every worker polls it; one wins each accept), mode 0600. */
static napi_value remote_listen(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  skiff_args(env, info, 1, argv);
  char *path = skiff_get_string(env, argv[0]);
  if (!path) return NULL;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    free(path);
    return skiff_throw(env, "remoteListen", ENAMETOOLONG, NULL);
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  mode_t old = umask(0177);
  int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int err = errno;
  umask(old);
  if (rc == 0) rc = listen(fd, 128), err = errno;
  free(path);
  if (rc < 0) {
    if (fd >= 0) close(fd);
    return skiff_throw(env, "listen on the server socket", err, NULL);
  }
  return skiff_number(env, fd);
}

/* remoteAccept(fd, timeoutMs) -> { fd, pid, uid } or null when nothing came in time. */
static napi_value remote_accept(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t lfd = skiff_i32_or(env, argv[0], -1), timeout = skiff_i32_or(env, argv[1], -1);
  long long deadline = timeout < 0 ? 0 : now_ms() + timeout;
  for (;;) {
    int left = timeout < 0 ? -1 : (int)(deadline - now_ms());
    if (timeout >= 0 && left < 0) left = 0;
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int r = poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return skiff_throw(env, "poll the server socket", errno, NULL);
    if (r == 0) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)) continue; /* another worker took it */
    if (fd < 0) return skiff_throw(env, "accept", errno, NULL);
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
      close(fd);
      continue;
    }
    napi_value out;
    napi_create_object(env, &out);
    napi_set_named_property(env, out, "fd", skiff_number(env, fd));
    napi_set_named_property(env, out, "pid", skiff_number(env, cred.pid));
    napi_set_named_property(env, out, "uid", skiff_number(env, cred.uid));
    return out;
  }
}

/* remoteRecv(fd, timeoutMs = -1) -> { type, a, b, c, d, payload, fds } or null at end of file. */
static napi_value remote_recv(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t fd = skiff_i32_or(env, argv[0], -1), timeout = skiff_i32_or(env, argv[1], -1);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do {
    r = poll(&p, 1, timeout);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return skiff_throw(env, "poll", errno, NULL);
  if (r == 0) return skiff_throw(env, "waiting for skiff-front", ETIMEDOUT, NULL);
  char *buf = malloc(SKIFF_REMOTE_MAX);
  if (!buf) return skiff_throw(env, "recvmsg", ENOMEM, NULL);
  char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
  struct iovec iov = {.iov_base = buf, .iov_len = SKIFF_REMOTE_MAX};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int fds[MAX_FDS], nfds = 0;
  if (n >= 0) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k && nfds < MAX_FDS; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  int bad = n < 0 ? errno : (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (n > 0 && (size_t)n < sizeof(struct skiff_remote_msg)) ? EPROTO : 0;
  if (bad || n == 0) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    free(buf);
    if (bad) return skiff_throw(env, "recvmsg from skiff-front", bad, NULL);
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  struct skiff_remote_msg h;
  memcpy(&h, buf, sizeof h);
  napi_value out, payload, list;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "type", skiff_number(env, h.type));
  napi_set_named_property(env, out, "a", skiff_number(env, h.a));
  napi_set_named_property(env, out, "b", skiff_number(env, h.b));
  napi_set_named_property(env, out, "c", skiff_number(env, h.c));
  napi_set_named_property(env, out, "d", skiff_number(env, h.d));
  napi_create_buffer_copy(env, (size_t)n - sizeof h, buf + sizeof h, NULL, &payload);
  napi_set_named_property(env, out, "payload", payload);
  napi_create_array_with_length(env, (size_t)nfds, &list);
  for (int i = 0; i < nfds; i++) napi_set_element(env, list, (uint32_t)i, skiff_number(env, fds[i]));
  napi_set_named_property(env, out, "fds", list);
  free(buf);
  return out;
}

/* remoteSend(fd, type, a, b, c, d, payload?) */
static napi_value remote_send(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  skiff_args(env, info, 7, argv);
  int32_t fd = skiff_i32_or(env, argv[0], -1);
  struct skiff_remote_msg h = {(uint32_t)skiff_i32_or(env, argv[1], 0), skiff_i32_or(env, argv[2], 0), skiff_i32_or(env, argv[3], 0), skiff_i32_or(env, argv[4], 0),
                               skiff_i32_or(env, argv[5], 0)};
  void *data = NULL;
  size_t len = 0;
  bool isbuf = false;
  if (napi_is_buffer(env, argv[6], &isbuf) == napi_ok && isbuf) napi_get_buffer_info(env, argv[6], &data, &len);
  if (len > SKIFF_REMOTE_MAX - sizeof h) return skiff_throw(env, "remoteSend", EMSGSIZE, NULL);
  struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof h}, {.iov_base = data, .iov_len = len}};
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
  ssize_t w;
  do {
    w = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  if (w < 0) return skiff_throw(env, "send to skiff-front", errno, NULL);
  return NULL;
}

/*
 * threadIsolate(): this thread gets its own cwd and umask (the process keeps its own). Not its own
 * file table: signal handlers (libuv's SIGCHLD pipe) run on any thread and write to fds by number.
 */
static napi_value thread_isolate(napi_env env, napi_callback_info info) {
  if (unshare(CLONE_FS) < 0) return skiff_throw(env, "unshare(CLONE_FS)", errno, NULL);
  return NULL;
}

/* threadEnter(cwd, umask): the caller's cwd and umask for this thread. */
static napi_value thread_enter(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  char *cwd = skiff_get_string(env, argv[0]);
  if (!cwd) return NULL;
  int rc = chdir(cwd);
  int err = errno;
  free(cwd);
  if (rc < 0) return skiff_throw(env, "chdir to the caller's directory", err, NULL);
  umask((mode_t)skiff_i32_or(env, argv[1], 022) & 0777);
  return NULL;
}

/*
 * threadJoinNamespaces(pid | 0): this thread enters the network, UTS and IPC namespaces of `pid`
 * where they differ from its own (0: back to the server's, saved by the first call). Those are the
 * namespaces a caller may have apart from the server (ip netns exec, a network-namespaced engine)
 * that are per thread; hooks this thread starts run in them as they would under the CLI.
 * threadJoinNamespaces(0, 1): back, and the saved fds closed (a thread that ends: a dock worker).
 */
static const char *const thread_ns[] = {"net", "uts", "ipc"};
static const int thread_ns_flags[] = {CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC};
static __thread int own_ns[3] = {-1, -1, -1};

static napi_value thread_join_namespaces(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  int32_t pid = skiff_i32_or(env, argv[0], -1);
  int32_t release = skiff_i32_or(env, argv[1], 0); /* with 0: the thread ends, its saved fds go too */
  if (pid < 0) return skiff_throw(env, "threadJoinNamespaces", EINVAL, NULL);
  for (int i = 0; i < 3; i++) {
    char mine[64], theirs[64];
    snprintf(mine, sizeof mine, "/proc/thread-self/ns/%s", thread_ns[i]);
    if (own_ns[i] < 0 && (own_ns[i] = open(mine, O_RDONLY | O_CLOEXEC)) < 0) return skiff_throw(env, "open our own namespace", errno, thread_ns[i]);
    int fd;
    if (pid == 0) {
      fd = own_ns[i];
    } else {
      snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", pid, thread_ns[i]);
      struct stat a, b;
      if (stat(mine, &a) < 0 || stat(theirs, &b) < 0) return skiff_throw(env, "the caller's namespace", errno, thread_ns[i]);
      if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) continue;
      if ((fd = open(theirs, O_RDONLY | O_CLOEXEC)) < 0) return skiff_throw(env, "open the caller's namespace", errno, thread_ns[i]);
    }
    int rc = setns(fd, thread_ns_flags[i]);
    int err = errno;
    if (pid != 0) close(fd);
    if (rc < 0) return skiff_throw(env, "join the caller's namespace", err, thread_ns[i]);
  }
  for (int i = 0; pid == 0 && release && i < 3; i++) {
    close(own_ns[i]);
    own_ns[i] = -1;
  }
  return NULL;
}

/* pollReadable(fds, timeoutMs) -> index of the first fd readable or hung up, -1 on timeout. */
static napi_value poll_readable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  skiff_args(env, info, 2, argv);
  uint32_t n = 0;
  napi_get_array_length(env, argv[0], &n);
  if (n > 8) return skiff_throw(env, "pollReadable", EINVAL, NULL);
  struct pollfd p[8];
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    napi_get_element(env, argv[0], i, &el);
    p[i] = (struct pollfd){.fd = skiff_i32_or(env, el, -1), .events = POLLIN};
  }
  int32_t timeout = skiff_i32_or(env, argv[1], -1);
  int r;
  do {
    r = poll(p, n, timeout);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return skiff_throw(env, "poll", errno, NULL);
  for (uint32_t i = 0; i < n; i++)
    if (p[i].revents) return skiff_number(env, i);
  return skiff_number(env, -1);
}

napi_value skiff_remote_init(napi_env env, napi_value exports) {
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}
  napi_property_descriptor props[] = {
      FN("remoteListen", remote_listen), FN("remoteAccept", remote_accept), FN("remoteRecv", remote_recv),
      FN("remoteSend", remote_send),     FN("threadIsolate", thread_isolate), FN("threadEnter", thread_enter),
      FN("pollReadable", poll_readable), FN("threadJoinNamespaces", thread_join_namespaces),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
