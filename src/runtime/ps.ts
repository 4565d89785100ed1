// `ps`: the processes of a container. As JSON, the host pids of every process in its cgroup (and
// sub-cgroups), which containerd's shim reads; as a table, the host's `ps` with the given arguments
// (default -ef), keeping the header and the lines whose PID column is one of the container's
// (runc's ps.go).
import { spawnSync } from 'node:child_process';
import { SkiffError } from './errors';
import type { Runtime } from './runtime';
import { cgroupsOf } from './status';

export function containerPids(rt: Runtime, id: string): number[] {
  const rec = rt.store.read(id);
  const cg = cgroupsOf(rt, rec);
  if (!cg.exists()) return [];
  return [...new Set(cg.pids(true))].sort((a, b) => a - b);
}

export function psTable(rt: Runtime, id: string, psArgs: string[]): string {
  const pids = new Set(containerPids(rt, id));
  const args = psArgs.length ? psArgs : ['-ef'];
  const r = spawnSync('ps', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new SkiffError('container', 'EPS', `ps: ${r.error.message}`);
  if (r.status !== 0) throw new SkiffError('container', 'EPS', `ps ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit status ${r.status}`}`);
  const lines = r.stdout.split('\n');
  const header = lines[0] ?? '';
  const pidIndex = header.trim().split(/\s+/).indexOf('PID');
  if (pidIndex < 0) throw new SkiffError('container', 'EPS', `couldn't find PID field in ps output (ps ${args.join(' ')})`);
  const out = [header];
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    const pid = Number(line.trim().split(/\s+/)[pidIndex]);
    if (pids.has(pid)) out.push(line);
  }
  return out.join('\n') + '\n';
}
