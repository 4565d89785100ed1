// Docker's default profile: conversion to OCI (caps, arches, minKernel) and the decisions of the
// compiled filter, checked with the BPF interpreter.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipWhen } from '../host';
import { SkiffError } from '../../src/runtime/errors';
import { compileSeccomp, defaultDockerProfile, describeRet, dockerProfileToOci, runSeccompFilter } from '../../src/runtime/seccomp';
import { abiByName, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, resolveSyscall, X32_SYSCALL_BIT } from '../../src/runtime/seccomp/arches';
import { checkSeccompProgram } from '../../src/runtime/seccomp/bpf-interp';
import { SECCOMP_FILTER_FLAG_SPEC_ALLOW } from '../../src/runtime/seccomp/bpf';

// Docker's default capability set.
const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_THREAD_FLAGS = 0x003d0f00; // what pthread_create passes: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID

const nr = (arch: string, name: string) => {
  const n = resolveSyscall(abiByName(arch), name);
  if (n === undefined) throw new Error(`${name} unknown on ${arch}`);
  return n;
};

function filterFor(caps: string[], arch = 'x86_64', kernelVersion = '6.18.0') {
  const oci = dockerProfileToOci(defaultDockerProfile(), { capabilities: caps, arch, kernelVersion });
  return { oci, ...compileSeccomp(oci, { nativeArch: arch }) };
}

describe('dockerProfileToOci', () => {
  it('matches the shipped copy of the reference profile', () => {
    const reference = JSON.parse(readFileSync(join(__dirname, '../../src/runtime/seccomp/docker-default-profile.json'), 'utf8'));
    expect(defaultDockerProfile()).toEqual(reference);
    expect(defaultDockerProfile().defaultAction).toBe('SCMP_ACT_ERRNO');
  });

  it('keeps the native archMap entry with its sub-architectures', () => {
    const x = dockerProfileToOci(defaultDockerProfile(), { capabilities: DEFAULT_CAPS, arch: 'x86_64' });
    expect(x.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(x.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(x.defaultErrnoRet).toBe(1);
    const a = dockerProfileToOci(defaultDockerProfile(), { capabilities: DEFAULT_CAPS, arch: 'aarch64' });
    expect(a.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it('filters entries by capabilities (includes: all, excludes: any), arches and minKernel', () => {
    const names = (caps: string[], arch = 'x86_64', kernelVersion = '6.18.0') =>
      dockerProfileToOci(defaultDockerProfile(), { capabilities: caps, arch, kernelVersion }).syscalls!.flatMap((s) => s.names);
    expect(names(DEFAULT_CAPS)).not.toContain('unshare');
    expect(names([...DEFAULT_CAPS, 'CAP_SYS_ADMIN'])).toContain('unshare');
    expect(names([...DEFAULT_CAPS, 'SYS_ADMIN'])).toContain('unshare'); // capability spelled without CAP_
    expect(names(DEFAULT_CAPS)).toContain('arch_prctl');
    expect(names(DEFAULT_CAPS, 'aarch64')).not.toContain('arch_prctl');
    expect(names(DEFAULT_CAPS, 'aarch64')).toContain('arm_fadvise64_64');
    expect(names(DEFAULT_CAPS, 'x86_64', '6.1.0-18-amd64')).toContain('ptrace');
    expect(names(DEFAULT_CAPS, 'x86_64', '4.4.0')).not.toContain('ptrace');
    const clone3 = dockerProfileToOci(defaultDockerProfile(), { capabilities: DEFAULT_CAPS, arch: 'x86_64' }).syscalls!.find((s) => s.names.includes('clone3'));
    expect(clone3).toEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });

  it('rejects profiles that mix architectures with archMap, or name with names', () => {
    expect(() => dockerProfileToOci({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }] }, { capabilities: [], arch: 'x86_64' })).toThrow(SkiffError);
    expect(() => dockerProfileToOci({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'read', names: ['write'], action: 'SCMP_ACT_ALLOW' }] }, { capabilities: [], arch: 'x86_64' })).toThrow(/either 'name' or 'names'/);
    const legacy = dockerProfileToOci({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'read', action: 'SCMP_ACT_ERRNO' }] }, { capabilities: [], arch: 'x86_64' });
    expect(legacy.syscalls).toEqual([{ names: ['read'], action: 'SCMP_ACT_ERRNO' }]);
  });
});

const PODMAN_CONFIG = join(__dirname, '../../../shared/reference/podman-config.json');

