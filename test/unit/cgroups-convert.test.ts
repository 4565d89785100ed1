// Pure pieces of the cgroup library: v1→v2 conversions, cgroupsPath resolution, mount discovery.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blkioWeightToIoWeight, cpuSharesToWeight, limitToV2, memorySwapToV2 } from '../../src/runtime/cgroups/convert';
import { controllersFromOptions, detectCgroupVersion, listV1Hierarchies, parseV1Mounts } from '../../src/runtime/cgroups/detect';
import { openCgroupManager } from '../../src/runtime/cgroups';
import { cleanCgroupPath, isSystemdPath, resolveCgroupPath } from '../../src/runtime/cgroups/paths';
import { SkiffError } from '../../src/runtime/errors';

describe('cpu.shares → cpu.weight', () => {
  it('maps the anchor points exactly (min, v1 default → v2 default, max)', () => {
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(1024)).toBe(100);
    expect(cpuSharesToWeight(262144)).toBe(10000);
  });
  it('keeps 0 as unset and clamps out-of-range values', () => {
    expect(cpuSharesToWeight(0)).toBe(0);
    expect(cpuSharesToWeight(1)).toBe(1);
    expect(cpuSharesToWeight(500000)).toBe(10000);
  });
  it('is monotonic and stays in [1, 10000]', () => {
    let prev = 0;
    for (let s = 2; s <= 262144; s = Math.ceil(s * 1.37)) {
      const w = cpuSharesToWeight(s);
      expect(w).toBeGreaterThanOrEqual(prev);
      expect(w).toBeGreaterThanOrEqual(1);
      expect(w).toBeLessThanOrEqual(10000);
      prev = w;
    }
    // The edge cases of opencontainers/cgroups' own test table.
    expect(cpuSharesToWeight(3)).toBe(2);
    expect(cpuSharesToWeight(262143)).toBe(10000);
  });
});

describe('blkio weight → io.weight', () => {
  it('maps [10, 1000] linearly onto [1, 10000]', () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
    expect(blkioWeightToIoWeight(500)).toBe(1 + Math.floor((490 * 9999) / 990));
    expect(blkioWeightToIoWeight(0)).toBe(0);
  });
});

describe('memory swap: v1 memory+swap → v2 swap.max', () => {
  it('subtracts the memory limit', () => {
    expect(memorySwapToV2(3 << 20, 1 << 20)).toBe(String(2 << 20));
    expect(memorySwapToV2(1 << 20, 1 << 20)).toBe('0'); // equal: swap disabled
    expect(memorySwapToV2(2n ** 62n, 2n ** 61n)).toBe(String(2n ** 61n));
  });
  it('treats -1 as unlimited and 0/undefined as unset', () => {
    expect(memorySwapToV2(-1, 1 << 20)).toBe('max');
    expect(memorySwapToV2(undefined, -1)).toBe('max'); // unlimited memory: unlimited swap, as v1 would
    expect(memorySwapToV2(0, -1)).toBe('max');
    expect(memorySwapToV2(5 << 20, -1)).toBe(String(5 << 20));
    expect(memorySwapToV2(undefined, 1 << 20)).toBeUndefined();
    expect(memorySwapToV2(0, 1 << 20)).toBeUndefined();
  });
  it('rejects swap without memory and swap below memory', () => {
    expect(() => memorySwapToV2(1 << 20, undefined)).toThrow(/without memory limit/);
    expect(() => memorySwapToV2(1 << 20, 2 << 20)).toThrow(/should be >= memory limit/);
    expect(() => memorySwapToV2(-5, 1 << 20)).toThrow(SkiffError);
  });
  it('limitToV2 spells negatives as max', () => {
    expect(limitToV2(-1)).toBe('max');
    expect(limitToV2(4096)).toBe('4096');
    expect(limitToV2(2n ** 63n - 1n)).toBe('9223372036854775807');
  });
});

