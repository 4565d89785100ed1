/*
 * skiff-front: the native entry of the skiff CLI (bin/skiff execs it). It answers the verbs an
 * engine calls again and again for every container and that are a few system calls each (state,
 * start, kill of the init, delete of a stopped container or with --force of a live one, list) and runs the TypeScript CLI for everything else, so that those calls
 * cost no JavaScript engine start.
 *
 * It only serves what it fully understands: a well-formed command line, a valid container id, root
 * privileges, a container whose summary file (<root>/<id>/fast-state, written by
 * src/runtime/fast-state.ts, the one definition of its format) is present, and the outcome the
 * TypeScript CLI would reach without an error. Anything else (an unknown option, --debug, a missing
 * container, a container in the wrong status, poststart hooks, kill --all) is handed over untouched
 * to the TypeScript CLI, which gives the same answer or the same error message as it always does.
 * The one failure that cannot be handed over, because its cause cannot be undone (the container's
 * init gave up after `start` released it), is passed on in SKIFF_FRONT_FAILED for the CLI to
 * report through its own error path and log.
 *
 * Usage (from bin/skiff): skiff-front CLI_JS [skiff arguments...]
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define FAST_STATE_FILE "fast-state"
#define FAST_STATE_VERSION "1"

void front_try_server(const char *cli_js, char **args, int argc, int dock); /* front-remote.c */

static char *cli_js;
static char **cli_args;
static int cli_argc;

/* Run the TypeScript CLI with our own arguments, unchanged. */
static void __attribute__((noreturn)) hand_over(void) {
  char **argv = calloc((size_t)cli_argc + 3, sizeof(char *));
  if (!argv) _exit(127);
  argv[0] = "node";
  argv[1] = cli_js;
  for (int i = 0; i < cli_argc; i++) argv[i + 2] = cli_args[i];
  /* Parsing a CA bundle costs ~50 ms per start, and the runtime makes no TLS connection. The
   * caller's value is kept aside for hooks, which get the caller's environment (hooks.ts). */
  const char *ca = getenv("NODE_EXTRA_CA_CERTS");
  if (ca) setenv("SKIFF_CALLER_NODE_EXTRA_CA_CERTS", ca, 1);
  unsetenv("NODE_EXTRA_CA_CERTS");
  execvp("node", argv);
  fprintf(stderr, "skiff: cannot run node: %s\n", strerror(errno));
  _exit(127);
}

/* A failure after an irreversible step: the CLI reports it (stderr, --log) as its own. */
static void __attribute__((noreturn)) hand_over_failure(const char *msg) {
  setenv("SKIFF_FRONT_FAILED", msg, 1);
  hand_over();
}

/* Container ids as src/runtime/ids.ts accepts them: [A-Za-z0-9_+\-.]+, at most MAX_ID_LENGTH (255), not . or .. */
static int valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 255 || !strcmp(id, ".") || !strcmp(id, "..")) return 0;
  for (const char *p = id; *p; p++)
    if (!isascii((unsigned char)*p) || !(isalnum((unsigned char)*p) || *p == '_' || *p == '+' || *p == '-' || *p == '.')) return 0;
  return 1;
}

/* The summary: records "KEY LEN\nBYTES\n", see src/runtime/fast-state.ts. */
struct field {
  const char *key;
  const char *val;
  size_t len;
};
struct fast {
  char *buf;
  struct field f[64];
  int n;
};

static const struct field *get(const struct fast *s, const char *key) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->f[i].key, key)) return &s->f[i];
  return NULL;
}

static char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) break;
    if (n == cap) {
      char *b = realloc(buf, (cap *= 2) + 1);
      if (!b) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      free(buf);
      buf = NULL;
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (buf) {
    buf[n] = 0;
    *len = n;
  }
  return buf;
}