describe.skipIf(skipWhen(existsSync(PODMAN_CONFIG) ? undefined : `no ${PODMAN_CONFIG} (../shared beside the checkout)`))("podman's generated config.json (containers/common profile)", () => {
  it('compiles, with its allow-then-deny duplicates resolved as runc does', () => {
    const spec = JSON.parse(readFileSync(PODMAN_CONFIG, 'utf8'));
    const { program, flags } = compileSeccomp(spec.linux.seccomp, { nativeArch: 'x86_64' });
    checkSeccompProgram(program);
    expect(flags).toBe(SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    const run = (n: number, args: number[] = []) => describeRet(runSeccompFilter(program, { nr: n, arch: AUDIT_ARCH_X86_64, args }));
    const x = (name: string) => nr('SCMP_ARCH_X86_64', name);
    expect(run(x('setns'))).toBe('ALLOW'); // allowed first, denied later: the first rule wins
    expect(run(x('read'))).toBe('ALLOW');
    expect(run(x('bpf'))).toBe('ERRNO(1)');
    expect(run(x('kexec_load'))).toBe('ERRNO(1)');
    expect(run(x('personality'), [8])).toBe('ALLOW');
    expect(run(x('personality'), [0x400000])).toBe('ERRNO(38)'); // defaultErrnoRet 38
    expect(run(x('add_key'))).toBe('ERRNO(38)');
  });
});

describe("Docker's default profile, compiled", () => {
  const X = AUDIT_ARCH_X86_64;
  const run = (program: Buffer, arch: number, n: number, args: Array<number | bigint> = []) => describeRet(runSeccompFilter(program, { nr: n, arch, args }));

  it('fits the kernel limit and is a valid seccomp program for every capability set', () => {
    for (const caps of [DEFAULT_CAPS, [], [...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_MODULE', 'CAP_SYS_TIME', 'CAP_BPF', 'CAP_PERFMON']]) {
      for (const arch of ['x86_64', 'aarch64']) {
        const { program, skipped, flags, needsListener } = filterFor(caps, arch);
        checkSeccompProgram(program);
        expect(program.length / 8).toBeLessThan(4096);
        expect(flags).toBe(SECCOMP_FILTER_FLAG_SPEC_ALLOW); // the profile sets no flags: runc's default
        expect(needsListener).toBe(false);
        // Skipped names are unknown on every architecture of the filter.
        const arches = arch === 'x86_64' ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] : ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
        for (const name of skipped) for (const a of arches) expect([name, a, resolveSyscall(abiByName(a), name)]).toEqual([name, a, undefined]);
        if (arch === 'x86_64') expect(skipped).toEqual(['recv', 'riscv_hwprobe', 'send']); // i386 multiplexes them (socketcall)
      }
    }
  });

  it('denies namespace and keyring calls with EPERM and allows the everyday ones (default caps, x86_64)', () => {
    const { program } = filterFor(DEFAULT_CAPS);
    const n = (name: string) => nr('SCMP_ARCH_X86_64', name);
    for (const name of ['unshare', 'keyctl', 'add_key', 'request_key', 'mount', 'umount2', 'setns', 'reboot', 'init_module', 'bpf', 'pivot_root', 'open_by_handle_at']) {
      expect([name, run(program, X, n(name), [CLONE_NEWUSER])]).toEqual([name, 'ERRNO(1)']);
    }
    for (const name of ['read', 'write', 'openat', 'close', 'mmap', 'execve', 'exit_group', 'futex', 'getpid', 'rt_sigaction', 'arch_prctl', 'ptrace', 'chroot', 'statx', 'close_range', 'mseal', 'getxattrat']) {
      expect([name, run(program, X, n(name))]).toEqual([name, 'ALLOW']);
    }
    expect(run(program, X, n('clone3'))).toBe('ERRNO(38)'); // explicit rule: glibc falls back to clone
    expect(run(program, X, n('io_uring_setup'))).toBe('ERRNO(1)'); // not in the profile, below its newest call
    expect(run(program, X, n('file_setattr'))).toBe('ERRNO(38)'); // newer than the profile's newest call (getxattrat)
    expect(run(program, X, n('listns'))).toBe('ERRNO(38)');
  });

  it('allows clone without namespace flags and denies it with them, unless CAP_SYS_ADMIN', () => {
    const clone = nr('SCMP_ARCH_X86_64', 'clone');
    const plain = filterFor(DEFAULT_CAPS).program;
    expect(run(plain, X, clone, [17 /* SIGCHLD: fork */])).toBe('ALLOW');
    expect(run(plain, X, clone, [CLONE_THREAD_FLAGS])).toBe('ALLOW');
    expect(run(plain, X, clone, [CLONE_NEWUSER | 17])).toBe('ERRNO(1)');
    expect(run(plain, X, clone, [CLONE_NEWNS])).toBe('ERRNO(1)');
    expect(run(plain, X, clone, [CLONE_NEWNET | CLONE_THREAD_FLAGS])).toBe('ERRNO(1)');
    // The mask covers the low word only; high bits are not namespace flags.
    expect(run(plain, X, clone, [0x100000000n | 17n])).toBe('ALLOW');
    const admin = filterFor([...DEFAULT_CAPS, 'CAP_SYS_ADMIN']).program;
    expect(run(admin, X, clone, [CLONE_NEWUSER | CLONE_NEWNS | 17])).toBe('ALLOW');
    expect(run(admin, X, nr('SCMP_ARCH_X86_64', 'unshare'), [CLONE_NEWNS])).toBe('ALLOW');
    expect(run(admin, X, nr('SCMP_ARCH_X86_64', 'mount'))).toBe('ALLOW');
    expect(run(admin, X, nr('SCMP_ARCH_X86_64', 'clone3'))).toBe('ALLOW');
  });

  it('checks socket families and personality values', () => {
    const { program } = filterFor(DEFAULT_CAPS);
    const socket = nr('SCMP_ARCH_X86_64', 'socket');
    const personality = nr('SCMP_ARCH_X86_64', 'personality');
    expect(run(program, X, socket, [2])).toBe('ALLOW'); // AF_INET
    expect(run(program, X, socket, [16])).toBe('ALLOW'); // AF_NETLINK
    expect(run(program, X, socket, [38])).toBe('ERRNO(1)'); // AF_ALG
    expect(run(program, X, socket, [39])).toBe('ALLOW');
    expect(run(program, X, socket, [40])).toBe('ERRNO(1)'); // AF_VSOCK
    expect(run(program, X, socket, [41])).toBe('ALLOW');
    expect(run(program, X, socket, [0x100000002n])).toBe('ALLOW'); // > 40 on 64 bits
    for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(run(program, X, personality, [p])).toBe('ALLOW');
    expect(run(program, X, personality, [0x0400000])).toBe('ERRNO(1)'); // ADDR_NO_RANDOMIZE
    expect(run(program, X, personality, [0xffffffffffffffffn])).toBe('ERRNO(1)');
  });

  it('applies the profile to i386 and x32 processes too', () => {
    const { program } = filterFor(DEFAULT_CAPS);
    expect(run(program, AUDIT_ARCH_I386, nr('SCMP_ARCH_X86', 'unshare'))).toBe('ERRNO(1)');
    expect(run(program, AUDIT_ARCH_I386, nr('SCMP_ARCH_X86', 'getpid'))).toBe('ALLOW');
    expect(run(program, AUDIT_ARCH_I386, nr('SCMP_ARCH_X86', 'socketcall'))).toBe('ALLOW');
    expect(run(program, AUDIT_ARCH_I386, nr('SCMP_ARCH_X86', 'clone'), [CLONE_NEWUSER])).toBe('ERRNO(1)');
    expect(run(program, X, X32_SYSCALL_BIT | 39)).toBe('ALLOW'); // x32 getpid
    expect(run(program, X, nr('SCMP_ARCH_X32', 'unshare'))).toBe('ERRNO(1)');
    expect(run(program, AUDIT_ARCH_AARCH64, 172)).toBe('KILL_THREAD'); // not in the filter
  });

  it('works the same with aarch64 as the native architecture', () => {
    const { program } = filterFor(DEFAULT_CAPS, 'aarch64');
    const n = (name: string) => nr('SCMP_ARCH_AARCH64', name);
    expect(run(program, AUDIT_ARCH_AARCH64, n('unshare'))).toBe('ERRNO(1)');
    expect(run(program, AUDIT_ARCH_AARCH64, n('getpid'))).toBe('ALLOW');
    expect(run(program, AUDIT_ARCH_AARCH64, n('clone'), [CLONE_NEWUSER])).toBe('ERRNO(1)');
    expect(run(program, AUDIT_ARCH_AARCH64, n('clone'), [17])).toBe('ALLOW');
    expect(run(program, AUDIT_ARCH_ARM, nr('SCMP_ARCH_ARM', 'arm_fadvise64_64'))).toBe('ALLOW');
    expect(run(program, AUDIT_ARCH_ARM, nr('SCMP_ARCH_ARM', 'keyctl'))).toBe('ERRNO(1)');
    expect(run(program, X, 39)).toBe('KILL_THREAD');
  });
});
