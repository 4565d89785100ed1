/*
 * skiff-supervisor: one per dock container (conmon's role). dock starts it detached (setsid,
 * double fork, so that dock may exit or die at any moment); it then
 *
 *   - is the container's parent: a child subreaper, and the one that spawns skiff-init for dock
 *     (the "spawn" request), so that the container's init is reparented to it when skiff-init's
 *     stage 1 exits;
 *   - holds the container's stdio: pipes for stdout/stderr (and stdin with --stdin), or the pty
 *     master received on console.sock with --tty;
 *   - writes the logs in Docker's json-file format ({"log","stream","time"} lines, rotated by size);
 *   - records the exit code and time in exit.json when the container's init exits;
 *   - serves attach clients on ctl.sock (output frames, stdin, resize, exit notification);
 *   - runs dock's exit command (cleanup, restart policy) and health-check command: both are dock
 *     itself (Node), so the policies live in TypeScript and dock stays stateless.
 *
 * Single-threaded poll loop; signals through a signalfd. Statically linked so that it can also be
 * a container's --init (bind-mounted read-only, run as `skiff-supervisor --init -- CMD...`).
 *
 * ctl.sock protocol (SOCK_STREAM): the client sends one request line, then:
 *
 *   | request         | reply                                                                  |
 *   |-----------------|------------------------------------------------------------------------|
 *   | spawn           | one message: SCM_RIGHTS fd = parent end of skiff-init's socketpair,    |
 *   |                 | payload "<pid of skiff-init>\n"; connection closed                     |
 *   | pid N           | "ok\n": N is the container's init (reaped earlier: its exit handled)   |
 *   | attach FLAGS    | "ok\n", then frames both ways until the container exits (see below)    |
 *   | lo N            | "ok\n" once the loopback interface of N's network namespace is up      |
 *   | quit            | "ok\n": no exit command; the supervisor leaves once nothing runs       |
 *   | status          | "running PID\n" | "exited CODE\n" | "idle\n"                             |
 *
 *   attach FLAGS: i = stdin, o = stdout, e = stderr, c = this client handles the exit (no exit
 *   command while it is connected; after the exit frame it sends 6 once it has handled the exit,
 *   and if it goes away without, killed meanwhile, the exit command runs after all), s = stdin-once (the container's stdin closes when this client's
 *   input ends or it goes away), w = send the exit frame even if the container already exited.
 *   Frames: u8 kind, u32 big-endian length, payload.
 *     supervisor -> client: 1 stdout, 2 stderr, 3 exit (payload: decimal exit code)
 *     client -> supervisor: 0 stdin data, 4 close stdin, 5 resize (payload "ROWS COLS"), 6 exit handled
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "fdpass.h"
#include "sealed-exe.h"

#define MAX_CLIENTS 64
#define LINE_MAX_BYTES 16384 /* Docker splits log lines longer than 16 KiB */
#define CLIENT_QUEUE_MAX (8 << 20)

/* ---------- options ---------- */

static const char *opt_dir;          /* container directory: sockets, logs, exit.json */
static const char *opt_init_path;    /* skiff-init */
static const char *opt_log = "container.log";
static long long opt_log_max = 0;    /* bytes; 0 = no rotation */
static int opt_log_files = 1;
static int opt_tty, opt_stdin;
static char **opt_exit_cmd;          /* argv */
static int opt_exit_argc;
static char **opt_health_cmd;
static int opt_health_argc;
static long long opt_health_interval_ms, opt_health_deadline_ms;
static int opt_ready_fd = -1;

/* ---------- small helpers ---------- */

static void logmsg(const char *fmt, ...) {
  /* stderr is supervisor.err in the container directory */
  va_list ap;
  va_start(ap, fmt);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  fprintf(stderr, "%lld.%03ld skiff-supervisor[%d]: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000, getpid());
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
  va_end(ap);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q && n) {
    logmsg("out of memory");
    exit(1);
  }
  return q;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 with nanoseconds, UTC, as Docker's json-file writes it. */
static void rfc3339(char *out, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, ts.tv_nsec);
}

static int set_nonblock(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Write then rename: readers see the old or the new file, never half of one. */
static void write_file_atomic(const char *name, const char *data) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp", name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    logmsg("open %s: %s", tmp, strerror(errno));
    return;
  }
  if (write_all(fd, data, strlen(data)) < 0) logmsg("write %s: %s", tmp, strerror(errno));
  fsync(fd);
  close(fd);
  if (rename(tmp, name) < 0) logmsg("rename %s: %s", tmp, strerror(errno));
}

/* ---------- the json-file log ---------- */

static int log_fd = -1;
static long long log_size;

