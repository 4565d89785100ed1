import { readFileSync } from 'node:fs';
import { capabilityNumber } from '../oci/capabilities';
import { configError } from './errors';

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

/** ["CAP_CHOWN", ...] -> bit mask. Unknown names are an error; ones newer than the kernel are skipped. */
export function capMask(names: string[] | undefined, field: string): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const n = capabilityNumber(name);
    if (n < 0) throw configError('ECAP', `invalid config.json: ${field}: unknown capability ${JSON.stringify(name)}`);
    if (n <= kernelLastCap()) mask |= 1n << BigInt(n);
  }
  return mask;
}
