/*
 * rtnetlink transport for dock's networking library (src/engine/network). This file holds no
 * policy and builds no messages: TypeScript (src/engine/network/rtnetlink.ts) encodes every
 * request and decodes every reply, so that the message layout is unit-tested without a kernel.
 * Here only the system calls Node does not offer:
 *
 *   netlinkOpen(netnsPath: string | null): number     NETLINK_ROUTE socket made in that netns
 *   netlinkTalk(fd, request: Buffer): Buffer          send one request, return its replies
 *   netnsEnter(path: string): number                  the calling thread joins a netns; returns
 *                                                     an fd of the one it left (for netnsRestore)
 *   netnsRestore(fd): void                            go back (and close fd)
 *
 * Errors are thrown as Error("<what>: <strerror>[: <kernel's extack message>]") with .code
 * ("EEXIST", ...) and .errno.
 *
 * Kernel quirks, each with its reason:
 *  - A netlink socket stays bound to the network namespace it was created in, whatever the
 *    creating thread does next. So a socket "in" another namespace is made by moving the calling
 *    thread there (setns(CLONE_NEWNET) affects only the calling thread, which is allowed in a
 *    multi-threaded process, unlike setns into a user or mount namespace), calling socket(), and
 *    moving back at once. The thread is the Node main thread: no JavaScript runs in between.
 *  - netnsEnter/netnsRestore leave the main thread in another namespace across JavaScript calls,
 *    for the few things that take the namespace from the calling thread: fork() (libuv spawns from
 *    the calling thread, so a child started meanwhile is born in that namespace) and opening
 *    /proc/sys/net/... (sysctls are resolved in the opener's namespace). Callers restore in a
 *    `finally`; libuv's pool threads never move.
 *  - Replies of a request end with an NLMSG_ERROR (ack, error 0, or the errno) when NLM_F_ACK was
 *    set, and a dump ends with NLMSG_DONE; both are consumed here, never returned. Replies to an
 *    older sequence number (a timed-out request) are skipped.
 *  - NETLINK_EXT_ACK makes the kernel say why it refused ("Invalid prefix for given prefix
 *    length"); it is added to the message when present.
 *  - SO_RCVTIMEO bounds every wait: a request the kernel never answers fails with ETIMEDOUT
 *    instead of blocking Node forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <node_api.h>

#include "napi-util.h"
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

#define NL_RECV_BUF (256 * 1024)





/* Moves the calling thread into the netns at `path`; returns an fd of the namespace it left. */
static int enter_netns(const char *path, int *err) {
  int old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (old < 0) {
    *err = errno;
    return -1;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    *err = errno;
    close(old);
    return -1;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    *err = errno;
    close(target);
    close(old);
    return -1;
  }
  close(target);
  return old;
}

/* Goes back to `old`. Failing here would leave the main thread in a foreign namespace: abort. */
static void leave_netns(int old) {
  if (setns(old, CLONE_NEWNET) < 0) {
    perror("skiff: cannot return to the original network namespace");
    abort();
  }
  close(old);
}

/* netlinkOpen(netnsPath | null) -> fd */
static napi_value netlink_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) path = skiff_get_string(env, argv[0]);
  int old = -1, err = 0;
  if (path) {
    old = enter_netns(path, &err);
    if (old < 0) {
      char what[600];
      snprintf(what, sizeof what, "enter network namespace %s", path);
      free(path);
      return skiff_throw(env, what, err, NULL);
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  err = errno;
  if (old >= 0) leave_netns(old);
  free(path);
  if (fd < 0) return skiff_throw(env, "netlink socket", err, NULL);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    err = errno;
    close(fd);
    return skiff_throw(env, "bind netlink socket", err, NULL);
  }
  return skiff_number(env, fd);
}

