// Pure logic of the security pieces of the plan: cpu lists, scheduler/ioprio/personality records,
// id-mapped mount planning, and the LSM refusal when the host lacks the LSM. No root needed.
import { describe, expect, it } from 'vitest';
import { planMount } from '../../src/runtime/mounts';
import { PlanWriter } from '../../src/runtime/plan-writer';
import { LSM_PATHS, parseCpuList, writeExecCpuAffinity, writePersonality, writeProcessSettings } from '../../src/runtime/process-settings';
import { MOUNT_EXTRA_IDMAP, MOUNT_EXTRA_IDMAP_RECURSIVE, Tag } from '../../src/runtime/protocol';

/** Records of a finished plan: [tag, payload]. */
function records(plan: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let off = 0; off + 8 <= plan.length; ) {
    const tag = plan.readUInt16LE(off);
    const len = plan.readUInt32LE(off + 4);
    out.push([tag, plan.subarray(off + 8, off + 8 + len)]);
    off += 8 + len + ((8 - (len & 7)) & 7);
  }
  return out;
}

describe('cpu lists (execCPUAffinity)', () => {
  it('reads ranges and single cpus, sorted, without duplicates', () => {
    expect(parseCpuList('0-3,7', 'f')).toEqual([0, 1, 2, 3, 7]);
    expect(parseCpuList(' 5 , 1-2 ,2', 'f')).toEqual([1, 2, 5]);
  });
  it('refuses what it cannot read, naming the field', () => {
    expect(() => parseCpuList('3-1', '/process/execCPUAffinity/final')).toThrow('invalid config.json: /process/execCPUAffinity/final: "3-1": range 3-1 goes backwards');
    expect(() => parseCpuList('a', 'f')).toThrow(/cannot read "a"/);
    expect(() => parseCpuList('1,,2', 'f')).toThrow(/cannot read ""/);
    expect(() => parseCpuList('9000', 'f')).toThrow(/beyond the 8192 cpus/);
  });
  it('encodes initial and final as cpu_set_t bytes', () => {
    const w = new PlanWriter();
    writeExecCpuAffinity(w, { cwd: '/', execCPUAffinity: { initial: '1', final: '0,9' } }, '/process');
    const recs = records(w.finish());
    expect(recs.map(([t]) => t)).toEqual([Tag.CPU_AFFINITY, Tag.CPU_AFFINITY]);
    expect(recs[0][1].readUInt32LE(0)).toBe(0);
    expect([...recs[0][1].subarray(8)]).toEqual([2, 0, 0, 0, 0, 0, 0, 0]);
    expect(recs[1][1].readUInt32LE(0)).toBe(1);
    expect([...recs[1][1].subarray(8)]).toEqual([1, 2, 0, 0, 0, 0, 0, 0]);
  });
});

describe('process settings records', () => {
  it('scheduler: policy, priority, flags, nice (signed) and deadline times', () => {
    const w = new PlanWriter();
    writeProcessSettings(w, { cwd: '/', scheduler: { policy: 'SCHED_DEADLINE', nice: -5, flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_DL_OVERRUN'], runtime: 1000, deadline: 2000, period: 3000 } }, '/process');
    const [[tag, p]] = records(w.finish());
    expect(tag).toBe(Tag.SCHED);
    expect([p.readUInt32LE(0), p.readUInt32LE(4), p.readUInt32LE(8)]).toEqual([6, 0, 0x05]);
    expect(p.readBigInt64LE(16)).toBe(-5n);
    expect([p.readBigUInt64LE(24), p.readBigUInt64LE(32), p.readBigUInt64LE(40)]).toEqual([1000n, 2000n, 3000n]);
  });
  it('ioPriority and personality', () => {
    const w = new PlanWriter();
    writeProcessSettings(w, { cwd: '/', ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 7 } }, '/process');
    writePersonality(w, { domain: 'LINUX32' });
    const recs = records(w.finish());
    expect(recs[0][0]).toBe(Tag.IOPRIO);
    expect([recs[0][1].readInt32LE(0), recs[0][1].readInt32LE(4)]).toEqual([3, 7]);
    expect(recs[1][0]).toBe(Tag.PERSONALITY);
    expect(recs[1][1].readUInt32LE(0)).toBe(8);
  });
  it('an LSM label on a host without the LSM is refused, naming the LSM', () => {
    const saved = { ...LSM_PATHS };
    LSM_PATHS.apparmor = '/nonexistent/apparmor';
    LSM_PATHS.selinux = '/nonexistent/selinux';
    try {
      expect(() => writeProcessSettings(new PlanWriter(), { cwd: '/', apparmorProfile: 'p' }, '/process')).toThrow(
        '/process/apparmorProfile: AppArmor profile "p" requested but AppArmor is not enabled on this host (/nonexistent/apparmor is missing)',
      );
      expect(() => writeProcessSettings(new PlanWriter(), { cwd: '/', selinuxLabel: 'l' }, '/process')).toThrow(
        '/process/selinuxLabel: SELinux label "l" requested but SELinux is not enabled on this host (no selinuxfs at /nonexistent/selinux)',
      );
    } finally {
      Object.assign(LSM_PATHS, saved);
    }
  });
});

describe('id-mapped mounts', () => {
  const maps = { uid: [{ containerID: 0, hostID: 100000, size: 65536 }], gid: [{ containerID: 0, hostID: 200000, size: 10 }] };
  it('idmap without mappings of its own takes the container user namespace maps', () => {
    const p = planMount({ destination: '/m', type: 'bind', source: '/srv', options: ['rbind', 'idmap'] }, '/b', '/mounts/0', maps);
    expect(p.idmap).toEqual({ uidMap: '0 100000 65536\n', gidMap: '0 200000 10\n' });
    expect(p.extra & MOUNT_EXTRA_IDMAP).toBeTruthy();
    expect(p.extra & MOUNT_EXTRA_IDMAP_RECURSIVE).toBe(0);
  });
  it('mappings on the mount win and make it id-mapped; ridmap is recursive', () => {
    const p = planMount(
      { destination: '/m', type: 'bind', source: '/srv', options: ['ridmap'], uidMappings: [{ containerID: 1, hostID: 2, size: 3 }], gidMappings: [{ containerID: 4, hostID: 5, size: 6 }] },
      '/b',
      '/mounts/0',
      maps,
    );
    expect(p.idmap).toEqual({ uidMap: '1 2 3\n', gidMap: '4 5 6\n' });
    expect(p.extra & MOUNT_EXTRA_IDMAP_RECURSIVE).toBeTruthy();
  });
  it('refuses idmap on other mounts and idmap with no mappings anywhere', () => {
    expect(() => planMount({ destination: '/m', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }, '/b', '/mounts/2', maps)).toThrow(
      'invalid config.json: /mounts/2: only bind mounts can be id-mapped (type "tmpfs")',
    );
    expect(() => planMount({ destination: '/m', type: 'bind', source: '/srv', options: ['idmap'] }, '/b', '/mounts/1')).toThrow(/needs uidMappings and gidMappings/);
  });
  it('a plain bind mount is not id-mapped', () => {
    expect(planMount({ destination: '/m', type: 'bind', source: '/srv', options: ['rbind'] }, '/b', '/mounts/0', maps).idmap).toBeUndefined();
  });
});
