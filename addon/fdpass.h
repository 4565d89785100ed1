/*
 * Sending an fd over a unix socket (SCM_RIGHTS) with a payload in the same message: the console
 * master (skiff-init), the seccomp listener (skiff-init, the addon) and the init socket handed to
 * dock (skiff-supervisor) all go this way. Header-only so that each program stays one unit.
 */
#ifndef SKIFF_FDPASS_H
#define SKIFF_FDPASS_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* One message of `len` bytes carrying `fd` (none when fd < 0). Returns sendmsg's result. */
static inline ssize_t skiff_send_fd(int sock, const void *data, size_t len, int fd) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t w;
  do {
    w = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  return w;
}

#endif
