// The cgroup v1 driver: one directory per mounted hierarchy (cpu, memory, pids, freezer, ...,
// name=systemd), all at the same path. Follows runc's libcontainer/cgroups/fs for the order of
// writes and the kernel quirks, commented where they appear.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { pollWatcher, signalAll, type Signallable } from './common';
import { type Int, hugepageSizeName } from './convert';
import { normalizeRule, v1RuleString } from './devices';
import { hybridUnifiedMount, listV1Hierarchies, type V1Hierarchy } from './detect';
import {
  cgroupError,
  fileExists,
  mkdirAll,
  parseFlatKeyed,
  parseUint,
  readCgroupFile,
  readOptional,
  readProcs,
  readProcsRecursive,
  readUint,
  readUintOptional,
  removeCgroupDir,
  removeEmptyParents,
  emptyParentChain,
  subCgroupDir,
  sleepSync,
  writeCgroupFile,
  writeProc,
} from './files';
import type { Blkio, BlkioEntry, CgroupManager, CgroupRemoval, Disposable, FreezerProbe, LinuxResources, MemoryEntry, OomEvent, OomWatch, OomWatchOptions, Stats } from './types';
import type { SkiffError } from '../errors';

interface Hierarchy extends V1Hierarchy {
  /** This cgroup's directory in the hierarchy. */
  dir: string;
  /** Rootless and not writable: left out of every operation. */
  skipped: boolean;
}

/** USER_HZ: cpuacct.stat counts in clock ticks, 100 per second on every Linux ABI Node runs on. */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;

export interface V1Options {
  root: string;
  path: string;
  rootless: boolean;
  warn: (message: string) => void;
  hierarchies?: V1Hierarchy[];
  /** skiff's parent cgroup ("/skiff"): destroy removes it, and parents below it, once empty. */
  parent?: string;
}

export class CgroupV1Manager implements CgroupManager, Signallable {
  readonly version = 1 as const;
  readonly path: string;
  readonly warnings: string[] = [];
  private readonly hierarchies: Hierarchy[];
  private readonly rootless: boolean;
  private readonly onWarning: (message: string) => void;
  private readonly parent?: string;

  constructor(opts: V1Options) {
    this.path = opts.path;
    this.parent = opts.parent;
    this.rootless = opts.rootless;
    this.onWarning = opts.warn;
    const hs = opts.hierarchies ?? listV1Hierarchies(opts.root);
    // Hybrid host: the unified hierarchy too, last (as runc), with no controllers (key "" of paths()).
    const unified = opts.hierarchies ? undefined : hybridUnifiedMount(opts.root);
    if (unified) hs.push({ mountpoint: unified, controllers: [''] });
    this.hierarchies = hs.map((h) => ({ ...h, dir: path.join(h.mountpoint, opts.path), skipped: false }));
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.onWarning(message);
  }

  private hierarchy(controller: string): Hierarchy | undefined {
    return this.hierarchies.find((h) => h.controllers.includes(controller));
  }

  /** The directory of a controller, or a clear error naming the setting that needs it. */
  private need(controller: string, setting: string): string {
    const h = this.hierarchy(controller);
    if (!h) throw cgroupError('ENOTSUP', `cannot set linux.resources.${setting}: the ${controller} cgroup controller is not mounted`);
    if (h.skipped) throw cgroupError('EPERM', `cannot set linux.resources.${setting}: no permission to use the ${controller} cgroup (rootless)`);
    return h.dir;
  }

  private active(): Hierarchy[] {
    return this.hierarchies.filter((h) => !h.skipped);
  }

  create(): void {
    const made: string[] = [];
    try {
      for (const h of this.hierarchies) {
        try {
          made.push(...mkdirAll(h.dir));
        } catch (err) {
          const code = (err as SkiffError).code;
          if (this.rootless && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
            h.skipped = true;
            this.warn(`rootless: cannot create cgroup ${h.dir}, not using the ${h.controllers.join(',')} hierarchy`);
            continue;
          }
          throw err;
        }
        if (h.controllers.includes('cpuset')) this.ensureCpuset(h);
      }
    } catch (err) {
      for (const d of made.reverse()) {
        try {
          fs.rmdirSync(d);
        } catch {
          /* best effort undo */
        }
      }
      throw err;
    }
  }

