/*
 * CVE-2019-5736: skiff-init runs from a sealed memfd copy of itself, never from the host file.
 *
 * The attack: skiff-init execs the container's program; if that program is a script whose
 * interpreter is "/proc/self/exe", the kernel runs skiff-init itself again, inside the container,
 * with the container's loader and its /etc/ld.so.preload, and as a fresh exec it is dumpable. Code
 * of the container then holds an fd to /proc/self/exe and writes through it once the binary is no
 * longer busy: the host's skiff-init is replaced, and the next `skiff run` runs the container's
 * code as root on the host. PR_SET_DUMPABLE does not help: it does not survive that execve.
 *
 * The answer here: skiff-init only ever runs from a memfd copy of itself, sealed (no write, grow,
 * shrink, and no further sealing: F_SEAL_SEAL). /proc/PID/exe of every process started from it --
 * stage 1, the container's init while it waits, exec's join process, and the interpreter run of
 * the attack -- then names "/memfd:skiff-init", a file no one can write, never a host file.
 * The starters make the copy and exec it (the addon's spawnInit for run/create/exec and dock build
 * RUN steps; skiff-supervisor for dock run/start/exec); skiff-init checks first thing in main()
 * that it is such a copy and, when started any other way, makes one and re-execs itself. The
 * check is F_GET_SEALS on /proc/self/exe: a regular file has no seals (EINVAL), so a copy that
 * failed to seal can never loop, and a process that cannot run sealed refuses to go on.
 *
 * Why a memfd and not runc's other way, a read-only bind mount of the binary made in a private
 * mount namespace: that needs an unshare(CLONE_NEWNS) per start (a copy of the host's whole mount
 * table, slow on a host with many container mounts), a mount, and privilege (a rootless caller has
 * none outside a user namespace); a memfd needs nothing. Its cost is a copy of the binary: runc
 * (about 10 MB) paid dearly for that and later moved to an overlay trick, but skiff-init is a small
 * C program (about 50 KB): the copy costs tens of microseconds, while a second execve of the
 * dynamic binary (the self re-exec) costs milliseconds -- hence the starters copy, and the re-exec
 * is only the guard. docs/security.md has the measured numbers. A copy cannot be shared between
 * skiff calls (each is its own process); it is freed when its last process exits.
 */
#ifndef SKIFF_SEALED_EXE_H
#define SKIFF_SEALED_EXE_H

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even where vm.memfd_noexec asks otherwise */
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020 /* Linux 6.3: the mode's exec bits cannot change */
#endif

#define SKIFF_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/*
 * A sealed memfd copy of the file at `path` (close-on-exec), or -1 with errno set and *what naming
 * the step. The copy is at fd >= min_fd so that the caller's dup2 plan cannot overwrite it.
 */
static inline int skiff_sealed_copy(const char *path, const char *name, int min_fd, const char **what) {
  int mfd = -1, saved;
  *what = "open the binary";
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) return -1;
  struct stat st;
  *what = "stat the binary";
  if (fstat(src, &st) < 0) goto fail;
  *what = "memfd_create";
  mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mfd < 0 && errno == EINVAL) mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING); /* before 6.3 */
  if (mfd < 0) goto fail;
  *what = "copy the binary into the memfd";
  for (off_t done = 0; done < st.st_size;) {
    ssize_t n = sendfile(mfd, src, &done, (size_t)(st.st_size - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO; /* the file shrank under us */
      goto fail;
    }
  }
  *what = "seal the memfd";
  if (fcntl(mfd, F_ADD_SEALS, SKIFF_SEALS | F_SEAL_EXEC) < 0 && (errno != EINVAL || fcntl(mfd, F_ADD_SEALS, SKIFF_SEALS) < 0)) goto fail;
  close(src);
  if (mfd < min_fd) {
    *what = "move the memfd";
    int moved = fcntl(mfd, F_DUPFD_CLOEXEC, min_fd);
    saved = errno;
    close(mfd);
    errno = saved;
    return moved;
  }
  return mfd;
fail:
  saved = errno;
  if (mfd >= 0) close(mfd);
  close(src);
  errno = saved;
  return -1;
}

/* 1 when this process runs from a sealed copy, 0 when not, -1 (errno) when it cannot tell. */
static inline int skiff_exe_is_sealed(void) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int seals = fcntl(fd, F_GET_SEALS);
  int saved = errno;
  close(fd);
  if (seals < 0) {
    if (saved == EINVAL) return 0; /* not a memfd: the host file */
    errno = saved;
    return -1;
  }
  return (seals & SKIFF_SEALS) == SKIFF_SEALS;
}

/*
 * skiff-init's own guard: re-exec from a sealed copy unless this already is one. Returns 0 when
 * running sealed; on failure -1 with errno set and *what naming the step. fds without FD_CLOEXEC
 * (the init socket, stdio, preserved fds) pass through the execve unchanged.
 */
static inline int skiff_run_sealed(char **argv, char **envp, const char *name, const char **what) {
  int sealed = skiff_exe_is_sealed();
  if (sealed == 1) return 0;
  *what = "open /proc/self/exe";
  if (sealed < 0) return -1;
  int mfd = skiff_sealed_copy("/proc/self/exe", name, 0, what);
  if (mfd < 0) return -1;
  *what = "execute the sealed copy";
  syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
  int saved = errno;
  close(mfd);
  errno = saved;
  return -1;
}

#endif
