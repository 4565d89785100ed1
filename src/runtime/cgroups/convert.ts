// v1 → v2 conversions for the OCI fields that were designed for cgroup v1 and have no direct twin
// on v2. Same formulas as runc (opencontainers/cgroups) and crun, so that a container gets the same
// cgroup values whichever runtime starts it.

import { cgroupError } from './files';

/**
 * cpu.shares [2, 262144] → cpu.weight [1, 10000]. The current runc/crun formula (runc PR #4785,
 * crun issue #1721): a quadratic in log2(shares) that maps the three anchor points exactly —
 * 2 → 1, 1024 (the v1 default) → 100 (the v2 default), 262144 → 10000. The old linear formula
 * (1 + (shares-2)*9999/262142) mapped the default 1024 to 39, starving containers against
 * default-weight neighbours. 0 means "unset" and stays 0.
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  // Round to 12 significant digits first so 10^2.0000000000000004 does not ceil to 101.
  return Math.ceil(Number(Math.pow(10, exponent).toPrecision(12)));
}

/** blkio.weight [10, 1000] → io.weight [1, 10000], linearly (runc's ConvertBlkIOToIOWeightValue). */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (v1 memory.memsw.limit_in_bytes); v2 memory.swap.max is swap
 * alone. Returns what to write to memory.swap.max ("max" or a byte count), or undefined when
 * nothing should be written. -1 means unlimited for both inputs; 0/undefined swap means unset
 * (runc treats 0 as unset), except that unlimited memory with unset swap makes swap unlimited too,
 * as v1 would.
 */
export function memorySwapToV2(swap: Int | undefined, memory: Int | undefined): string | undefined {
  const sw = swap === undefined ? undefined : BigInt(swap);
  const mem = memory === undefined ? undefined : BigInt(memory);
  if (mem === -1n && (sw === undefined || sw === 0n)) return 'max';
  if (sw === undefined || sw === 0n) return undefined;
  if (sw === -1n) return 'max';
  if (sw < -1n) throw cgroupError('EINVAL', `invalid memory swap value: ${sw}`);
  if (mem === -1n) return String(sw);
  if (mem === undefined || mem === 0n) {
    throw cgroupError('EINVAL', 'unable to set swap limit without memory limit');
  }
  if (mem < 0n) throw cgroupError('EINVAL', `invalid memory value: ${mem}`);
  if (sw < mem) throw cgroupError('EINVAL', `memory+swap limit (${sw}) should be >= memory limit (${mem})`);
  return String(sw - mem);
}

/** A v1/v2 limit value: -1 (or any negative) is "unlimited". */
export function limitToV2(value: Int): string {
  return value < 0 ? 'max' : String(value);
}

/** Integers of the spec types: number, or bigint beyond 2^53. */
export type Int = number | bigint;

/** "2MB" → "2MB" after validation (the suffix the kernel uses in hugetlb.<size>.* file names). */
export function hugepageSizeName(pageSize: string): string {
  if (!/^[1-9][0-9]*[KMG]B$/.test(pageSize)) throw cgroupError('EINVAL', `invalid hugepage size ${JSON.stringify(pageSize)}`);
  return pageSize;
}