/* 0 when the file is there and well-formed; keys and values point into s->buf (NUL-terminated). */
static int load_fast(const char *dir, struct fast *s) {
  char path[4200];
  size_t len;
  s->buf = NULL;
  s->n = 0;
  if (snprintf(path, sizeof path, "%s/" FAST_STATE_FILE, dir) >= (int)sizeof path) return -1;
  s->buf = read_file(path, &len);
  if (!s->buf) return -1;
  char *p = s->buf, *end = s->buf + len;
  while (p < end) {
    if (s->n == (int)(sizeof s->f / sizeof s->f[0])) return -1;
    char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp) return -1;
    *sp = 0;
    char *nl = memchr(sp + 1, '\n', (size_t)(end - sp - 1));
    if (!nl) return -1;
    *nl = 0;
    char *e;
    errno = 0;
    unsigned long n = strtoul(sp + 1, &e, 10);
    if (errno || *e || e == sp + 1 || n > (unsigned long)(end - nl - 1) - 1 || nl[1 + n] != '\n') return -1;
    nl[1 + n] = 0;
    s->f[s->n++] = (struct field){p, nl + 1, n};
    p = nl + 2 + n;
  }
  const struct field *v = get(s, "skiff-fast");
  if (!v || strcmp(v->val, FAST_STATE_VERSION)) return -1;
  static const char *required[] = {"pid", "starttime", "poststart", "poststop", "state.created", "state.running", "state.paused", "state.stopped"};
  for (size_t i = 0; i < sizeof required / sizeof *required; i++)
    if (!get(s, required[i])) return -1;
  return 0;
}

static int fast_pid(const struct fast *s) {
  char *e;
  long pid = strtol(get(s, "pid")->val, &e, 10);
  return (*e || pid <= 0 || pid > 0x7fffffff) ? -1 : (int)pid;
}

/* As src/runtime/procfs.ts: alive when /proc/PID/stat shows the same start time and no zombie. */
static int alive(int pid, const char *starttime) {
  char path[64];
  size_t len;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  char *stat = read_file(path, &len);
  if (!stat) return 0;
  int ok = 0;
  char *p = strrchr(stat, ')');
  if (p && p[1] == ' ' && p[2] && p[2] != 'Z' && p[2] != 'X') {
    /* after ") ": field 3 (state) is token 0, field 22 (start time) is token 19 */
    char *tok = p + 2;
    for (int i = 0; i < 19 && tok; i++) {
      tok = strchr(tok, ' ');
      if (tok) tok++;
    }
    if (tok) {
      size_t n = strcspn(tok, " \n");
      ok = n == strlen(starttime) && !strncmp(tok, starttime, n);
    }
  }
  free(stat);
  return ok;
}

static int frozen(const struct fast *s) {
  const struct field *file = get(s, "freezer.file"), *want = get(s, "freezer.value");
  if (!file || !want) return 0;
  size_t len;
  char *v = read_file(file->val, &len);
  if (!v) return 0;
  char *a = v, *b = v + len;
  while (a < b && isspace((unsigned char)*a)) a++;
  while (b > a && isspace((unsigned char)b[-1])) b--;
  int r = (size_t)(b - a) == want->len && !memcmp(a, want->val, want->len);
  free(v);
  return r;
}

/* src/runtime/state.ts StateStore.status: stopped, paused (a created container can be paused, as
 * under runc), created (fifo there), running. */