  /**
   * A new cpuset cgroup starts with empty cpuset.cpus/mems, and a process cannot join it (ENOSPC)
   * until both are set: copy them down from the nearest parent, level by level (runc's ensureParent).
   */
  private ensureCpuset(h: Hierarchy): void {
    const rel = path.relative(h.mountpoint, h.dir).split(path.sep).filter(Boolean);
    let parent = h.mountpoint;
    for (const part of rel) {
      const cur = path.join(parent, part);
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        const mine = readOptional(cur, file);
        if (mine !== undefined && mine.trim() === '') {
          const theirs = readCgroupFile(parent, file).trim();
          if (theirs !== '') writeCgroupFile(cur, file, theirs);
        }
      }
      parent = cur;
    }
  }

  apply(resources: LinuxResources): void {
    this.set(resources, false);
  }

  update(resources: LinuxResources): void {
    this.set(resources, true);
  }

  private set(r: LinuxResources, isUpdate: boolean): void {
    if (r.unified && Object.keys(r.unified).length > 0) {
      throw cgroupError('ENOTSUP', 'invalid configuration: cannot use unified on cgroup v1'); // runc's words
    }
    if (r.cpu?.cpus) writeCgroupFile(this.need('cpuset', 'cpu.cpus'), 'cpuset.cpus', r.cpu.cpus);
    if (r.cpu?.mems) writeCgroupFile(this.need('cpuset', 'cpu.mems'), 'cpuset.mems', r.cpu.mems);
    if (r.devices) {
      const dir = this.need('devices', 'devices');
      for (const rule of r.devices) {
        const n = normalizeRule(rule);
        if (n.type !== 'a' && n.access === 0) continue; // no r, w or m in its access: nothing to write
        writeCgroupFile(dir, n.allow ? 'devices.allow' : 'devices.deny', v1RuleString(n));
      }
    }
    if (r.memory) this.setMemory(r.memory, isUpdate);
    if (r.cpu) this.setCpu(r.cpu);
    if (r.pids && r.pids.limit !== undefined) {
      writeCgroupFile(this.need('pids', 'pids'), 'pids.max', Number(r.pids.limit) > 0 ? String(r.pids.limit) : 'max');
    }
    if (r.blockIO) this.setBlkio(r.blockIO);
    if (r.hugepageLimits?.length) {
      const dir = this.need('hugetlb', 'hugepageLimits');
      for (const l of r.hugepageLimits) {
        const size = hugepageSizeName(l.pageSize);
        writeCgroupFile(dir, `hugetlb.${size}.limit_in_bytes`, String(l.limit));
        // Reservation accounting (5.7+) has its own limit; keep it equal so reservations cannot bypass.
        if (fileExists(dir, `hugetlb.${size}.rsvd.limit_in_bytes`)) writeCgroupFile(dir, `hugetlb.${size}.rsvd.limit_in_bytes`, String(l.limit));
      }
    }
    if (r.network) {
      if (r.network.classID !== undefined) writeCgroupFile(this.need('net_cls', 'network.classID'), 'net_cls.classid', String(r.network.classID));
      for (const p of r.network.priorities ?? []) {
        writeCgroupFile(this.need('net_prio', 'network.priorities'), 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
      }
    }
    if (r.rdma) {
      for (const [dev, l] of Object.entries(r.rdma)) {
        const parts = [l.hcaHandles !== undefined ? `hca_handle=${l.hcaHandles}` : '', l.hcaObjects !== undefined ? `hca_object=${l.hcaObjects}` : ''].filter(Boolean);
        if (parts.length) writeCgroupFile(this.need('rdma', 'rdma'), 'rdma.max', `${dev} ${parts.join(' ')}`);
      }
    }
  }

  private setMemory(m: NonNullable<LinuxResources['memory']>, isUpdate: boolean): void {
    const dir = this.need('memory', 'memory');
    const given = (v: Int | undefined): v is Int => v !== undefined && Number(v) !== 0;
    const limit = m.limit;
    let swap = m.swap;
    if (m.checkBeforeUpdate && isUpdate && given(limit) && Number(limit) > 0) {
      const usage = readUint(dir, 'memory.usage_in_bytes');
      if (usage >= Number(limit)) throw cgroupError('EBUSY', `rejecting memory limit ${limit} below current usage ${usage}`);
    }
    const hasSwapFile = fileExists(dir, 'memory.memsw.limit_in_bytes');
    // Unlimited memory with unset swap: make swap unlimited too, or the old memsw limit would cap memory.
    if (Number(limit) === -1 && !given(swap) && hasSwapFile) swap = -1;
    if (given(swap) && !hasSwapFile) {
      throw cgroupError('ENOTSUP', `cannot set linux.resources.memory.swap: swap accounting is disabled (no ${path.join(dir, 'memory.memsw.limit_in_bytes')})`);
    }
    const writeLimit = () => {
      if (!given(limit)) return;
      try {
        writeCgroupFile(dir, 'memory.limit_in_bytes', String(limit));
      } catch (err) {
        // EBUSY: the new limit is below the current usage and the kernel could not reclaim enough.
        if ((err as SkiffError).code !== 'EBUSY') throw err;
        const usage = readUintOptional(dir, 'memory.usage_in_bytes');
        const peak = readUintOptional(dir, 'memory.max_usage_in_bytes');
        throw cgroupError('EBUSY', `unable to set memory limit to ${limit} in ${path.join(dir, 'memory.limit_in_bytes')} (current usage: ${usage}, peak usage: ${peak})`, err);
      }
    };
    const writeSwap = () => {
      if (given(swap)) writeCgroupFile(dir, 'memory.memsw.limit_in_bytes', String(swap));
    };
    // The kernel requires memory.limit <= memsw.limit at every step, so the order depends on
    // whether the limits grow or shrink (runc's setMemoryAndSwap).
    if (given(limit) && given(swap)) {
      const current = readUint(dir, 'memory.limit_in_bytes');
      if (Number(swap) === -1 || current < Number(swap)) {
        writeSwap();
        writeLimit();
      } else {
        writeLimit();
        writeSwap();
      }
    } else {
      writeLimit();
      writeSwap();
    }
    if (given(m.reservation)) writeCgroupFile(dir, 'memory.soft_limit_in_bytes', String(m.reservation));
    if (m.kernel !== undefined && Number(m.kernel) !== 0) this.writeDeprecated(dir, 'memory.kmem.limit_in_bytes', m.kernel, 'memory.kernel');
    if (m.kernelTCP !== undefined && Number(m.kernelTCP) !== 0) this.writeDeprecated(dir, 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP, 'memory.kernelTCP');
    if (m.swappiness !== undefined) {
      const s = BigInt(m.swappiness);
      // Go's uint64(-1) is how some callers spell "unset".
      if (s <= 100n && s >= 0n) writeCgroupFile(dir, 'memory.swappiness', String(s));
      else if (s !== 18446744073709551615n && s !== -1n) {
        throw cgroupError('EINVAL', `invalid memory swappiness ${s}: the valid range is 0-100`);
      }
    }
    if (m.disableOOMKiller === true || (m.disableOOMKiller === false && isUpdate)) {
      writeCgroupFile(dir, 'memory.oom_control', m.disableOOMKiller ? '1' : '0');
    }
    if (m.useHierarchy !== undefined) {
      try {
        writeCgroupFile(dir, 'memory.use_hierarchy', m.useHierarchy ? '1' : '0');
      } catch (err) {
        // Since 5.x the kernel is always hierarchical and rejects 0 with EINVAL.
        if (m.useHierarchy || (err as SkiffError).code !== 'EINVAL') throw err;
        this.warn('memory.useHierarchy=false is not supported by this kernel (always hierarchical): ignored');
      }
    }
  }

  /** kernel/kernelTCP limits: deprecated; kernels that dropped them reject the write. */
  private writeDeprecated(dir: string, file: string, value: Int, setting: string): void {
    try {
      writeCgroupFile(dir, file, String(value));
    } catch (err) {
      const code = (err as SkiffError).code;
      if (code === 'ENOENT' || code === 'EINVAL' || code === 'EOPNOTSUPP' || code === 'ENOTSUP') {
        this.warn(`linux.resources.${setting} is not supported by this kernel: ignored`);
        return;
      }
      throw err;
    }
  }

  private setCpu(c: NonNullable<LinuxResources['cpu']>): void {
    const needed =
      c.shares !== undefined || c.quota !== undefined || c.period !== undefined || c.burst !== undefined ||
      c.realtimePeriod !== undefined || c.realtimeRuntime !== undefined || c.idle !== undefined;
    if (!needed) return;
    const dir = this.need('cpu', 'cpu');
    if (c.shares !== undefined && Number(c.shares) !== 0) {
      writeCgroupFile(dir, 'cpu.shares', String(c.shares));
      // The kernel clamps shares to [2, 262144]: report what it kept when it differs.
      const kept = readOptional(dir, 'cpu.shares')?.trim();
      if (kept !== undefined && kept !== String(c.shares)) this.warn(`cpu.shares ${c.shares} was clamped by the kernel to ${kept}`);
    }
    // A new period may be rejected (EINVAL) while the old quota no longer fits it; if a quota is
    // being set too, write the quota first and the period again after it (runc's cpu.go).
    let retryPeriod = false;
    if (c.period !== undefined && Number(c.period) !== 0) {
      try {
        writeCgroupFile(dir, 'cpu.cfs_period_us', String(c.period));
      } catch (err) {
        if ((err as SkiffError).code !== 'EINVAL' || c.quota === undefined || Number(c.quota) === 0) throw err;
        retryPeriod = true;
      }
    }
    if (c.quota !== undefined && Number(c.quota) !== 0) {
      writeCgroupFile(dir, 'cpu.cfs_quota_us', String(c.quota));
      if (retryPeriod) writeCgroupFile(dir, 'cpu.cfs_period_us', String(c.period));
    }
    if (c.burst !== undefined) writeCgroupFile(dir, 'cpu.cfs_burst_us', String(c.burst));
    // Realtime: the period first, so that the runtime is checked against the new period.
    if (c.realtimePeriod !== undefined && Number(c.realtimePeriod) !== 0) writeCgroupFile(dir, 'cpu.rt_period_us', String(c.realtimePeriod));
    if (c.realtimeRuntime !== undefined && Number(c.realtimeRuntime) !== 0) writeCgroupFile(dir, 'cpu.rt_runtime_us', String(c.realtimeRuntime));
    if (c.idle !== undefined) writeCgroupFile(dir, 'cpu.idle', String(c.idle));
  }

  private setBlkio(b: NonNullable<LinuxResources['blockIO']>): void {
    const any =
      b.weight !== undefined || b.leafWeight !== undefined || b.weightDevice?.length || b.throttleReadBpsDevice?.length ||
      b.throttleWriteBpsDevice?.length || b.throttleReadIOPSDevice?.length || b.throttleWriteIOPSDevice?.length;
    if (!any) return;
    const dir = this.need('blkio', 'blockIO');
    // CFQ (removed in 5.0) had blkio.weight; BFQ has blkio.bfq.weight with the same range.
    const weightFile = fileExists(dir, 'blkio.weight') ? 'blkio.weight' : fileExists(dir, 'blkio.bfq.weight') ? 'blkio.bfq.weight' : undefined;
    const noWeight = (setting: string) =>
      cgroupError('ENOTSUP', `cannot set linux.resources.blockIO.${setting}: no proportional-weight I/O scheduler (neither blkio.weight nor blkio.bfq.weight in ${dir})`);
    if (b.weight !== undefined && b.weight !== 0) {
      if (!weightFile) throw noWeight('weight');
      writeCgroupFile(dir, weightFile, String(b.weight));
    }
    if (b.leafWeight !== undefined && b.leafWeight !== 0) this.writeLeafWeight(dir, 'blkio.leaf_weight', String(b.leafWeight));
    for (const wd of b.weightDevice ?? []) {
      if (wd.weight !== undefined) {
        if (!weightFile) throw noWeight('weightDevice');
        writeCgroupFile(dir, `${weightFile}_device`, `${wd.major}:${wd.minor} ${wd.weight}`);
      }
      if (wd.leafWeight !== undefined) this.writeLeafWeight(dir, 'blkio.leaf_weight_device', `${wd.major}:${wd.minor} ${wd.leafWeight}`);
    }
    const throttle: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ];
    for (const [key, file] of throttle) {
      for (const t of (b[key] as { major: Int; minor: Int; rate?: Int }[] | undefined) ?? []) {
        writeCgroupFile(dir, file, `${t.major}:${t.minor} ${t.rate ?? 0}`);
      }
    }
  }

  /** leaf_weight existed only with CFQ; without it the setting has no meaning left. */
  private writeLeafWeight(dir: string, file: string, value: string): void {
    if (!fileExists(dir, file)) {
      this.warn(`linux.resources.blockIO leaf weights need the CFQ scheduler, which this kernel does not have: ignored`);
      return;
    }
    writeCgroupFile(dir, file, value);
  }

  addProcess(pid: number, sub?: string | Record<string, string>): void {
    for (const h of this.active()) {
      const rel = typeof sub === 'string' ? sub : sub && (h.controllers.map((c) => sub[c]).find((v) => v !== undefined) ?? sub['']);
      writeProc(rel ? subCgroupDir(h.dir, rel) : h.dir, pid);
    }
  }

  canFreeze(): boolean {
    const h = this.hierarchy('freezer');
    return !!h && !h.skipped;
  }

  private freezerDir(): string {
    const h = this.hierarchy('freezer');
    if (!h) throw cgroupError('ENOTSUP', 'cannot freeze: the freezer cgroup controller is not mounted');
    if (h.skipped) throw cgroupError('EPERM', 'cannot freeze: no permission to use the freezer cgroup (rootless)');
    return h.dir;
  }

  /**
   * Write FROZEN until freezer.state reads FROZEN. The kernel may stay in FREEZING while tasks are
   * in uninterruptible sleep or new ones keep arriving; like runc, retry, sleep now and then, and
   * every 50 attempts thaw briefly so a fork storm cannot keep us from converging.
   */
  freeze(): void {
    const dir = this.freezerDir();
    for (let i = 0; i < 1000; i++) {
      if (i % 50 === 49) {
        writeCgroupFile(dir, 'freezer.state', 'THAWED');
        sleepSync(10);
      }
      writeCgroupFile(dir, 'freezer.state', 'FROZEN');
      if (i % 25 === 24) sleepSync(10);
      const state = readCgroupFile(dir, 'freezer.state').trim();
      if (state === 'FROZEN') return;
      if (state !== 'FREEZING') throw cgroupError('EIO', `unexpected freezer state ${JSON.stringify(state)} in ${dir}`);
    }
    writeCgroupFile(dir, 'freezer.state', 'THAWED');
    throw cgroupError('EBUSY', `unable to freeze ${dir}: processes kept it in FREEZING`);
  }

  thaw(): void {
    const dir = this.freezerDir();
    for (let i = 0; i < 100; i++) {
      writeCgroupFile(dir, 'freezer.state', 'THAWED');
      const state = readCgroupFile(dir, 'freezer.state').trim();
      if (state === 'THAWED') return;
      sleepSync(10);
    }
    throw cgroupError('EBUSY', `unable to thaw ${dir}`);
  }

  isFrozen(): boolean {
    const probe = this.freezerProbe();
    if (!probe) return false;
    const state = readOptional(path.dirname(probe.file), path.basename(probe.file));
    // A parent's freeze shows as FROZEN here too (self_freezing would say whether it is ours).
    return state !== undefined && state.trim() === probe.frozen;
  }

  freezerProbe(): FreezerProbe | undefined {
    const h = this.hierarchy('freezer');
    if (!h || h.skipped) return undefined;
    return { file: path.join(h.dir, 'freezer.state'), frozen: 'FROZEN' };
  }

  /** The hierarchy whose cgroup.procs lists the container's processes (none when rootless skipped all). */
  private procsDir(): string | undefined {
    for (const c of ['pids', 'freezer', 'memory', 'devices', 'cpu']) {
      const h = this.hierarchy(c);
      if (h && !h.skipped) return h.dir;
    }
    return this.active()[0]?.dir;
  }

  pids(recursive = false): number[] {
    const dir = this.procsDir();
    if (!dir) return [];
    return recursive ? readProcsRecursive(dir) : readProcs(dir);
  }

  killAll(signal: NodeJS.Signals | number): void {
    if (!this.exists()) return;
    signalAll(this, signal);
  }

  stats(): Stats {
    const stats: Stats = {
      cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: {} },
      memory: { usage: emptyEntry(), swap: emptyEntry(), kernel: emptyEntry(), kernelTCP: emptyEntry() },
      pids: {},
      blkio: {},
      hugetlb: {},
    };
    const dirOf = (c: string) => {
      const h = this.hierarchy(c);
      return h && !h.skipped && fs.existsSync(h.dir) ? h.dir : undefined;
    };
    const cpuacct = dirOf('cpuacct');
    if (cpuacct) {
      const u = stats.cpu.usage;
      u.total = readUint(cpuacct, 'cpuacct.usage');
      const list = (f: string) => readOptional(cpuacct, f)?.trim().split(/\s+/).filter(Boolean).map(Number);
      u.percpu = list('cpuacct.usage_percpu');
      u.percpu_kernel = list('cpuacct.usage_percpu_sys');
      u.percpu_user = list('cpuacct.usage_percpu_user');
      const st = parseFlatKeyed(readOptional(cpuacct, 'cpuacct.stat') ?? '');
      u.user = (st.user ?? 0) * NS_PER_TICK;
      u.kernel = (st.system ?? 0) * NS_PER_TICK;
    }
    const cpu = dirOf('cpu');
    if (cpu) {
      const st = parseFlatKeyed(readOptional(cpu, 'cpu.stat') ?? '');
      stats.cpu.throttling = { periods: st.nr_periods ?? 0, throttledPeriods: st.nr_throttled ?? 0, throttledTime: st.throttled_time ?? 0 };
    }
    const mem = dirOf('memory');
    if (mem) {
      const raw = parseFlatKeyed(readCgroupFile(mem, 'memory.stat'));
      stats.memory.raw = raw;
      stats.memory.cache = raw.cache ?? 0;
      stats.memory.usage = memoryEntryV1(mem, 'memory')!;
      stats.memory.swap = memoryEntryV1(mem, 'memory.memsw') ?? emptyEntry();
      stats.memory.kernel = memoryEntryV1(mem, 'memory.kmem') ?? emptyEntry();
      stats.memory.kernelTCP = memoryEntryV1(mem, 'memory.kmem.tcp') ?? emptyEntry();
    }
    const pids = dirOf('pids');
    if (pids) {
      stats.pids.current = readUint(pids, 'pids.current');
      const max = readCgroupFile(pids, 'pids.max').trim();
      if (max !== 'max') stats.pids.limit = parseUint(max, path.join(pids, 'pids.max'));
    }
    const blkio = dirOf('blkio');
    if (blkio) stats.blkio = blkioStatsV1(blkio);
    const hugetlb = dirOf('hugetlb');
    if (hugetlb) {
      for (const f of fs.readdirSync(hugetlb)) {
        const m = /^hugetlb\.([0-9]+[KMG]B)\.limit_in_bytes$/.exec(f);
        if (!m) continue;
        stats.hugetlb[m[1]] = {
          usage: readUint(hugetlb, `hugetlb.${m[1]}.usage_in_bytes`),
          max: readUint(hugetlb, `hugetlb.${m[1]}.max_usage_in_bytes`),
          failcnt: readUint(hugetlb, `hugetlb.${m[1]}.failcnt`),
        };
      }
    }
    return stats;
  }

  /**
   * OOM notification without an eventfd: memory.oom_control is polled. It has `oom_kill` (a
   * counter, since 4.13) and `under_oom` (1 while the OOM killer is disabled and the cgroup is at
   * its limit). An event is reported when oom_kill grows or under_oom turns 1. The eventfd
   * interface (cgroup.event_control) would need native code and a thread; a 250 ms poll of one
   * small file is cheap and cannot miss a kill, since the counter only grows.
   */
  oomEvents(onOom: (event: OomEvent) => void, opts: OomWatchOptions = {}): OomWatch {
    const dir = this.need('memory', 'memory (OOM events)');
    const read = () => parseFlatKeyed(readCgroupFile(dir, 'memory.oom_control'));
    let prev = read();
    return pollWatcher(() => {
      const cur = read();
      const kills = cur.oom_kill ?? 0;
      if (kills > (prev.oom_kill ?? 0) || (cur.under_oom === 1 && prev.under_oom !== 1)) onOom({ oomKills: kills });
      prev = cur;
    }, opts.intervalMs ?? 250);
  }

  destroy(): void {
    const errors: string[] = [];
    const done = new Set<string>();
    // One deadline for all hierarchies: a live process fails the first one after the wait, the rest at once.
    const deadline = Date.now() + 2000;
    for (const h of this.hierarchies) {
      if (done.has(h.dir)) continue;
      done.add(h.dir);
      try {
        removeCgroupDir(h.dir, deadline);
      } catch (err) {
        if (h.skipped) continue;
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw cgroupError('EBUSY', errors.join('; '));
    if (this.parent) for (const h of this.active()) removeEmptyParents(h.mountpoint, this.path, this.parent);
  }

  removalPlan(): CgroupRemoval | undefined {
    if (this.rootless) return undefined; // skipped hierarchies and their errors: destroy() decides
    return {
      dirs: [...new Set(this.hierarchies.map((h) => h.dir))],
      parents: this.parent ? this.active().map((h) => emptyParentChain(h.mountpoint, this.path, this.parent!)) : [],
    };
  }

  exists(): boolean {
    return this.active().some((h) => fs.existsSync(h.dir));
  }

  paths(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const h of this.active()) for (const c of h.controllers) out[c] = h.dir;
    return out;
  }
}

