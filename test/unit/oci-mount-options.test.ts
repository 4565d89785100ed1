// parseMountOptions: the split of mounts[].options into mount(2) flags, propagation,
// mount_setattr(2) attributes, id-mapping, extensions and filesystem data.
import { describe, expect, it } from 'vitest';
import { MOUNT_ATTR, MOUNT_OPTIONS, MS, mountOptionNames, parseMountOptions } from '../../src/oci/mount-options';

describe('kernel constants', () => {
  it('match include/uapi/linux/mount.h', () => {
    expect(MS).toMatchObject({ RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64, DIRSYNC: 128, NOSYMFOLLOW: 256 });
    expect(MS).toMatchObject({ NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192, REC: 16384, SILENT: 32768 });
    expect(MS).toMatchObject({ UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20, RELATIME: 1 << 21 });
    expect(MS).toMatchObject({ I_VERSION: 1 << 23, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25 });
    expect(MOUNT_ATTR).toMatchObject({ RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, _ATIME: 0x70, RELATIME: 0, NOATIME: 0x10, STRICTATIME: 0x20 });
    expect(MOUNT_ATTR).toMatchObject({ NODIRATIME: 0x80, IDMAP: 0x100000, NOSYMFOLLOW: 0x200000 });
  });
});

describe('parseMountOptions', () => {
  it('runc example mounts', () => {
    expect(parseMountOptions(['nosuid', 'strictatime', 'mode=755', 'size=65536k'])).toEqual({
      flags: MS.NOSUID | MS.STRICTATIME,
      clearedFlags: 0,
      propagation: [],
      tmpcopyup: false,
      data: ['mode=755', 'size=65536k'],
    });
    const pts = parseMountOptions(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    expect(pts.flags).toBe(MS.NOSUID | MS.NOEXEC);
    expect(pts.data).toEqual(['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    expect(parseMountOptions(undefined)).toEqual({ flags: 0, clearedFlags: 0, propagation: [], tmpcopyup: false, data: [] });
  });

  it('later options override earlier ones, and remember what was cleared', () => {
    expect(parseMountOptions(['ro', 'rw'])).toMatchObject({ flags: 0, clearedFlags: MS.RDONLY });
    expect(parseMountOptions(['rw', 'ro'])).toMatchObject({ flags: MS.RDONLY, clearedFlags: 0 });
    expect(parseMountOptions(['bind', 'nosuid', 'suid', 'nodev', 'exec'])).toMatchObject({
      flags: MS.BIND | MS.NODEV,
      clearedFlags: MS.NOSUID | MS.NOEXEC,
    });
    expect(parseMountOptions(['rbind', 'bind']).flags).toBe(MS.BIND | MS.REC);
    expect(parseMountOptions(['sync', 'async', 'mand', 'nomand', 'silent', 'loud', 'lazytime', 'nolazytime'])).toMatchObject({
      flags: 0,
      clearedFlags: MS.SYNCHRONOUS | MS.MANDLOCK | MS.SILENT | MS.LAZYTIME,
    });
    expect(parseMountOptions(['remount', 'dirsync', 'nosymfollow', 'iversion', 'noatime', 'nodiratime', 'relatime']).flags).toBe(
      MS.REMOUNT | MS.DIRSYNC | MS.NOSYMFOLLOW | MS.I_VERSION | MS.NOATIME | MS.NODIRATIME | MS.RELATIME,
    );
  });

  it('keeps propagation changes in order, recursive ones with MS_REC', () => {
    expect(parseMountOptions(['rbind', 'rprivate', 'shared', 'rslave', 'unbindable', 'runbindable', 'slave', 'rshared', 'private']).propagation).toEqual([
      MS.PRIVATE | MS.REC,
      MS.SHARED,
      MS.SLAVE | MS.REC,
      MS.UNBINDABLE,
      MS.UNBINDABLE | MS.REC,
      MS.SLAVE,
      MS.SHARED | MS.REC,
      MS.PRIVATE,
    ]);
  });

  it('recursive attributes for mount_setattr(2), atime as the kernel enum', () => {
    expect(parseMountOptions(['rbind', 'rro', 'rnosuid', 'rnodev', 'rnoexec']).recursive).toEqual({
      set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC,
      clear: 0,
    });
    expect(parseMountOptions(['rro', 'rrw', 'rsuid', 'rdev', 'rexec']).recursive).toEqual({
      set: 0,
      clear: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC,
    });
    // An atime change is attr_clr = MOUNT_ATTR__ATIME plus the mode in attr_set, the last mode winning.
    expect(parseMountOptions(['rnoatime']).recursive).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR._ATIME });
    expect(parseMountOptions(['rnoatime', 'rstrictatime']).recursive).toEqual({ set: MOUNT_ATTR.STRICTATIME, clear: MOUNT_ATTR._ATIME });
    expect(parseMountOptions(['rstrictatime', 'ratime']).recursive).toEqual({ set: MOUNT_ATTR.RELATIME, clear: MOUNT_ATTR._ATIME });
    expect(parseMountOptions(['rnoatime', 'rnorelatime', 'rro']).recursive).toEqual({ set: MOUNT_ATTR.RDONLY, clear: MOUNT_ATTR._ATIME });
    expect(parseMountOptions(['rnoatime', 'rnodiratime', 'rnosymfollow']).recursive).toEqual({
      set: MOUNT_ATTR.NOATIME | MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW,
      clear: MOUNT_ATTR._ATIME,
    });
    expect(parseMountOptions(['rdiratime', 'rsymfollow']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW });
    // Recursive and plain flags do not mix.
    const both = parseMountOptions(['ro', 'rro']);
    expect(both.flags).toBe(MS.RDONLY);
    expect(both.recursive).toEqual({ set: MOUNT_ATTR.RDONLY, clear: 0 });
  });

  it('idmap, ridmap, tmpcopyup and defaults', () => {
    expect(parseMountOptions(['bind', 'idmap']).idmap).toEqual({ recursive: false });
    expect(parseMountOptions(['rbind', 'idmap', 'ridmap']).idmap).toEqual({ recursive: true });
    expect(parseMountOptions(['rbind']).idmap).toBeUndefined();
    expect(parseMountOptions(['tmpcopyup', 'mode=1777'])).toMatchObject({ tmpcopyup: true, data: ['mode=1777'] });
    expect(parseMountOptions(['defaults'])).toEqual({ flags: 0, clearedFlags: 0, propagation: [], tmpcopyup: false, data: [] });
  });

  it('sends anything else to the filesystem untouched, in order', () => {
    const odd = ['context="system_u:object_r:svirt_sandbox_file_t:s0:c1,c2"', 'RO', 'rbind ', '', 'constructor', '__proto__', 'toString', 'x-systemd.automount', 'lowerdir=/a:/b'];
    expect(parseMountOptions(odd)).toEqual({ flags: 0, clearedFlags: 0, propagation: [], tmpcopyup: false, data: odd });
  });
});

describe('mountOptionNames', () => {
  it('lists every option the parser knows, sorted, and nothing it does not', () => {
    const names = mountOptionNames();
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(Object.keys(MOUNT_OPTIONS).sort());
    for (const name of names) {
      const parsed = parseMountOptions([name]);
      expect(parsed.data, name).toEqual([]);
    }
    for (const required of ['bind', 'rbind', 'ro', 'rw', 'rro', 'rrw', 'idmap', 'ridmap', 'tmpcopyup', 'nosymfollow', 'rnosymfollow', 'runbindable', 'rnostrictatime', 'rdiratime']) {
      expect(names).toContain(required);
    }
  });
});
