/*
 * skiff-front's way to the warm skiff server (remote.h; src/cli/server.ts): the calls that need a
 * TypeScript CLI (skiff's create, run and exec; dock's container commands, `skiff-front --dock`) are
 * run by a long-lived Node process that has already paid for its start, instead of a new Node per call. The front stays the caller's process: it starts
 * skiff-init itself, becomes the subreaper, waits and forwards signals, so that the container's
 * processes are the caller's children exactly as with runc.
 *
 * It only talks to a server that is the same build (the socket's name is a hash of the two bundles, the
 * addon and skiff-init), runs as root, and sees the world as the caller does: the same namespaces,
 * root directory, capabilities, no_new_privs, seccomp mode and LSM label. Anything else, and any
 * server that is not there or goes away before it has done anything, means the CLI runs on Node as
 * before; a missing server is started in the background for the next calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "remote.h"
#include "spawn-init.h"

extern char **environ;

/* How long a failed start of the server keeps the fronts from trying again. */
#define START_BACKOFF_S 10

static int build_id(const char *pkg, char *out, size_t len) {
  static const char *files[] = {"dist/skiff.js", "dist/dock.js", "build/Release/skiff_native.node", "build/Release/skiff-init"};
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, as buildId() in src/cli/server.ts */
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[4200], rec[128];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", pkg, files[i]) >= (int)sizeof path || stat(path, &st) < 0) return -1;
    int n = snprintf(rec, sizeof rec, "%llu:%llu:%lld:%lld|", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, (long long)st.st_size);
    for (int k = 0; k < n; k++) h = (h ^ (unsigned char)rec[k]) * 0x100000001b3ULL;
  }
  snprintf(out, len, "%016llx", (unsigned long long)h);
  return 0;
}

static int same_inode(const char *a, const char *b) {
  struct stat x, y;
  int ra = stat(a, &x), rb = stat(b, &y);
  if (ra < 0 || rb < 0) return ra < 0 && rb < 0 && errno == ENOENT; /* a namespace type this kernel lacks */
  return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static ssize_t slurp(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n >= 0) buf[n] = 0;
  return n;
}

/* The lines of /proc/PID/status that say what the process may do. */
static void privileges(const char *status, char *out, size_t len) {
  static const char *keys[] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};
  size_t used = 0;
  out[0] = 0;
  for (const char *line = status; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      if (strncmp(line, keys[k], strlen(keys[k]))) continue;
      const char *end = strchr(line, '\n');
      size_t n = end ? (size_t)(end - line) : strlen(line);
      if (used + n + 2 < len) {
        memcpy(out + used, line, n);
        used += n;
        out[used++] = '\n';
        out[used] = 0;
      }
    }
  }
}

/* Does the server (pid) see the world as we do and hold the same privileges? The network, UTS and
 * IPC namespaces may differ: the worker thread serving the call enters ours (threadJoinNamespaces). */
static int same_world(pid_t server) {
  static const char *ns[] = {"mnt", "pid", "cgroup", "user", "time", "pid_for_children", "time_for_children"};
  char a[64], b[64];
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
    snprintf(a, sizeof a, "/proc/self/ns/%s", ns[i]);
    snprintf(b, sizeof b, "/proc/%d/ns/%s", server, ns[i]);
    if (!same_inode(a, b)) return 0;
  }
  snprintf(b, sizeof b, "/proc/%d/root", server);
  if (!same_inode("/proc/self/root", b)) return 0;
  static char sa[8192], sb[8192];
  char pa[1024], pb[1024];
  snprintf(b, sizeof b, "/proc/%d/status", server);
  if (slurp("/proc/self/status", sa, sizeof sa) <= 0 || slurp(b, sb, sizeof sb) <= 0) return 0;
  privileges(sa, pa, sizeof pa);
  privileges(sb, pb, sizeof pb);
  if (strcmp(pa, pb) || !strstr(pa, "CapEff:")) return 0;
  snprintf(b, sizeof b, "/proc/%d/attr/current", server);
  ssize_t la = slurp("/proc/self/attr/current", sa, sizeof sa), lb = slurp(b, sb, sizeof sb);
  if ((la < 0) != (lb < 0) || (la >= 0 && strcmp(sa, sb))) return 0;
  return 1;
}

/* `node` as the caller's PATH finds it (the same one the CLI would run on). */
static int find_node(char *out, size_t len) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n && path[0] == '/' && n + 6 < len) { /* only absolute PATH entries: the server runs in "/" */
      memcpy(out, path, n);
      strcpy(out + n, "/node");
      if (access(out, X_OK) == 0) return 0;
    }
    path += n + (end ? 1 : 0);
  }
  return -1;
}

