// The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope that
// systemd makes and owns, as runc's and crun's systemd managers do on cgroup v2.
//
//   cgroupsPath "slice:prefix:name"  → unit "<prefix>-<name>.scope" in "slice" (default system.slice)
//                                      cgroup /<slice path>/<unit>, e.g. machine.slice:libpod:abc →
//                                      /machine.slice/libpod-abc.scope; "a-b.slice" → /a.slice/a-b.slice
//   create      nothing yet (systemd refuses a scope without a process)
//   apply       remembered until the init exists
//   addProcess  StartTransientUnit(unit, PIDs=[init], Slice, Delegate=yes, the limits systemd knows),
//               waiting for its job; then every limit is written to the scope's files too (the v2
//               driver), so values systemd cannot express (memory.high via unified, cpu.max.burst,
//               io.max, hugetlb...) and exact ones (cpu.max below systemd's 10 ms steps) apply.
//               systemd makes a missing slice itself (slices need no unit file).
//   update      SetUnitProperties(runtime) for what systemd knows, then the files
//   destroy     StopUnit + ResetFailedUnit; the slice stays, as with runc
//   the rest    (freeze, kill, stats, OOM events, pids) the scope's files, through the v2 driver
//
// Devices: systemd installs its own eBPF device program when a unit has DevicePolicy/DeviceAllow,
// and a second program of ours would be detached and re-attached by each of us in turn. So exactly
// one of them governs: when the OCI rules translate exactly into DeviceAllow (deny by default,
// allow exceptions for one device, all devices of a type, or a major named in /proc/devices),
// systemd's program does it (DevicePolicy=strict); otherwise DevicePolicy=auto with no DeviceAllow
// (systemd attaches nothing) and skiff's own program enforces the rules.

import * as fs from 'node:fs';
import { cgroupError } from './files';
import { ACC_MKNOD, ACC_READ, ACC_WRITE, emulateDeviceRules, type DeviceState } from './devices';
import { blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2 } from './convert';
import { parseGVariant } from './gvariant';
import { DbusSystemdBus, type SystemdBus, type UnitProperty } from './systemd-bus';
import { CgroupV2Manager } from './v2';
import type { CgroupManager, LinuxResources, OomEvent, OomWatch, OomWatchOptions, Stats } from './types';

export interface SystemdUnitName {
  /** The slice the unit goes into, e.g. "machine.slice". */
  slice: string;
  /** The unit, e.g. "libpod-abc.scope". */
  unit: string;
  /** Its cgroup path from the hierarchy root, e.g. "/machine.slice/libpod-abc.scope". */
  path: string;
}

const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+$/;

/** "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice" (systemd's slice nesting; "-.slice" is the root). */
export function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || !UNIT_NAME.test(slice)) throw cgroupError('EINVAL', `invalid slice name ${JSON.stringify(slice)}`);
  if (slice === '-.slice') return '/';
  const base = slice.slice(0, -'.slice'.length);
  if (base.startsWith('-') || base.endsWith('-') || base.includes('--')) throw cgroupError('EINVAL', `invalid slice name ${JSON.stringify(slice)}`);
  let out = '';
  let prefix = '';
  for (const part of base.split('-')) {
    prefix = prefix ? `${prefix}-${part}` : part;
    out += `/${prefix}.slice`;
  }
  return out;
}

/** Parse a systemd cgroupsPath ("slice:prefix:name"); an absent one is "system.slice:skiff:<id>". */
export function systemdUnitName(cgroupsPath: string | undefined, id: string): SystemdUnitName {
  const p = cgroupsPath || `system.slice:skiff:${id}`;
  const parts = p.split(':');
  if (parts.length !== 3 || !parts[2]) {
    throw cgroupError('EINVAL', `invalid cgroupsPath ${JSON.stringify(p)} for the systemd driver: expected "slice:prefix:name"`);
  }
  const [sliceGiven, prefix, name] = parts;
  const slice = sliceGiven || 'system.slice';
  if (name.endsWith('.slice')) {
    throw cgroupError('ENOTSUP', `cgroupsPath ${JSON.stringify(p)}: a slice as the container's own unit is not supported (give a scope name)`);
  }
  const unit = `${prefix ? `${prefix}-` : ''}${name}.scope`;
  if (!UNIT_NAME.test(unit) || unit.length > 255) throw cgroupError('EINVAL', `invalid cgroupsPath ${JSON.stringify(p)}: "${unit}" is not a valid unit name`);
  const parent = expandSlice(slice);
  return { slice, unit, path: `${parent === '/' ? '' : parent}/${unit}` };
}

