// The cgroup v2 driver: one directory in the unified hierarchy. Controllers are delegated from the
// root down through cgroup.subtree_control; devices are an eBPF program; freezing is cgroup.freeze
// and killing cgroup.kill. Follows runc's libcontainer/cgroups/fs2 and crun's cgroup-resources.c.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultBpfOps, installDeviceFilter, type BpfOps } from './bpf';
import { pollWatcher, signalAll, signalNumber, type Signallable } from './common';
import { type Int, blkioWeightToIoWeight, cpuSharesToWeight, hugepageSizeName, limitToV2, memorySwapToV2 } from './convert';
import { emulateDeviceRules } from './devices';
import {
  UINT64_MAX,
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
import type { Blkio, BlkioEntry, CgroupManager, CgroupRemoval, FreezerProbe, Disposable, LinuxResources, MemoryEntry, OomEvent, OomWatch, OomWatchOptions, Stats } from './types';
import { type SkiffError, osReason } from '../errors';
import { constants } from 'node:os';

export interface V2Options {
  root: string;
  path: string;
  rootless: boolean;
  warn: (message: string) => void;
  /** Controllers to enable down to the cgroup (default: all the root offers). */
  controllers?: string[];
  bpf?: BpfOps;
  /** skiff's parent cgroup ("/skiff"): destroy removes it, and parents below it, once empty. */
  parent?: string;
}

/** cgroup core files a `unified` entry must not touch: they move, kill or freeze processes. */
const UNIFIED_FORBIDDEN = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.kill', 'cgroup.freeze', 'cgroup.subtree_control', 'cgroup.type']);

/** A `unified` key is one file name "controller.knob[.more]": no slash, no dot segment, no NUL. */
export function validateUnifiedKey(key: string, value: string): void {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(key)) {
    throw cgroupError('EINVAL', `invalid linux.resources.unified key ${JSON.stringify(key)}: must be a cgroup file name like "memory.high"`);
  }
  if (UNIFIED_FORBIDDEN.has(key)) throw cgroupError('EINVAL', `linux.resources.unified may not set ${key}`);
  if (value.includes('\0')) throw cgroupError('EINVAL', `invalid linux.resources.unified value for ${key}: contains a NUL byte`);
}

export class CgroupV2Manager implements CgroupManager, Signallable {
  readonly version = 2 as const;
  readonly path: string;
  readonly warnings: string[] = [];
  readonly dir: string;
  private readonly root: string;
  private readonly rootless: boolean;
  private readonly onWarning: (message: string) => void;
  private readonly wantControllers?: string[];
  private bpfOps?: BpfOps;
  private readonly parent?: string;
  /** Rootless without a writable delegation: nothing is done. */
  private disabled = false;
  /** Controllers create could not enable in an ancestor, with where and why (for apply's errors). */
  private readonly delegationFailures = new Map<string, { dir: string; reason: string }>();

  constructor(opts: V2Options) {
    this.root = opts.root;
    this.path = opts.path;
    this.dir = path.join(opts.root, opts.path);
    this.rootless = opts.rootless;
    this.onWarning = opts.warn;
    this.wantControllers = opts.controllers;
    this.bpfOps = opts.bpf;
    this.parent = opts.parent;
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.onWarning(message);
  }

  private bpf(): BpfOps {
    if (!this.bpfOps) this.bpfOps = defaultBpfOps();
    return this.bpfOps;
  }