function emptyEntry(): MemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

/** usage/max/failcnt/limit of memory, memory.memsw, memory.kmem or memory.kmem.tcp; undefined if absent. */
function memoryEntryV1(dir: string, prefix: string): MemoryEntry | undefined {
  const usage = readUintOptional(dir, `${prefix}.usage_in_bytes`);
  if (usage === undefined) return undefined;
  return {
    usage,
    max: readUint(dir, `${prefix}.max_usage_in_bytes`),
    failcnt: readUint(dir, `${prefix}.failcnt`),
    limit: readUint(dir, `${prefix}.limit_in_bytes`),
  };
}

/** Lines "8:0 Read 4096", "8:0 4096" (no op) and "Total 123" (skipped). */
export function parseBlkioFile(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const entry: BlkioEntry = { major: Number(dev[1]), minor: Number(dev[2]) };
    if (f.length === 3) {
      entry.op = f[1];
      entry.value = Number(f[2]);
    } else if (f.length === 2) {
      entry.value = Number(f[1]);
    } else continue;
    out.push(entry);
  }
  return out;
}

/**
 * blkio statistics, like runc: the CFQ files when the kernel has them, else BFQ's, else the
 * throttling layer's (which counts every I/O, scheduler or not).
 */
function blkioStatsV1(dir: string): Blkio {
  const read = (f: string) => parseBlkioFile(readOptional(dir, f) ?? '');
  const cfq = read('blkio.io_service_bytes_recursive');
  if (cfq.length) {
    return {
      ioServiceBytesRecursive: cfq,
      ioServicedRecursive: read('blkio.io_serviced_recursive'),
      ioQueueRecursive: read('blkio.io_queued_recursive'),
      ioServiceTimeRecursive: read('blkio.io_service_time_recursive'),
      ioWaitTimeRecursive: read('blkio.io_wait_time_recursive'),
      ioMergedRecursive: read('blkio.io_merged_recursive'),
      ioTimeRecursive: read('blkio.time_recursive'),
      sectorsRecursive: read('blkio.sectors_recursive'),
    };
  }
  const bfq = read('blkio.bfq.io_service_bytes_recursive');
  if (bfq.length) return { ioServiceBytesRecursive: bfq, ioServicedRecursive: read('blkio.bfq.io_serviced_recursive') };
  return {
    ioServiceBytesRecursive: read('blkio.throttle.io_service_bytes_recursive'),
    ioServicedRecursive: read('blkio.throttle.io_serviced_recursive'),
  };
}
