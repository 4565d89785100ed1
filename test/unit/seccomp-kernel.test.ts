// The real kernel accepts and enforces compiled filters. A small C helper (test/fixtures/seccomp/
// load-filter.c, built here with gcc) loads a program with prctl(PR_SET_NO_NEW_PRIVS) +
// seccomp(SECCOMP_SET_MODE_FILTER), then makes the system calls it is given and prints their results.
// No root and no addon needed; x86_64 only (the calls below use x86_64 numbers).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostFeature, needTools, skipWhen } from '../host';
import { compileSeccomp, defaultDockerProfile, dockerProfileToOci, type LinuxSeccomp, type SeccompOperator } from '../../src/runtime/seccomp';
import { SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC_ESRCH } from '../../src/runtime/seccomp/bpf';

// The filters are loaded by a small C helper, built for this x86-64 kernel.
const notHere = process.arch !== 'x64' ? `the test programs are x86-64 system calls; this host is ${process.arch}` : undefined;

const SYS = { getpid: 39, getppid: 110, getuid: 102, getgid: 104, geteuid: 107, getegid: 108, gettid: 186, unshare: 272, keyctl: 250, add_key: 248, clone3: 435, write: 1 };
const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

let dir = '';
let helper = '';

interface CallResult { nr: number; ret: bigint; errno: number }
interface Run { status: number | null; signal: NodeJS.Signals | null; stderr: string; calls: CallResult[] }

function load(program: Buffer, flags: number, calls: string[]): Run {
  const file = join(dir, `prog-${Math.random().toString(36).slice(2)}.bpf`);
  writeFileSync(file, program);
  const r = spawnSync(helper, [file, String(flags), ...calls], { encoding: 'utf8' });
  const lines = r.stdout.trim() ? r.stdout.trim().split('\n') : [];
  return {
    status: r.status,
    signal: r.signal,
    stderr: r.stderr,
    calls: lines.map((l) => {
      const [nr, ret, errno] = l.split(' ');
      return { nr: Number(nr), ret: BigInt(ret), errno: Number(errno) };
    }),
  };
}

const call = (nr: number, ...args: Array<number | bigint>) => [nr, ...args].map((v) => `0x${v.toString(16)}`).join(':');

