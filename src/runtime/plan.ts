// Turn a validated config.json into the flat plan skiff-init executes (addon/protocol.h).
// All decisions are made here, in TypeScript; the init only carries them out.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Hook, LinuxDevice, Mount, Process, Spec } from '../oci/types';
import { RLIMITS, isRlimitType } from '../oci/rlimits';
import { capMask } from './capabilities';
import { configError } from './errors';
import { planMount, type PlannedMount, propagationFlags } from './mounts';

const MS_RDONLY = 1;
import { PlanWriter, StructWriter } from './plan-writer';
import { writeExecCpuAffinity, writePersonality, writeProcessSettings } from './process-settings';
import { CLONE_FLAGS, MOUNT_KIND_BIND, NS_PROC_NAMES, Tag } from './protocol';

export interface CreatePlanContext extends ProcessContext {
  bundle: string;
  rootfs: string;
  fifoPath: string;
  noPivot: boolean;
  /** Mounts the cgroup driver wants for a `cgroup` mount of config.json, if any. */
  cgroupMounts?: (m: Mount) => PlannedMount[];
}

export interface CreatePlan {
  plan: Buffer;
  /** A new user namespace: the parent writes these maps when the init asks. */
  userns?: { uidMappings: IdMap[]; gidMappings: IdMap[] };
  /** prestart/createRuntime/createContainer/startContainer hooks exist: the init will stop and ask. */
  hasCreateHooks: boolean;
}

interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}


/** The devices every container gets (runc's AllowedDevices that are nodes). */
const DEFAULT_DEVICES: LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
];