/** A CPU or memory-node list ("0-3,7") as systemd's AllowedCPUs/AllowedMemoryNodes bitmask bytes. */
export function cpuListToMask(list: string): Uint8Array {
  const bits: number[] = [];
  for (const part of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw cgroupError('EINVAL', `invalid cpu/node list ${JSON.stringify(list)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > 8191) throw cgroupError('EINVAL', `invalid cpu/node list ${JSON.stringify(list)}`);
    for (let i = a; i <= b; i++) bits.push(i);
  }
  const mask = new Uint8Array(bits.length ? Math.floor(Math.max(...bits) / 8) + 1 : 0);
  for (const i of bits) mask[i >> 3] |= 1 << (i & 7);
  return mask;
}

/** Majors of /proc/devices by type, for DeviceAllow's "char-NAME"/"block-NAME" classes. */
function procDevices(text?: string): { c: Map<number, string>; b: Map<number, string> } {
  const out = { c: new Map<number, string>(), b: new Map<number, string>() };
  let cur: Map<number, string> | undefined;
  let t = text;
  if (t === undefined) {
    try {
      t = fs.readFileSync('/proc/devices', 'utf8');
    } catch {
      t = '';
    }
  }
  for (const line of t.split('\n')) {
    if (/^Character devices:/.test(line)) cur = out.c;
    else if (/^Block devices:/.test(line)) cur = out.b;
    else {
      const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(line);
      if (m && cur) cur.set(Number(m[1]), m[2]);
    }
  }
  return out;
}

/**
 * The device rules as DevicePolicy/DeviceAllow when systemd can enforce exactly them, else
 * undefined. A major with any minor becomes "char-NAME" only when NAME is that major's alone.
 */
export function devicePropertiesExact(state: DeviceState, procDevicesText?: string): UnitProperty[] | undefined {
  if (state.defaultAllow) return state.exceptions.length === 0 ? [['DevicePolicy', 's', 'auto']] : undefined;
  const devs = procDevices(procDevicesText);
  const allow: [string, string][] = [];
  for (const e of state.exceptions) {
    const access = (e.access & ACC_READ ? 'r' : '') + (e.access & ACC_WRITE ? 'w' : '') + (e.access & ACC_MKNOD ? 'm' : '');
    const kind = e.type === 'c' ? 'char' : 'block';
    if (e.major === -1) {
      if (e.minor !== -1) return undefined;
      allow.push([`${kind}-*`, access]);
    } else if (e.minor === -1) {
      const table = devs[e.type];
      const name = table.get(e.major);
      if (!name || [...table.entries()].some(([maj, n]) => n === name && maj !== e.major)) return undefined;
      allow.push([`${kind}-${name}`, access]);
    } else {
      allow.push([`/dev/${kind}/${e.major}:${e.minor}`, access]);
    }
  }
  return [
    ['DevicePolicy', 's', 'strict'],
    ['DeviceAllow', 'a(ss)', allow],
  ];
}

/** systemd's CPUQuotaPerSecUSec from quota/period, rounded up to its 10 ms steps (as runc does). */
export function cpuQuotaPerSec(quota: number, period: number): bigint {
  const perSec = Math.ceil((quota * 1_000_000) / period);
  return BigInt(Math.ceil(perSec / 10_000) * 10_000);
}

const UINT64_INFINITY = 0xffffffffffffffffn;
const limitValue = (v: number | bigint): bigint => (BigInt(v) < 0n ? UINT64_INFINITY : BigInt(v));

/**
 * The unit properties for the limits systemd knows. `devices` tells whether systemd takes the
 * device rules (see devicePropertiesExact); with `update`, DeviceAllow is first reset (systemd
 * appends to it otherwise).
 */
export function resourceProperties(r: LinuxResources, opts: { update?: boolean; procDevices?: string } = {}): { properties: UnitProperty[]; devicesBySystemd: boolean } {
  const p: UnitProperty[] = [];
  const m = r.memory;
  if (m?.limit !== undefined && Number(m.limit) !== 0) p.push(['MemoryMax', 't', limitValue(m.limit)]);
  if (m?.reservation !== undefined && Number(m.reservation) !== 0) p.push(['MemoryLow', 't', limitValue(m.reservation)]);
  if (m?.swap !== undefined && Number(m.swap) !== 0 && m.limit !== undefined && Number(m.limit) !== 0) {
    const swap = memorySwapToV2(m.swap, m.limit);
    if (swap !== undefined) p.push(['MemorySwapMax', 't', swap === 'max' ? UINT64_INFINITY : BigInt(swap)]);
  }
  const u = r.unified ?? {};
  if (u['memory.high'] !== undefined) p.push(['MemoryHigh', 't', u['memory.high'].trim() === 'max' ? UINT64_INFINITY : BigInt(u['memory.high'].trim())]);
  if (u['memory.min'] !== undefined) p.push(['MemoryMin', 't', u['memory.min'].trim() === 'max' ? UINT64_INFINITY : BigInt(u['memory.min'].trim())]);
  const c = r.cpu;
  if (c?.shares !== undefined && Number(c.shares) !== 0) p.push(['CPUWeight', 't', BigInt(cpuSharesToWeight(Number(c.shares)))]);
  if (c?.quota !== undefined && Number(c.quota) !== 0) {
    const period = c.period !== undefined && Number(c.period) !== 0 ? Number(c.period) : 100_000;
    p.push(['CPUQuotaPeriodUSec', 't', BigInt(period)]);
    p.push(['CPUQuotaPerSecUSec', 't', Number(c.quota) > 0 ? cpuQuotaPerSec(Number(c.quota), period) : UINT64_INFINITY]);
  }
  if (c?.cpus) p.push(['AllowedCPUs', 'ay', cpuListToMask(c.cpus)]);
  if (c?.mems) p.push(['AllowedMemoryNodes', 'ay', cpuListToMask(c.mems)]);
  if (r.pids?.limit !== undefined) p.push(['TasksMax', 't', Number(r.pids.limit) > 0 ? BigInt(r.pids.limit) : UINT64_INFINITY]);
  if (r.blockIO?.weight) p.push(['IOWeight', 't', BigInt(blkioWeightToIoWeight(r.blockIO.weight))]);
  let devicesBySystemd = false;
  if (r.devices) {
    const dev = devicePropertiesExact(emulateDeviceRules(r.devices), opts.procDevices);
    if (dev) {
      devicesBySystemd = true;
      if (opts.update) p.push(['DeviceAllow', 'a(ss)', []]);
      p.push(...dev);
    } else {
      // Ours governs: systemd must attach no program of its own (auto, empty allow list).
      p.push(['DevicePolicy', 's', 'auto'], ['DeviceAllow', 'a(ss)', []]);
    }
  }
  return { properties: p, devicesBySystemd };
}

const PROPERTY_ANNOTATION = 'org.systemd.property.';
const NUMERIC = new Set(['y', 'n', 'q', 'i', 'u', 'x', 't', 'd']);

/**
 * runc's `org.systemd.property.NAME` annotations: each is one more property of the container's
 * scope, its value in GVariant text (`"uint64 123"`, `"'inactive-or-failed'"`). NAME is letters
 * only, at least three; a NAME ending in a lower-case letter + "Sec" is systemd's documented
 * spelling of a "USec" property in seconds, sent as NAMEUSec in microseconds. They come after
 * skiff's own properties, so they win where both set one. Throws one line naming the annotation.
 */
export function annotationProperties(annotations: Record<string, string> | undefined): UnitProperty[] {
  const out: UnitProperty[] = [];
  for (const [key, text] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(PROPERTY_ANNOTATION)) continue;
    let name = key.slice(PROPERTY_ANNOTATION.length);
    if (name.length < 3) throw cgroupError('EINVAL', `annotation ${key} name incorrect: too short`);
    if (!/^[A-Za-z]+$/.test(name)) throw cgroupError('EINVAL', `annotation ${key} name incorrect: contains non-alphabetic character`);
    let typed;
    try {
      typed = parseGVariant(text);
    } catch (err) {
      throw cgroupError('EINVAL', `annotation ${key}=${text} value parse error: ${(err as Error).message}`);
    }
    let { signature, value } = typed;
    if (/[a-z]Sec$/.test(name)) {
      if (!NUMERIC.has(signature)) throw cgroupError('EINVAL', `annotation ${key}=${text} value parse error: not a number`);
      const seconds = Number(value);
      if (!(seconds >= 0)) throw cgroupError('EINVAL', `annotation ${key}=${text} value parse error: negative seconds`);
      name = `${name.slice(0, -3)}USec`;
      signature = 't';
      value = typeof typed.value === 'bigint' ? typed.value * 1_000_000n : BigInt(Math.trunc(seconds * 1_000_000));
      if ((value as bigint) > UINT64_INFINITY) throw cgroupError('EINVAL', `annotation ${key}=${text} value parse error: too large`);
    }
    out.push([name, signature, value]);
  }
  return out;
}

/** Controllers systemd does not manage (so never enables nor disables): skiff enables them. */
const SYSTEMD_UNKNOWN_CONTROLLERS = ['hugetlb', 'rdma', 'misc'];

export interface SystemdOptions {
  root: string;
  id: string;
  cgroupsPath?: string;
  warn: (message: string) => void;
  bus?: SystemdBus;
  bpf?: import('./bpf').BpfOps;
  /** /proc/devices text (tests). */
  procDevices?: string;
  /** Extra unit properties (from org.systemd.property.* annotations), after skiff's own. */
  extraProperties?: UnitProperty[];
}

export class CgroupSystemdManager implements CgroupManager {
  readonly version = 2 as const;
  readonly path: string;
  readonly unit: string;
  readonly slice: string;
  private readonly inner: CgroupV2Manager;
  private readonly bus: SystemdBus;
  private readonly id: string;
  private readonly procDevicesText?: string;
  private pending: LinuxResources = {};
  private readonly extraProperties: UnitProperty[];

  constructor(opts: SystemdOptions) {
    const n = systemdUnitName(opts.cgroupsPath, opts.id);
    this.path = n.path;
    this.unit = n.unit;
    this.slice = n.slice;
    this.id = opts.id;
    this.procDevicesText = opts.procDevices;
    this.extraProperties = opts.extraProperties ?? [];
    this.bus = opts.bus ?? new DbusSystemdBus();
    // Controllers are systemd's to delegate (Delegate=yes); parents are systemd's to remove.
    this.inner = new CgroupV2Manager({ root: opts.root, path: n.path, rootless: false, warn: opts.warn, bpf: opts.bpf, controllers: SYSTEMD_UNKNOWN_CONTROLLERS });
  }

  get warnings(): readonly string[] {
    return this.inner.warnings;
  }

  create(): void {
    // The scope needs its first process; a scope left by an earlier container of this name
    // (failed, or stopped but not collected) would make StartTransientUnit fail: clear it.
    const state = this.bus.unitState(this.unit);
    if (state === 'active' || state === 'activating' || state === 'reloading') {
      throw cgroupError('EEXIST', `systemd unit ${this.unit} already exists and is ${state}`);
    }
    if (state !== undefined) this.bus.resetFailed(this.unit);
  }

  apply(resources: LinuxResources): void {
    if (this.inner.exists()) return this.update(resources);
    this.pending = { ...this.pending, ...resources };
  }

  addProcess(pid: number, sub?: string | Record<string, string>): void {
    if (this.inner.exists()) return this.inner.addProcess(pid, sub);
    const { properties, devicesBySystemd } = resourceProperties(this.pending, { procDevices: this.procDevicesText });
    this.bus.startTransientUnit(this.unit, [
      ['Description', 's', `skiff container ${this.id}`],
      ['Slice', 's', this.slice],
      ['PIDs', 'au', [pid]],
      ['Delegate', 'b', true],
      ['DefaultDependencies', 'b', false],
      ['CollectMode', 's', 'inactive-or-failed'],
      ['MemoryAccounting', 'b', true],
      ['CPUAccounting', 'b', true],
      ['IOAccounting', 'b', true],
      ['TasksAccounting', 'b', true],
      ...properties,
      ...this.extraProperties,
    ]);
    // From here on a failure leaves the init in the scope: the caller's undo kills it and
    // destroy stops the scope.
    if (!this.inner.exists()) throw cgroupError('ENOENT', `systemd started ${this.unit} but its cgroup ${this.inner.dir} does not exist`);
    // systemd delegates the controllers it knows; hugetlb, rdma and misc it leaves alone, so they
    // are enabled down to the scope the cgroupfs way (systemd never disables what it does not know).
    this.inner.create();
    this.inner.apply(devicesBySystemd ? { ...this.pending, devices: undefined } : this.pending);
  }

  update(resources: LinuxResources): void {
    const { properties, devicesBySystemd } = resourceProperties(resources, { update: true, procDevices: this.procDevicesText });
    if (properties.length) this.bus.setUnitProperties(this.unit, properties);
    this.inner.update(devicesBySystemd ? { ...resources, devices: undefined } : resources);
  }

  freeze(): void {
    this.inner.freeze();
  }
  thaw(): void {
    this.inner.thaw();
  }
  isFrozen(): boolean {
    return this.inner.isFrozen();
  }
  removalPlan() {
    return undefined; // the unit is systemd's to stop
  }
  freezerProbe() {
    return this.inner.freezerProbe();
  }
  pids(recursive?: boolean): number[] {
    return this.inner.exists() ? this.inner.pids(recursive) : [];
  }
  killAll(signal: NodeJS.Signals | number): void {
    this.inner.killAll(signal);
  }
  stats(): Stats {
    return this.inner.stats();
  }
  oomEvents(onOom: (event: OomEvent) => void, opts?: OomWatchOptions): OomWatch {
    return this.inner.oomEvents(onOom, opts);
  }
  exists(): boolean {
    return this.inner.exists();
  }
  paths(): Record<string, string> {
    return this.inner.paths();
  }

  /** Stop the scope (systemd removes its cgroup), forget a failed one, then close the bus. */
  destroy(): void {
    try {
      this.bus.stopUnit(this.unit);
      this.bus.resetFailed(this.unit);
      // Sub-cgroups the container made (Delegate=yes) are systemd's to remove too; whatever is
      // left (systemd not running any more) goes the cgroupfs way.
      if (this.inner.exists()) this.inner.destroy();
    } finally {
      this.bus.close();
    }
  }
}