static void log_open(void) {
  if (!*opt_log) return; /* --log '': the none log driver, no log at all */
  log_fd = open(opt_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    logmsg("open log %s: %s", opt_log, strerror(errno));
    return;
  }
  struct stat st;
  log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* container.log -> .1 -> .2 ... (max-file - 1 old files kept), as json-file does. */
static void log_rotate(void) {
  if (log_fd >= 0) close(log_fd);
  log_fd = -1;
  char from[PATH_MAX], to[PATH_MAX];
  if (opt_log_files <= 1) {
    unlink(opt_log);
  } else {
    for (int i = opt_log_files - 1; i >= 1; i--) {
      if (i == 1) snprintf(from, sizeof from, "%s", opt_log);
      else snprintf(from, sizeof from, "%s.%d", opt_log, i - 1);
      snprintf(to, sizeof to, "%s.%d", opt_log, i);
      rename(from, to);
    }
  }
  log_open();
}

/* JSON string escaping of raw bytes; bytes >= 0x80 pass through (UTF-8 stays UTF-8). */
static size_t json_escape(char *out, const unsigned char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    switch (c) {
    case '"': out[o++] = '\\'; out[o++] = '"'; break;
    case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
    case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
    case '\r': out[o++] = '\\'; out[o++] = 'r'; break;
    case '\t': out[o++] = '\\'; out[o++] = 't'; break;
    default:
      if (c < 0x20 || c == 0x7f) o += (size_t)sprintf(out + o, "\\u%04x", c);
      else out[o++] = (char)c;
    }
  }
  return o;
}

static void log_entry(const char *stream, const unsigned char *data, size_t n) {
  if (log_fd < 0) return;
  static char line[LINE_MAX_BYTES * 6 + 256];
  char ts[64];
  rfc3339(ts, sizeof ts);
  size_t o = 0;
  o += (size_t)sprintf(line, "{\"log\":\"");
  o += json_escape(line + o, data, n);
  o += (size_t)sprintf(line + o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, ts);
  if (opt_log_max > 0 && log_size > 0 && log_size + (long long)o > opt_log_max) log_rotate();
  if (log_fd >= 0 && write_all(log_fd, line, o) == 0) log_size += (long long)o;
}

/* Per-stream line assembly: one entry per line, long lines split at 16 KiB. */
struct linebuf {
  const char *stream;
  unsigned char buf[LINE_MAX_BYTES];
  size_t len;
};
static struct linebuf lb_out = {.stream = "stdout"}, lb_err = {.stream = "stderr"};

static void lines_feed(struct linebuf *lb, const unsigned char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    lb->buf[lb->len++] = data[i];
    if (data[i] == '\n' || lb->len == sizeof lb->buf) {
      log_entry(lb->stream, lb->buf, lb->len);
      lb->len = 0;
    }
  }
}

static void lines_flush(struct linebuf *lb) {
  if (lb->len) log_entry(lb->stream, lb->buf, lb->len);
  lb->len = 0;
}

/* ---------- clients ---------- */

enum ckind { C_NEW, C_ATTACH };

struct client {
  int fd;
  enum ckind kind;
  int want_in, want_out, want_err, claims, stdin_once;
  int owes_exit; /* a claimer that got the exit frame and has not yet said it handled the exit */
  char req[256];
  size_t reqlen;
  unsigned char *in;   /* incoming frame bytes */
  size_t inlen;
  unsigned char *out;  /* queued outgoing bytes */
  size_t outlen;
  int closing;         /* close once the queue is flushed */
  long long shut_at;   /* when our side was shut down (0: not yet) */
};

static struct client clients[MAX_CLIENTS];
static int nclients;

static int listen_fd = -1, console_listen_fd = -1, sig_fd = -1;
static int out_rd = -1, out_wr = -1, err_rd = -1, err_wr = -1; /* container stdout/stderr pipes */
static int in_rd = -1, in_wr = -1;                                /* container stdin pipe */
static unsigned char *in_pending;                                 /* stdin bytes not yet written */
static size_t in_pending_len;
static int in_close_after; /* close stdin when the pending bytes are written */
static int master_fd = -1; /* pty master (--tty) */

static pid_t ctr_pid;      /* registered container init */
static int ctr_running;
static int last_exit = -1;
static pid_t exit_cmd_pid, health_pid;
static long long health_started, next_health;
static int quitting, ever_spawned;
static long long started_ms;

/* Exited children not yet claimed as the container (a fast container can exit before dock says
 * which pid it is). */
struct zombie { pid_t pid; int status; };
static struct zombie early[32];
static int nearly;

static void run_exit_command(void);

