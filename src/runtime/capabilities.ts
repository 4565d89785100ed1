import { readFileSync } from 'node:fs';
import { capabilityNumber } from '../oci/capabilities';
import type { LinuxCapabilities } from '../oci/types';

let lastCap: number | undefined;

/** Highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap). */
export function kernelLastCap(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    } catch {
      lastCap = 40;
    }
  }
  return lastCap;
}

/**
 * ["CAP_CHOWN", ...] -> bit mask. Names skiff does not know, and ones newer than the kernel, are
 * skipped, as runc does (it warns: see unknownCapabilities).
 */
export function capMask(names: string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const n = capabilityNumber(name);
    if (n >= 0 && n <= kernelLastCap()) mask |= 1n << BigInt(n);
  }
  return mask;
}

/** The names of a process's capability sets that are skipped: for runc's warning. */
export function unknownCapabilities(caps: LinuxCapabilities | undefined): string[] {
  const out = new Set<string>();
  // Only the five sets: the schema lets other keys (of any type) through, and they mean nothing.
  for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const) {
    const list: unknown = caps?.[set];
    if (!Array.isArray(list)) continue;
    for (const name of list) {
      if (typeof name !== 'string') continue;
      const n = capabilityNumber(name);
      if (n < 0 || n > kernelLastCap()) out.add(name);
    }
  }
  return [...out];
}