static const char *status_of(const struct fast *s, const char *dir) {
  int pid = fast_pid(s);
  if (pid < 0 || !alive(pid, get(s, "starttime")->val)) return "stopped";
  if (frozen(s)) return "paused";
  char fifo[4200];
  if (snprintf(fifo, sizeof fifo, "%s/exec.fifo", dir) < (int)sizeof fifo && access(fifo, F_OK) == 0) return "created";
  return "running";
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* As StateStore.lock: flock the container's directory, then check it was not deleted meanwhile. */
static int lock_container(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc;
  do rc = flock(fd, LOCK_EX);
  while (rc < 0 && errno == EINTR);
  struct stat held, now;
  if (rc < 0 || fstat(fd, &held) < 0 || stat(dir, &now) < 0 || now.st_ino != held.st_ino || now.st_dev != held.st_dev || held.st_nlink == 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int cmd_state(const char *dir) {
  struct fast s;
  if (load_fast(dir, &s) < 0) hand_over();
  char key[32];
  snprintf(key, sizeof key, "state.%s", status_of(&s, dir));
  const struct field *out = get(&s, key);
  if (write_all(1, out->val, out->len) < 0) hand_over();
  return 0;
}

static void pause_ms(long ms) {
  struct timespec ts = {0, ms * 1000000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/*
 * As src/runtime/start.ts releaseInit: open the fifo (non-blocking: the init may have died) and
 * read until the writer closes it; the init writes "0" just before execve.
 */
static int cmd_start(const char *dir) {
  int lock = lock_container(dir);
  if (lock < 0) hand_over();
  struct fast s;
  if (load_fast(dir, &s) < 0) hand_over();
  int pid = fast_pid(&s);
  const char *starttime = get(&s, "starttime")->val;
  char fifo[4200];
  if (snprintf(fifo, sizeof fifo, "%s/exec.fifo", dir) >= (int)sizeof fifo) hand_over();
  /* stopped, running or paused: the CLI says why it cannot start; poststart hooks: the CLI runs them */
  if (pid < 0 || !alive(pid, starttime) || access(fifo, F_OK) != 0 || strcmp(get(&s, "poststart")->val, "0")) hand_over();
  if (frozen(&s)) hand_over(); /* a paused created container (runc allows it): the CLI refuses to start it */

  int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) hand_over(); /* nothing released yet */
  char out[4096];
  size_t n = 0;
  int seen = 0;
  for (;;) {
    ssize_t r = read(fd, out + n, sizeof out - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN) break;
    if (r > 0) {
      seen = 1;
      n += (size_t)r;
      if (n == sizeof out - 1) break;
      continue;
    }
    /* 0 before anything was read only means the writer has not woken up yet */
    if (r == 0 && seen) break;
    if (!alive(pid, starttime)) {
      do r = read(fd, out + n, sizeof out - 1 - n);
      while (r < 0 && errno == EINTR);
      if (r > 0) n += (size_t)r;
      break;
    }
    pause_ms(1);
  }
  close(fd);
  out[n] = 0;
  if (unlink(fifo) < 0) {
    char msg[4400];
    if (snprintf(msg, sizeof msg, "unlink %s: %s", fifo, strerror(errno)) >= (int)sizeof msg) msg[sizeof msg - 1] = 0;
    hand_over_failure(msg);
  }
  close(lock);
  if (!strcmp(out, "0")) return 0;
  const char *why = out[0] == '0' ? out + 1 : out;
  hand_over_failure(*why ? why : "container init exited before it executed the process");
}

/* Whether a cgroup directory still holds a process or a child cgroup: then the CLI kills and removes. */
static int cgroup_busy(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return errno != ENOENT;
  int busy = 0;
  struct dirent *e;
  while (!busy && (e = readdir(d)))
    if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) busy = 1;
  closedir(d);
  if (busy) return 1;
  char procs[4200];
  size_t len = 0;
  if (snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs) return 1;
  char *text = read_file(procs, &len);
  if (!text) return errno != ENOENT;
  free(text);
  return len > 0;
}

/* As removeCgroupDir on an empty cgroup: rmdir, retrying EBUSY for up to 2 s (teardown is async). */
static int remove_cgroup(const char *dir) {
  for (int i = 0; i < 200; i++) {
    if (rmdir(dir) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return -1;
    pause_ms(10);
  }
  return -1;
}

/* rm -r of the state directory. */
static int remove_tree(int parent, const char *name) {
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (unlinkat(fd, e->d_name, 0) == 0) continue;
    if ((errno == EISDIR || errno == EPERM) && remove_tree(fd, e->d_name) == 0) continue;
    rc = -1;
  }
  closedir(d);
  if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) rc = -1;
  return rc;
}

/*
 * delete --force of a live (created or running, not paused) container, as src/runtime/delete.ts:
 * SIGKILL through a pidfd after checking the pid still names the init, then wait (bounded) until
 * the pidfd says it exited. 0 when it is gone; -1 hands the whole delete over to the CLI (which
 * kills again and waits longer, or tells why not).
 */
static int kill_and_wait(int pid, const char *starttime) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd < 0) return errno == ESRCH ? 0 : -1;
  int rc = -1;
  if (!alive(pid, starttime)) rc = 0;
  else if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) == 0 || errno == ESRCH) {
    struct pollfd p = {pfd, POLLIN, 0};
    int n;
    do n = poll(&p, 1, 5000);
    while (n < 0 && errno == EINTR);
    if (n == 1) rc = 0;
  }
  close(pfd);
  return rc;
}

/* The processes of a pid namespace die after its init, asynchronously: wait (bounded) until the
 * cgroup lists none. Child cgroups never go away by waiting: those are the CLI's. */
