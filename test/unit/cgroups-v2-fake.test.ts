// The v2 driver against a fake cgroup2 tree in a temp dir (the `root` option): which files are
// written, with which values, in which order; update semantics; the device filter handed to a fake
// BPF layer; statistics parsed from canned files. No root needed.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCgroupManager, type CgroupManager } from '../../src/runtime/cgroups';
import type { BpfOps } from '../../src/runtime/cgroups/bpf';
import { compileDeviceFilter } from '../../src/runtime/cgroups/devicefilter';
import { DEFAULT_ALLOWED_DEVICES, emulateDeviceRules } from '../../src/runtime/cgroups/devices';
import { setWriteTracer } from '../../src/runtime/cgroups/files';
import { SkiffError } from '../../src/runtime/errors';

const CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma';

/** The files a cgroup with every controller enabled has (values as a fresh kernel cgroup shows). */
const CONTROL_FILES: Record<string, string> = {
  'cgroup.procs': '',
  'cgroup.controllers': CONTROLLERS,
  'cgroup.subtree_control': '',
  'cgroup.freeze': '0',
  'cgroup.events': 'populated 0\nfrozen 0\n',
  'cgroup.kill': '',
  'cpuset.cpus': '',
  'cpuset.mems': '',
  'cpu.weight': '100',
  'cpu.max': 'max 100000',
  'cpu.max.burst': '0',
  'cpu.idle': '0',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
  'memory.max': 'max',
  'memory.low': '0',
  'memory.high': 'max',
  'memory.swap.max': 'max',
  'memory.current': '0',
  'memory.swap.current': '0',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
  'memory.stat': 'anon 0\nfile 0\n',
  'pids.max': 'max',
  'pids.current': '0',
  'io.weight': 'default 100',
  'io.max': '',
  'io.stat': '',
  'hugetlb.2MB.max': 'max',
  'hugetlb.2MB.current': '0',
  'hugetlb.2MB.events': 'max 0\n',
  'rdma.max': '',
};

let root = '';
let writes: [string, string][] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'skiff-test-cgv2-'));
  writeFileSync(join(root, 'cgroup.controllers'), CONTROLLERS + '\n');
  writeFileSync(join(root, 'cgroup.subtree_control'), '');
  mkdirSync(join(root, 'skiff'));
  writeFileSync(join(root, 'skiff', 'cgroup.controllers'), CONTROLLERS + '\n');
  writeFileSync(join(root, 'skiff', 'cgroup.subtree_control'), '');
  writes = [];
  setWriteTracer((file, value) => writes.push([file.slice(root.length), value]));
});

afterEach(() => {
  setWriteTracer(undefined);
  rmSync(root, { recursive: true, force: true });
});

/** What the kernel would do on mkdir: fill the new cgroup with its control files. */
function populate(cg: CgroupManager, overrides: Record<string, string> = {}): string {
  const dir = cg.paths()[''];
  for (const [f, v] of Object.entries({ ...CONTROL_FILES, ...overrides })) writeFileSync(join(dir, f), v);
  writes = [];
  return dir;
}

function fakeBpf(existing: number[] = []) {
  const calls: string[] = [];
  let loaded: Buffer | undefined;
  const ops: BpfOps = {
    loadDeviceProgram: (insns, license) => {
      loaded = Buffer.from(insns);
      calls.push(`load ${insns.length / 8} insns ${license}`);
      return 100;
    },
    attachCgroup: (fd, dir) => void calls.push(`attach ${fd} ${dir.slice(root.length)}`),
    detachCgroup: (fd, dir) => void calls.push(`detach ${fd} ${dir.slice(root.length)}`),
    queryCgroup: () => existing,
    progFdById: (id) => 200 + id,
    closeFd: (fd) => void calls.push(`close ${fd}`),
  };
  return { ops, calls, loaded: () => loaded };
}

const open = (opts: Partial<Parameters<typeof openCgroupManager>[0]> = {}) => {
  const warnings: string[] = [];
  const cg = openCgroupManager({ id: 'c1', root, onWarning: (m) => warnings.push(m), ...opts });
  return { cg, warnings };
};

