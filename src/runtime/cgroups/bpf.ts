// Loading and attaching the v2 device filter. The bpf(2) calls live in the addon (addon/bpf.c),
// reached through runtime/native.ts; the manager takes them as a small interface so that unit
// tests can pass a fake that records what would be attached.

import { closeSync } from 'node:fs';
import { nativeBpf } from '../native';
import { cgroupError, errnoOf } from './files';
import { compileDeviceFilter, type DeviceFilterProgram } from './devicefilter';
import type { DeviceState } from './devices';
import { osReason } from '../errors';

export interface BpfOps {
  loadDeviceProgram(insns: Buffer, license: string): number;
  attachCgroup(progFd: number, cgroupDir: string, replaceProgFd?: number): void;
  detachCgroup(progFd: number, cgroupDir: string): void;
  /** Ids of the device programs attached directly to the cgroup. */
  queryCgroup(cgroupDir: string): number[];
  progFdById(id: number): number;
  closeFd(fd: number): void;
}

export function defaultBpfOps(): BpfOps {
  const n = nativeBpf();
  return {
    loadDeviceProgram: (insns, license) => n.bpfLoadDeviceProgram(insns, license),
    attachCgroup: (fd, dir, replace) => n.bpfAttachCgroup(fd, dir, replace),
    detachCgroup: (fd, dir) => n.bpfDetachCgroup(fd, dir),
    queryCgroup: (dir) => n.bpfQueryCgroup(dir),
    progFdById: (id) => n.bpfProgFdById(id),
    closeFd: (fd) => closeSync(fd),
  };
}

/**
 * Replace the device programs of a cgroup with one compiled from `state`. The new program is
 * attached before the old ones are detached, so there is no moment without a filter (while both
 * are attached, an access must pass both: stricter, never looser). Old programs we may not open
 * (EPERM/EACCES: another manager's, LSM-protected) are left in place, as runc does: with
 * BPF_F_ALLOW_MULTI they can only restrict further.
 */
export function installDeviceFilter(bpf: BpfOps, cgroupDir: string, state: DeviceState): DeviceFilterProgram {
  const program = compileDeviceFilter(state);
  const fail = (what: string, err: unknown) =>
    cgroupError(errnoOf(err) ?? 'EIO', `cannot ${what} the device filter of ${cgroupDir}: ${osReason(err)}`, err);
  let old: number[];
  try {
    old = bpf.queryCgroup(cgroupDir);
  } catch (err) {
    throw fail('query', err);
  }
  let fd: number;
  try {
    fd = bpf.loadDeviceProgram(program.bytes, program.license);
  } catch (err) {
    throw fail('load', err);
  }
  try {
    try {
      bpf.attachCgroup(fd, cgroupDir);
    } catch (err) {
      throw fail('attach', err);
    }
    for (const id of old) {
      let oldFd: number;
      try {
        oldFd = bpf.progFdById(id);
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'EPERM' || code === 'EACCES' || code === 'ENOENT') continue;
        throw fail('replace', err);
      }
      try {
        bpf.detachCgroup(oldFd, cgroupDir);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw fail('detach an old program from', err);
      } finally {
        bpf.closeFd(oldFd);
      }
    }
  } finally {
    bpf.closeFd(fd);
  }
  return program;
}