static void client_close(int i) {
  /* The claimer of an exit left without handling it (a killed `dock run`): the exit command does. */
  if (clients[i].owes_exit && !quitting && !ctr_running) run_exit_command();
  close(clients[i].fd);
  free(clients[i].in);
  free(clients[i].out);
  clients[i] = clients[--nclients];
}

static void client_queue(struct client *c, const void *data, size_t n) {
  if (c->outlen + n > CLIENT_QUEUE_MAX) {
    /* A client that does not read is dropped rather than blocking the container. */
    c->closing = 1;
    c->outlen = 0;
    return;
  }
  c->out = xrealloc(c->out, c->outlen + n);
  memcpy(c->out + c->outlen, data, n);
  c->outlen += n;
}

static void client_frame(struct client *c, int kind, const void *data, size_t n) {
  unsigned char h[5] = {(unsigned char)kind, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  client_queue(c, h, 5);
  if (n) client_queue(c, data, n);
}

static void broadcast(int kind, const unsigned char *data, size_t n) {
  for (int i = 0; i < nclients; i++) {
    struct client *c = &clients[i];
    if (c->kind != C_ATTACH || c->closing) continue;
    if ((kind == 1 && c->want_out) || (kind == 2 && c->want_err)) client_frame(c, kind, data, n);
  }
}

/* ---------- container output ---------- */

/* Read what is there (non-blocking fd); returns 0 on EOF/EIO, 1 otherwise. */
static int pump(int fd, int kind) {
  unsigned char buf[32768];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    if (n <= 0) return 0; /* EOF, or EIO on a pty master once the slave side is gone */
    lines_feed(kind == 2 ? &lb_err : &lb_out, buf, (size_t)n);
    broadcast(kind, buf, (size_t)n);
    if ((size_t)n < sizeof buf) return 1;
  }
}

/* ---------- stdin ---------- */

static int stdin_fd(void) { return opt_tty ? master_fd : in_wr; }

static void stdin_flush(void) {
  int fd = stdin_fd();
  while (in_pending_len && fd >= 0) {
    ssize_t w = write(fd, in_pending, in_pending_len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (w < 0) {
      in_pending_len = 0; /* the reader is gone */
      break;
    }
    memmove(in_pending, in_pending + w, in_pending_len - (size_t)w);
    in_pending_len -= (size_t)w;
  }
  if (!in_pending_len && in_close_after) {
    in_close_after = 0;
    if (!opt_tty && in_wr >= 0) {
      close(in_wr);
      in_wr = -1;
    } else if (opt_tty && master_fd >= 0) {
      /* EOF on a terminal is ^D at the start of a line. */
      char eot = 4;
      if (write(master_fd, &eot, 1) < 0) { /* gone */ }
    }
  }
}

static void stdin_write(const unsigned char *data, size_t n) {
  if (stdin_fd() < 0) return;
  in_pending = xrealloc(in_pending, in_pending_len + n);
  memcpy(in_pending + in_pending_len, data, n);
  in_pending_len += n;
  stdin_flush();
}

/* ---------- spawning skiff-init for dock ---------- */

static void make_stdio(void) {
  if (opt_tty) return;
  int p[2];
  if (out_rd < 0) {
    if (pipe2(p, O_CLOEXEC) < 0) { logmsg("pipe: %s", strerror(errno)); exit(1); }
    out_rd = p[0]; out_wr = p[1];
    set_nonblock(out_rd);
    if (pipe2(p, O_CLOEXEC) < 0) { logmsg("pipe: %s", strerror(errno)); exit(1); }
    err_rd = p[0]; err_wr = p[1];
    set_nonblock(err_rd);
  }
  if (opt_stdin && in_wr < 0) {
    if (in_rd >= 0) close(in_rd);
    if (pipe2(p, O_CLOEXEC) < 0) { logmsg("pipe: %s", strerror(errno)); exit(1); }
    in_rd = p[0]; in_wr = p[1];
    set_nonblock(in_wr);
  }
}

static void send_fd(int sock, int fd, const char *payload) {
  /* Errors carry /dev/null as their fd: the client's receive always expects one. */
  int nul = -1;
  if (fd < 0) fd = nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (skiff_send_fd(sock, payload, strlen(payload), fd) < 0) logmsg("send to client: %s", strerror(errno));
  if (nul >= 0) close(nul);
}

/* As the addon's spawnInit: skiff-init with its socket at fd 3, signals reset, empty env. */
static void do_spawn(int client) {
  make_stdio();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    char e[128];
    snprintf(e, sizeof e, "error socketpair: %s\n", strerror(errno));
    send_fd(client, -1, e);
    return;
  }
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) {
    close(sv[0]); close(sv[1]);
    send_fd(client, -1, "error pipe\n");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int nul = open("/dev/null", O_RDWR);
    int fin = opt_tty ? nul : (opt_stdin ? in_rd : nul);
    int fout = opt_tty ? nul : out_wr;
    int ferr = opt_tty ? nul : err_wr;
    /* Move the sources above 10 first so that dup2 onto 0..3 cannot clobber one of them. */
    int src[5] = {fin, fout, ferr, sv[1], errp[1]};
    for (int i = 0; i < 5; i++) src[i] = fcntl(src[i], F_DUPFD, 10);
    for (int i = 0; i < 4; i++) dup2(src[i], i);
    int ef = dup2(src[4], 4);
    fcntl(ef, F_SETFD, FD_CLOEXEC);
    syscall(SYS_close_range, 5, ~0U, 0);
    char *const argv[] = {(char *)opt_init_path, "3", NULL};
    char *const envp[] = {NULL};
    /* CVE-2019-5736: from a sealed memfd copy, never the host file (sealed-exe.h). */
    const char *what = "exec";
    int mfd = skiff_sealed_copy(opt_init_path, "skiff-init", 5, &what);
    if (mfd >= 0) {
      what = "exec";
      syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
    }
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s %s: %s", what, opt_init_path, strerror(errno));
    if (write(4, msg, (size_t)n) < 0) { /* nothing to do */ }
    _exit(127);
  }
  close(sv[1]);
  close(errp[1]);
  char payload[512];
  if (pid < 0) {
    snprintf(payload, sizeof payload, "error fork: %s\n", strerror(errno));
    close(errp[0]);
    close(sv[0]);
    send_fd(client, -1, payload);
    return;
  }
  /* The exec either succeeds (EOF on the close-on-exec pipe) or reports why it failed. */
  char why[256];
  ssize_t n = read(errp[0], why, sizeof why - 1);
  close(errp[0]);
  if (n > 0) {
    why[n] = 0;
    snprintf(payload, sizeof payload, "error %s\n", why);
    close(sv[0]);
    send_fd(client, -1, payload);
    return;
  }
  ever_spawned = 1;
  snprintf(payload, sizeof payload, "%d\n", pid);
  send_fd(client, sv[0], payload);
  close(sv[0]);
}

