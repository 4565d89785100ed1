// `update`: change the resource limits of a live container (runc's update.go). The new values come
// from a linux.resources document (--resources FILE, or - for stdin) or from runc's flags; only
// what is given changes. They are written through the cgroup manager, then merged into the
// container's record (state.json config.linux.resources), so later reads see them.
import { readFileSync } from 'node:fs';
import { validateResources, parseJsonText } from '../oci/validate';
import type { LinuxResources } from './cgroups/types';
import { containerError, usageError } from './errors';
import type { Runtime } from './runtime';
import type { ContainerRecord } from './state';
import { cgroupsOf, containerStatus } from './status';

/** runc's update flags, as strings from the command line (absent = unchanged). */
export interface UpdateFlags {
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpuBurst?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuIdle?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A memory size as runc (docker/go-units RAMInBytes) reads it: "1024", "64m", "64M", "64MB",
 * "64MiB", "1.5g", "512 k"; binary multiples; "-1" means unlimited.
 */
export function parseMemorySize(value: string, flag: string): number {
  if (value === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) throw usageError(`invalid value for --${flag}: invalid size: ${JSON.stringify(value)}`);
  const n = Math.trunc(Number.parseFloat(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
  if (!Number.isSafeInteger(n)) throw usageError(`invalid value for --${flag}: ${JSON.stringify(value)} is too large`);
  return n;
}

function parseInteger(value: string, flag: string, signed: boolean): number | bigint {
  const ok = signed ? /^[+-]?\d+$/ : /^\+?\d+$/;
  if (!ok.test(value)) throw usageError(`invalid value for --${flag}: ${JSON.stringify(value)} is not ${signed ? 'an integer' : 'a non-negative integer'}`);
  const big = BigInt(value);
  const limit = signed ? 2n ** 63n : 2n ** 64n;
  if (big >= limit || big < (signed ? -limit : 0n)) throw usageError(`invalid value for --${flag}: ${value} is out of range`);
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

/**
 * The resources runc's flags ask for. Intel RDT flags fail: skiff does not manage resctrl. The
 * kernel memory flags are accepted and ignored with a warning, as runc does (kernels since 5.16
 * ignore kmem limits; cgroup v2 never had them).
 */
export function resourcesFromFlags(f: UpdateFlags, warn: (message: string) => void = () => {}): LinuxResources {
  if (f.l3CacheSchema !== undefined || f.memBwSchema !== undefined) {
    const flag = f.l3CacheSchema !== undefined ? '--l3-cache-schema' : '--mem-bw-schema';
    throw usageError(`update ${flag}: Intel RDT (resctrl) is not supported by skiff`);
  }
  const r: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  const sizes: [keyof UpdateFlags, 'limit' | 'swap' | 'reservation', string][] = [
    ['memory', 'limit', 'memory'],
    ['memorySwap', 'swap', 'memory-swap'],
    ['memoryReservation', 'reservation', 'memory-reservation'],
  ];
  for (const [key, field, flag] of sizes) {
    const v = f[key];
    if (v !== undefined && v !== '') memory[field] = parseMemorySize(v, flag);
  }
  for (const [key, flag] of [['kernelMemory', 'kernel-memory'], ['kernelMemoryTcp', 'kernel-memory-tcp']] as const) {
    const v = f[key];
    if (v === undefined || v === '') continue;
    parseMemorySize(v, flag); // still a usage error when malformed
    warn(`setting --${flag} is ignored (kernel memory limits are obsolete)`);
  }
  if (Object.keys(memory).length) r.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  const unsigned: [keyof UpdateFlags, 'burst' | 'period' | 'realtimePeriod' | 'shares', string][] = [
    ['cpuBurst', 'burst', 'cpu-burst'],
    ['cpuPeriod', 'period', 'cpu-period'],
    ['cpuRtPeriod', 'realtimePeriod', 'cpu-rt-period'],
    ['cpuShare', 'shares', 'cpu-share'],
  ];
  for (const [key, field, flag] of unsigned) {
    const v = f[key];
    if (v !== undefined && v !== '') cpu[field] = parseInteger(v, flag, false);
  }
  const signed: [keyof UpdateFlags, 'quota' | 'realtimeRuntime' | 'idle', string][] = [
    ['cpuQuota', 'quota', 'cpu-quota'],
    ['cpuRtRuntime', 'realtimeRuntime', 'cpu-rt-runtime'],
    ['cpuIdle', 'idle', 'cpu-idle'],
  ];
  for (const [key, field, flag] of signed) {
    const v = f[key];
    if (v !== undefined && v !== '') cpu[field] = parseInteger(v, flag, true);
  }
  if (f.cpusetCpus) cpu.cpus = f.cpusetCpus;
  if (f.cpusetMems) cpu.mems = f.cpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;

  // runc reads these two as int flags where 0 (the default) means "unchanged".
  if (f.pidsLimit !== undefined) {
    const v = parseInteger(f.pidsLimit, 'pids-limit', true);
    if (Number(v) !== 0) r.pids = { limit: v };
  }
  if (f.blkioWeight !== undefined) {
    const v = Number(parseInteger(f.blkioWeight, 'blkio-weight', false));
    if (v !== 0) r.blockIO = { weight: v };
  }
  return validateResources(r, { name: 'update flags' });
}

/** A resources document from a file, or from `stdin` text when the path is "-". */
export function resourcesFromDocument(path: string, stdin: () => string = () => readFileSync(0, 'utf8')): LinuxResources {
  let text: string;
  try {
    text = path === '-' ? stdin() : readFileSync(path, 'utf8');
  } catch (err) {
    throw usageError(`update --resources: cannot read ${path === '-' ? 'standard input' : path}: ${(err as Error).message}`);
  }
  return validateResources(parseJsonText(text, 'resources'), { name: 'resources' });
}

/**
 * What the cgroup manager is asked to write: `r` less what `update` never changes. runc skips
 * device rules on update (its SkipDevices) and reads pids.limit 0 as "unchanged".
 */
function updatable(rt: Runtime, r: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...r };
  if (out.devices) {
    rt.log.warn('update: linux.resources.devices cannot be changed on a live container: ignored');
    delete out.devices;
  }
  if (out.pids && Number(out.pids.limit ?? 0) === 0) delete out.pids;
  if (out.cpu && out.cpu.cpus === '') out.cpu = { ...out.cpu, cpus: undefined };
  if (out.cpu && out.cpu.mems === '') out.cpu = { ...out.cpu, mems: undefined };
  return out;
}

export function update(rt: Runtime, id: string, resources: LinuxResources): ContainerRecord {
  const lock = rt.store.lock(id);
  try {
    const rec = rt.store.read(id);
    if (containerStatus(rt, rec) === 'stopped') throw containerError('ESTATUS', 'container not running');
    const delta = updatable(rt, resources);
    cgroupsOf(rt, rec).update(delta);
    const linux = (rec.config.linux ??= {});
    linux.resources = mergeResources(linux.resources ?? {}, delta);
    rt.store.write(rec);
    return rec;
  } finally {
    lock.release();
  }
}

type Obj = Record<string, unknown>;

/** Per-device (or per-page-size, per-interface) lists: an entry replaces the one with the same key. */
const KEYED_LISTS: Record<string, (e: Obj) => string> = {
  weightDevice: (e) => `${e.major}:${e.minor}`,
  throttleReadBpsDevice: (e) => `${e.major}:${e.minor}`,
  throttleWriteBpsDevice: (e) => `${e.major}:${e.minor}`,
  throttleReadIOPSDevice: (e) => `${e.major}:${e.minor}`,
  throttleWriteIOPSDevice: (e) => `${e.major}:${e.minor}`,
  hugepageLimits: (e) => String(e.pageSize),
  priorities: (e) => String(e.name),
};

/**
 * `next` over `prev`: objects field by field, keyed lists entry by entry (the kernel keeps the other
 * devices' values too), everything else replaced. Undefined fields of `next` change nothing.
 */
export function mergeResources(prev: LinuxResources, next: LinuxResources): LinuxResources {
  return mergeObject(prev as Obj, next as Obj) as LinuxResources;
}

function mergeObject(prev: Obj, next: Obj): Obj {
  const out: Obj = { ...prev };
  for (const [k, v] of Object.entries(next)) {
    if (v === undefined) continue;
    const old = out[k];
    if (Array.isArray(v) && Array.isArray(old) && KEYED_LISTS[k]) {
      const key = KEYED_LISTS[k];
      const merged = new Map<string, unknown>((old as Obj[]).map((e) => [key(e), e]));
      for (const e of v as Obj[]) merged.set(key(e), e);
      out[k] = [...merged.values()];
    } else if (isPlainObject(v) && isPlainObject(old)) {
      out[k] = mergeObject(old, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