  create(): void {
    let made: string[];
    try {
      made = mkdirAll(this.dir);
    } catch (err) {
      const code = (err as SkiffError).code;
      if (this.rootless && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
        this.disabled = true;
        this.warn(`rootless: cannot create cgroup ${this.dir}, running without a cgroup`);
        return;
      }
      throw err;
    }
    try {
      this.enableControllers();
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
   * Delegate controllers from the root down to the cgroup's parent: each ancestor's
   * cgroup.subtree_control gets "+ctrl" for every controller it has and we want. Failures are not
   * fatal here (a controller may be unavailable rootless or in a container); a limit that needs a
   * missing controller fails later in apply with a message naming it (runc's CreateCgroupPath).
   */
  private enableControllers(): void {
    const rel = path.relative(this.root, this.dir).split(path.sep).filter(Boolean);
    let cur = this.root;
    for (let i = 0; i < rel.length; i++) {
      const available = (readOptional(cur, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
      const enabled = new Set((readOptional(cur, 'cgroup.subtree_control') ?? '').split(/\s+/).filter(Boolean));
      const want = available.filter((c) => (this.wantControllers ? this.wantControllers.includes(c) : true) && !enabled.has(c));
      if (want.length) {
        try {
          writeCgroupFile(cur, 'cgroup.subtree_control', want.map((c) => `+${c}`).join(' '));
        } catch {
          for (const c of want) {
            try {
              writeCgroupFile(cur, 'cgroup.subtree_control', `+${c}`);
            } catch (err) {
              // Reported by apply when a limit needs it (EBUSY: this cgroup holds processes).
              if (!this.delegationFailures.has(c)) this.delegationFailures.set(c, { dir: cur, reason: osReason((err as { cause?: unknown }).cause ?? err) });
            }
          }
        }
      }
      cur = path.join(cur, rel[i]);
    }
  }

  apply(resources: LinuxResources): void {
    this.set(resources, false);
  }

  update(resources: LinuxResources): void {
    this.set(resources, true);
  }

  /** Write a control file; a missing file means its controller is not enabled here: say so. */
  private write(file: string, value: string): void {
    try {
      writeCgroupFile(this.dir, file, value);
    } catch (err) {
      if ((err as SkiffError).code !== 'ENOENT' || !fs.existsSync(this.dir)) throw err;
      const controller = file.split('.')[0];
      const have = (readOptional(this.dir, 'cgroup.controllers') ?? '').trim() || 'none';
      // Say which parent does not delegate it, and why enabling it there failed when we tried.
      const parent = path.dirname(this.dir);
      const failed = this.delegationFailures.get(controller);
      const why = failed
        ? `: ${failed.dir} does not delegate it (writing +${controller} to its cgroup.subtree_control failed: ${failed.reason})`
        : have.split(' ').includes(controller)
          ? ''
          : `: ${parent} does not delegate it (its cgroup.subtree_control: ${(readOptional(parent, 'cgroup.subtree_control') ?? '').trim() || 'empty'})`;
      throw cgroupError(
        'ENOTSUP',
        `cannot write ${JSON.stringify(value)} to ${path.join(this.dir, file)}: the ${controller} controller is not available in this cgroup (enabled controllers: ${have})${why}`,
        err,
      );
    }
  }

  private set(r: LinuxResources, isUpdate: boolean): void {
    if (this.disabled) {
      const limits = Object.entries(r).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0));
      if (limits.length) throw cgroupError('EPERM', `cannot set linux.resources.${limits[0][0]}: rootless and no writable cgroup`);
      return;
    }
    const unified = r.unified ?? {};
    for (const [k, v] of Object.entries(unified)) validateUnifiedKey(k, v);
    if (r.cpu?.cpus) this.write('cpuset.cpus', r.cpu.cpus);
    if (r.cpu?.mems) this.write('cpuset.mems', r.cpu.mems);
    if (r.memory) this.setMemory(r.memory, isUpdate);
    if (r.cpu) this.setCpu(r.cpu, isUpdate, unified);
    if (r.pids && r.pids.limit !== undefined) this.write('pids.max', Number(r.pids.limit) > 0 ? String(r.pids.limit) : 'max');
    if (r.blockIO) this.setIo(r.blockIO);
    for (const l of r.hugepageLimits ?? []) {
      const size = hugepageSizeName(l.pageSize);
      this.write(`hugetlb.${size}.max`, String(l.limit));
      if (fileExists(this.dir, `hugetlb.${size}.rsvd.max`)) this.write(`hugetlb.${size}.rsvd.max`, String(l.limit));
    }
    if (r.network && (r.network.classID !== undefined || r.network.priorities?.length)) {
      throw cgroupError('ENOTSUP', 'cannot set linux.resources.network: net_cls and net_prio do not exist on cgroup v2');
    }
    for (const [dev, l] of Object.entries(r.rdma ?? {})) {
      const parts = [l.hcaHandles !== undefined ? `hca_handle=${l.hcaHandles}` : '', l.hcaObjects !== undefined ? `hca_object=${l.hcaObjects}` : ''].filter(Boolean);
      if (parts.length) this.write('rdma.max', `${dev} ${parts.join(' ')}`);
    }
    if (r.devices) installDeviceFilter(this.bpf(), this.dir, emulateDeviceRules(r.devices));
    // Last, so that explicit v2 values win over the converted v1 ones.
    for (const [k, v] of Object.entries(unified)) this.write(k, v);
  }

  private setMemory(m: NonNullable<LinuxResources['memory']>, isUpdate: boolean): void {
    const given = (v: Int | undefined): v is Int => v !== undefined && Number(v) !== 0;
    if (m.checkBeforeUpdate && (Number(m.limit ?? 0) > 0 || Number(m.swap ?? 0) > 0)) {
      const usage = readUint(this.dir, 'memory.current');
      if (Number(m.limit ?? 0) > 0 && usage >= Number(m.limit)) {
        throw cgroupError('EBUSY', `rejecting memory limit ${m.limit} below current usage ${usage}`);
      }
      const swapUsage = readUintOptional(this.dir, 'memory.swap.current') ?? 0;
      if (Number(m.swap ?? 0) > 0 && usage + swapUsage >= Number(m.swap)) {
        throw cgroupError('EBUSY', `rejecting memory+swap limit ${m.swap} below current usage ${usage + swapUsage}`);
      }
    }
    // An update of swap alone is relative to the memory limit already in force.
    let memory: Int | undefined = m.limit;
    if (isUpdate && given(m.swap) && !given(memory)) {
      const cur = readCgroupFile(this.dir, 'memory.max').trim();
      memory = cur === 'max' ? -1 : BigInt(cur);
    }
    const swap = memorySwapToV2(m.swap, memory);
    if (swap !== undefined) {
      if (fileExists(this.dir, 'memory.swap.max')) this.write('memory.swap.max', swap);
      else if (swap !== 'max') {
        throw cgroupError('ENOTSUP', `cannot set linux.resources.memory.swap: swap accounting is disabled (no ${path.join(this.dir, 'memory.swap.max')})`);
      }
    }
    if (given(m.limit)) this.write('memory.max', limitToV2(m.limit));
    if (given(m.reservation)) this.write('memory.low', limitToV2(m.reservation));
    if (m.kernel !== undefined && Number(m.kernel) !== 0) this.warn('linux.resources.memory.kernel is not supported on cgroup v2: ignored');
    if (m.kernelTCP !== undefined && Number(m.kernelTCP) !== 0) this.warn('linux.resources.memory.kernelTCP is not supported on cgroup v2: ignored');
    if (m.swappiness !== undefined && BigInt(m.swappiness) <= 100n && BigInt(m.swappiness) >= 0n) {
      this.warn('linux.resources.memory.swappiness is not supported on cgroup v2: ignored');
    }
    if (m.disableOOMKiller) this.warn('linux.resources.memory.disableOOMKiller is not supported on cgroup v2: ignored');
    if (m.useHierarchy === false) this.warn('linux.resources.memory.useHierarchy=false is not supported on cgroup v2 (always hierarchical): ignored');
  }

  private setCpu(c: NonNullable<LinuxResources['cpu']>, isUpdate: boolean, unified: Record<string, string>): void {
    if (Number(c.realtimeRuntime ?? 0) !== 0 || Number(c.realtimePeriod ?? 0) !== 0) {
      throw cgroupError('ENOTSUP', 'cannot set linux.resources.cpu.realtimeRuntime/realtimePeriod: realtime group scheduling is not supported on cgroup v2');
    }
    if (c.shares !== undefined && Number(c.shares) !== 0 && unified['cpu.weight'] === undefined) {
      this.write('cpu.weight', String(cpuSharesToWeight(Number(c.shares))));
    }
    const hasQuota = c.quota !== undefined && Number(c.quota) !== 0;
    const hasPeriod = c.period !== undefined && Number(c.period) !== 0;
    if ((hasQuota || hasPeriod) && unified['cpu.max'] === undefined) {
      // cpu.max holds both values. An update that gives one keeps the other as it is.
      let quota = hasQuota ? (Number(c.quota) > 0 ? String(c.quota) : 'max') : 'max';
      let period = hasPeriod ? String(c.period) : '100000';
      if (isUpdate && (!hasQuota || !hasPeriod)) {
        const [curQuota, curPeriod] = (readOptional(this.dir, 'cpu.max') ?? 'max 100000').trim().split(/\s+/);
        if (!hasQuota) quota = curQuota ?? 'max';
        if (!hasPeriod) period = curPeriod ?? '100000';
      }
      this.write('cpu.max', `${quota} ${period}`);
    }
    if (c.burst !== undefined) this.write('cpu.max.burst', String(c.burst));
    if (c.idle !== undefined) this.write('cpu.idle', String(c.idle));
  }

  private setIo(b: NonNullable<LinuxResources['blockIO']>): void {
    // BFQ takes blkio's weight range [1, 1000] as is; io.weight is [1, 10000] and needs converting.
    const bfq = fileExists(this.dir, 'io.bfq.weight');
    if (b.weight !== undefined && b.weight !== 0) {
      if (bfq) this.write('io.bfq.weight', String(b.weight));
      else this.write('io.weight', String(blkioWeightToIoWeight(b.weight)));
    }
    if (b.leafWeight !== undefined && b.leafWeight !== 0) this.warn('linux.resources.blockIO.leafWeight is not supported on cgroup v2: ignored');
    for (const wd of b.weightDevice ?? []) {
      if (wd.weight !== undefined && wd.weight !== 0) {
        if (bfq) this.write('io.bfq.weight', `${wd.major}:${wd.minor} ${wd.weight}`);
        else this.write('io.weight', `${wd.major}:${wd.minor} ${blkioWeightToIoWeight(wd.weight)}`);
      }
      if (wd.leafWeight !== undefined && wd.leafWeight !== 0) this.warn('linux.resources.blockIO.weightDevice[].leafWeight is not supported on cgroup v2: ignored');
    }
    const throttle: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ];
    for (const [key, name] of throttle) {
      for (const t of (b[key] as { major: Int; minor: Int; rate?: Int }[] | undefined) ?? []) {
        // rate 0 means "no limit" in the spec's v1 heritage; io.max spells it "max".
        const rate = t.rate === undefined || Number(t.rate) === 0 ? 'max' : String(t.rate);
        this.write('io.max', `${t.major}:${t.minor} ${name}=${rate}`);
      }
    }
  }

  addProcess(pid: number, sub?: string | Record<string, string>): void {
    if (this.disabled) return;
    const rel = typeof sub === 'string' ? sub : sub?.[''];
    if (sub && typeof sub !== 'string' && Object.keys(sub).some((k) => k !== '')) {
      throw cgroupError('EINVAL', `per-controller sub-cgroups (${Object.keys(sub).join(', ')}) need cgroup v1; on v2 give one path`);
    }
    writeProc(rel ? subCgroupDir(this.dir, rel) : this.dir, pid);
  }

  canFreeze(): boolean {
    return !this.disabled && fileExists(this.dir, 'cgroup.freeze');
  }

  /** Set cgroup.freeze and wait for cgroup.events to report the state (the kernel settles async). */
  private setFrozen(frozen: boolean): void {
    if (this.disabled) throw cgroupError('EPERM', 'cannot freeze: rootless and no writable cgroup');
    writeCgroupFile(this.dir, 'cgroup.freeze', frozen ? '1' : '0');
    const want = frozen ? 1 : 0;
    for (let i = 0; i < 1000; i++) {
      const events = parseFlatKeyed(readCgroupFile(this.dir, 'cgroup.events'));
      if (events.frozen === want) return;
      sleepSync(i < 20 ? 1 : 10);
    }
    if (frozen) writeCgroupFile(this.dir, 'cgroup.freeze', '0');
    throw cgroupError('EBUSY', `unable to ${frozen ? 'freeze' : 'thaw'} ${this.dir}: cgroup.events did not report it in time`);
  }

  freeze(): void {
    this.setFrozen(true);
  }

  thaw(): void {
    this.setFrozen(false);
  }

  isFrozen(): boolean {
    const probe = this.freezerProbe();
    if (!probe) return false;
    const v = readOptional(this.dir, path.basename(probe.file));
    return v !== undefined && v.trim() === probe.frozen;
  }

  freezerProbe(): FreezerProbe | undefined {
    return this.disabled ? undefined : { file: path.join(this.dir, 'cgroup.freeze'), frozen: '1' };
  }

  pids(recursive = false): number[] {
    if (this.disabled) return [];
    return recursive ? readProcsRecursive(this.dir) : readProcs(this.dir);
  }

  /** SIGKILL through cgroup.kill (5.14+): atomic, recursive, no race with fork. */
  killAll(signal: NodeJS.Signals | number): void {
    if (!this.exists()) return;
    if (signalNumber(signal) === constants.signals.SIGKILL && fileExists(this.dir, 'cgroup.kill')) {
      writeCgroupFile(this.dir, 'cgroup.kill', '1');
      return;
    }
    signalAll(this, signal);
  }

  stats(): Stats {
    const dir = this.dir;
    const stats: Stats = {
      cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: {} },
      memory: { usage: emptyEntry(), swap: emptyEntry(), kernel: emptyEntry(), kernelTCP: emptyEntry() },
      pids: {},
      blkio: {},
      hugetlb: {},
    };
    if (this.disabled) return stats;
    const cpu = readOptional(dir, 'cpu.stat');
    if (cpu !== undefined) {
      const st = parseFlatKeyed(cpu);
      stats.cpu.usage = { total: (st.usage_usec ?? 0) * 1000, user: (st.user_usec ?? 0) * 1000, kernel: (st.system_usec ?? 0) * 1000 };
      stats.cpu.throttling = { periods: st.nr_periods ?? 0, throttledPeriods: st.nr_throttled ?? 0, throttledTime: (st.throttled_usec ?? 0) * 1000 };
    }
    const memStat = readOptional(dir, 'memory.stat');
    if (memStat !== undefined) {
      const raw = parseFlatKeyed(memStat);
      stats.memory.raw = raw;
      stats.memory.cache = raw.file ?? 0;
      const events = parseFlatKeyed(readOptional(dir, 'memory.events') ?? '');
      const usage = readUint(dir, 'memory.current');
      const limit = readUint(dir, 'memory.max');
      stats.memory.usage = { usage, limit, max: readUintOptional(dir, 'memory.peak') ?? 0, failcnt: events.max ?? 0 };
      const swapUsage = readUintOptional(dir, 'memory.swap.current');
      if (swapUsage !== undefined) {
        // v1 reported memory+swap; keep that meaning, as runc does.
        const swapLimit = readUint(dir, 'memory.swap.max');
        const swapEvents = parseFlatKeyed(readOptional(dir, 'memory.swap.events') ?? '');
        stats.memory.swap = {
          usage: swapUsage + usage,
          limit: swapLimit === UINT64_MAX || limit === UINT64_MAX ? UINT64_MAX : swapLimit + limit,
          max: (readUintOptional(dir, 'memory.swap.peak') ?? 0) + (readUintOptional(dir, 'memory.peak') ?? 0),
          failcnt: swapEvents.max ?? 0,
        };
      }
    }
    const pidsCurrent = readUintOptional(dir, 'pids.current');
    if (pidsCurrent !== undefined) {
      stats.pids.current = pidsCurrent;
      const max = readCgroupFile(dir, 'pids.max').trim();
      if (max !== 'max') stats.pids.limit = parseUint(max, path.join(dir, 'pids.max'));
    }
    const io = readOptional(dir, 'io.stat');
    if (io !== undefined) stats.blkio = parseIoStat(io);
    for (const f of fs.readdirSync(dir)) {
      const m = /^hugetlb\.([0-9]+[KMG]B)\.current$/.exec(f);
      if (!m) continue;
      const ev = parseFlatKeyed(readOptional(dir, `hugetlb.${m[1]}.events`) ?? '');
      stats.hugetlb[m[1]] = { usage: readUint(dir, f), max: readUint(dir, `hugetlb.${m[1]}.max`), failcnt: ev.max ?? 0 };
    }
    return stats;
  }

  /**
   * OOM notification: memory.events has cumulative `oom` and `oom_kill` counters and the kernel
   * signals modifications of the file to inotify (cgroup_file_notify), so fs.watch wakes us at
   * once; a poll backs it up in case a watch cannot be set. An event is reported whenever either
   * counter grows.
   */
  oomEvents(onOom: (event: OomEvent) => void, opts: OomWatchOptions = {}): OomWatch {
    if (!fileExists(this.dir, 'memory.events')) {
      throw cgroupError('ENOTSUP', `cannot watch OOM events: the memory controller is not available in ${this.dir}`);
    }
    const read = () => parseFlatKeyed(readCgroupFile(this.dir, 'memory.events'));
    let prev = read();
    return pollWatcher(
      () => {
        const cur = read();
        if ((cur.oom ?? 0) > (prev.oom ?? 0) || (cur.oom_kill ?? 0) > (prev.oom_kill ?? 0)) onOom({ oomKills: cur.oom_kill ?? 0 });
        prev = cur;
      },
      opts.intervalMs ?? 250,
      path.join(this.dir, 'memory.events'),
    );
  }

  destroy(): void {
    removeCgroupDir(this.dir);
    if (this.parent && !this.disabled) removeEmptyParents(this.root, this.path, this.parent);
  }

  removalPlan(): CgroupRemoval | undefined {
    if (this.disabled) return undefined;
    return { dirs: [this.dir], parents: this.parent ? [emptyParentChain(this.root, this.path, this.parent)] : [] };
  }

  exists(): boolean {
    return !this.disabled && fs.existsSync(this.dir);
  }

  paths(): Record<string, string> {
    return this.disabled ? {} : { '': this.dir };
  }
}

function emptyEntry(): MemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

/** io.stat lines "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" in the v1 table layout. */
export function parseIoStat(text: string): Blkio {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    for (const kv of f.slice(1)) {
      const [k, v] = kv.split('=');
      const value = Number(v);
      if (!Number.isFinite(value)) continue;
      if (k === 'rbytes') bytes.push({ major, minor, op: 'Read', value });
      else if (k === 'wbytes') bytes.push({ major, minor, op: 'Write', value });
      else if (k === 'rios') ios.push({ major, minor, op: 'Read', value });
      else if (k === 'wios') ios.push({ major, minor, op: 'Write', value });
    }
  }
  return { ioServiceBytesRecursive: bytes, ioServicedRecursive: ios };
}
