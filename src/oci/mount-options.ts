// The mount options of config.json's mounts[].options that skiff understands, and how they split
// into what the kernel takes: mount(2) flags, propagation changes, mount_setattr(2) recursive
// attributes, id-mapping, skiff's own extensions, and the filesystem-specific rest (mount(2)'s
// data string). Every option name here is listed by `skiff features` (mountOptions).
//
// Semantics follow runc (libcontainer/specconv parseMountOptions): options apply in order, a
// later one overrides an earlier one; an unknown option is filesystem data ("mode=755", "size=64k",
// "newinstance"), never an error. One deliberate difference: the recursive atime options. The
// kernel treats MOUNT_ATTR_RELATIME/NOATIME/STRICTATIME as one enum, so mount_setattr(2) takes an
// atime change only as attr_clr = MOUNT_ATTR__ATIME plus the new mode in attr_set (anything else is
// EINVAL). runc's "ratime", "rnostrictatime" and "rnorelatime" clear a single bit and fail that
// way; here they select the kernel's default mode, relatime, which is what "atime",
// "nostrictatime" and "norelatime" amount to for mount(2) (fs/namespace.c: relatime unless
// noatime or strictatime).

/** mount(2) flags, include/uapi/linux/mount.h. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  KERNMOUNT: 0x400000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** mount_setattr(2) attributes, include/uapi/linux/mount.h. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  /** Mask of the atime enum below. */
  _ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;

/** What one option does. `set`/`clear` compose in order: x = (x & ~clear) | set. */
export type MountOptionEffect =
  /** mount(2) flags to set and flags to clear ("ro" sets MS_RDONLY, "rw" clears it). */
  | { kind: 'flags'; set: number; clear: number }
  /** A propagation change: MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, with MS_REC for r*. */
  | { kind: 'propagation'; flag: number }
  /** mount_setattr(2) with AT_RECURSIVE: attributes to set and to clear. */
  | { kind: 'recursive'; set: number; clear: number }
  /** Id-mapped mount (mounts[].uidMappings/gidMappings, else the container's user namespace). */
  | { kind: 'idmap'; recursive: boolean }
  /** skiff/runc extension: fill a new tmpfs with the content of the directory it covers. */
  | { kind: 'tmpcopyup' }
  /** Accepted and meaningless ("defaults"). */
  | { kind: 'none' };

const flags = (set: number, clear = 0): MountOptionEffect => ({ kind: 'flags', set, clear });
const unset = (clear: number): MountOptionEffect => ({ kind: 'flags', set: 0, clear });
const prop = (flag: number): MountOptionEffect => ({ kind: 'propagation', flag });
const rset = (attr: number): MountOptionEffect => ({ kind: 'recursive', set: attr, clear: 0 });
const rclear = (attr: number): MountOptionEffect => ({ kind: 'recursive', set: 0, clear: attr });
const ratime = (mode: number): MountOptionEffect => ({ kind: 'recursive', set: mode, clear: MOUNT_ATTR._ATIME });