static int cgroup_settled(const char *dir) {
  for (int i = 0; i < 100; i++) {
    if (!cgroup_busy(dir)) return 1;
    pause_ms(2);
  }
  return 0;
}

/*
 * As src/runtime/delete.ts for a container without poststop hooks whose cgroups hold nothing else:
 * a stopped one, or with --force a created or running one, killed first. Remove its cgroup
 * directories and their empty parents (the plan create recorded from the cgroup manager), then the
 * state directory. Anything else (paused, processes left in the cgroup, hooks, no plan, a live
 * container without --force) is the CLI's, which kills, waits and reports.
 */
static int cmd_delete(const char *root, const char *id, const char *dir, int force) {
  /* containerd's shim deletes again with --force after the exit: nothing there is success, as the
   * CLI's rm of a missing directory (and runc) says. */
  struct stat st;
  if (force && lstat(dir, &st) < 0 && errno == ENOENT) return 0;
  int lock = lock_container(dir);
  if (lock < 0) hand_over();
  struct fast s;
  if (load_fast(dir, &s) < 0) hand_over();
  int pid = fast_pid(&s);
  const char *starttime = get(&s, "starttime")->val;
  const struct field *plan = get(&s, "cgroup.plan");
  if (pid < 0 || strcmp(get(&s, "poststop")->val, "0") || !plan || strcmp(plan->val, "1")) hand_over();
  int live = alive(pid, starttime);
  if (live) {
    const char *status = status_of(&s, dir);
    if (!force || !strcmp(status, "paused")) hand_over(); /* refused without force; a frozen cgroup is the CLI's */
    if (kill_and_wait(pid, starttime) < 0) hand_over();
  }
  for (int i = 0; i < s.n; i++)
    if (!strcmp(s.f[i].key, "cgroup.dir") && !(live ? cgroup_settled(s.f[i].val) : !cgroup_busy(s.f[i].val))) hand_over();
  /* From here on a failure leaves less than before; the CLI's delete finishes what is left. */
  for (int i = 0; i < s.n; i++)
    if (!strcmp(s.f[i].key, "cgroup.dir") && remove_cgroup(s.f[i].val) < 0) hand_over();
  for (int i = 0; i < s.n; i++) {
    if (strcmp(s.f[i].key, "cgroup.parents")) continue;
    for (const char *p = s.f[i].val, *end = p + s.f[i].len; p < end; p += strlen(p) + 1)
      if (rmdir(p) < 0) break; /* in use, gone already, or not ours: as removeEmptyParents */
  }
  int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0 || remove_tree(rootfd, id) < 0) hand_over();
  close(rootfd);
  close(lock);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ascii(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] >= 0x80) return 0;
  return 1;
}

/* One row of the list: the summary, its status and the table cells (id, pid, status, bundle, created, owner). */
struct row {
  struct fast s;
  const char *id;
  const char *status;
  char pid[16];
  const char *cell[6];
  size_t len[6];
};

/*
 * As `skiff list` (src/cli/skiff.ts over src/runtime/query.ts): every directory of the root named as
 * a container id, sorted; quiet, JSON or the table. A container without a summary (being created,
 * or made by an older skiff) or a non-ASCII cell (the table pads by UTF-16 length) hands it all over.
 */
