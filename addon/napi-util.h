/*
 * Helpers every file of the addon shares: errors thrown as Error objects carrying .code ("ENOENT")
 * and .errno, strings copied out of JS, numbers made for JS. Header-only (static inline), so each
 * translation unit stays self-contained.
 */
#ifndef SKIFF_NAPI_UTIL_H
#define SKIFF_NAPI_UTIL_H

#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *skiff_errno_name(int err) {
  switch (err) {
#define E(x) \
  case x:    \
    return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT)
    E(EBUSY) E(EEXIST) E(ENODEV) E(ENOTDIR) E(EINVAL) E(ENOSPC) E(ERANGE) E(ENOBUFS) E(ENOTSUP) E(E2BIG)
    E(ENOSYS) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETUNREACH) E(ENETDOWN) E(ETIMEDOUT) E(EPROTO) E(EMSGSIZE)
    E(ENAMETOOLONG) E(EAFNOSUPPORT) E(EPROTONOSUPPORT) E(ENXIO) E(ECONNREFUSED) E(EPIPE) E(ECONNRESET)
#undef E
  }
  return "EUNKNOWN";
}

/* Throw Error("<what>: <strerror>[: detail]") with .code and .errno; returns NULL for `return`. */
static inline napi_value skiff_throw(napi_env env, const char *what, int err, const char *detail) {
  char msg[1024];
  if (detail && *detail)
    snprintf(msg, sizeof msg, "%s: %s: %s", what, strerror(err), detail);
  else
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, code, no;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_string_utf8(env, skiff_errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, e, "code", code);
  napi_set_named_property(env, e, "errno", no);
  napi_throw(env, e);
  return NULL;
}

/* A malloc'd copy of a JS string, or NULL (with a pending exception when it is not a string). */
static inline char *skiff_get_string(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

static inline napi_value skiff_number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

/* The call's first `want` arguments (undefined where fewer were given); the count given, or -1. */
static inline int skiff_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return (int)argc;
}

/* A number as int32: 0, or -1 when it is not one. */
static inline int skiff_i32(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1; }

/* A number as int32, or `dflt` when it is not one (undefined, say). */
static inline int32_t skiff_i32_or(napi_env env, napi_value v, int32_t dflt) {
  int32_t out;
  return skiff_i32(env, v, &out) ? dflt : out;
}

#endif