describe('cgroupsPath', () => {
  it('defaults to /skiff/<id>', () => {
    expect(resolveCgroupPath({ id: 'abc' })).toBe('/skiff/abc');
    expect(resolveCgroupPath({ id: 'abc', cgroupsPath: '' })).toBe('/skiff/abc');
  });
  it('takes absolute paths from the hierarchy root and puts relative ones under the parent', () => {
    expect(resolveCgroupPath({ id: 'x', cgroupsPath: '/default/engt-d' })).toBe('/default/engt-d');
    expect(resolveCgroupPath({ id: 'x', cgroupsPath: 'a/b' })).toBe('/skiff/a/b');
    expect(resolveCgroupPath({ id: 'x', cgroupsPath: 'a/b', parent: '/other/' })).toBe('/other/a/b');
    expect(resolveCgroupPath({ id: 'x', cgroupsPath: '/libpod_parent/libpod-95579f/' })).toBe('/libpod_parent/libpod-95579f');
  });
  it('never climbs above the root', () => {
    expect(resolveCgroupPath({ id: 'x', cgroupsPath: '/../../etc' })).toBe('/etc');
    expect(resolveCgroupPath({ id: 'x', cgroupsPath: '../../../a' })).toBe('/a');
    expect(cleanCgroupPath('a/./b/../c')).toBe('/a/c');
    expect(() => resolveCgroupPath({ id: 'x', cgroupsPath: '/..' })).toThrow(/root cgroup/);
    expect(() => resolveCgroupPath({ id: '../x' })).toThrow(/invalid container id/);
  });
  it('recognises the systemd form', () => {
    expect(isSystemdPath('machine.slice:libpod:abc')).toBe(true);
    expect(isSystemdPath(':skiff:abc')).toBe(true);
    expect(isSystemdPath('/a/b')).toBe(false);
    expect(isSystemdPath('a:b')).toBe(false);
  });
  it('reports the systemd driver as unavailable, and checks its path form first', () => {
    expect(() => openCgroupManager({ id: 'x', systemd: true, cgroupsPath: 'system.slice:skiff:x' })).toThrow(/systemd cgroup driver not available: /);
    expect(() => openCgroupManager({ id: 'x', systemd: true, cgroupsPath: '/a/b' })).toThrow(/expected "slice:prefix:name"/);
  });
});

describe('hierarchy discovery', () => {
  const mountinfo = [
    '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    '41 22 0:31 / /mnt/memory-again rw,relatime - cgroup cgroup rw,memory',
    '42 30 0:38 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio,release_agent=/x',
  ].join('\n');
  it('parses v1 mounts under the root, with their controllers', () => {
    expect(parseV1Mounts(mountinfo, '/sys/fs/cgroup')).toEqual([
      { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'] },
      { mountpoint: '/sys/fs/cgroup/memory', controllers: ['memory'] },
      { mountpoint: '/sys/fs/cgroup/systemd', controllers: ['name=systemd'] },
      { mountpoint: '/sys/fs/cgroup/net_cls,net_prio', controllers: ['net_cls', 'net_prio'] },
    ]);
    expect(controllersFromOptions('rw,nosuid,nodev,noexec,relatime,pids')).toEqual(['pids']);
  });
  it('reads a fake v1 tree from its directories and tells v1 from v2', () => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-test-cg-'));
    try {
      for (const d of ['cpu,cpuacct', 'memory', 'systemd', 'unified']) mkdirSync(join(root, d));
      expect(detectCgroupVersion(root)).toBe(1);
      const hs = listV1Hierarchies(root).sort((a, b) => a.mountpoint.localeCompare(b.mountpoint));
      expect(hs.map((h) => h.controllers)).toEqual([['cpu', 'cpuacct'], ['memory'], ['name=systemd']]);
      writeFileSync(join(root, 'cgroup.controllers'), 'memory pids\n');
      expect(detectCgroupVersion(root)).toBe(2);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  it('detects this machine', () => {
    // statfs magic: a tmpfs of v1 hierarchies here, cgroup2 for the unified mount.
    expect([1, 2]).toContain(detectCgroupVersion());
  });
});