/* ---------- exits ---------- */

static void run_exit_command(void);

static void container_exited(int status) {
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  /* Everything the container wrote is in the pipes now: log it before reporting the exit. */
  if (out_rd >= 0) pump(out_rd, 1);
  if (err_rd >= 0) pump(err_rd, 2);
  if (master_fd >= 0) {
    pump(master_fd, 1);
    close(master_fd);
    master_fd = -1;
  }
  lines_flush(&lb_out);
  lines_flush(&lb_err);
  char ts[64], json[256];
  rfc3339(ts, sizeof ts);
  snprintf(json, sizeof json, "{\"pid\":%d,\"exitCode\":%d,\"signal\":%d,\"finishedAt\":\"%s\"}\n", ctr_pid, code,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0, ts);
  write_file_atomic("exit.json", json);
  ctr_running = 0;
  last_exit = code;
  int claimed = 0;
  char c[16];
  int cn = snprintf(c, sizeof c, "%d", code);
  for (int i = 0; i < nclients; i++) {
    struct client *cl = &clients[i];
    if (cl->kind != C_ATTACH) continue;
    if (cl->claims) {
      claimed = 1;
      cl->owes_exit = 1;
    }
    client_frame(cl, 3, c, (size_t)cn);
    cl->closing = 1;
  }
  /* A stdin pipe belongs to one run of the container. */
  if (in_wr >= 0) { close(in_wr); in_wr = -1; }
  in_pending_len = 0;
  if (!quitting && !claimed) run_exit_command();
}

static pid_t exit_pending; /* an exit that happened while the exit command of the previous one ran */

static void run_exit_command(void) {
  if (!opt_exit_argc) return;
  if (exit_cmd_pid > 0) {
    /* The previous exit's command (which restarted the container) is still running: this exit's
     * command runs when it is done. */
    exit_pending = ctr_pid;
    return;
  }
  exit_pending = 0;
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int nul = open("/dev/null", O_RDWR);
    dup2(nul, 0);
    dup2(nul, 1); /* stderr stays supervisor.err */
    syscall(SYS_close_range, 3, ~0U, 0);
    char v[32];
    snprintf(v, sizeof v, "%d", ctr_pid);
    setenv("DOCK_EXITED_PID", v, 1);
    execvp(opt_exit_cmd[0], opt_exit_cmd);
    _exit(127);
  }
  if (pid < 0) logmsg("fork exit command: %s", strerror(errno));
  else exit_cmd_pid = pid;
}

