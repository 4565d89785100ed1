/*
 * The link between skiff-front and the warm skiff server (src/cli/server.ts): one SOCK_SEQPACKET
 * connection per call. Mirrored by src/runtime/remote.ts; change together.
 *
 * The front sends one REQUEST (its cwd, umask, argv and environment, with its stdin, stdout and
 * stderr as SCM_RIGHTS) and then does what the server asks, because those things must happen in the
 * caller's own process: start skiff-init (so that the container's init is the caller's child, as
 * with runc, and an engine's subreaper -- conmon, containerd's shim -- gets it), become a child
 * subreaper, wait for its children and forward signals to the foreground process. The server runs
 * the TypeScript CLI with that context and ends the call with EXIT, or with HANDOVER before it has
 * done anything, to have the front run the CLI on Node itself (a terminal of its own, say).
 *
 * Each message: struct skiff_remote_msg, then a payload (the request's strings).
 */
#ifndef SKIFF_REMOTE_H
#define SKIFF_REMOTE_H

#include <stdint.h>

#define SKIFF_REMOTE_VERSION 1
/* The largest message: a request with a larger environment is served by Node directly. */
#define SKIFF_REMOTE_MAX (192 * 1024)
#define SKIFF_REMOTE_DIR "/run/skiff-server"

enum skiff_remote_type {
  /* front -> server: a = version, b = umask, c = argc, d = envc; payload "cwd\0arg\0...env\0...";
   * fds: stdin, stdout, stderr */
  REMOTE_REQUEST = 1,
  /* server -> front: a = fd target, b = preserved fds. Answer SPAWNED: a = pid, b = errno, payload
   * the failed step; fd: the init socket. */
  REMOTE_SPAWN = 2,
  REMOTE_SPAWNED = 3,
  /* server -> front: become a child subreaper. Answer DONE: b = errno. */
  REMOTE_SUBREAPER = 4,
  REMOTE_DONE = 5,
  /* server -> front: waitpid(a, b ? WNOHANG : 0). Answer WAITED: a = waitpid's result, b = errno,
   * c = exit status (128 + signal when killed), d = signal or 0. */
  REMOTE_WAITPID = 6,
  REMOTE_WAITED = 7,
  /* server -> front: wait for pid a in the foreground, forwarding signals to it, then reap the
   * orphans we collected as subreaper. Answer WAITED. */
  REMOTE_WAIT_FOREGROUND = 8,
  /* server -> front: the call is over, exit with status a. */
  REMOTE_EXIT = 9,
  /* server -> front: nothing was done; run the TypeScript CLI on Node instead. */
  REMOTE_HANDOVER = 10,
  /* front -> server: a dock call (src/cli/dock-serve.ts), laid out as REQUEST; fds: stdin, stdout,
   * stderr and the read end of a pipe on which the front writes each signal it gets as one byte.
   * The server answers STARTED once it runs the call (no HANDOVER after that), then EXIT: a = status,
   * b = a signal to die of (one dock left unhandled), or 0. */
  REMOTE_REQUEST_DOCK = 11,
  REMOTE_STARTED = 12,
  /* server -> front: stdin becomes /dev/null (what the init is started with next: `dock exec`
   * without -i must not read the caller's input). Answer DONE: b = errno. */
  REMOTE_NULL_STDIN = 13,
};

struct skiff_remote_msg {
  uint32_t type;
  int32_t a, b, c, d;
};

#endif
