// Pure parts of update/events and of the `cgroup` mount type: runc's value syntaxes, the merge of
// updated resources into the record, and the mounts planned for v1 and v2 hosts (the v2 ones can
// only be seen here on this v1 machine).
import { describe, expect, it } from 'vitest';
import { MS } from '../../src/oci/mount-options';
import { planCgroupMount } from '../../src/runtime/cgroup-mounts';
import { parseDuration } from '../../src/runtime/events';
import { MOUNT_KIND_BIND } from '../../src/runtime/protocol';
import { mergeResources, parseMemorySize, resourcesFromFlags } from '../../src/runtime/update';

describe('update values', () => {
  it('reads memory sizes as runc (go-units RAMInBytes) does', () => {
    expect(parseMemorySize('1024', 'memory')).toBe(1024);
    expect(parseMemorySize('64m', 'memory')).toBe(64 * 1024 * 1024);
    expect(parseMemorySize('64M', 'memory')).toBe(64 * 1024 * 1024);
    expect(parseMemorySize('64MB', 'memory')).toBe(64 * 1024 * 1024);
    expect(parseMemorySize('64MiB', 'memory')).toBe(64 * 1024 * 1024);
    expect(parseMemorySize('1.5g', 'memory')).toBe(1.5 * 1024 ** 3);
    expect(parseMemorySize('512 k', 'memory')).toBe(512 * 1024);
    expect(parseMemorySize('2t', 'memory')).toBe(2 * 1024 ** 4);
    expect(parseMemorySize('-1', 'memory-swap')).toBe(-1);
    for (const bad of ['', 'm', '12x', '-2', '1e6', '64 mb b', '0x10', '1.2.3m']) {
      expect(() => parseMemorySize(bad, 'memory'), bad).toThrow(`invalid value for --memory: invalid size: ${JSON.stringify(bad)}`);
    }
  });

  it('builds resources from runc flags; zero pids/blkio mean unchanged; RDT fails', () => {
    expect(
      resourcesFromFlags({
        memory: '32m',
        memorySwap: '-1',
        memoryReservation: '16m',
        cpuQuota: '-1',
        cpuPeriod: '100000',
        cpuShare: '512',
        cpuBurst: '1000',
        cpuRtPeriod: '1000000',
        cpuRtRuntime: '950000',
        cpuIdle: '1',
        cpusetCpus: '0-1',
        cpusetMems: '0',
        pidsLimit: '-1',
        blkioWeight: '500',
      }),
    ).toEqual({
      memory: { limit: 32 << 20, swap: -1, reservation: 16 << 20 },
      cpu: { quota: -1, period: 100000, shares: 512, burst: 1000, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 1, cpus: '0-1', mems: '0' },
      pids: { limit: -1 },
      blockIO: { weight: 500 },
    });
    expect(resourcesFromFlags({})).toEqual({});
    expect(resourcesFromFlags({ pidsLimit: '0', blkioWeight: '0' })).toEqual({});
    expect(resourcesFromFlags({ cpuShare: '18446744073709551615' })).toEqual({ cpu: { shares: 18446744073709551615n } });
    expect(() => resourcesFromFlags({ cpuShare: '-5' })).toThrow('invalid value for --cpu-share: "-5" is not a non-negative integer');
    expect(() => resourcesFromFlags({ cpuQuota: '9223372036854775808' })).toThrow('invalid value for --cpu-quota: 9223372036854775808 is out of range');
    expect(() => resourcesFromFlags({ l3CacheSchema: 'L3:0=ff' })).toThrow('update --l3-cache-schema: Intel RDT (resctrl) is not supported by skiff');
    expect(() => resourcesFromFlags({ memBwSchema: 'MB:0=70' })).toThrow('--mem-bw-schema');
    // The schema still checks what the flags produce.
    expect(() => resourcesFromFlags({ blkioWeight: '70000' })).toThrow(/^invalid update flags: \/blockIO\/weight/);
  });

  it('accepts the obsolete kernel memory flags with a warning and sets nothing', () => {
    const warnings: string[] = [];
    expect(resourcesFromFlags({ kernelMemory: '10m', kernelMemoryTcp: '1m' }, (m) => warnings.push(m))).toEqual({});
    expect(warnings).toEqual(['setting --kernel-memory is ignored (kernel memory limits are obsolete)', 'setting --kernel-memory-tcp is ignored (kernel memory limits are obsolete)']);
    expect(() => resourcesFromFlags({ kernelMemory: 'lots' })).toThrow('invalid value for --kernel-memory');
  });

  it('merges updates into the recorded resources field by field and device by device', () => {
    const prev = {
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 100, reservation: 50 },
      cpu: { shares: 1024, cpus: '0-1' },
      blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }, { major: 8, minor: 16, rate: 2 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 1 }],
    };
    const next = {
      memory: { limit: 200, swap: undefined },
      cpu: { quota: 5000 },
      blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 16, rate: 9 }, { major: 9, minor: 0, rate: 3 }] },
      hugepageLimits: [{ pageSize: '1GB', limit: 0 }],
      pids: { limit: 7 },
    };
    expect(mergeResources(prev, next)).toEqual({
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: 200, reservation: 50 },
      cpu: { shares: 1024, cpus: '0-1', quota: 5000 },
      blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }, { major: 8, minor: 16, rate: 9 }, { major: 9, minor: 0, rate: 3 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 1 }, { pageSize: '1GB', limit: 0 }],
      pids: { limit: 7 },
    });
    expect(prev.memory).toEqual({ limit: 100, reservation: 50 }); // inputs untouched
  });
});

