/*
 * eBPF for the cgroup v2 device controller. cgroup v2 has no devices.allow/deny: device access is
 * decided by BPF_PROG_TYPE_CGROUP_DEVICE programs attached to the cgroup. The program itself is
 * generated in TypeScript (src/runtime/cgroups/devicefilter.ts); this file only makes the bpf(2)
 * calls, so it holds no policy:
 *
 *   bpfLoadDeviceProgram(insns: Buffer, license: string): number   prog fd (O_CLOEXEC)
 *   bpfAttachCgroup(progFd, cgroupDir, replaceProgFd?): void       BPF_F_ALLOW_MULTI [| BPF_F_REPLACE]
 *   bpfDetachCgroup(progFd, cgroupDir): void
 *   bpfQueryCgroup(cgroupDir): number[]                           ids of programs attached there
 *   bpfProgFdById(id): number                                     fd of an attached program
 *
 * Errors are thrown as Error with .code ("EPERM", ...) and .errno; a program the verifier rejects
 * is reported with the tail of the verifier log.
 *
 * Kernel quirks, each with its reason:
 *  - Before 5.11 BPF memory was charged to RLIMIT_MEMLOCK, and the default 64 KiB limit makes
 *    BPF_PROG_LOAD fail with EPERM; the limit is raised first, as runc does (#2167). Later kernels
 *    charge the memory cgroup and ignore the rlimit.
 *  - BPF_F_ALLOW_MULTI is used so that programs attached by others (systemd) stay in force: with
 *    several programs a device access must be allowed by all of them, so ours can only restrict.
 *  - bpf(2) fds are created O_CLOEXEC by the kernel, so they never leak into a container's init.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <node_api.h>

#include "napi-util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BPF_LOG_SIZE (256 * 1024)
#define BPF_QUERY_MAX_IDS 64

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}



static napi_value type_error(napi_env env, const char *usage) {
  napi_throw_type_error(env, NULL, usage);
  return NULL;
}

static napi_value int_value(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}


static int open_cgroup_dir(const char *path) {
  return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* bpfLoadDeviceProgram(insns: Buffer, license: string): number */
static napi_value load_device_program(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool is_buf = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_is_buffer(env, argv[0], &is_buf) != napi_ok || !is_buf)
    return type_error(env, "bpfLoadDeviceProgram(insns: Buffer, license: string)");
  void *data = NULL;
  size_t len = 0;
  napi_get_buffer_info(env, argv[0], &data, &len);
  if (len == 0 || len % sizeof(struct bpf_insn) != 0)
    return type_error(env, "bpfLoadDeviceProgram: insns must be a non-empty array of 8-byte bpf_insn");
  char *license = skiff_get_string(env, argv[1]);
  if (!license) return type_error(env, "bpfLoadDeviceProgram: license must be a string");

  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  (void)setrlimit(RLIMIT_MEMLOCK, &unlimited); /* see the header: pre-5.11 kernels */

  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)data;
  attr.insn_cnt = (uint32_t)(len / sizeof(struct bpf_insn));
  attr.license = (uint64_t)(uintptr_t)license;
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0) {
    int err = errno;
    /* Load again with the verifier log on, only to explain the failure. */
    char *log = calloc(1, BPF_LOG_SIZE);
    const char *detail = NULL;
    if (log && (err == EINVAL || err == EACCES)) {
      attr.log_level = 1;
      attr.log_buf = (uint64_t)(uintptr_t)log;
      attr.log_size = BPF_LOG_SIZE;
      int again = (int)sys_bpf(BPF_PROG_LOAD, &attr);
      if (again >= 0) close(again);
      size_t n = strnlen(log, BPF_LOG_SIZE);
      while (n > 0 && (log[n - 1] == '\n' || log[n - 1] == ' ')) log[--n] = '\0';
      detail = n > 400 ? log + n - 400 : log; /* the verifier's last lines say why */
    }
    napi_value r = skiff_throw(env, "bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE)", err, detail);
    free(log);
    free(license);
    return r;
  }
  free(license);
  return int_value(env, fd);
}

