// `dock update` and POST /containers/{id}/update: new resource limits and restart policy for a
// container. A running (or paused) one gets them at once through the runtime's update (its cgroup);
// the record keeps them, so the next start's spec has them too. Docker's rules: zero means
// "unchanged", a memory limit above the swap limit already set needs the swap limit with it, and
// a restart policy cannot be given to an --rm container.

import type { LinuxResources } from '../../runtime/cgroups/types';
import { update as runtimeUpdate } from '../../runtime/update';
import { parseBytes, parseRestart } from './config';
import type { Engine } from './engine';
import { ContainerError, usage } from './errors';
import { containerEvent } from './events';
import { withLockAsync } from './lock';
import { containerDir } from './paths';
import { liveState } from './status';
import type { ContainerDoc, RestartPolicy } from './types';

/** What changes; a field left out (or 0 / "" as the API sends for "unset") stays as it is. */
export interface ContainerUpdate {
  Memory?: number;
  /** -1: unlimited swap. */
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  /** -1: unlimited. */
  PidsLimit?: number;
  RestartPolicy?: RestartPolicy;
  MemoryReservation?: number;
  /** Microseconds; not together with NanoCpus. */
  CpuPeriod?: number;
  CpuQuota?: number;
  /** 10-1000. */
  BlkioWeight?: number;
}

const MIN_MEMORY = 6 * 1024 * 1024;

/** dock update's flags (strings as typed) as an update. */
export function updateFromFlags(f: {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  restart?: string;
}): ContainerUpdate {
  const u: ContainerUpdate = {};
  if (f.memory !== undefined) u.Memory = parseBytes(f.memory, '--memory');
  if (f.memorySwap !== undefined) u.MemorySwap = f.memorySwap === '-1' ? -1 : parseBytes(f.memorySwap, '--memory-swap');
  if (f.cpus !== undefined) {
    const c = Number(f.cpus);
    if (!Number.isFinite(c) || c < 0) throw usage(`invalid value "${f.cpus}" for --cpus: a number of CPUs, e.g. 0.5`);
    u.NanoCpus = Math.round(c * 1e9);
  }
  const int = (v: string, flag: string) => {
    if (!/^-?\d+$/.test(v.trim())) throw usage(`invalid value "${v}" for ${flag}: not an integer`);
    return Number(v);
  };
  if (f.cpuShares !== undefined) u.CpuShares = int(f.cpuShares, '--cpu-shares');
  if (f.cpusetCpus !== undefined) u.CpusetCpus = f.cpusetCpus;
  if (f.pidsLimit !== undefined) u.PidsLimit = int(f.pidsLimit, '--pids-limit');
  if (f.restart !== undefined) u.RestartPolicy = parseRestart(f.restart);
  if (f.memoryReservation !== undefined) u.MemoryReservation = parseBytes(f.memoryReservation, '--memory-reservation');
  if (f.cpuPeriod !== undefined) u.CpuPeriod = int(f.cpuPeriod, '--cpu-period');
  if (f.cpuQuota !== undefined) u.CpuQuota = int(f.cpuQuota, '--cpu-quota');
  if (f.blkioWeight !== undefined) u.BlkioWeight = int(f.blkioWeight, '--blkio-weight');
  return u;
}