static void run_health_check(void) {
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    int nul = open("/dev/null", O_RDWR);
    int out = open("health.out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(nul, 0);
    dup2(out >= 0 ? out : nul, 1);
    dup2(out >= 0 ? out : nul, 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    char v[32];
    snprintf(v, sizeof v, "%d", ctr_pid);
    setenv("DOCK_CONTAINER_PID", v, 1);
    execvp(opt_health_cmd[0], opt_health_cmd);
    _exit(127);
  }
  if (pid < 0) {
    logmsg("fork health check: %s", strerror(errno));
    return;
  }
  health_pid = pid;
  health_started = now_ms();
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p <= 0) return;
    if (p == exit_cmd_pid) {
      exit_cmd_pid = 0;
      if (WIFEXITED(status) && WEXITSTATUS(status) != 0) logmsg("exit command exited with %d", WEXITSTATUS(status));
      if (exit_pending && !ctr_running && !quitting) run_exit_command();
      continue;
    }
    if (p == health_pid) {
      health_pid = 0;
      continue;
    }
    if (ctr_pid && p == ctr_pid && ctr_running) {
      container_exited(status);
      continue;
    }
    if (!ctr_running && nearly < (int)(sizeof early / sizeof early[0])) early[nearly++] = (struct zombie){p, status};
  }
}

/* ---------- requests ---------- */

static void handle_request(int i) {
  struct client *c = &clients[i];
  char *req = c->req;
  if (!strcmp(req, "spawn")) {
    do_spawn(c->fd);
    client_close(i);
  } else if (!strncmp(req, "pid ", 4)) {
    pid_t pid = (pid_t)atoi(req + 4);
    ctr_pid = pid;
    ctr_running = 1;
    quitting = 0;
    unlink("exit.json");
    next_health = opt_health_interval_ms > 0 ? now_ms() + opt_health_interval_ms : 0;
    client_queue(c, "ok\n", 3);
    c->closing = 1;
    int early_status = -1;
    for (int k = 0; k < nearly; k++)
      if (early[k].pid == pid) early_status = early[k].status;
    /* What else was reaped before (skiff-init's stage 1 of this and earlier runs) is of no use. */
    nearly = 0;
    if (early_status >= 0) container_exited(early_status);
  } else if (!strncmp(req, "attach", 6)) {
    const char *f = req + 6;
    c->kind = C_ATTACH;
    c->want_in = !!strchr(f, 'i');
    c->want_out = !!strchr(f, 'o');
    c->want_err = !!strchr(f, 'e');
    c->claims = !!strchr(f, 'c');
    c->stdin_once = !!strchr(f, 's');
    client_queue(c, "ok\n", 3);
    if (!ctr_running && last_exit >= 0 && strchr(f, 'w')) {
      char code[16];
      int n = snprintf(code, sizeof code, "%d", last_exit);
      client_frame(c, 3, code, (size_t)n);
      c->closing = 1;
    }
  } else if (!strncmp(req, "lo ", 3)) {
    /* Bring up the loopback interface in the network namespace of PID (a new one of --network
     * none has it down). A child joins the namespace so that we stay in ours. */
    pid_t target = (pid_t)atoi(req + 3);
    char reply[160];
    pid_t child = fork();
    if (child == 0) {
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/ns/net", target);
      int nfd = open(path, O_RDONLY | O_CLOEXEC);
      if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0) _exit(10);
      int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct ifreq ifr;
      memset(&ifr, 0, sizeof ifr);
      strcpy(ifr.ifr_name, "lo");
      if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) _exit(11);
      ifr.ifr_flags |= IFF_UP;
      if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) _exit(12);
      _exit(0);
    }
    int st = 0;
    if (child < 0) snprintf(reply, sizeof reply, "error fork: %s\n", strerror(errno));
    else {
      while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
      }
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) snprintf(reply, sizeof reply, "ok\n");
      else snprintf(reply, sizeof reply, "error %s\n", WEXITSTATUS(st) == 10 ? "join the network namespace" : "set the loopback interface up");
    }
    client_queue(c, reply, strlen(reply));
    c->closing = 1;
  } else if (!strcmp(req, "quit")) {
    quitting = 1;
    client_queue(c, "ok\n", 3);
    c->closing = 1;
  } else if (!strcmp(req, "status")) {
    char s[64];
    if (ctr_running) snprintf(s, sizeof s, "running %d\n", ctr_pid);
    else if (last_exit >= 0) snprintf(s, sizeof s, "exited %d\n", last_exit);
    else snprintf(s, sizeof s, "idle\n");
    client_queue(c, s, strlen(s));
    c->closing = 1;
  } else {
    client_queue(c, "error unknown request\n", 22);
    c->closing = 1;
  }
}