/* Where the servers live: /run/skiff-server, or SKIFF_SERVER_DIR (an absolute path short enough
 * for a socket's name: a private server, for tests). The server checks it is root's alone. */
static const char *server_dir(void) {
  const char *d = getenv("SKIFF_SERVER_DIR");
  return d && d[0] == '/' && strlen(d) < 64 ? d : SKIFF_REMOTE_DIR;
}

static void note(const char *mark, const char *text) {
  int fd = open(mark, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) {
  }
  close(fd);
}

/*
 * Start the server for the next calls, detached (its own session, stdio on /dev/null, a clean
 * environment: no caller's variables live on in it). At most once per START_BACKOFF_S.
 *
 * The double fork leaves it to pid 1, unless a child subreaper is among our ancestors: an engine's
 * conmon or containerd shim, which would then wait for the server to end before it ends itself.
 * Under one, the server is started by systemd (systemd-run) where systemd runs, else not at all
 * (calls go to Node, and the reason is written in the .start file) unless SKIFF_SERVER=1 asks.
 */
static void start_server(const char *pkg, const char *id, int now) {
  char node[4200], script[4200], mark[256], abs[4096];
  const char *dir = server_dir();
  /* The server runs in "/": the script's path must not depend on our cwd. */
  if (find_node(node, sizeof node) < 0 || !realpath(pkg, abs) || snprintf(script, sizeof script, "%s/bin/skiff-server.js", abs) >= (int)sizeof script) return;
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) return;
  snprintf(mark, sizeof mark, "%s/%s.start", dir, id);
  struct stat st;
  if (!now && stat(mark, &st) == 0 && time(NULL) - st.st_mtime < START_BACKOFF_S) return;
  int m = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (m < 0) return;
  close(m);
  const char *idle = getenv("SKIFF_SERVER_IDLE");
  char idle_env[64] = "", dir_env[96] = "";
  if (idle && strlen(idle) < 32) snprintf(idle_env, sizeof idle_env, "SKIFF_SERVER_IDLE=%s", idle);
  if (strcmp(dir, SKIFF_REMOTE_DIR)) snprintf(dir_env, sizeof dir_env, "SKIFF_SERVER_DIR=%s", dir);
  pid_t child = fork();
  if (child < 0) return;
  if (child == 0) {
    pid_t mid = getpid();
    if (setsid() < 0 || fork() != 0) _exit(0);
    /* Who adopts us once the middle process has exited: pid 1, or a child subreaper. */
    for (int i = 0; i < 2000 && getppid() == mid; i++) {
      struct timespec ts = {0, 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    pid_t adopter = getppid();
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || chdir("/") < 0) _exit(1);
    for (int i = 0; i < 3; i++) dup2(null, i);
    if (null > 2) close(null);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", idle_env[0] ? idle_env : dir_env[0] ? dir_env : NULL, idle_env[0] && dir_env[0] ? dir_env : NULL, NULL};
    if (adopter != 1 && !now) {
      char why[160];
      if (access("/run/systemd/system", F_OK) == 0 && access("/usr/bin/systemd-run", X_OK) == 0) {
        char unit[64], e1[100], e2[100];
        snprintf(unit, sizeof unit, "--unit=skiff-server-%s", id);
        snprintf(e1, sizeof e1, "--setenv=%s", idle_env[0] ? idle_env : "SKIFF_SERVER_IDLE=120");
        snprintf(e2, sizeof e2, "--setenv=%s", dir_env[0] ? dir_env : "SKIFF_SERVER_DIR=" SKIFF_REMOTE_DIR);
        char *argv[] = {"/usr/bin/systemd-run", unit, "--collect", "--quiet", "--no-block", e1, e2, node, script, NULL};
        snprintf(why, sizeof why, "under the child subreaper %d: started by systemd-run\n", adopter);
        note(mark, why);
        execve(argv[0], argv, envp);
        _exit(127);
      }
      snprintf(why, sizeof why, "not started: under the child subreaper %d, which would wait for it (no systemd to start it)\n", adopter);
      note(mark, why);
      _exit(0);
    }
    char *argv[] = {node, script, NULL};
    execve(node, argv, envp);
    _exit(127);
  }
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
  }
}