/* The extack message of an NLMSG_ERROR, if the kernel attached one. */
static const char *extack_msg(struct nlmsghdr *h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return NULL;
  struct nlmsgerr *e = NLMSG_DATA(h);
  size_t off = sizeof *e;
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
  if (NLMSG_HDRLEN + off > h->nlmsg_len) return NULL;
  char *p = (char *)NLMSG_DATA(h) + off;
  int left = (int)(h->nlmsg_len - NLMSG_HDRLEN - off);
  for (struct nlattr *a = (struct nlattr *)p; left >= (int)sizeof *a && a->nla_len >= sizeof *a && a->nla_len <= left;
       left -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > sizeof *a) {
      char *s = (char *)a + NLA_HDRLEN;
      if (s[a->nla_len - NLA_HDRLEN - 1] == '\0') return s;
    }
  }
  return NULL;
}

/* netlinkTalk(fd, request: Buffer) -> Buffer of the reply messages (acks and DONE removed). */
static napi_value netlink_talk(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  void *req;
  size_t reqlen;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &req, &reqlen) != napi_ok || reqlen < sizeof(struct nlmsghdr)) {
    napi_throw_type_error(env, NULL, "netlinkTalk(fd, request: Buffer)");
    return NULL;
  }
  struct nlmsghdr *rh = req;
  uint32_t seq = rh->nlmsg_seq;
  int dump = (rh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP && !(rh->nlmsg_flags & NLM_F_ACK);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do {
    n = sendto(fd, req, reqlen, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return skiff_throw(env, "netlink send", errno, NULL);

  char *buf = malloc(NL_RECV_BUF);
  size_t cap = 64 * 1024, used = 0;
  char *out = malloc(cap);
  if (!buf || !out) {
    free(buf);
    free(out);
    return skiff_throw(env, "netlink receive", ENOMEM, NULL);
  }
  int done = 0, err = 0;
  char detail[512] = "";
  while (!done) {
    do {
      n = recv(fd, buf, NL_RECV_BUF, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      err = errno == EAGAIN ? ETIMEDOUT : errno;
      break;
    }
    if (n == 0) {
      err = EPROTO;
      break;
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue; /* a late reply to an earlier request */
      if (h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error) {
          err = -e->error;
          const char *m = extack_msg(h);
          if (m) snprintf(detail, sizeof detail, "%s", m);
        }
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_NOOP) continue;
      size_t aligned = NLMSG_ALIGN(h->nlmsg_len);
      if (used + aligned > cap) {
        while (used + aligned > cap) cap *= 2;
        char *bigger = realloc(out, cap);
        if (!bigger) {
          err = ENOMEM;
          done = 1;
          break;
        }
        out = bigger;
      }
      memcpy(out + used, h, h->nlmsg_len);
      memset(out + used + h->nlmsg_len, 0, aligned - h->nlmsg_len); /* replies are parsed aligned */
      used += aligned;
      /* A non-dump request without NLM_F_ACK gets exactly one reply. */
      if (!dump && !(rh->nlmsg_flags & NLM_F_ACK) && !(h->nlmsg_flags & NLM_F_MULTI)) {
        done = 1;
        break;
      }
    }
  }
  free(buf);
  if (err) {
    free(out);
    return skiff_throw(env, "netlink request", err, detail);
  }
  napi_value result;
  void *data;
  if (napi_create_buffer_copy(env, used, out, &data, &result) != napi_ok) {
    free(out);
    return skiff_throw(env, "netlink receive", ENOMEM, NULL);
  }
  free(out);
  return result;
}

/* netnsEnter(path) -> fd of the namespace the calling thread left. */
static napi_value netns_enter(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = argc ? skiff_get_string(env, argv[0]) : NULL;
  if (!path) {
    napi_throw_type_error(env, NULL, "netnsEnter(path)");
    return NULL;
  }
  int err = 0;
  int old = enter_netns(path, &err);
  if (old < 0) {
    char what[600];
    snprintf(what, sizeof what, "enter network namespace %s", path);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  free(path);
  return skiff_number(env, old);
}

/* netnsRestore(fd): back to the namespace netnsEnter returned; closes fd. */
static napi_value netns_restore(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "netnsRestore(fd)");
    return NULL;
  }
  leave_netns(fd);
  return NULL;
}

#define NL_FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

napi_value skiff_netlink_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      NL_FN("netlinkOpen", netlink_open),
      NL_FN("netlinkTalk", netlink_talk),
      NL_FN("netnsEnter", netns_enter),
      NL_FN("netnsRestore", netns_restore),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