/* Frames from an attached client. */
static void attach_input(struct client *c) {
  for (;;) {
    if (c->inlen < 5) return;
    uint32_t n = ((uint32_t)c->in[1] << 24) | ((uint32_t)c->in[2] << 16) | ((uint32_t)c->in[3] << 8) | c->in[4];
    if (n > (1u << 20)) {
      c->closing = 1;
      c->inlen = 0;
      return;
    }
    if (c->inlen < 5 + n) return;
    unsigned char kind = c->in[0];
    unsigned char *p = c->in + 5;
    if (kind == 0 && c->want_in) stdin_write(p, n);
    else if (kind == 4 && c->want_in) {
      in_close_after = 1;
      stdin_flush();
    } else if (kind == 6) {
      c->owes_exit = 0;
    } else if (kind == 5 && master_fd >= 0 && n < 64) {
      char s[64];
      memcpy(s, p, n);
      s[n] = 0;
      unsigned rows = 0, cols = 0;
      if (sscanf(s, "%u %u", &rows, &cols) == 2) {
        struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        ioctl(master_fd, TIOCSWINSZ, &ws);
      }
    }
    memmove(c->in, c->in + 5 + n, c->inlen - 5 - n);
    c->inlen -= 5 + n;
  }
}

static void client_readable(int i) {
  struct client *c = &clients[i];
  unsigned char buf[65536];
  ssize_t n = read(c->fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    /* An attached client that held stdin and leaves: with stdin-once (`docker run -i` in the
     * foreground) the container's stdin closes; a `dock attach` leaves it open. */
    if (c->kind == C_ATTACH && c->want_in && c->stdin_once && opt_stdin && !opt_tty) {
      in_close_after = 1;
      stdin_flush();
    }
    client_close(i);
    return;
  }
  if (c->kind == C_NEW) {
    for (ssize_t k = 0; k < n; k++) {
      if (buf[k] == '\n') {
        c->req[c->reqlen] = 0;
        handle_request(i);
        /* The rest of the packet belongs to an attach session. */
        if (i < nclients && clients[i].fd == c->fd && c->kind == C_ATTACH && k + 1 < n) {
          c->in = xrealloc(c->in, c->inlen + (size_t)(n - k - 1));
          memcpy(c->in + c->inlen, buf + k + 1, (size_t)(n - k - 1));
          c->inlen += (size_t)(n - k - 1);
          attach_input(c);
        }
        return;
      }
      if (c->reqlen + 1 >= sizeof c->req) {
        client_close(i);
        return;
      }
      c->req[c->reqlen++] = (char)buf[k];
    }
    return;
  }
  c->in = xrealloc(c->in, c->inlen + (size_t)n);
  memcpy(c->in + c->inlen, buf, (size_t)n);
  c->inlen += (size_t)n;
  attach_input(c);
}

static void client_writable(int i) {
  struct client *c = &clients[i];
  while (c->outlen) {
    ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (w < 0) {
      c->outlen = 0;
      c->closing = 1;
      break;
    }
    memmove(c->out, c->out + w, c->outlen - (size_t)w);
    c->outlen -= (size_t)w;
  }
}

/* The init connects to console.sock and sends the pty master (runtime-spec console socket). */
static void console_accept(void) {
  int s = accept4(console_listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (s < 0) return;
  char name[256];
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct pollfd p = {.fd = s, .events = POLLIN};
  if (poll(&p, 1, 10000) == 1 && recvmsg(s, &mh, MSG_CMSG_CLOEXEC) > 0) {
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_type == SCM_RIGHTS) {
      if (master_fd >= 0) close(master_fd);
      memcpy(&master_fd, CMSG_DATA(c), sizeof master_fd);
      set_nonblock(master_fd);
    }
  }
  close(s);
}

static int listen_on(const char *name) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(name) >= sizeof a.sun_path) return -1;
  strcpy(a.sun_path, name);
  unlink(name);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
    logmsg("listen on %s: %s", name, strerror(errno));
    exit(1);
  }
  chmod(name, 0600);
  return fd;
}

/* ---------- --init: a minimal init for the container (tini's role) ---------- */

static pid_t init_child;
static void init_forward(int sig) {
  if (init_child > 0) kill(init_child, sig);
}

static int run_as_init(char **argv) {
  if (!argv[0]) {
    fprintf(stderr, "skiff-supervisor --init: no command\n");
    return 127;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  init_child = fork();
  if (init_child < 0) {
    perror("fork");
    return 127;
  }
  if (init_child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* The command gets the terminal's foreground when there is one. */
    setpgid(0, 0);
    if (isatty(0)) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(0, getpid());
      signal(SIGTTOU, SIG_DFL);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "skiff-supervisor --init: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  for (;;) {
    int sig;
    sigwait(&all, &sig);
    if (sig == SIGCHLD) {
      int status;
      pid_t p;
      while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        if (p == init_child) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      }
    } else {
      init_forward(sig);
    }
  }
}

