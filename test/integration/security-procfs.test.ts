// CVE-2025-52881: the runtime's writes to /proc (sysctls, LSM labels, time offsets) redirected by
// mounts the container's config (or a raced shared volume) put over /proc or over the file. skiff-init
// opens /proc as a handle it checks (procfs, its root inode) and each file beneath it with openat2
// RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS, so a write never leaves the container's procfs.
// Each attack below wrote to a host file before the fix; now create fails with one line, the host
// file is unchanged and nothing is left (state, mounts, cgroups).
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Skiff, baseConfig, isRoot, makeBundle, mountsUnder, tmp } from '../helpers';

describe.skipIf(skipWhen(needRoot()))('CVE-2025-52881: writes to /proc go only to the container\'s procfs', () => {
  const skiff = new Skiff();
  const host = tmp('skiff-procfs-victim-');
  afterAll(() => skiff.cleanup());

  /** A config whose sysctl kernel.msgmax (IPC namespace: harmless when it works) is the write to redirect. */
  const sysctlConfig = (edit: (c: Record<string, any>) => void) => {
    const cfg = baseConfig(['cat', '/proc/sys/kernel/msgmax']);
    cfg.linux.sysctl = { 'kernel.msgmax': '31337' };
    edit(cfg);
    return cfg;
  };
  const cgroupLeft = (id: string) => readdirSync('/sys/fs/cgroup').some((h) => existsSync(join('/sys/fs/cgroup', h, skiff.cgroup(id))));

  function refused(id: string, cfg: Record<string, any>, victim: string, before: string): string {
    const bundle = makeBundle(cfg);
    const r = skiff.run(['run', '-b', bundle, id]);
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(readFileSync(victim, 'utf8')).toBe(before);
    expect(existsSync(join(skiff.root, id))).toBe(false);
    expect(mountsUnder([bundle, join(skiff.root, id)])).toEqual([]);
    expect(cgroupLeft(id)).toBe(false);
    return r.stderr.trim();
  }

  it('control: without a covering mount the sysctl is written in the container', () => {
    const r = skiff.run(['run', '-b', makeBundle(sysctlConfig(() => {})), 'procfs-ok']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('31337\n');
  });

  it('a host file bind-mounted over /proc/sys/kernel/msgmax does not receive the sysctl', () => {
    const victim = join(host, 'core_pattern');
    writeFileSync(victim, 'host value\n');
    const cfg = sysctlConfig((c) => c.mounts.push({ destination: '/proc/sys/kernel/msgmax', type: 'bind', source: victim, options: ['bind'] }));
    expect(refused('procfs-file', cfg, victim, 'host value\n')).toBe(
      "skiff: sysctl kernel.msgmax: /proc/sys/kernel/msgmax is not reached on the container's procfs (another mount covers it, or /proc is not procfs): refusing to write through it",
    );
  });

  it('a host directory mounted over /proc/sys does not receive it', () => {
    const dir = join(host, 'sys');
    mkdirSync(join(dir, 'kernel'), { recursive: true });
    writeFileSync(join(dir, 'kernel', 'msgmax'), '8192\n');
    const cfg = sysctlConfig((c) => c.mounts.push({ destination: '/proc/sys', type: 'bind', source: dir, options: ['rbind'] }));
    expect(refused('procfs-dir', cfg, join(dir, 'kernel', 'msgmax'), '8192\n')).toMatch(/^skiff: sysctl kernel\.msgmax: \/proc\/sys\/kernel\/msgmax is not reached on the container's procfs/);
  });

  it('a /proc that is not procfs (a host directory in its place) does not receive it', () => {
    const fake = join(host, 'fakeproc');
    mkdirSync(join(fake, 'sys', 'kernel'), { recursive: true });
    writeFileSync(join(fake, 'sys', 'kernel', 'msgmax'), '8192\n');
    const cfg = sysctlConfig((c) => {
      c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/proc');
      c.mounts.unshift({ destination: '/proc', type: 'bind', source: fake, options: ['rbind'] });
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
    });
    expect(refused('procfs-fake', cfg, join(fake, 'sys', 'kernel', 'msgmax'), '8192\n')).toMatch(/^skiff: sysctl kernel\.msgmax: .*refusing to write through it$/);
  });

  it('a subdirectory of procfs bound at /proc is not taken for its root', () => {
    // /proc/sys of the host at the container's /proc: the walk would find sys/... nowhere, but a
    // procfs that is not its root must already be refused (its inode is not procfs's root).
    const cfg = sysctlConfig((c) => {
      c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/proc');
      c.mounts.unshift({ destination: '/proc', type: 'bind', source: '/proc/sys', options: ['rbind', 'ro'] });
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
    });
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'procfs-sub']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^skiff: sysctl kernel\.msgmax: .*refusing to write through it$/);
    expect(existsSync(join(skiff.root, 'procfs-sub'))).toBe(false);
  });
});