/* bpfAttachCgroup(progFd: number, cgroupDir: string, replaceProgFd?: number): void */
static napi_value attach_cgroup(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t prog_fd = -1, replace_fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &prog_fd) != napi_ok)
    return type_error(env, "bpfAttachCgroup(progFd: number, cgroupDir: string, replaceProgFd?: number)");
  if (argc >= 3) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_number) napi_get_value_int32(env, argv[2], &replace_fd);
  }
  char *path = skiff_get_string(env, argv[1]);
  if (!path) return type_error(env, "bpfAttachCgroup: cgroupDir must be a string");
  int dirfd = open_cgroup_dir(path);
  if (dirfd < 0) {
    int err = errno;
    char what[512];
    snprintf(what, sizeof what, "open cgroup %s", path);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (replace_fd >= 0) {
    attr.attach_flags |= BPF_F_REPLACE;
    attr.replace_bpf_fd = (uint32_t)replace_fd;
  }
  long rc = sys_bpf(BPF_PROG_ATTACH, &attr);
  int err = errno;
  close(dirfd);
  if (rc < 0) {
    char what[512];
    snprintf(what, sizeof what, "bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE) to %s", path);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  free(path);
  return NULL;
}

/* bpfDetachCgroup(progFd: number, cgroupDir: string): void */
static napi_value detach_cgroup(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t prog_fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &prog_fd) != napi_ok)
    return type_error(env, "bpfDetachCgroup(progFd: number, cgroupDir: string)");
  char *path = skiff_get_string(env, argv[1]);
  if (!path) return type_error(env, "bpfDetachCgroup: cgroupDir must be a string");
  int dirfd = open_cgroup_dir(path);
  if (dirfd < 0) {
    int err = errno;
    char what[512];
    snprintf(what, sizeof what, "open cgroup %s", path);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)dirfd;
  attr.attach_bpf_fd = (uint32_t)prog_fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  long rc = sys_bpf(BPF_PROG_DETACH, &attr);
  int err = errno;
  close(dirfd);
  if (rc < 0) {
    char what[512];
    snprintf(what, sizeof what, "bpf(BPF_PROG_DETACH, BPF_CGROUP_DEVICE) from %s", path);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  free(path);
  return NULL;
}

/* bpfQueryCgroup(cgroupDir: string): number[] — ids of the device programs attached to it. */
static napi_value query_cgroup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return type_error(env, "bpfQueryCgroup(cgroupDir: string)");
  char *path = skiff_get_string(env, argv[0]);
  if (!path) return type_error(env, "bpfQueryCgroup: cgroupDir must be a string");
  int dirfd = open_cgroup_dir(path);
  if (dirfd < 0) {
    int err = errno;
    char what[512];
    snprintf(what, sizeof what, "open cgroup %s", path);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  uint32_t cap = BPF_QUERY_MAX_IDS;
  uint32_t *ids = NULL;
  long rc = -1;
  int err = 0;
  uint32_t count = 0;
  /* ENOSPC: more programs than room; the kernel reports how many there are, so retry once bigger. */
  for (int attempt = 0; attempt < 4; attempt++) {
    free(ids);
    ids = calloc(cap, sizeof *ids);
    if (!ids) {
      err = ENOMEM;
      break;
    }
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = (uint32_t)dirfd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = cap;
    rc = sys_bpf(BPF_PROG_QUERY, &attr);
    err = errno;
    count = attr.query.prog_cnt;
    if (rc < 0 && err == ENOSPC && count > cap) {
      cap = count;
      continue;
    }
    break;
  }
  close(dirfd);
  if (rc < 0) {
    char what[512];
    snprintf(what, sizeof what, "bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE) on %s", path);
    free(ids);
    free(path);
    return skiff_throw(env, what, err, NULL);
  }
  free(path);
  napi_value arr;
  napi_create_array_with_length(env, count, &arr);
  for (uint32_t i = 0; i < count; i++) napi_set_element(env, arr, i, int_value(env, ids[i]));
  free(ids);
  return arr;
}

/* bpfProgFdById(id: number): number */
static napi_value prog_fd_by_id(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t id = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_uint32(env, argv[0], &id) != napi_ok)
    return type_error(env, "bpfProgFdById(id: number)");
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_id = id;
  int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) {
    char what[128];
    snprintf(what, sizeof what, "bpf(BPF_PROG_GET_FD_BY_ID, %u)", id);
    return skiff_throw(env, what, errno, NULL);
  }
  return int_value(env, fd);
}

napi_value skiff_bpf_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bpfLoadDeviceProgram", NULL, load_device_program, NULL, NULL, NULL, napi_default, NULL},
      {"bpfAttachCgroup", NULL, attach_cgroup, NULL, NULL, NULL, napi_default, NULL},
      {"bpfDetachCgroup", NULL, detach_cgroup, NULL, NULL, NULL, napi_default, NULL},
      {"bpfQueryCgroup", NULL, query_cgroup, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProgFdById", NULL, prog_fd_by_id, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
