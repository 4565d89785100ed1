// The syscall tables: well-known numbers from the kernel's tables, no duplicates, and (where the
// machine has them) agreement with the kernel UAPI headers the C library uses.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { skipWhen } from '../host';
import { abiByName, nativeAbi, resolveSyscall, SUPPORTED_ARCHES, syscallName, syscallTable } from '../../src/runtime/seccomp/arches';

const n = (arch: string, name: string) => resolveSyscall(abiByName(arch), name);

describe('syscall tables', () => {
  it('hold the numbers of the kernel tables', () => {
    const expected: Array<[string, string, number | undefined]> = [
      ['SCMP_ARCH_X86_64', 'read', 0], ['SCMP_ARCH_X86_64', 'rt_sigaction', 13], ['SCMP_ARCH_X86_64', 'getpid', 39],
      ['SCMP_ARCH_X86_64', 'clone', 56], ['SCMP_ARCH_X86_64', 'openat', 257], ['SCMP_ARCH_X86_64', 'unshare', 272],
      ['SCMP_ARCH_X86_64', 'uretprobe', 335], ['SCMP_ARCH_X86_64', 'clone3', 435], ['SCMP_ARCH_X86_64', 'map_shadow_stack', 453],
      ['SCMP_ARCH_X86_64', 'mseal', 462], ['SCMP_ARCH_X86_64', 'listns', 470], ['SCMP_ARCH_X86_64', 'chown32', undefined],
      ['SCMP_ARCH_X86', 'exit', 1], ['SCMP_ARCH_X86', 'getpid', 20], ['SCMP_ARCH_X86', 'socketcall', 102], ['SCMP_ARCH_X86', 'clone', 120],
      ['SCMP_ARCH_X86', 'rt_sigaction', 174], ['SCMP_ARCH_X86', 'chown32', 212], ['SCMP_ARCH_X86', 'unshare', 310],
      ['SCMP_ARCH_X86', 'clone3', 435], ['SCMP_ARCH_X86', 'map_shadow_stack', undefined], ['SCMP_ARCH_X86', 'listns', 470],
      ['SCMP_ARCH_X32', 'getpid', 0x40000027], ['SCMP_ARCH_X32', 'rt_sigaction', 0x40000200], ['SCMP_ARCH_X32', 'execve', 0x40000208],
      ['SCMP_ARCH_X32', 'pwritev2', 0x40000223], ['SCMP_ARCH_X32', 'unshare', 0x40000110], ['SCMP_ARCH_X32', 'map_shadow_stack', undefined],
      ['SCMP_ARCH_X32', 'listns', 0x400001d6],
      ['SCMP_ARCH_AARCH64', 'io_setup', 0], ['SCMP_ARCH_AARCH64', 'renameat', 38], ['SCMP_ARCH_AARCH64', 'openat', 56],
      ['SCMP_ARCH_AARCH64', 'unshare', 97], ['SCMP_ARCH_AARCH64', 'getpid', 172], ['SCMP_ARCH_AARCH64', 'clone', 220],
      ['SCMP_ARCH_AARCH64', 'clone3', 435], ['SCMP_ARCH_AARCH64', 'memfd_secret', 447], ['SCMP_ARCH_AARCH64', 'listns', 470],
      ['SCMP_ARCH_AARCH64', 'open', undefined], ['SCMP_ARCH_AARCH64', 'fork', undefined],
      ['SCMP_ARCH_ARM', 'restart_syscall', 0], ['SCMP_ARCH_ARM', 'getpid', 20], ['SCMP_ARCH_ARM', 'clone', 120],
      ['SCMP_ARCH_ARM', 'arm_fadvise64_64', 270], ['SCMP_ARCH_ARM', 'arm_sync_file_range', 341], ['SCMP_ARCH_ARM', 'sync_file_range2', 341],
      ['SCMP_ARCH_ARM', 'cacheflush', 0xf0002], ['SCMP_ARCH_ARM', 'set_tls', 0xf0005], ['SCMP_ARCH_ARM', 'memfd_secret', undefined],
      ['SCMP_ARCH_ARM', 'listns', 470],
      ['SCMP_ARCH_RISCV64', 'riscv_hwprobe', 258], ['SCMP_ARCH_RISCV64', 'riscv_flush_icache', 259], ['SCMP_ARCH_RISCV64', 'getpid', 172],
      ['SCMP_ARCH_RISCV64', 'renameat', undefined], ['SCMP_ARCH_RISCV64', 'listns', 470],
    ];
    for (const [arch, name, nr] of expected) expect([arch, name, n(arch, name)]).toEqual([arch, name, nr]);
  });

  it('give every syscall its own number (but for the kernel aliases)', () => {
    for (const arch of SUPPORTED_ARCHES) {
      const table = syscallTable(abiByName(arch));
      expect(table.size).toBeGreaterThan(300);
      const byNr = new Map<number, string[]>();
      for (const [name, nr] of table) byNr.set(nr, [...(byNr.get(nr) ?? []), name]);
      const dups = [...byNr.values()].filter((names) => names.length > 1);
      expect([arch, dups]).toEqual([arch, arch === 'SCMP_ARCH_ARM' ? [['arm_sync_file_range', 'sync_file_range2']] : []]);
    }
    expect(syscallName(abiByName('SCMP_ARCH_X86_64'), 272)).toBe('unshare');
  });

  it('know the native architectures by their usual names', () => {
    expect(nativeAbi('x86_64').name).toBe('SCMP_ARCH_X86_64');
    expect(nativeAbi('amd64').name).toBe('SCMP_ARCH_X86_64');
    expect(nativeAbi('aarch64').name).toBe('SCMP_ARCH_AARCH64');
    expect(nativeAbi('arm64').name).toBe('SCMP_ARCH_AARCH64');
    expect(() => nativeAbi('sparc')).toThrow(/unsupported native architecture/);
  });

  // Cross-check with the UAPI headers of linux-libc-dev (generated from the same kernel tables) where
  // the machine has them; entries newer than the headers are covered by the spot checks above.
  const headers: Array<[string, string, string]> = [
    ['SCMP_ARCH_X86_64', '/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'linux-libc-dev'],
    ['SCMP_ARCH_X86', '/usr/include/x86_64-linux-gnu/asm/unistd_32.h', 'linux-libc-dev'],
    ['SCMP_ARCH_X32', '/usr/include/x86_64-linux-gnu/asm/unistd_x32.h', 'linux-libc-dev'],
    ['SCMP_ARCH_ARM', '/usr/arm-linux-gnueabihf/include/asm/unistd-eabi.h', 'linux-libc-dev-armhf-cross'],
  ];
  for (const [arch, file, pkg] of headers) {
    it.skipIf(skipWhen(existsSync(file) ? undefined : `no ${file} (${pkg} is not installed)`))(`agree with ${file}`, () => {
      const text = readFileSync(file, 'utf8');
      let count = 0;
      for (const m of text.matchAll(/^#define __NR_(\w+)\s+\((?:__X32_SYSCALL_BIT|__NR_SYSCALL_BASE) \+ (\d+)\)|^#define __NR_(\w+)\s+(\d+)/gm)) {
        const name = m[1] ?? m[3];
        const num = Number(m[2] ?? m[4]) + (arch === 'SCMP_ARCH_X32' ? 0x40000000 : 0);
        expect([name, n(arch, name)]).toEqual([name, num]);
        count++;
      }
      expect(count).toBeGreaterThan(300);
    });
  }
});