static int cmd_list(const char *root, int quiet, int json) {
  DIR *d = opendir(root);
  if (!d && errno != ENOENT) hand_over();
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_type == DT_UNKNOWN) hand_over();
    if (e->d_type != DT_DIR || !valid_id(e->d_name)) continue;
    if (n == cap && !(names = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names))) hand_over();
    if (!(names[n++] = strdup(e->d_name))) hand_over();
  }
  if (names) qsort(names, n, sizeof *names, by_name);
  struct row *rows = calloc(n + 1, sizeof *rows);
  if (!rows) hand_over();
  static const char *head[6] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
  size_t width[6];
  for (int c = 0; c < 6; c++) width[c] = strlen(head[c]);
  for (size_t i = 0; i < n; i++) {
    struct row *r = &rows[i];
    char dir[4200];
    if (snprintf(dir, sizeof dir, "%s/%s", root, names[i]) >= (int)sizeof dir || load_fast(dir, &r->s) < 0) hand_over();
    r->id = names[i];
    r->status = status_of(&r->s, dir);
    snprintf(r->pid, sizeof r->pid, "%d", strcmp(r->status, "stopped") ? fast_pid(&r->s) : 0);
    const struct field *b = get(&r->s, "table.bundle"), *c = get(&r->s, "table.created"), *o = get(&r->s, "table.owner");
    char key[32];
    snprintf(key, sizeof key, "list.%s", r->status);
    if (!b || !c || !o || !get(&r->s, key)) hand_over();
    const char *cells[6] = {r->id, r->pid, r->status, b->val, c->val, o->val};
    size_t lens[6] = {strlen(r->id), strlen(r->pid), strlen(r->status), b->len, c->len, o->len};
    for (int k = 0; k < 6; k++) {
      if (!ascii(cells[k], lens[k]) || memchr(cells[k], 0, lens[k])) hand_over();
      r->cell[k] = cells[k];
      r->len[k] = lens[k];
      if (lens[k] > width[k]) width[k] = lens[k];
    }
  }
  FILE *out = stdout;
  if (quiet) {
    for (size_t i = 0; i < n; i++) fprintf(out, "%s\n", rows[i].id);
  } else if (json) {
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
      char key[32];
      snprintf(key, sizeof key, "list.%s", rows[i].status);
      const struct field *f = get(&rows[i].s, key);
      if (i) fputc(',', out);
      fwrite(f->val, 1, f->len, out);
    }
    fputs("]\n", out);
  } else {
    for (size_t i = 0; i <= n; i++) {
      for (int k = 0; k < 6; k++) {
        const char *cell = i == 0 ? head[k] : rows[i - 1].cell[k];
        size_t len = i == 0 ? strlen(head[k]) : rows[i - 1].len[k];
        fwrite(cell, 1, len, out);
        if (k < 5)
          for (size_t pad = len; pad < width[k] + 2; pad++) fputc(' ', out);
      }
      fputc('\n', out);
    }
  }
  if (fflush(out) != 0) hand_over();
  return 0;
}

/* Signal names as src/runtime/signals.ts reads them (a subset: the rest goes to the CLI). */
static int parse_signal(const char *s) {
  static const struct {
    const char *name;
    int sig;
  } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
               {"IOT", SIGIOT},   {"BUS", SIGBUS},     {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
               {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"STKFLT", SIGSTKFLT},
               {"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG},
               {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
               {"POLL", SIGPOLL}, {"PWR", SIGPWR},     {"SYS", SIGSYS}};
  if (*s && strspn(s, "0123456789") == strlen(s)) {
    if (strlen(s) > 2) return -1;
    int n = atoi(s);
    return n >= 0 && n <= 64 ? n : -1; /* 0: only "is it alive?", as kill(1) and runc */
  }
  if (!strncasecmp(s, "SIG", 3)) s += 3;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcasecmp(s, names[i].name)) return names[i].sig;
  return -1;
}

/* As src/runtime/kill.ts: through a pidfd, after checking the pid still names the init. */
static int cmd_kill(const char *dir, const char *signame) {
  int sig = parse_signal(signame);
  if (sig < 0) hand_over();
  int lock = lock_container(dir);
  if (lock < 0) hand_over();
  struct fast s;
  if (load_fast(dir, &s) < 0) hand_over();
  int pid = fast_pid(&s);
  const char *starttime = get(&s, "starttime")->val;
  if (pid < 0 || !alive(pid, starttime)) hand_over(); /* stopped: the CLI says so */
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pfd < 0) {
    if (errno == ESRCH) return 0; /* it died meanwhile: as the CLI, not an error */
    hand_over();
  }
  /* The pidfd pins the process: if the start time still matches, the signal reaches it. */
  if (!alive(pid, starttime)) return 0;
  if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0 && errno != ESRCH) hand_over(); /* nothing was sent: the CLI tries and reports */
  close(pfd);
  close(lock);
  return 0;
}