/** Applies `u` to the container; returns the updated record. */
export async function updateContainer(engine: Engine, target: ContainerDoc, u: ContainerUpdate): Promise<ContainerDoc> {
  const dir = containerDir(engine.paths, target.Id);
  return withLockAsync(dir, () => {
    const doc = engine.containers.get(target.Id);
    if (!doc) throw new ContainerError('ENOTFOUND', `no such container: ${target.Name}`);
    const hc = { ...doc.HostConfig };
    if (u.Memory) {
      if (u.Memory < MIN_MEMORY) throw usage('minimum memory limit allowed is 6MB');
      if (hc.MemorySwap > 0 && u.Memory > hc.MemorySwap && !u.MemorySwap) throw new ContainerError('ESTATE', 'memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      hc.Memory = u.Memory;
    }
    if (u.MemorySwap) {
      if (!hc.Memory) throw usage('you should always set the memory limit when setting the memoryswap limit');
      if (u.MemorySwap > 0 && u.MemorySwap < hc.Memory) throw usage('minimum memoryswap limit should be larger than memory limit, see usage');
      hc.MemorySwap = u.MemorySwap;
    }
    if (u.NanoCpus) hc.NanoCpus = u.NanoCpus;
    if (u.CpuShares) {
      if (u.CpuShares < 2) throw usage(`invalid CPU shares ${u.CpuShares}: the minimum is 2`);
      hc.CpuShares = u.CpuShares;
    }
    if (u.CpusetCpus) {
      if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(u.CpusetCpus)) throw usage(`invalid value "${u.CpusetCpus}" for --cpuset-cpus: e.g. 0-1 or 0,1`);
      hc.CpusetCpus = u.CpusetCpus;
    }
    if (u.PidsLimit) hc.PidsLimit = u.PidsLimit;
    if (u.MemoryReservation) {
      if (hc.Memory && u.MemoryReservation > hc.Memory) throw usage('minimum memory limit can not be less than memory reservation limit, see usage');
      hc.MemoryReservation = u.MemoryReservation;
    }
    // Docker's rule: --cpus and --cpu-period/--cpu-quota are two ways to say one thing.
    if (u.NanoCpus && (hc.CpuPeriod || hc.CpuQuota || u.CpuPeriod || u.CpuQuota)) throw new ContainerError('ESTATE', 'conflicting options: CPU period or quota and --cpus cannot both be set');
    if ((u.CpuPeriod || u.CpuQuota) && hc.NanoCpus) throw new ContainerError('ESTATE', 'conflicting options: CPU period or quota cannot be updated as --cpus has already been set');
    if (u.CpuPeriod) {
      if (u.CpuPeriod < 1000 || u.CpuPeriod > 1_000_000) throw usage('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
      hc.CpuPeriod = u.CpuPeriod;
    }
    if (u.CpuQuota) {
      if (u.CpuQuota > 0 && u.CpuQuota < 1000) throw usage('CPU cfs quota can not be less than 1ms (i.e. 1000)');
      hc.CpuQuota = u.CpuQuota;
    }
    if (u.BlkioWeight) {
      if (u.BlkioWeight < 10 || u.BlkioWeight > 1000) throw usage('range of blkio weight is from 10 to 1000');
      hc.BlkioWeight = u.BlkioWeight;
    }
    if (u.RestartPolicy && u.RestartPolicy.Name) {
      if (hc.AutoRemove && u.RestartPolicy.Name !== 'no') throw new ContainerError('ESTATE', 'restart policy cannot be updated because AutoRemove is enabled for the container');
      hc.RestartPolicy = u.RestartPolicy;
    }

    const live = liveState(engine, doc);
    if (live.status === 'running' || live.status === 'paused') {
      const r: LinuxResources = {};
      if (u.Memory || u.MemorySwap) r.memory = { limit: hc.Memory, swap: hc.MemorySwap || hc.Memory * 2 };
      if (u.MemoryReservation) r.memory = { ...r.memory, reservation: hc.MemoryReservation };
      if (u.CpuPeriod || u.CpuQuota) r.cpu = { ...(hc.CpuPeriod ? { period: hc.CpuPeriod } : {}), ...(hc.CpuQuota ? { quota: hc.CpuQuota } : {}) };
      if (u.BlkioWeight) r.blockIO = { weight: hc.BlkioWeight };
      if (u.NanoCpus) r.cpu = { ...r.cpu, period: 100000, quota: Math.round((hc.NanoCpus / 1e9) * 100000) };
      if (u.CpuShares) r.cpu = { ...r.cpu, shares: hc.CpuShares };
      if (u.CpusetCpus) r.cpu = { ...r.cpu, cpus: hc.CpusetCpus };
      if (u.PidsLimit) r.pids = { limit: hc.PidsLimit > 0 ? hc.PidsLimit : -1 };
      if (Object.keys(r).length) {
        try {
          runtimeUpdate(engine.rt, doc.Id, r);
        } catch (e) {
          throw new ContainerError('ERUNTIME', `cannot update container ${doc.Name}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    const updated = engine.containers.update(doc.Id, (d) => {
      d.HostConfig = hc;
    });
    containerEvent(engine, updated, 'update');
    return updated;
  });
}
