// `dock top` (the host's ps, limited to the container's cgroup) and `dock stats` (cgroup counters).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cgroupsOf } from '../../runtime/status';
import type { Engine } from './engine';
import { ContainerError } from './errors';
import { liveState } from './status';
import type { ContainerDoc } from './types';

export function topContainer(engine: Engine, doc: ContainerDoc, psArgs: string[]): string[][] {
  const live = liveState(engine, doc);
  if ((live.status !== 'running' && live.status !== 'paused') || !live.runtime) throw new ContainerError('ESTATE', `container ${doc.Name} is not running`);
  const pids = new Set(cgroupsOf(engine.rt, live.runtime).pids(true));
  const args = psArgs.length ? psArgs : ['-ef'];
  const r = spawnSync('ps', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new ContainerError('EUSAGE', `ps ${args.join(' ')}: ${(r.stderr || '').trim()}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  const header = lines[0].trim().split(/\s+/);
  const pidIdx = header.indexOf('PID');
  if (pidIdx < 0) throw new ContainerError('EUSAGE', `couldn't find PID field in ps output`);
  const out = [header];
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (!pids.has(Number(f[pidIdx]))) continue;
    out.push([...f.slice(0, header.length - 1), f.slice(header.length - 1).join(' ')]);
  }
  return out;
}

export interface StatsSample {
  id: string;
  name: string;
  cpuNs: number;
  at: number;
  memUsage: number;
  memLimit: number;
  pids: number;
  blkRead: number;
  blkWrite: number;
}

export function sampleStats(engine: Engine, doc: ContainerDoc): StatsSample | null {
  const live = liveState(engine, doc);
  if ((live.status !== 'running' && live.status !== 'paused') || !live.runtime) return null;
  const s = cgroupsOf(engine.rt, live.runtime).stats();
  let read = 0;
  let write = 0;
  for (const e of s.blkio.ioServiceBytesRecursive ?? []) {
    const op = (e.op ?? '').toLowerCase();
    if (op === 'read') read += e.value ?? 0;
    if (op === 'write') write += e.value ?? 0;
  }
  const cache = s.memory.raw?.total_inactive_file ?? s.memory.raw?.inactive_file ?? 0;
  const hostMem = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
  const limit = s.memory.usage.limit && s.memory.usage.limit < hostMem ? s.memory.usage.limit : hostMem;
  return {
    id: doc.Id,
    name: doc.Name,
    cpuNs: s.cpu.usage.total,
    at: Number(process.hrtime.bigint()),
    memUsage: Math.max(0, (s.memory.usage.usage ?? 0) - cache),
    memLimit: limit,
    pids: s.pids.current ?? 0,
    blkRead: read,
    blkWrite: write,
  };
}