describe('cgroup v2 driver on a fake tree', () => {
  it('creates /skiff/<id> and delegates every controller down to its parent', () => {
    const { cg } = open();
    expect(cg.version).toBe(2);
    cg.create();
    expect(cg.paths()).toEqual({ '': join(root, 'skiff/c1') });
    expect(writes).toEqual([
      ['/cgroup.subtree_control', '+cpuset +cpu +io +memory +hugetlb +pids +rdma'],
      ['/skiff/cgroup.subtree_control', '+cpuset +cpu +io +memory +hugetlb +pids +rdma'],
    ]);
  });

  it('delegates only the chosen controllers, and only those not yet enabled', () => {
    writeFileSync(join(root, 'cgroup.subtree_control'), 'memory\n');
    const { cg } = open({ controllers: ['memory', 'pids'] });
    cg.create();
    expect(writes).toEqual([
      ['/cgroup.subtree_control', '+pids'],
      ['/skiff/cgroup.subtree_control', '+memory +pids'],
    ]);
  });

  it('writes every resource with the v1→v2 conversions, in order, and warns about v1-only settings', () => {
    const bpf = fakeBpf([7]);
    const { cg, warnings } = open({ bpf: bpf.ops });
    cg.create();
    populate(cg);
    const devices = [{ allow: false, access: 'rwm' }, ...DEFAULT_ALLOWED_DEVICES];
    cg.apply({
      cpu: { shares: 1024, quota: 50000, period: 100000, burst: 1000, idle: 0, cpus: '0-1', mems: '0' },
      memory: { limit: 64 << 20, swap: 96 << 20, reservation: 32 << 20, kernel: 1 << 20, kernelTCP: 1 << 20, swappiness: 60, disableOOMKiller: true, useHierarchy: false },
      pids: { limit: 100 },
      blockIO: {
        weight: 500,
        leafWeight: 10,
        weightDevice: [{ major: 8, minor: 0, weight: 300 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 0 }],
      },
      hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 1000 } },
      devices,
      unified: { 'memory.high': '50000000' },
    });
    const d = '/skiff/c1';
    expect(writes).toEqual([
      [`${d}/cpuset.cpus`, '0-1'],
      [`${d}/cpuset.mems`, '0'],
      [`${d}/memory.swap.max`, String(32 << 20)], // memory+swap 96M - memory 64M
      [`${d}/memory.max`, String(64 << 20)],
      [`${d}/memory.low`, String(32 << 20)],
      [`${d}/cpu.weight`, '100'], // shares 1024
      [`${d}/cpu.max`, '50000 100000'],
      [`${d}/cpu.max.burst`, '1000'],
      [`${d}/cpu.idle`, '0'],
      [`${d}/pids.max`, '100'],
      [`${d}/io.weight`, '4950'], // blkio 500 on [10,1000] → [1,10000]
      [`${d}/io.weight`, '8:0 2930'],
      [`${d}/io.max`, '8:0 rbps=1048576'],
      [`${d}/io.max`, '8:16 wiops=max'],
      [`${d}/hugetlb.2MB.max`, '4194304'],
      [`${d}/rdma.max`, 'mlx5_1 hca_handle=3 hca_object=1000'],
      [`${d}/memory.high`, '50000000'],
    ]);
    expect(readFileSync(join(root, d, 'memory.max'), 'utf8')).toBe(String(64 << 20));
    // The device filter: compiled from the emulated rules, attached, then the old program replaced.
    expect(bpf.loaded()).toEqual(compileDeviceFilter(emulateDeviceRules(devices)).bytes);
    expect(bpf.calls).toEqual([`load ${bpf.loaded()!.length / 8} insns Apache`, `attach 100 ${d}`, `detach 207 ${d}`, 'close 207', 'close 100']);
    expect(warnings).toEqual([
      'linux.resources.memory.kernel is not supported on cgroup v2: ignored',
      'linux.resources.memory.kernelTCP is not supported on cgroup v2: ignored',
      'linux.resources.memory.swappiness is not supported on cgroup v2: ignored',
      'linux.resources.memory.disableOOMKiller is not supported on cgroup v2: ignored',
      'linux.resources.memory.useHierarchy=false is not supported on cgroup v2 (always hierarchical): ignored',
      'linux.resources.blockIO.leafWeight is not supported on cgroup v2: ignored',
    ]);
    expect(cg.warnings).toEqual(warnings);
  });

  it('uses BFQ weights as they are when io.bfq.weight exists, and unified values win', () => {
    const { cg } = open();
    cg.create();
    populate(cg, { 'io.bfq.weight': 'default 100' });
    cg.apply({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] }, cpu: { shares: 2048, quota: 1000 }, unified: { 'cpu.weight': '7', 'cpu.max': '2000 10000' } });
    expect(writes.map(([f, v]) => `${f.split('/').pop()}=${v}`)).toEqual(['io.bfq.weight=500', 'io.bfq.weight=8:0 300', 'cpu.weight=7', 'cpu.max=2000 10000']);
  });

  it('unlimited memory makes swap unlimited; -1 values are written as max', () => {
    const { cg } = open();
    cg.create();
    populate(cg);
    cg.apply({ memory: { limit: -1 }, cpu: { quota: -1 }, pids: { limit: 0 } });
    expect(writes.map(([f, v]) => `${f.split('/').pop()}=${v}`)).toEqual(['memory.swap.max=max', 'memory.max=max', 'cpu.max=max 100000', 'pids.max=max']);
  });

  it('update changes only the given fields, merging cpu.max and swap with what is in force', () => {
    const { cg } = open();
    cg.create();
    populate(cg, { 'cpu.max': '50000 100000', 'memory.max': String(64 << 20) });
    cg.update({ cpu: { period: 200000 } });
    cg.update({ cpu: { quota: 20000 } }); // the fake file now holds what was written last, as the kernel would
    cg.update({ cpu: { quota: -1 } });
    cg.update({ memory: { swap: 128 << 20 } });
    cg.update({ cpu: { shares: 512 } });
    expect(writes.map(([f, v]) => `${f.split('/').pop()}=${v}`)).toEqual([
      'cpu.max=50000 200000',
      'cpu.max=20000 200000',
      'cpu.max=max 200000',
      `memory.swap.max=${64 << 20}`,
      'cpu.weight=59', // shares 512
    ]);
  });

  it('checkBeforeUpdate rejects a limit below usage without writing anything', () => {
    const { cg } = open();
    cg.create();
    populate(cg, { 'memory.current': '100000000', 'memory.swap.current': '5000000' });
    expect(() => cg.update({ memory: { limit: 50000000, checkBeforeUpdate: true } })).toThrow('rejecting memory limit 50000000 below current usage 100000000');
    expect(() => cg.update({ memory: { limit: 200000000, swap: 104000000, checkBeforeUpdate: true } })).toThrow('rejecting memory+swap limit 104000000 below current usage 105000000');
    expect(writes).toEqual([]);
    cg.update({ memory: { limit: 200000000, checkBeforeUpdate: true } });
    expect(writes.map(([f, v]) => `${f.split('/').pop()}=${v}`)).toEqual(['memory.max=200000000']);
  });

  it('rejects unified keys that are not plain cgroup file names (path traversal) before writing', () => {
    const { cg } = open();
    cg.create();
    populate(cg);
    for (const key of ['../../../etc/passwd', 'memory.high/../../x', '/etc/passwd', 'memory', '.memory.high', 'memory..high', 'a/b.c', 'memory.high\0', 'cgroup.procs', 'cgroup.kill', 'cgroup.freeze']) {
      expect(() => cg.apply({ unified: { 'memory.high': '1', [key]: '1' } }), key).toThrow(SkiffError);
    }
    expect(() => cg.apply({ unified: { 'memory.high': 'x\0y' } })).toThrow(/NUL/);
    expect(writes).toEqual([]);
  });

  it('names the controller when a file is missing, and refuses what v2 does not have', () => {
    const { cg } = open();
    cg.create();
    populate(cg);
    expect(() => cg.apply({ unified: { 'misc.max': 'res_a 1' } })).toThrow(/cannot write "res_a 1" to .*misc\.max: the misc controller is not available in this cgroup \(enabled controllers: cpuset cpu io memory hugetlb pids rdma\)/);
    expect(() => cg.apply({ network: { classID: 1 } })).toThrow(/net_cls and net_prio do not exist on cgroup v2/);
    expect(() => cg.apply({ cpu: { realtimeRuntime: 950000 } })).toThrow(/realtime group scheduling is not supported on cgroup v2/);
    expect(() => cg.apply({ memory: { swap: 1 << 20 } })).toThrow(/unable to set swap limit without memory limit/);
    expect(() => cg.apply({ hugepageLimits: [{ pageSize: '2XB', limit: 1 }] })).toThrow(/invalid hugepage size/);
  });

  it('freezes through cgroup.freeze, kills through cgroup.kill, lists pids recursively', () => {
    const { cg } = open();
    cg.create();
    const dir = populate(cg, { 'cgroup.events': 'populated 1\nfrozen 1\n', 'cgroup.procs': '11\n12\n' });
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'cgroup.procs'), '13\n');
    cg.freeze();
    expect(readFileSync(join(dir, 'cgroup.freeze'), 'utf8')).toBe('1');
    expect(cg.isFrozen()).toBe(true);
    cg.killAll('SIGKILL');
    expect(writes.slice(-1)).toEqual([['/skiff/c1/cgroup.kill', '1']]);
    expect(cg.pids()).toEqual([11, 12]);
    expect(cg.pids(true)).toEqual([11, 12, 13]);
  });

  it('reads statistics in the shape of runc events --stats', () => {
    const { cg } = open();
    cg.create();
    populate(cg, {
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 300\n',
      'memory.stat': 'anon 4096\nfile 8192\nkernel 100\n',
      'memory.current': '20000',
      'memory.max': '100000',
      'memory.peak': '30000',
      'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
      'memory.swap.current': '500',
      'memory.swap.max': 'max',
      'pids.current': '4',
      'pids.max': '50',
      'io.stat': '8:0 rbytes=1024 wbytes=2048 rios=1 wios=2 dbytes=0 dios=0\n',
      'hugetlb.2MB.current': '2097152',
      'hugetlb.2MB.max': '4194304',
      'hugetlb.2MB.events': 'max 1\n',
    });
    expect(cg.stats()).toEqual({
      cpu: { usage: { total: 1500000, user: 1000000, kernel: 500000 }, throttling: { periods: 10, throttledPeriods: 2, throttledTime: 300000 } },
      memory: {
        raw: { anon: 4096, file: 8192, kernel: 100 },
        cache: 8192,
        usage: { usage: 20000, limit: 100000, max: 30000, failcnt: 3 },
        swap: { usage: 20500, limit: 18446744073709551615, max: 30000, failcnt: 0 },
        kernel: { limit: 0, usage: 0, max: 0, failcnt: 0 },
        kernelTCP: { limit: 0, usage: 0, max: 0, failcnt: 0 },
      },
      pids: { current: 4, limit: 50 },
      blkio: {
        ioServiceBytesRecursive: [
          { major: 8, minor: 0, op: 'Read', value: 1024 },
          { major: 8, minor: 0, op: 'Write', value: 2048 },
        ],
        ioServicedRecursive: [
          { major: 8, minor: 0, op: 'Read', value: 1 },
          { major: 8, minor: 0, op: 'Write', value: 2 },
        ],
      },
      hugetlb: { '2MB': { usage: 2097152, max: 4194304, failcnt: 1 } },
    });
  });

  it('reports OOM events when memory.events counters grow, until disposed', async () => {
    const { cg } = open();
    cg.create();
    const dir = populate(cg);
    const seen: number[] = [];
    const watch = cg.oomEvents((e) => seen.push(e.oomKills), { intervalMs: 20 });
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n');
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([1]);
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n');
    for (let i = 0; i < 100 && seen.length === 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([1, 2]);
    watch.dispose();
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([1, 2]);
  });
});
