// Docker's stats document (GET /containers/{id}/stats) from the engine's cgroup sample. The docker
// CLI computes CPU % from two readings: the container's cpu time delta over the host's
// (system_cpu_usage, /proc/stat in nanoseconds) times the online CPUs; `precpu_stats` is the
// previous reading.

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Engine } from '../containers/engine';
import { sampleStats } from '../containers/top';
import type { ContainerDoc } from '../containers/types';

export interface StatsDoc {
  read: string;
  preread: string;
  cpu_stats: { cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number }; system_cpu_usage: number; online_cpus: number; throttling_data: { periods: number; throttled_periods: number; throttled_time: number } };
  [k: string]: unknown;
}

/** Host cpu time in nanoseconds, as dockerd reads it (USER_HZ is 100 on Linux). */
function systemCpuNs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  return line.trim().split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0) * 1e7;
}

export function statsDocument(engine: Engine, doc: ContainerDoc, prev: StatsDoc | null): StatsDoc {
  const s = sampleStats(engine, doc);
  const online = cpus().length;
  const cpu = {
    cpu_usage: { total_usage: s?.cpuNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: systemCpuNs(),
    online_cpus: online,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
  return {
    id: doc.Id,
    name: `/${doc.Name}`,
    read: new Date().toISOString(),
    preread: prev?.read ?? '0001-01-01T00:00:00Z',
    pids_stats: { current: s?.pids ?? 0 },
    blkio_stats: {
      io_service_bytes_recursive: s ? [{ major: 0, minor: 0, op: 'read', value: s.blkRead }, { major: 0, minor: 0, op: 'write', value: s.blkWrite }] : null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: prev?.cpu_stats ?? { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: online, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
    memory_stats: s ? { usage: s.memUsage, limit: s.memLimit, stats: {} } : {},
  };
}