describe.skipIf(skipWhen(notHere, needTools('gcc')))('seccomp filters in the real kernel', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-seccomp-'));
    helper = join(dir, 'load-filter');
    execFileSync('gcc', ['-O2', '-Wall', '-o', helper, join(__dirname, '../fixtures/seccomp/load-filter.c')]);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("loads Docker's default profile: unshare and keyctl fail with EPERM, getpid works, clone3 says ENOSYS", () => {
    const oci = dockerProfileToOci(defaultDockerProfile(), { capabilities: ['CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID', 'CAP_KILL'], arch: 'x86_64' });
    const { program, flags } = compileSeccomp(oci, { nativeArch: 'x86_64' });
    expect(flags).toBe(SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    const r = load(program, flags, [call(SYS.getpid), call(SYS.unshare, CLONE_NEWUSER), call(SYS.keyctl, 0), call(SYS.add_key, 0), call(SYS.clone3, 0, 0)]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls).toHaveLength(5);
    const [getpid, unshare, keyctl, addKey, clone3] = r.calls;
    expect(getpid.errno).toBe(0);
    expect(getpid.ret).toBeGreaterThan(0n);
    expect(unshare).toEqual({ nr: SYS.unshare, ret: -1n, errno: EPERM });
    expect(keyctl).toEqual({ nr: SYS.keyctl, ret: -1n, errno: EPERM });
    expect(addKey).toEqual({ nr: SYS.add_key, ret: -1n, errno: EPERM });
    expect(clone3).toEqual({ nr: SYS.clone3, ret: -1n, errno: ENOSYS });
  });

  it('enforces every operator on 64-bit arguments as the interpreter does', () => {
    // One harmless no-argument syscall per operator: the kernel ignores the arguments, seccomp sees them.
    const ops: Array<[SeccompOperator, number, bigint, bigint?]> = [
      ['SCMP_CMP_NE', SYS.getppid, 0x100000005n],
      ['SCMP_CMP_LT', SYS.getuid, 0x100000005n],
      ['SCMP_CMP_LE', SYS.getgid, 0x100000005n],
      ['SCMP_CMP_EQ', SYS.geteuid, 0x100000005n],
      ['SCMP_CMP_GE', SYS.getegid, 0x100000005n],
      ['SCMP_CMP_GT', SYS.gettid, 0x100000005n],
      ['SCMP_CMP_MASKED_EQ', SYS.getpid, 0xff000000ffn, 0x1200000034n],
    ];
    const names: Record<number, string> = { [SYS.getppid]: 'getppid', [SYS.getuid]: 'getuid', [SYS.getgid]: 'getgid', [SYS.geteuid]: 'geteuid', [SYS.getegid]: 'getegid', [SYS.gettid]: 'gettid', [SYS.getpid]: 'getpid' };
    const seccomp: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: ops.map(([op, nr, value, valueTwo], i) => ({ names: [names[nr]], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 100 + i, args: [{ index: 3, value, valueTwo, op }] })),
    };
    const { program, flags } = compileSeccomp(seccomp, { nativeArch: 'x86_64' });
    const args = [0n, 5n, 6n, 4n, 0xffffffffn, 0x100000004n, 0x100000005n, 0x100000006n, 0x200000000n, 0xffffffff00000005n, 0xffffffffffffffffn, 0x1200000034n, 0x12ab0000cd34n];
    const calls = ops.flatMap(([, nr]) => args.map((a) => call(nr, 0, 0, 0, a)));
    const r = load(program, flags, calls);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls).toHaveLength(calls.length);
    let k = 0;
    ops.forEach(([op, , value, valueTwo], i) => {
      for (const a of args) {
        const hit =
          op === 'SCMP_CMP_NE' ? a !== value : op === 'SCMP_CMP_LT' ? a < value : op === 'SCMP_CMP_LE' ? a <= value : op === 'SCMP_CMP_EQ' ? a === value
          : op === 'SCMP_CMP_GE' ? a >= value : op === 'SCMP_CMP_GT' ? a > value : (a & value) === valueTwo;
        expect([op, a, r.calls[k++].errno]).toEqual([op, a, hit ? 100 + i : 0]);
      }
    });
  });

  it('tells x32 calls from x86_64 ones by the x32 bit', () => {
    const X32_GETPID = 0x40000000 | SYS.getpid;
    const base: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 77 }] };
    // x32 not in the filter: an x32 call is the bad architecture and the process is killed.
    const only64 = compileSeccomp(base, { nativeArch: 'x86_64' });
    const killed = load(only64.program, only64.flags, [call(SYS.getppid), call(X32_GETPID)]);
    expect(killed.calls).toEqual([expect.objectContaining({ nr: SYS.getppid, errno: 0 })]);
    expect(killed.signal).toBe('SIGSYS');
    // x32 in the filter: its getpid rule answers (seccomp runs before the kernel looks at x32 support).
    const withX32 = compileSeccomp({ ...base, architectures: ['SCMP_ARCH_X32'], syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 77 }, { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 78 }] }, { nativeArch: 'x86_64' });
    const r = load(withX32.program, withX32.flags, [call(SYS.getpid), call(X32_GETPID), call(0x40000000 | SYS.getppid), call(SYS.gettid)]);
    expect(r.status).toBe(0);
    expect(r.calls.map((c) => c.errno)).toEqual([77, 77, 78, 0]);
  });

  it('kills the process with SIGSYS for SCMP_ACT_KILL_PROCESS and traps with SCMP_ACT_TRAP', () => {
    for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP'] as const) {
      const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getppid'], action }] }, { nativeArch: 'x86_64' });
      const r = load(c.program, c.flags, [call(SYS.getpid), call(SYS.getppid), call(SYS.getpid)]);
      expect([action, r.signal, r.calls.length]).toEqual([action, 'SIGSYS', 1]);
    }
  });

  it('accepts the flags it computes (LOG, TSYNC with a listener)', () => {
    const logged = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_LOG' }] }, { nativeArch: 'x86_64' });
    expect(logged.flags).toBe(SECCOMP_FILTER_FLAG_LOG);
    const r1 = load(logged.program, logged.flags, [call(SYS.getppid)]);
    expect([r1.status, r1.stderr, r1.calls[0]?.errno]).toEqual([0, '', 0]);
    const notify = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'], syscalls: [{ names: ['mknodat'], action: 'SCMP_ACT_NOTIFY' }] }, { nativeArch: 'x86_64' });
    expect(notify.flags).toBe(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
    const r2 = load(notify.program, notify.flags, [call(SYS.getpid)]);
    expect([r2.status, r2.stderr, r2.calls[0]?.errno]).toEqual([0, '', 0]);
  });

  // int $0x80 reaches the i386 ABI only where the kernel has IA32 emulation on; probe before asserting.
  const probe = () => {
    const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'] }, { nativeArch: 'x86_64' });
    const r = load(c.program, c.flags, ['i386:20']);
    return r.status === 0 && r.calls[0]?.errno === 0 && r.calls[0].ret > 0n;
  };
  it('applies i386 rules to int $0x80 calls and kills them when x86 is not in the filter', (ctx) => {
    const why = probe() ? undefined : (hostFeature.i386() ?? 'int $0x80 does not reach the i386 system calls on this kernel');
    if (skipWhen(why)) ctx.skip(why); // the note is the reason the run's summary prints
    const with386 = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 66 }] }, { nativeArch: 'x86_64' });
    const r = load(with386.program, with386.flags, ['i386:20', 'i386:64' /* getppid */, call(SYS.getpid)]);
    expect(r.calls.map((c) => c.errno)).toEqual([66, 0, 66]);
    const without = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { nativeArch: 'x86_64' });
    const k = load(without.program, without.flags, [call(SYS.getpid), 'i386:20']);
    expect(k.signal).toBe('SIGSYS');
    expect(k.calls).toHaveLength(1);
  });
});