describe('events --interval', () => {
  it('reads Go durations in milliseconds', () => {
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('1500us')).toBe(1.5);
    expect(parseDuration('2000000ns')).toBe(2);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('-1s')).toBe(-1000);
    for (const bad of ['', '5', 's', '5 s', '5x', '1s2']) expect(() => parseDuration(bad), bad).toThrow(`invalid duration ${JSON.stringify(bad)}`);
  });
});

describe('the cgroup mount type', () => {
  const podman = { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', 'ro'] };
  const v1Paths = {
    cpu: '/sys/fs/cgroup/cpu,cpuacct/skiff/c1',
    cpuacct: '/sys/fs/cgroup/cpu,cpuacct/skiff/c1',
    memory: '/sys/fs/cgroup/memory/skiff/c1',
    'name=systemd': '/sys/fs/cgroup/systemd/skiff/c1',
  };
  const hardening = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const short = (ms: ReturnType<typeof planCgroupMount>) => ms.map((m) => [m.kind === MOUNT_KIND_BIND ? 'bind' : m.fstype, m.source, m.destination, m.data]);

  it('v1 without a cgroup namespace: tmpfs (left writable, as runc 1.1 does), a read-only bind per hierarchy and controller name', () => {
    const ms = planCgroupMount(podman, 1, '/skiff/c1', v1Paths, false);
    expect(short(ms)).toEqual([
      ['tmpfs', 'tmpfs', '/sys/fs/cgroup', 'mode=755'],
      ['bind', '/sys/fs/cgroup/cpu,cpuacct/skiff/c1', '/sys/fs/cgroup/cpu,cpuacct', ''],
      ['bind', '/sys/fs/cgroup/cpu,cpuacct/skiff/c1', '/sys/fs/cgroup/cpu', ''],
      ['bind', '/sys/fs/cgroup/cpu,cpuacct/skiff/c1', '/sys/fs/cgroup/cpuacct', ''],
      ['bind', '/sys/fs/cgroup/memory/skiff/c1', '/sys/fs/cgroup/memory', ''],
      ['bind', '/sys/fs/cgroup/systemd/skiff/c1', '/sys/fs/cgroup/systemd', ''],
    ]);
    expect(ms[0].flags & MS.RDONLY).toBe(0);
    expect(ms[0].flags & hardening).toBe(hardening);
    expect(ms[0].propagation).toBe(MS.PRIVATE | MS.REC);
    for (const b of ms.slice(1)) expect(b.flags & (MS.BIND | MS.RDONLY | hardening)).toBe(MS.BIND | MS.RDONLY | hardening);
  });

  it('v1 in a cgroup namespace: the hierarchies themselves; no remount without "ro"', () => {
    const ms = planCgroupMount({ ...podman, options: ['nosuid'] }, 1, '/skiff/c1', v1Paths, true);
    expect(short(ms)).toEqual([
      ['tmpfs', 'tmpfs', '/sys/fs/cgroup', 'mode=755'],
      ['cgroup', 'cgroup', '/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct'],
      ['cgroup', 'cgroup', '/sys/fs/cgroup/cpu', 'cpu,cpuacct'],
      ['cgroup', 'cgroup', '/sys/fs/cgroup/cpuacct', 'cpu,cpuacct'],
      ['cgroup', 'cgroup', '/sys/fs/cgroup/memory', 'memory'],
      ['cgroup', 'cgroup', '/sys/fs/cgroup/systemd', 'none,name=systemd'],
    ]);
    for (const m of ms.slice(1)) expect(m.flags & (MS.RDONLY | MS.NOSUID)).toBe(MS.NOSUID);
  });

  it('v2: cgroup2 in a cgroup namespace, else a bind of the container directory', () => {
    const paths = { '': '/sys/fs/cgroup/skiff/c1' };
    const ns = planCgroupMount(podman, 2, '/skiff/c1', paths, true);
    expect(short(ns)).toEqual([['cgroup2', 'cgroup2', '/sys/fs/cgroup', '']]);
    expect(ns[0].flags & (MS.RDONLY | hardening)).toBe(MS.RDONLY | hardening);
    const noNs = planCgroupMount(podman, 2, '/skiff/c1', paths, false);
    expect(short(noNs)).toEqual([['bind', '/sys/fs/cgroup/skiff/c1', '/sys/fs/cgroup', '']]);
    expect(noNs[0].flags & (MS.BIND | MS.RDONLY)).toBe(MS.BIND | MS.RDONLY);
    // Rootless without a cgroup of its own: nothing to show.
    expect(planCgroupMount(podman, 2, '/skiff/c1', {}, true)).toEqual([]);
  });
});
