// Process settings of runtime-spec 1.2+ turned into plan records: process.scheduler
// (sched_setattr), ioPriority (ioprio_set), execCPUAffinity (sched_setaffinity, exec only),
// linux.personality, and the LSM labels (apparmorProfile, selinuxLabel), which the host must have.
import { existsSync, readFileSync } from 'node:fs';
import type { LinuxPersonality, Process } from '../oci/types';
import { configError } from './errors';
import { PlanWriter, StructWriter } from './plan-writer';
import { Tag } from './protocol';

const SCHED_POLICY: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
const SCHED_FLAG: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASS: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
/** linux.personality domains (sys/personality.h). */
const PERSONALITY: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/** Where the host shows that an LSM is enabled. Overridable for tests of the error path. */
export const LSM_PATHS = { apparmor: '/sys/kernel/security/apparmor', selinux: '/sys/fs/selinux' };

export function apparmorEnabled(): boolean {
  if (!existsSync(LSM_PATHS.apparmor)) return false;
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return true; // built in without the module parameter: the securityfs directory says enough
  }
}

export function selinuxEnabled(): boolean {
  return existsSync(`${LSM_PATHS.selinux}/enforce`); // selinuxfs mounted
}

/** Records of the settings every process (init or exec) may have. `field` names the process in errors. */
export function writeProcessSettings(w: PlanWriter, proc: Process, field: string): void {
  const s = proc.scheduler;
  if (s) {
    const policy = SCHED_POLICY[s.policy];
    if (policy === undefined) throw configError('ESCHED', `invalid config.json: ${field}/scheduler/policy: unknown policy ${JSON.stringify(s.policy)}`);
    let flags = 0;
    for (const [i, f] of (s.flags ?? []).entries()) {
      const bit = SCHED_FLAG[f];
      if (bit === undefined) throw configError('ESCHED', `invalid config.json: ${field}/scheduler/flags/${i}: unknown flag ${JSON.stringify(f)}`);
      flags |= bit;
    }
    const head = new StructWriter(48)
      .u32(policy)
      .u32(s.priority ?? 0)
      .u32(flags)
      .u32(0)
      .u64(BigInt(s.nice ?? 0))
      .u64(BigInt(s.runtime ?? 0))
      .u64(BigInt(s.deadline ?? 0))
      .u64(BigInt(s.period ?? 0))
      .done();
    w.struct(Tag.SCHED, head);
  }
  if (proc.ioPriority) {
    const cls = IOPRIO_CLASS[proc.ioPriority.class];
    if (cls === undefined) throw configError('EIOPRIO', `invalid config.json: ${field}/ioPriority/class: unknown class ${JSON.stringify(proc.ioPriority.class)}`);
    w.i32(Tag.IOPRIO, cls, proc.ioPriority.priority ?? 0);
  }
  if (proc.apparmorProfile) {
    if (!apparmorEnabled()) {
      throw configError('EAPPARMOR', `${field}/apparmorProfile: AppArmor profile ${JSON.stringify(proc.apparmorProfile)} requested but AppArmor is not enabled on this host (${LSM_PATHS.apparmor} is missing)`);
    }
    w.strings(Tag.APPARMOR, proc.apparmorProfile);
  }
  if (proc.selinuxLabel) {
    if (!selinuxEnabled()) {
      throw configError('ESELINUX', `${field}/selinuxLabel: SELinux label ${JSON.stringify(proc.selinuxLabel)} requested but SELinux is not enabled on this host (no selinuxfs at ${LSM_PATHS.selinux})`);
    }
    w.strings(Tag.SELINUX, proc.selinuxLabel);
  }
}

/**
 * execCPUAffinity of an `exec` process (the spec says it does not apply to the container's init):
 * `initial` while skiff-init works, `final` right before execve.
 */
export function writeExecCpuAffinity(w: PlanWriter, proc: Process, field: string): void {
  const a = proc.execCPUAffinity;
  if (!a) return;
  for (const [which, list] of [[0, a.initial], [1, a.final]] as const) {
    if (list === undefined || list === '') continue;
    const cpus = parseCpuList(list, `${field}/execCPUAffinity/${which ? 'final' : 'initial'}`);
    const mask = Buffer.alloc(Math.max(8, Math.ceil((Math.max(...cpus) + 1) / 64) * 8));
    for (const c of cpus) mask[c >> 3] |= 1 << (c & 7);
    w.struct(Tag.CPU_AFFINITY, Buffer.concat([u32(which), u32(0), mask]));
  }
}

/** "0-3,7" -> [0, 1, 2, 3, 7]. */
export function parseCpuList(list: string, field: string): number[] {
  const bad = (why: string) => configError('EAFFINITY', `invalid config.json: ${field}: ${JSON.stringify(list)}: ${why}`);
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw bad(`cannot read ${JSON.stringify(part)} (want a list like "0-3,7")`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw bad(`range ${part.trim()} goes backwards`);
    if (hi >= 8192) throw bad(`cpu ${hi} is beyond the 8192 cpus the kernel supports`);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

export function writePersonality(w: PlanWriter, p: LinuxPersonality | undefined): void {
  if (!p) return;
  const domain = PERSONALITY[p.domain];
  if (domain === undefined) throw configError('EPERSONALITY', `invalid config.json: /linux/personality/domain: unknown domain ${JSON.stringify(p.domain)}`);
  w.u32(Tag.PERSONALITY, domain);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
