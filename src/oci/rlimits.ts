// process.rlimits types and their resource numbers for setrlimit(2)/prlimit(2) on Linux
// (include/uapi/asm-generic/resource.h; the same on x86, arm, arm64, riscv, s390 and ppc; mips,
// sparc and alpha renumber a few and are not targets of skiff).
import type { RlimitType } from './types';

export const RLIMITS: Readonly<Record<RlimitType, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** RLIM_INFINITY: "unlimited" as the kernel and the spec's uint64 fields spell it. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

export function isRlimitType(name: string): name is RlimitType {
  return Object.prototype.hasOwnProperty.call(RLIMITS, name);
}