export function buildCreatePlan(spec: Spec, ctx: CreatePlanContext): CreatePlan {
  const w = new PlanWriter();
  const linux = spec.linux ?? {};
  const proc = spec.process;
  if (!proc) throw configError('EPROCESS', 'invalid config.json: /process: required to create a container');

  w.u32(Tag.MODE, 0);

  // Namespaces: joined by path in the init, or new.
  let nsNew = 0;
  const kinds = new Set<string>();
  for (const ns of linux.namespaces ?? []) {
    const flag = CLONE_FLAGS[ns.type];
    kinds.add(ns.type);
    if (ns.path) w.struct(Tag.NS_JOIN, u32(flag), ns.path);
    else nsNew |= flag;
  }
  if (!kinds.has('mount')) throw configError('ENS', 'invalid config.json: /linux/namespaces: a mount namespace is required');
  if (nsNew) w.u32(Tag.NS_NEW, nsNew);
  const newUserns = (nsNew & CLONE_FLAGS.user) !== 0;
  const inUserns = kinds.has('user');

  if (linux.timeOffsets) {
    if (!(nsNew & CLONE_FLAGS.time)) throw configError('ENS', 'invalid config.json: /linux/timeOffsets: needs a new time namespace');
    const lines = Object.entries(linux.timeOffsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`);
    w.strings(Tag.TIME_OFFSETS, lines.join(''));
  }

  // Root filesystem.
  w.strings(Tag.ROOTFS, ctx.rootfs);
  if (spec.root?.readonly) w.flag(Tag.ROOT_READONLY);
  if (linux.rootfsPropagation) w.u32(Tag.ROOT_PROPAGATION, propagationFlags(linux.rootfsPropagation, '/linux/rootfsPropagation'));
  if (ctx.noPivot) w.flag(Tag.NO_PIVOT);

  // Mounts, in order.
  const containerMaps = newUserns ? { uid: linux.uidMappings ?? [], gid: linux.gidMappings ?? [] } : undefined;
  let devIsOurs = false;
  let hasDevPts = false;
  for (const [i, m] of (spec.mounts ?? []).entries()) {
    const planned = m.type === 'cgroup' && ctx.cgroupMounts ? ctx.cgroupMounts(m) : [planMount(m, ctx.bundle, `/mounts/${i}`, containerMaps)];
    const dev = planned[0];
    if (planned.length === 1 && dev.kind !== MOUNT_KIND_BIND && /^\/dev\/*$/.test(dev.destination) && dev.flags & MS_RDONLY) {
      // A read-only /dev (tmpfs): runc mounts it writable, makes the nodes, symlinks and the mounts
      // below it, and remounts it read-only at the end; so does skiff-init.
      dev.flags &= ~MS_RDONLY;
      w.u32(Tag.DEV_READONLY, dev.flags);
    }
    for (const p of planned) writeMount(w, p);
    if (m.destination === '/dev' || m.destination === '/dev/') devIsOurs = planned.every((p) => p.kind !== MOUNT_KIND_BIND);
    if (m.destination === '/dev/pts') hasDevPts = true;
  }

  // Devices: the defaults on a /dev of our own, then the config's (which may override a default).
  const devices = new Map<string, LinuxDevice>();
  if (devIsOurs) for (const d of DEFAULT_DEVICES) devices.set(d.path, d);
  for (const d of linux.devices ?? []) devices.set(d.path, d);
  for (const d of devices.values()) {
    if (!isAbsolute(d.path)) throw configError('EDEVICE', `invalid config.json: /linux/devices: path ${JSON.stringify(d.path)} must be absolute`);
    const type = d.type === 'u' ? 'c' : d.type;
    const head = new StructWriter(24)
      .u32(type.charCodeAt(0))
      .u32(d.major ?? 0)
      .u32(d.minor ?? 0)
      .u32(d.fileMode ?? 0o666)
      .u32(d.uid ?? 0)
      .u32(d.gid ?? 0)
      .done();
    w.struct(Tag.DEVICE, head, d.path);
  }
  if (devices.size && inUserns) w.flag(Tag.USERNS_DEVICES);
  if (devIsOurs) {
    w.flag(Tag.SETUP_DEV);
    const links: [string, string][] = [
      ['/proc/self/fd', '/dev/fd'],
      ['/proc/self/fd/0', '/dev/stdin'],
      ['/proc/self/fd/1', '/dev/stdout'],
      ['/proc/self/fd/2', '/dev/stderr'],
    ];
    if (existsSync('/proc/kcore')) links.push(['/proc/kcore', '/dev/core']);
    if (hasDevPts) links.push(['pts/ptmx', '/dev/ptmx']);
    for (const [target, link] of links) w.strings(Tag.SYMLINK, target, link);
  }

  for (const p of linux.maskedPaths ?? []) w.strings(Tag.MASK, p);
  for (const p of linux.readonlyPaths ?? []) w.strings(Tag.READONLY_PATH, p);

  if (spec.hostname !== undefined && spec.hostname !== '') {
    if (!kinds.has('uts')) throw configError('EUTS', 'invalid config.json: /hostname: setting the hostname needs a uts namespace');
    w.strings(Tag.HOSTNAME, spec.hostname);
  }
  if (spec.domainname !== undefined && spec.domainname !== '') {
    if (!kinds.has('uts')) throw configError('EUTS', 'invalid config.json: /domainname: setting the domainname needs a uts namespace');
    w.strings(Tag.DOMAINNAME, spec.domainname);
  }
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) w.strings(Tag.SYSCTL, k, v);

  writeProcess(w, proc, ctx);
  writePersonality(w, linux.personality);
  w.strings(Tag.FIFO, ctx.fifoPath);

  const hooks = spec.hooks ?? {};
  for (const h of hooks.createContainer ?? []) writeHook(w, Tag.HOOK_CREATE_CONTAINER, h);
  for (const h of hooks.startContainer ?? []) writeHook(w, Tag.HOOK_START_CONTAINER, h);
  const hasCreateHooks = [hooks.prestart, hooks.createRuntime, hooks.createContainer, hooks.startContainer].some((l) => l?.length);
  if (hasCreateHooks) w.flag(Tag.RUNTIME_HOOKS);

  return {
    plan: w.finish(),
    userns: newUserns ? { uidMappings: linux.uidMappings ?? [], gidMappings: linux.gidMappings ?? [] } : undefined,
    hasCreateHooks,
  };
}

export interface ProcessContext {
  consoleSocket?: string;
  /** "_ses.<id>": the session keyring the process joins (none with --no-new-keyring). */
  sessionKeyring?: string;
  preserveFds: number;
  seccomp?: { program: Buffer; flags: number };
}

/** The process records, shared by the container's init and `exec`. */
function writeProcess(w: PlanWriter, proc: Process, ctx: ProcessContext): void {
  for (const a of proc.args ?? []) w.strings(Tag.ARG, a);
  for (const e of proc.env ?? []) w.strings(Tag.ENV, e);
  w.strings(Tag.CWD, proc.cwd);
  const pu = proc.user ?? { uid: 0, gid: 0 };
  const groups = pu.additionalGids ?? [];
  const user = new StructWriter(16 + 4 * groups.length)
    .u32(pu.uid ?? 0)
    .u32(pu.gid ?? 0)
    .u32(pu.umask ?? 0xffffffff)
    .u32(groups.length);
  for (const g of groups) user.u32(g);
  w.struct(Tag.USER, user.done());

  for (const r of proc.rlimits ?? []) {
    if (!isRlimitType(r.type)) throw configError('ERLIMIT', `invalid config.json: /process/rlimits: unknown rlimit ${JSON.stringify(r.type)}`);
    w.struct(Tag.RLIMIT, new StructWriter(24).u32(RLIMITS[r.type]).u32(0).u64(BigInt(r.soft)).u64(BigInt(r.hard)).done());
  }
  // No capabilities section means no capabilities at all, as under runc (not "keep root's").
  const c = proc.capabilities ?? {};
  const head = new StructWriter(40)
    .u64(capMask(c.bounding))
    .u64(capMask(c.effective))
    .u64(capMask(c.permitted))
    .u64(capMask(c.inheritable))
    .u64(capMask(c.ambient))
    .done();
  w.struct(Tag.CAPS, head);
  writeProcessSettings(w, proc, '/process');
  if (proc.noNewPrivileges) w.flag(Tag.NO_NEW_PRIVS);
  if (proc.oomScoreAdj !== undefined) w.i32(Tag.OOM_SCORE_ADJ, proc.oomScoreAdj);
  if (ctx.seccomp) {
    w.struct(Tag.SECCOMP, Buffer.concat([u32(ctx.seccomp.flags), u32(0), ctx.seccomp.program]));
  }

  if (proc.terminal) {
    if (!ctx.consoleSocket) throw configError('ETERMINAL', 'cannot allocate a terminal without --console-socket');
    w.strings(Tag.CONSOLE_SOCKET, ctx.consoleSocket);
    if (proc.consoleSize) w.u32(Tag.CONSOLE_SIZE, proc.consoleSize.height, proc.consoleSize.width);
  }
  if (ctx.preserveFds) w.u32(Tag.PRESERVE_FDS, ctx.preserveFds);
  if (ctx.sessionKeyring) w.strings(Tag.SESSION_KEYRING, ctx.sessionKeyring);
}

export interface ExecPlanContext extends ProcessContext {
  /** Host pid of the container's init, whose namespaces the process joins. */
  initPid: number;
}

/** Plan of `exec`: join every namespace of the container, then run `proc` in it. */
export function buildExecPlan(spec: Spec, proc: Process, ctx: ExecPlanContext): Buffer {
  const w = new PlanWriter();
  w.u32(Tag.MODE, 1);
  for (const ns of spec.linux?.namespaces ?? []) {
    w.struct(Tag.NS_JOIN, u32(CLONE_FLAGS[ns.type]), `/proc/${ctx.initPid}/ns/${NS_PROC_NAMES[ns.type]}`);
  }
  writeProcess(w, proc, ctx);
  writePersonality(w, spec.linux?.personality);
  writeExecCpuAffinity(w, proc, '/process');
  return w.finish();
}

function writeMount(w: PlanWriter, p: PlannedMount): void {
  const head = new StructWriter(32)
    .u32(p.flags)
    .u32(p.propagation)
    .u64(p.attrSet)
    .u64(p.attrClr)
    .u32(p.kind)
    .u32(p.extra)
    .done();
  const idmap = p.idmap ? [p.idmap.uidMap, p.idmap.gidMap] : [];
  w.struct(Tag.MOUNT, head, p.source, p.destination, p.fstype, p.data, ...idmap);
}

/** A hook with no env of its own inherits the process's, as under runc (PLAN_HOOK_INHERIT_ENV). */
const HOOK_INHERIT_ENV = 1;

function writeHook(w: PlanWriter, tag: number, h: Hook): void {
  const args = h.args ?? [];
  const env = h.env ?? [];
  const flags = h.env === undefined ? HOOK_INHERIT_ENV : 0;
  w.struct(tag, new StructWriter(16).u32(Number(h.timeout ?? 0)).u32(args.length).u32(env.length).u32(flags).done(), h.path, ...args, ...env);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** Absolute host path of a bind source: relative sources are relative to the bundle. */
export function bindSource(source: string, bundle: string): { path: string; isFile: boolean } {
  const path = isAbsolute(source) ? source : resolve(bundle, source);
  let isFile = false;
  try {
    isFile = !statSync(path).isDirectory();
  } catch {
    // A missing source fails in the init with the kernel's reason, like any mount.
  }
  return { path, isFile };
}

