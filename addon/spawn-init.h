/*
 * Starting skiff-init: one end of a SOCK_SEQPACKET socketpair at fd `target` (above the preserved
 * range), fds 3..3+preserve-1 passed on, stdio[0..2] as its 0, 1, 2, signal mask and dispositions
 * reset (Node blocks and ignores some, e.g. SIGPIPE, and both survive execve), and always from a
 * sealed memfd copy (sealed-exe.h, CVE-2019-5736). Shared by the addon (Node's spawnInit) and
 * skiff-front (which starts the init for the warm server, so that the init is the caller's child).
 * Header-only so that each program stays one unit.
 */
#ifndef SKIFF_SPAWN_INIT_H
#define SKIFF_SPAWN_INIT_H

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sealed-exe.h"

/* Returns 0 with *pid and *fd (our end, close-on-exec), or an errno with *step naming what failed. */
static inline int skiff_spawn_init(const char *path, int target, int preserve, const int stdio[3], pid_t *pid, int *fd, const char **step) {
  int sv[2];
  *step = "socketpair";
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return errno;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  /* Node marks every inherited fd close-on-exec at start-up, stdio included; dup2 to itself
   * clears FD_CLOEXEC (glibc >= 2.29), so stdio and the preserved fds reach the init. */
  for (int i = 0; i < 3; i++) posix_spawn_file_actions_adddup2(&fa, stdio[i], i);
  for (int i = 3; i < 3 + preserve; i++) posix_spawn_file_actions_adddup2(&fa, i, i);
  posix_spawn_file_actions_adddup2(&fa, sv[1], target);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char fdarg[16];
  snprintf(fdarg, sizeof fdarg, "%d", target);
  char *const args[] = {(char *)path, fdarg, NULL};
  char *const envp[] = {NULL};
  /* The copy sits above every fd the file actions write. */
  int min_fd = (target > 3 + preserve ? target : 3 + preserve) + 1;
  int mfd = skiff_sealed_copy(path, "skiff-init", min_fd, step);
  int rc;
  if (mfd < 0) {
    rc = errno;
  } else {
    char exe[32];
    snprintf(exe, sizeof exe, "/proc/self/fd/%d", mfd);
    rc = posix_spawn(pid, exe, &fa, &attr, args, envp);
    close(mfd);
    *step = "start";
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return rc;
  }
  *fd = sv[0];
  return 0;
}

#endif