/* ---------- main ---------- */

static void usage(void) {
  fprintf(stderr,
          "usage: skiff-supervisor --dir DIR --init-path SKIFF_INIT [--tty] [--stdin] [--log FILE|''] [--log-max-size N]\n"
          "       [--log-max-files N] [--exit-arg ARG]... [--health-arg ARG]... [--health-interval MS]\n"
          "       [--health-deadline MS] [--ready-fd FD]\n"
          "       skiff-supervisor --init -- COMMAND [ARG...]   (a container's init: reaps, forwards signals)\n"
          "Started by dock; not meant to be run by hand.\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--init")) {
    int k = 2;
    if (argv[k] && !strcmp(argv[k], "--")) k++;
    return run_as_init(argv + k);
  }
  static const struct option longopts[] = {
      {"dir", required_argument, 0, 'd'},         {"init-path", required_argument, 0, 'p'},
      {"tty", no_argument, 0, 't'},               {"stdin", no_argument, 0, 'i'},
      {"log", required_argument, 0, 'l'},         {"log-max-size", required_argument, 0, 's'},
      {"log-max-files", required_argument, 0, 'n'}, {"exit-arg", required_argument, 0, 'x'},
      {"health-arg", required_argument, 0, 'h'},  {"health-interval", required_argument, 0, 'v'},
      {"health-deadline", required_argument, 0, 'D'}, {"ready-fd", required_argument, 0, 'r'},
      {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (o) {
    case 'd': opt_dir = optarg; break;
    case 'p': opt_init_path = optarg; break;
    case 't': opt_tty = 1; break;
    case 'i': opt_stdin = 1; break;
    case 'l': opt_log = optarg; break;
    case 's': opt_log_max = atoll(optarg); break;
    case 'n': opt_log_files = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
    case 'x':
      opt_exit_cmd = xrealloc(opt_exit_cmd, sizeof(char *) * (size_t)(opt_exit_argc + 2));
      opt_exit_cmd[opt_exit_argc++] = optarg;
      opt_exit_cmd[opt_exit_argc] = NULL;
      break;
    case 'h':
      opt_health_cmd = xrealloc(opt_health_cmd, sizeof(char *) * (size_t)(opt_health_argc + 2));
      opt_health_cmd[opt_health_argc++] = optarg;
      opt_health_cmd[opt_health_argc] = NULL;
      break;
    case 'v': opt_health_interval_ms = atoll(optarg); break;
    case 'D': opt_health_deadline_ms = atoll(optarg); break;
    case 'r': opt_ready_fd = atoi(optarg); break;
    default: usage();
    }
  }
  if (!opt_dir || !opt_init_path) usage();
  if (!opt_health_argc) opt_health_interval_ms = 0;
  if (chdir(opt_dir) < 0) {
    perror(opt_dir);
    return 1;
  }

  /* Detach from dock: a second fork, so that dock reaps the first and we belong to nobody but
   * init (or the nearest subreaper); dock started us with setsid already. */
  pid_t p = fork();
  if (p < 0) {
    perror("fork");
    return 1;
  }
  if (p > 0) _exit(0);
  if (getsid(0) != getpid()) setsid();

  int efd = open("supervisor.err", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul >= 0) {
    dup2(nul, 0);
    dup2(nul, 1);
  }
  if (efd >= 0) dup2(efd, 2);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    logmsg("set child subreaper: %s", strerror(errno));
    return 1;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  log_open();
  listen_fd = listen_on("ctl.sock");
  if (opt_tty) console_listen_fd = listen_on("console.sock");
  char pidline[32];
  snprintf(pidline, sizeof pidline, "%d\n", getpid());
  write_file_atomic("supervisor.pid", pidline);
  started_ms = now_ms();
  if (opt_ready_fd >= 0) {
    if (write_all(opt_ready_fd, pidline, strlen(pidline)) < 0) { /* dock is gone: carry on */ }
    close(opt_ready_fd);
  }

  for (;;) {
    /* Leave when there is nothing left to supervise: no container, no helper, no handler. */
    int handler = 0;
    for (int i = 0; i < nclients; i++)
      if (clients[i].kind == C_ATTACH && clients[i].claims && !quitting) handler = 1;
    if (!ctr_running && !exit_cmd_pid && !health_pid && !handler) {
      int children = waitid(P_ALL, 0, NULL, WEXITED | WNOHANG | WNOWAIT) == 0;
      int idle_too_long = !ever_spawned && now_ms() - started_ms > 60000;
      if ((ever_spawned || quitting || idle_too_long) && !children) {
        int pending = 0;
        for (int i = 0; i < nclients; i++)
          if (clients[i].outlen) pending = 1;
        if (!pending) break;
      }
    }

    struct pollfd pf[MAX_CLIENTS + 8];
    int n = 0;
    pf[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
    pf[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    pf[n++] = (struct pollfd){.fd = console_listen_fd, .events = POLLIN};
    pf[n++] = (struct pollfd){.fd = out_rd, .events = POLLIN};
    pf[n++] = (struct pollfd){.fd = err_rd, .events = POLLIN};
    pf[n++] = (struct pollfd){.fd = master_fd, .events = POLLIN};
    pf[n++] = (struct pollfd){.fd = in_pending_len ? stdin_fd() : -1, .events = POLLOUT};
    int base = n;
    for (int i = 0; i < nclients; i++) {
      short ev = clients[i].closing && !clients[i].shut_at ? 0 : POLLIN;
      if (clients[i].outlen) ev |= POLLOUT;
      pf[n++] = (struct pollfd){.fd = clients[i].fd, .events = ev};
    }
    int timeout = 1000;
    long long t = now_ms();
    if (next_health && ctr_running) {
      long long d = next_health - t;
      timeout = d < 0 ? 0 : (d < timeout ? (int)d : timeout);
    }
    int r = poll(pf, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR) {
      logmsg("poll: %s", strerror(errno));
      break;
    }
    t = now_ms();
    if (health_pid && opt_health_deadline_ms > 0 && t - health_started > opt_health_deadline_ms) kill(-health_pid, SIGKILL);
    if (next_health && ctr_running && t >= next_health) {
      if (!health_pid) run_health_check();
      next_health = t + opt_health_interval_ms;
    }
    if (r <= 0) continue;

    if (pf[0].revents) {
      struct signalfd_siginfo si;
      while (read(sig_fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP) {
          /* Asked to go: the container lives on without logs (dock sees its supervisor gone). */
          logmsg("signal %d: leaving", si.ssi_signo);
          goto out;
        }
      }
      reap();
    }
    if (pf[1].revents & POLLIN) {
      for (;;) {
        int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (s < 0) break;
        if (nclients == MAX_CLIENTS) {
          close(s);
          continue;
        }
        clients[nclients++] = (struct client){.fd = s, .kind = C_NEW};
      }
    }
    if (pf[2].revents & POLLIN) console_accept();
    if (pf[3].revents) pump(out_rd, 1);
    if (pf[4].revents) pump(err_rd, 2);
    if (pf[5].revents) {
      if (!pump(master_fd, 1)) {
        /* EIO: every slave fd is closed (the container is exiting). Stop polling it. */
        close(master_fd);
        master_fd = -1;
      }
    }
    if (pf[6].revents) stdin_flush();
    /* Clients: walk backwards, client_close moves the last one into the freed slot. */
    int count = nclients;
    for (int i = count - 1; i >= 0; i--) {
      short rev = pf[base + i].revents;
      if (i >= nclients) continue;
      int fd = clients[i].fd;
      if (rev & POLLOUT) client_writable(i);
      if (i < nclients && clients[i].fd == fd && (rev & (POLLIN | POLLHUP | POLLERR)) && !clients[i].closing) client_readable(i);
      else if (i < nclients && clients[i].fd == fd && clients[i].shut_at && (rev & (POLLIN | POLLHUP | POLLERR))) {
        /* Shut down on our side: discard what the client still sends until it closes too, but
         * for the "exit handled" frame of a claimer. */
        unsigned char junk[4096];
        ssize_t n = read(fd, junk, sizeof junk);
        if (n > 0 && clients[i].owes_exit) {
          struct client *c = &clients[i];
          c->in = xrealloc(c->in, c->inlen + (size_t)n);
          memcpy(c->in + c->inlen, junk, (size_t)n);
          c->inlen += (size_t)n;
          attach_input(c);
        }
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) client_close(i);
        continue;
      }
      if (i < nclients && clients[i].fd == fd && clients[i].closing && !clients[i].outlen) {
        /* Closing a socket with unread input makes the kernel reset the connection, and the
         * client may then lose what we sent last (the exit frame). Shut our side down instead
         * and close once the client has closed its own (or after 5 s). */
        if (!clients[i].shut_at) {
          shutdown(fd, SHUT_WR);
          clients[i].shut_at = now_ms();
        } else if (!clients[i].owes_exit && now_ms() - clients[i].shut_at > 5000) {
          client_close(i);
        }
      }
    }
  }
out:
  unlink("ctl.sock");
  if (opt_tty) unlink("console.sock");
  unlink("supervisor.pid");
  return 0;
}