/** Option name (as in mount(8)) -> effect. */
export const MOUNT_OPTIONS: Readonly<Record<string, MountOptionEffect>> = {
  // mount(2) flags
  defaults: { kind: 'none' },
  bind: flags(MS.BIND),
  rbind: flags(MS.BIND | MS.REC),
  ro: flags(MS.RDONLY),
  rw: unset(MS.RDONLY),
  nosuid: flags(MS.NOSUID),
  suid: unset(MS.NOSUID),
  nodev: flags(MS.NODEV),
  dev: unset(MS.NODEV),
  noexec: flags(MS.NOEXEC),
  exec: unset(MS.NOEXEC),
  sync: flags(MS.SYNCHRONOUS),
  async: unset(MS.SYNCHRONOUS),
  dirsync: flags(MS.DIRSYNC),
  remount: flags(MS.REMOUNT),
  mand: flags(MS.MANDLOCK),
  nomand: unset(MS.MANDLOCK),
  atime: unset(MS.NOATIME),
  noatime: flags(MS.NOATIME),
  diratime: unset(MS.NODIRATIME),
  nodiratime: flags(MS.NODIRATIME),
  relatime: flags(MS.RELATIME),
  norelatime: unset(MS.RELATIME),
  strictatime: flags(MS.STRICTATIME),
  nostrictatime: unset(MS.STRICTATIME),
  lazytime: flags(MS.LAZYTIME),
  nolazytime: unset(MS.LAZYTIME),
  iversion: flags(MS.I_VERSION),
  noiversion: unset(MS.I_VERSION),
  silent: flags(MS.SILENT),
  loud: unset(MS.SILENT),
  nosymfollow: flags(MS.NOSYMFOLLOW), // Linux 5.10
  symfollow: unset(MS.NOSYMFOLLOW),
  // propagation
  private: prop(MS.PRIVATE),
  rprivate: prop(MS.PRIVATE | MS.REC),
  shared: prop(MS.SHARED),
  rshared: prop(MS.SHARED | MS.REC),
  slave: prop(MS.SLAVE),
  rslave: prop(MS.SLAVE | MS.REC),
  unbindable: prop(MS.UNBINDABLE),
  runbindable: prop(MS.UNBINDABLE | MS.REC),
  // recursive attributes, mount_setattr(2) (Linux 5.12)
  rro: rset(MOUNT_ATTR.RDONLY),
  rrw: rclear(MOUNT_ATTR.RDONLY),
  rnosuid: rset(MOUNT_ATTR.NOSUID),
  rsuid: rclear(MOUNT_ATTR.NOSUID),
  rnodev: rset(MOUNT_ATTR.NODEV),
  rdev: rclear(MOUNT_ATTR.NODEV),
  rnoexec: rset(MOUNT_ATTR.NOEXEC),
  rexec: rclear(MOUNT_ATTR.NOEXEC),
  rnodiratime: rset(MOUNT_ATTR.NODIRATIME),
  rdiratime: rclear(MOUNT_ATTR.NODIRATIME),
  rnoatime: ratime(MOUNT_ATTR.NOATIME),
  rstrictatime: ratime(MOUNT_ATTR.STRICTATIME),
  rrelatime: ratime(MOUNT_ATTR.RELATIME),
  ratime: ratime(MOUNT_ATTR.RELATIME),
  rnostrictatime: ratime(MOUNT_ATTR.RELATIME),
  rnorelatime: ratime(MOUNT_ATTR.RELATIME),
  rnosymfollow: rset(MOUNT_ATTR.NOSYMFOLLOW), // Linux 5.14
  rsymfollow: rclear(MOUNT_ATTR.NOSYMFOLLOW),
  // id-mapped mounts (Linux 5.12)
  idmap: { kind: 'idmap', recursive: false },
  ridmap: { kind: 'idmap', recursive: true },
  // extension
  tmpcopyup: { kind: 'tmpcopyup' },
};

/** Every option name skiff understands, sorted (the features document's mountOptions). */
export function mountOptionNames(): string[] {
  return Object.keys(MOUNT_OPTIONS).sort();
}

/** rootfsPropagation and propagation options -> MS_* value. */
export const PROPAGATION_FLAGS: Readonly<Record<string, number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

export interface ParsedMountOptions {
  /** MS_* flags for mount(2). */
  flags: number;
  /**
   * MS_* flags an option explicitly turned off ("rw", "suid", "dev", ...). A bind mount is made
   * read-only etc. by a remount that must keep the source's locked flags except these.
   */
  clearedFlags: number;
  /** Propagation changes to make after the mount, in order (MS_* values, with MS_REC for r*). */
  propagation: number[];
  /** mount_setattr(2) with AT_RECURSIVE; absent when no recursive option was given. */
  recursive?: { set: number; clear: number };
  /** "idmap" / "ridmap": make the mount id-mapped (ridmap: the whole subtree). */
  idmap?: { recursive: boolean };
  /** "tmpcopyup" was given. */
  tmpcopyup: boolean;
  /** Filesystem-specific options, in order, for mount(2)'s data argument (join with ","). */
  data: string[];
}

/** Split mounts[].options into what the kernel takes (runc's parseMountOptions, see above). */
export function parseMountOptions(options: readonly string[] | undefined): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, clearedFlags: 0, propagation: [], tmpcopyup: false, data: [] };
  let rset = 0;
  let rclr = 0;
  let recursive = false;
  for (const option of options ?? []) {
    const effect = Object.prototype.hasOwnProperty.call(MOUNT_OPTIONS, option) ? MOUNT_OPTIONS[option] : undefined;
    switch (effect?.kind) {
      case undefined:
        out.data.push(option);
        break;
      case 'flags':
        out.flags = (out.flags & ~effect.clear) | effect.set;
        out.clearedFlags = (out.clearedFlags & ~effect.set) | effect.clear;
        break;
      case 'propagation':
        out.propagation.push(effect.flag);
        break;
      case 'recursive':
        recursive = true;
        rset = (rset & ~effect.clear) | effect.set;
        rclr = (rclr & ~effect.set) | effect.clear;
        break;
      case 'idmap':
        out.idmap = { recursive: effect.recursive };
        break;
      case 'tmpcopyup':
        out.tmpcopyup = true;
        break;
      case 'none':
        break;
    }
  }
  if (recursive) out.recursive = { set: rset, clear: rclr };
  return out;
}