static int opt_value(char **args, int n, int *i, const char *name, const char **value) {
  size_t len = strlen(name);
  const char *a = args[*i];
  if (strncmp(a, name, len)) return 0;
  if (a[len] == '=') {
    *value = a + len + 1;
    return 1;
  }
  if (a[len] || *i + 1 >= n || args[*i + 1][0] == '-') return 0;
  *value = args[++*i];
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: skiff-front CLI_JS [ARG...] | skiff-front --dock DOCK_JS [ARG...]\n");
    return 127;
  }
  /* bin/dock: every dock call goes to the warm server when one can take it, else to Node. The CA
   * bundle is set aside first (as bin/dock did), so that both see the same environment. */
  if (!strcmp(argv[1], "--dock") && argc >= 3) {
    cli_js = argv[2];
    cli_args = argv + 3;
    cli_argc = argc - 3;
    const char *ca = getenv("NODE_EXTRA_CA_CERTS");
    if (ca) setenv("SKIFF_CALLER_NODE_EXTRA_CA_CERTS", ca, 1);
    unsetenv("NODE_EXTRA_CA_CERTS");
    if (geteuid() == 0) front_try_server(cli_js, cli_args, cli_argc, 1);
    hand_over();
  }
  cli_js = argv[1];
  cli_args = argv + 2;
  cli_argc = argc - 2;
  const char *root = geteuid() == 0 ? "/run/skiff" : NULL; /* rootless defaults: the CLI */
  int i = 0;
  for (; i < cli_argc && cli_args[i][0] == '-'; i++) {
    const char *v;
    if (opt_value(cli_args, cli_argc, &i, "--root", &v)) root = v;
    else if (opt_value(cli_args, cli_argc, &i, "--log", &v)) continue;
    else if (opt_value(cli_args, cli_argc, &i, "--log-format", &v)) {
      if (strcmp(v, "text") && strcmp(v, "json")) hand_over();
    } else if (opt_value(cli_args, cli_argc, &i, "--rootless", &v) || opt_value(cli_args, cli_argc, &i, "--criu", &v)) continue;
    else if (strcmp(cli_args[i], "--systemd-cgroup")) hand_over(); /* --debug, --help, --version, unknown */
  }
  if (i >= cli_argc || !root || !*root) hand_over();
  const char *verb = cli_args[i];
  /* The verbs that need the TypeScript CLI and that engines call for every container. */
  if (!strcmp(verb, "create") || !strcmp(verb, "run") || !strcmp(verb, "exec")) {
    front_try_server(cli_js, cli_args, cli_argc, 0);
    hand_over();
  }
  char **rest = cli_args + i + 1;
  int nrest = cli_argc - i - 1;
  if (!strcmp(verb, "list") || !strcmp(verb, "ls")) {
    int quiet = 0, json = 0;
    for (int j = 0; j < nrest; j++) {
      const char *v;
      if (!strcmp(rest[j], "-q") || !strcmp(rest[j], "--quiet")) quiet = 1;
      else if (opt_value(rest, nrest, &j, "--format", &v) || (!strcmp(rest[j], "-f") && j + 1 < nrest && (v = rest[++j]))) {
        if (!strcmp(v, "json")) json = 1;
        else if (!strcmp(v, "table")) json = 0;
        else hand_over();
      } else hand_over();
    }
    if (!root || !*root || strlen(root) > 2048) hand_over();
    return cmd_list(root, quiet, json);
  }
  /* delete [-f|--force] ID: with force, a live container is killed first */
  char *kept[2];
  int force = 0;
  if (!strcmp(verb, "delete") && nrest <= 2) {
    int k = 0;
    for (int j = 0; j < nrest; j++)
      if (strcmp(rest[j], "-f") && strcmp(rest[j], "--force")) {
        if (k < 2) kept[k] = rest[j];
        k++;
      } else force = 1;
    if (k != 1) hand_over();
    rest = kept;
    nrest = 1;
  }
  for (int j = 0; j < nrest; j++)
    if (rest[j][0] == '-' || !rest[j][0]) hand_over();
  if (nrest < 1 || !valid_id(rest[0]) || strlen(root) > 2048) hand_over();
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/%s", root, rest[0]);
  if (!strcmp(verb, "state") && nrest == 1) return cmd_state(dir);
  if (!strcmp(verb, "start") && nrest == 1) return cmd_start(dir);
  if (!strcmp(verb, "kill") && (nrest == 1 || nrest == 2)) return cmd_kill(dir, nrest == 2 ? rest[1] : "SIGTERM");
  if (!strcmp(verb, "delete") && nrest == 1) return cmd_delete(root, rest[0], dir, force);
  hand_over();
}