static int send_msg(int sock, uint32_t type, int32_t a, int32_t b, int32_t c, int32_t d, const void *payload, size_t len, int fd) {
  char buf[sizeof(struct skiff_remote_msg) + 256];
  struct skiff_remote_msg h = {type, a, b, c, d};
  if (len > sizeof buf - sizeof h) len = sizeof buf - sizeof h;
  memcpy(buf, &h, sizeof h);
  if (len) memcpy(buf + sizeof h, payload, len);
  return skiff_send_fd(sock, buf, sizeof h + len, fd) < 0 ? -1 : 0;
}

/* The request: header, then "cwd\0", the arguments and the environment; our stdio (and a dock
 * call's signal pipe, extra_fd) as SCM_RIGHTS. */
static int send_request(int sock, char **args, int argc, uint32_t type, int extra_fd) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return -1;
  for (int i = 0; i < 3; i++)
    if (fcntl(i, F_GETFD) < 0) return -1; /* a closed stdio: the CLI copes with that itself */
  int envc = 0;
  size_t len = sizeof(struct skiff_remote_msg) + strlen(cwd) + 1;
  for (int i = 0; i < argc; i++) len += strlen(args[i]) + 1;
  for (char **e = environ; *e; e++, envc++) len += strlen(*e) + 1;
  if (len > SKIFF_REMOTE_MAX) return -1;
  char *buf = malloc(len), *p = buf;
  if (!buf) return -1;
  mode_t mask = umask(0);
  umask(mask);
  struct skiff_remote_msg h = {type, SKIFF_REMOTE_VERSION, (int32_t)mask, argc, envc};
  memcpy(p, &h, sizeof h);
  p += sizeof h;
  p = stpcpy(p, cwd) + 1;
  for (int i = 0; i < argc; i++) p = stpcpy(p, args[i]) + 1;
  for (char **e = environ; *e; e++) p = stpcpy(p, *e) + 1;
  int nfds = extra_fd >= 0 ? 4 : 3;
  char cbuf[CMSG_SPACE(4 * sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
  int fds[4] = {0, 1, 2, extra_fd};
  memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  ssize_t w;
  do {
    w = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  free(buf);
  return w == (ssize_t)len ? 0 : -1;
}

/* A dock call's signals go to the worker that runs it, one byte each on this pipe. */
static int signal_pipe = -1;
static void pass_signal(int sig) {
  unsigned char b = (unsigned char)sig;
  int saved = errno;
  if (write(signal_pipe, &b, 1) < 0) {
  }
  errno = saved;
}

static void dock_started(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
  struct sigaction sa = {.sa_handler = pass_signal, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a worker that has ended: its EXIT is on the way */
}

/* The end of a served call: the status, or the death by a signal dock left unhandled, as Node's. */
static void __attribute__((noreturn)) exit_as(int status, int sig) {
  if (sig > 0 && sig < NSIG) {
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
  }
  exit(status & 0xff);
}

static volatile pid_t foreground = 0;
static void forward(int sig) {
  if (foreground > 0) kill(foreground, sig);
}

static void answer_wait(int sock, pid_t pid, int nohang) {
  int st = 0;
  pid_t r;
  do {
    r = waitpid(pid, &st, nohang ? WNOHANG : 0);
  } while (r < 0 && errno == EINTR);
  int err = r < 0 ? errno : 0;
  int code = r > 0 ? (WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st)) : 0;
  int sig = r > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  send_msg(sock, REMOTE_WAITED, r, err, code, sig, NULL, 0, -1);
}

/* Wait for the foreground process as `run` and `exec` do, forwarding what a terminal or an engine
 * sends us, then reap what was reparented to us meanwhile. */
static void answer_wait_foreground(int sock, pid_t pid) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT};
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  foreground = pid;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  answer_wait(sock, pid, 0);
  foreground = 0;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static int connect_server(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  if (connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(sock);
    errno = err;
    return -1;
  }
  return sock;
}

static const char *prog = "skiff";

static void __attribute__((noreturn)) required(const char *why) {
  fprintf(stderr, "%s: SKIFF_SERVER=1: %s\n", prog, why);
  exit(1);
}

/*
 * Serve this call through the warm server when one can take it. Returns (and the caller hands the
 * call to the CLI on Node) when it cannot; exits with the call's status when it was served.
 * SKIFF_SERVER=0: never; SKIFF_SERVER=1: always (started and waited for), or fail with one line.
 */
void front_try_server(const char *cli_js, char **args, int argc, int dock) {
  if (dock) prog = "dock";
  const char *opt = getenv("SKIFF_SERVER");
  if (opt && !strcmp(opt, "0")) return;
  int must = opt && !strcmp(opt, "1");
  char pkg[4096], id[32], path[108];
  const char *slash = strrchr(cli_js, '/');
  if (!slash || snprintf(pkg, sizeof pkg, "%.*s/..", (int)(slash - cli_js), cli_js) >= (int)sizeof pkg) return;
  if (build_id(pkg, id, sizeof id) < 0) {
    if (must) required("cannot read the build's files");
    return;
  }
  snprintf(path, sizeof path, "%s/%s.sock", server_dir(), id);
  int sock = connect_server(path);
  if (sock < 0 && (errno == ENOENT || errno == ECONNREFUSED)) {
    start_server(pkg, id, must);
    /* Waited for only when asked to: otherwise this call runs on Node and the next ones here. */
    for (int i = 0; must && sock < 0 && i < 3000; i++) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
      sock = connect_server(path);
    }
  }
  if (sock < 0) {
    if (must) required("the skiff server is not running and did not start");
    return;
  }
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != 0 || cred.pid <= 0 || !same_world(cred.pid)) {
    close(sock);
    if (must) required("the skiff server cannot serve this caller (other namespaces, root or privileges)");
    return;
  }
  int pipe_r = -1;
  if (dock) {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
      close(sock);
      if (must) required("no pipe for the signals");
      return;
    }
    pipe_r = p[0];
    signal_pipe = p[1];
  }
  int sent = send_request(sock, args, argc, dock ? REMOTE_REQUEST_DOCK : REMOTE_REQUEST, pipe_r);
  if (pipe_r >= 0) close(pipe_r);
  if (sent < 0) {
    close(sock);
    if (signal_pipe >= 0) close(signal_pipe);
    if (must) required("the call does not fit in a request (closed stdio or a huge environment)");
    return;
  }
  int spawned = 0;
  char buf[sizeof(struct skiff_remote_msg) + 256];
  for (;;) {
    ssize_t n;
    do {
      n = recv(sock, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n < (ssize_t)sizeof(struct skiff_remote_msg)) {
      if (!spawned) { /* nothing was done for this call yet: Node does it all */
        if (must) required("the skiff server ended the call without an answer");
        close(sock);
        if (signal_pipe >= 0) close(signal_pipe);
        return;
      }
      fprintf(stderr, "%s: the skiff server went away in the middle of the call\n", prog);
      exit(1);
    }
    struct skiff_remote_msg m;
    memcpy(&m, buf, sizeof m);
    switch (m.type) {
    case REMOTE_SPAWN: {
      char init[4200];
      snprintf(init, sizeof init, "%s/build/Release/skiff-init", pkg);
      const int stdio[3] = {0, 1, 2};
      pid_t pid = 0;
      int fd = -1;
      const char *step = "";
      int rc = m.a > 2 && m.b >= 0 && m.a >= 3 + m.b ? skiff_spawn_init(init, m.a, m.b, stdio, &pid, &fd, &step) : EINVAL;
      spawned = 1;
      char text[256];
      snprintf(text, sizeof text, "%s\n%s", step, rc ? strerror(rc) : "");
      send_msg(sock, REMOTE_SPAWNED, rc ? 0 : pid, rc, 0, 0, text, strlen(text), rc ? -1 : fd);
      if (fd >= 0) close(fd);
      break;
    }
    case REMOTE_NULL_STDIN: {
      int null = open("/dev/null", O_RDONLY | O_CLOEXEC), err = 0;
      if (null < 0 || dup2(null, 0) < 0) err = errno;
      if (null > 0) close(null);
      send_msg(sock, REMOTE_DONE, 0, err, 0, 0, NULL, 0, -1);
      break;
    }
    case REMOTE_SUBREAPER:
      send_msg(sock, REMOTE_DONE, 0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? errno : 0, 0, 0, NULL, 0, -1);
      break;
    case REMOTE_WAITPID:
      answer_wait(sock, m.a, m.b);
      break;
    case REMOTE_WAIT_FOREGROUND:
      answer_wait_foreground(sock, m.a);
      if (dock) dock_started(); /* signals go to the worker again */
      break;
    case REMOTE_STARTED:
      if (!dock || spawned) goto unexpected;
      spawned = 1;
      dock_started();
      break;
    case REMOTE_EXIT:
      exit_as(m.a, dock ? m.b : 0);
    case REMOTE_HANDOVER:
      if (!spawned) {
        close(sock);
        if (signal_pipe >= 0) close(signal_pipe);
        return;
      }
      /* a server that has started an init cannot hand over */
      __attribute__((fallthrough));
    default:
    unexpected:
      fprintf(stderr, "%s: unexpected message %u from the skiff server\n", prog, m.type);
      exit(1);
    }
  }
}
