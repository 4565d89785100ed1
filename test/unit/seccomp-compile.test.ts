// Unit tests of the seccomp compiler: exact listings of small programs, and the decisions of compiled
// programs run by the BPF interpreter over crafted seccomp_data.
import { describe, expect, it } from 'vitest';
import { SkiffError } from '../../src/runtime/errors';
import { compileSeccomp, describeRet, disassemble, runSeccompFilter, type LinuxSeccomp, type SeccompOperator } from '../../src/runtime/seccomp';
import { abiByName, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, resolveSyscall, X32_SYSCALL_BIT } from '../../src/runtime/seccomp/arches';
import { checkSeccompProgram } from '../../src/runtime/seccomp/bpf-interp';
import { BPF_MAXINSNS, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV } from '../../src/runtime/seccomp/bpf';

const X86_64 = AUDIT_ARCH_X86_64;
const nr = (arch: string, name: string) => {
  const n = resolveSyscall(abiByName(arch), name);
  if (n === undefined) throw new Error(`${name} unknown on ${arch}`);
  return n;
};
const GETPID = nr('SCMP_ARCH_X86_64', 'getpid'); // 39

/** Decision of a program for one call, as a readable action name. */
function decide(program: Buffer, arch: number, n: number, args: Array<bigint | number> = []): string {
  return describeRet(runSeccompFilter(program, { nr: n, arch, args }));
}

describe('disassemble', () => {
  it('lists a minimal allow-all program exactly', () => {
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { nativeArch: 'x86_64' });
    // x86_64 numbers are all default; numbers with the x32 bit and other architectures are the bad arch.
    expect(disassemble(program).split('\n')).toEqual([
      '0000: ld [4]',
      '0001: jeq #0xc000003e jt 0002 jf 0005',
      '0002: ld [0]',
      '0003: jge #0x40000000 jt 0005 jf 0004',
      '0004: ret ALLOW',
      '0005: ret KILL_THREAD',
    ]);
  });

  it('lists a one-rule ERRNO program with the ENOSYS rule exactly', () => {
    const { program } = compileSeccomp(
      { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }] },
      { nativeArch: 'x86_64' },
    );
    expect(disassemble(program, { annotate: true }).split('\n')).toEqual([
      '0000: ld [4]  ; arch',
      '0001: jeq #0xc000003e jt 0002 jf 0009',
      '0002: ld [0]  ; nr',
      '0003: jge #0x28 jt 0007 jf 0004', // above getpid (39)
      '0004: jge #0x27 jt 0006 jf 0005',
      '0005: ret ERRNO(1)', // 0..38: default
      '0006: ret ALLOW', // 39: getpid
      '0007: jge #0x40000000 jt 0009 jf 0008',
      '0008: ret ERRNO(38)', // 40..0x3fffffff: newer than the profile
      '0009: ret KILL_THREAD', // x32 (not in the filter) and unknown architectures
    ]);
  });

  it('lists an argument comparison on 64 bits (hi word, then lo word)', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: 1, value: 0x500000007, op: 'SCMP_CMP_EQ' }] }],
      },
      { nativeArch: 'x86_64' },
    );
    const text = disassemble(program, { annotate: true });
    expect(text).toContain('ld [28]  ; args[1].hi');
    expect(text).toContain('jeq #0x5 jt');
    expect(text).toContain('ld [24]  ; args[1].lo');
    expect(text).toContain('jeq #0x7 jt');
    expect(text).toContain('ret KILL_PROCESS');
    // hi is tested before lo
    expect(text.indexOf('args[1].hi')).toBeLessThan(text.indexOf('args[1].lo'));
  });

  it('decodes every classic BPF instruction class', () => {
    const insn = (code: number, jt: number, jf: number, k: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt16LE(code, 0);
      b[2] = jt;
      b[3] = jf;
      b.writeUInt32LE(k, 4);
      return b;
    };
    const prog = Buffer.concat([
      insn(0x20, 0, 0, 16), // ld [16]
      insn(0x28, 0, 0, 2), // ldh [2]
      insn(0x30, 0, 0, 1), // ldb [1]
      insn(0x00, 0, 0, 5), // ld #5
      insn(0x01, 0, 0, 6), // ldx #6
      insn(0x60, 0, 0, 3), // ld M[3]
      insn(0x02, 0, 0, 3), // st M[3]
      insn(0x54, 0, 0, 0xff), // and #0xff
      insn(0x0c, 0, 0, 0), // add x
      insn(0x84, 0, 0, 0), // neg
      insn(0x15, 1, 0, 7), // jeq #7
      insn(0x05, 0, 0, 1), // ja
      insn(0x07, 0, 0, 0), // tax
      insn(0x87, 0, 0, 0), // txa
      insn(0x16, 0, 0, 0), // ret a
      insn(0x06, 0, 0, 0x00050026), // ret ERRNO(38)
    ]);
    expect(disassemble(prog).split('\n')).toEqual([
      '0000: ld [16]',
      '0001: ldh [2]',
      '0002: ldb [1]',
      '0003: ld #0x5',
      '0004: ldx #0x6',
      '0005: ld M[3]',
      '0006: st M[3]',
      '0007: and #0xff',
      '0008: add x',
      '0009: neg',
      '0010: jeq #0x7 jt 0012 jf 0011',
      '0011: ja 0013',
      '0012: tax',
      '0013: txa',
      '0014: ret a',
      '0015: ret ERRNO(38)',
    ]);
  });
});

describe('actions', () => {
  const cases: Array<[LinuxSeccomp['defaultAction'], number | undefined, string]> = [
    ['SCMP_ACT_KILL', undefined, 'KILL_THREAD'],
    ['SCMP_ACT_KILL_THREAD', undefined, 'KILL_THREAD'],
    ['SCMP_ACT_KILL_PROCESS', undefined, 'KILL_PROCESS'],
    ['SCMP_ACT_TRAP', undefined, 'TRAP(0)'],
    ['SCMP_ACT_ERRNO', undefined, 'ERRNO(1)'],
    ['SCMP_ACT_ERRNO', 13, 'ERRNO(13)'],
    ['SCMP_ACT_TRACE', undefined, 'TRACE(1)'],
    ['SCMP_ACT_TRACE', 77, 'TRACE(77)'],
    ['SCMP_ACT_ALLOW', undefined, 'ALLOW'],
    ['SCMP_ACT_LOG', undefined, 'LOG'],
    ['SCMP_ACT_NOTIFY', undefined, 'USER_NOTIF'],
  ];
  it.each(cases)('rule action %s (errnoRet %s) returns %s', (action, errnoRet, expected) => {
    const { program } = compileSeccomp(
      { defaultAction: action === 'SCMP_ACT_ALLOW' ? 'SCMP_ACT_LOG' : 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action, errnoRet }] },
      { nativeArch: 'x86_64' },
    );
    expect(decide(program, X86_64, GETPID)).toBe(expected);
  });
  it.each(cases)('default action %s (defaultErrnoRet %s) returns %s', (action, errnoRet, expected) => {
    const rules = [{ names: ['write'], action: 'SCMP_ACT_ALLOW' as const }, { names: ['kill'], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 99 }];
    const { program } = compileSeccomp({ defaultAction: action, defaultErrnoRet: errnoRet, syscalls: rules }, { nativeArch: 'x86_64' });
    expect(decide(program, X86_64, GETPID)).toBe(expected); // 39 < kill (62): the default applies
    expect(decide(program, X86_64, nr('SCMP_ARCH_X86_64', 'write'))).toBe('ALLOW');
    expect(decide(program, X86_64, nr('SCMP_ARCH_X86_64', 'kill'))).toBe('ERRNO(99)');
  });

  it('sets NEW_LISTENER when a rule or the default notifies', () => {
    const byRule = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] }, { nativeArch: 'x86_64' });
    expect(byRule.needsListener).toBe(true);
    expect(byRule.flags).toBe(SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_NEW_LISTENER);
    const byDefault = compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }, { nativeArch: 'x86_64' });
    expect(byDefault.needsListener).toBe(true);
    const none = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: [] }, { nativeArch: 'x86_64' });
    expect(none.needsListener).toBe(false);
    expect(none.flags).toBe(0);
  });

  it('uses SPEC_ALLOW when the section has no flags, as runc and crun do, and nothing for an empty list', () => {
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { nativeArch: 'x86_64' }).flags).toBe(SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: null as unknown as undefined /* Go encodes a nil slice as null */ }, { nativeArch: 'x86_64' }).flags).toBe(SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: [] }, { nativeArch: 'x86_64' }).flags).toBe(0);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] }, { nativeArch: 'x86_64' }).flags).toBe(SECCOMP_FILTER_FLAG_LOG);
    expect(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { nativeArch: 'x86_64', flagsWhenUnset: 0 }).flags).toBe(0);
  });

  it('maps every spec flag, adding TSYNC_ESRCH when TSYNC meets NEW_LISTENER', () => {
    const c = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      },
      { nativeArch: 'x86_64' },
    );
    expect(c.flags).toBe(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
    const n = compileSeccomp(
      { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'], syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] },
      { nativeArch: 'x86_64' },
    );
    expect(n.flags).toBe(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
  });
});

// Values at the edges of the two 32-bit halves.
const EDGE_VALUES: bigint[] = [
  0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn,
  0x200000000n, 0x500000007n, 0x500000006n, 0x500000008n, 0x400000007n, 0x600000007n, 0x7fffffffffffffffn,
  0x8000000000000000n, 0xffffffff00000000n, 0xfffffffffffffffen, 0xffffffffffffffffn, 0xffffffff00000007n,
];
const MASKS: Array<[bigint, bigint]> = [
  [0xffn, 0x07n], [0x7e020000n, 0n], [0xffffffff00000000n, 0x500000000n], [0xf0000000fn, 0x500000007n],
  [0xffffffffffffffffn, 0x500000007n], [0n, 0n], [0xf0n, 0x0fn], [0x100000000n, 0x100000000n],
];

function reference(op: SeccompOperator, arg: bigint, value: bigint, valueTwo: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_NE': return arg !== value;
    case 'SCMP_CMP_LT': return arg < value;
    case 'SCMP_CMP_LE': return arg <= value;
    case 'SCMP_CMP_EQ': return arg === value;
    case 'SCMP_CMP_GE': return arg >= value;
    case 'SCMP_CMP_GT': return arg > value;
    case 'SCMP_CMP_MASKED_EQ': return (arg & value) === valueTwo;
  }
}

describe('argument comparisons', () => {
  const ops: SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT'];
  for (const op of ops) {
    it(`${op} is unsigned 64-bit on x86_64 at every edge`, () => {
      for (const value of EDGE_VALUES) {
        const { program } = compileSeccomp(
          { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW', args: [{ index: 2, value, op }] }] },
          { nativeArch: 'x86_64' },
        );
        for (const arg of EDGE_VALUES) {
          const got = decide(program, X86_64, GETPID, [0, 0, arg]);
          expect([op, value, arg, got]).toEqual([op, value, arg, reference(op, arg, value, 0n) ? 'ALLOW' : 'ERRNO(1)']);
        }
      }
    });
  }

  it('SCMP_CMP_MASKED_EQ masks both halves (value = mask, valueTwo = expected)', () => {
    for (const [mask, want] of MASKS) {
      const { program } = compileSeccomp(
        { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 0, value: mask, valueTwo: want, op: 'SCMP_CMP_MASKED_EQ' }] }] },
        { nativeArch: 'x86_64' },
      );
      for (const arg of [...EDGE_VALUES, 0x7e020000n, 0x10000000n, 0x11n]) {
        expect([mask, want, arg, decide(program, X86_64, GETPID, [arg])]).toEqual([mask, want, arg, reference('SCMP_CMP_MASKED_EQ', arg, mask, want) ? 'ERRNO(5)' : 'ALLOW']);
      }
    }
  });

  it('compares only the low 32 bits on a 32-bit ABI (x86), as libseccomp does', () => {
    const i386Getpid = nr('SCMP_ARCH_X86', 'getpid');
    for (const op of [...ops, 'SCMP_CMP_MASKED_EQ' as const]) {
      for (const value of [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn]) {
        const { program } = compileSeccomp(
          { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86'], syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, valueTwo: value & 0xf0n, op }] }] },
          { nativeArch: 'x86_64' },
        );
        for (const arg of [0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn]) {
          expect([op, value, arg, decide(program, AUDIT_ARCH_I386, i386Getpid, [arg])]).toEqual([op, value, arg, reference(op, arg, value, value & 0xf0n) ? 'ALLOW' : 'ERRNO(1)']);
        }
      }
    }
  });

  it('ANDs the arguments of one rule and ORs the rules of one syscall', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          { names: ['getpid'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 10, op: 'SCMP_CMP_GE' }, { index: 2, value: 20, op: 'SCMP_CMP_LE' }] },
          { names: ['getpid'], action: 'SCMP_ACT_ALLOW', args: [{ index: 5, value: 0xdead00000000, op: 'SCMP_CMP_EQ' }] },
        ],
      },
      { nativeArch: 'x86_64' },
    );
    expect(decide(program, X86_64, GETPID, [1, 10, 0])).toBe('ALLOW');
    expect(decide(program, X86_64, GETPID, [1, 0x100000010n, 20])).toBe('ALLOW');
    expect(decide(program, X86_64, GETPID, [1, 10, 21])).toBe('ERRNO(1)');
    expect(decide(program, X86_64, GETPID, [2, 15, 0])).toBe('ERRNO(1)');
    expect(decide(program, X86_64, GETPID, [1, 9, 0])).toBe('ERRNO(1)');
    expect(decide(program, X86_64, GETPID, [0, 0, 0, 0, 0, 0xdead00000000n])).toBe('ALLOW');
    expect(decide(program, X86_64, GETPID, [0, 0, 0, 0, 0, 0xdeadn])).toBe('ERRNO(1)');
  });

  it('tries conditional rules in order, the first match deciding, then the default', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [{ index: 0, value: 7, op: 'SCMP_CMP_EQ' }] },
          { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 4, args: [{ index: 0, value: 5, op: 'SCMP_CMP_GT' }] },
        ],
      },
      { nativeArch: 'x86_64' },
    );
    expect(decide(program, X86_64, GETPID, [7])).toBe('ERRNO(3)');
    expect(decide(program, X86_64, GETPID, [6])).toBe('ERRNO(4)');
    expect(decide(program, X86_64, GETPID, [1])).toBe('ALLOW');
  });

  it('merges rules per syscall as runc and libseccomp do', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          // The first unconditional rule wins over later ones (podman's profile allows setns, then denies it).
          { names: ['setns'], action: 'SCMP_ACT_ALLOW' },
          { names: ['setns'], action: 'SCMP_ACT_ERRNO', errnoRet: 9 },
          // An unconditional rule overrides conditional rules, before or after it.
          { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [{ index: 0, value: 7, op: 'SCMP_CMP_EQ' }] },
          { names: ['getpid'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
          { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 4, args: [{ index: 0, value: 5, op: 'SCMP_CMP_GT' }] },
          // A rule that repeats the default action is dropped (runc), so it does not shadow the next one.
          { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
          { names: ['kill'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x100, op: 'SCMP_CMP_LT' }] },
        ],
      },
      { nativeArch: 'x86_64' },
    );
    const kill = nr('SCMP_ARCH_X86_64', 'kill');
    expect(decide(program, X86_64, nr('SCMP_ARCH_X86_64', 'setns'))).toBe('ALLOW');
    for (const a of [7, 6, 1]) expect(decide(program, X86_64, GETPID, [a])).toBe('TRACE(5)');
    expect(decide(program, X86_64, kill, [1, 9])).toBe('ALLOW');
    expect(decide(program, X86_64, kill, [0x100, 9])).toBe('ERRNO(1)');
  });

  it('rejects bad input with a seccomp error', () => {
    const bad: LinuxSeccomp[] = [
      { defaultAction: 'SCMP_ACT_BOGUS' as never },
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] },
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] },
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' as never }] }] },
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] },
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }] },
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] },
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_PPC64LE'] },
      { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS' as never] },
      { defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 },
    ];
    for (const s of bad) {
      let err: unknown;
      try {
        compileSeccomp(s, { nativeArch: 'x86_64' });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(s)).toBeInstanceOf(SkiffError);
      expect((err as SkiffError).domain).toBe('seccomp');
      expect((err as SkiffError).message).toMatch(/^seccomp: /);
    }
  });

  it('takes 2^64-1 written as a JSON number (rounded to 2^64) as 2^64-1, and bigints exactly', () => {
    const json = JSON.parse('{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}');
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW', args: [json] }] }, { nativeArch: 'x86_64' });
    expect(decide(program, X86_64, GETPID, [0xffffffffffffffffn])).toBe('ALLOW');
    expect(decide(program, X86_64, GETPID, [0xfffffffffffffffen])).toBe('ERRNO(1)');
  });
});

describe('architectures', () => {
  const profile: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['rt_sigaction'], action: 'SCMP_ACT_ERRNO', errnoRet: 11 },
      { names: ['chown32'], action: 'SCMP_ACT_ERRNO', errnoRet: 12 },
    ],
  };

  it('dispatches on seccomp_data.arch and resolves names per architecture', () => {
    const { program } = compileSeccomp(profile, { nativeArch: 'x86_64' });
    expect(decide(program, X86_64, 39)).toBe('ALLOW');
    expect(decide(program, AUDIT_ARCH_I386, 20)).toBe('ALLOW'); // getpid on i386
    expect(decide(program, AUDIT_ARCH_I386, 39)).toBe('ERRNO(1)'); // 39 is mkdir on i386
    expect(decide(program, AUDIT_ARCH_I386, nr('SCMP_ARCH_X86', 'chown32'))).toBe('ERRNO(12)');
    expect(decide(program, X86_64, 13)).toBe('ERRNO(11)'); // rt_sigaction
    expect(decide(program, AUDIT_ARCH_I386, 174)).toBe('ERRNO(11)'); // rt_sigaction on i386
  });

  it('keeps x32 and x86_64 apart: the x32 bit never matches x86_64 rules and vice versa', () => {
    const { program } = compileSeccomp(profile, { nativeArch: 'x86_64' });
    expect(decide(program, X86_64, X32_SYSCALL_BIT | 39)).toBe('ALLOW'); // x32 getpid
    // x32's rt_sigaction is 512 | bit; 13 | bit is the x86_64-only slot, unknown to x32
    expect(decide(program, X86_64, X32_SYSCALL_BIT | 512)).toBe('ERRNO(11)');
    expect(decide(program, X86_64, X32_SYSCALL_BIT | 13)).toBe('ERRNO(1)');
    expect(decide(program, X86_64, 512)).toBe('ERRNO(38)'); // 512 without the bit: no x86_64 call, above getpid
    const only64 = compileSeccomp({ ...profile, architectures: ['SCMP_ARCH_X86_64'] }, { nativeArch: 'x86_64' }).program;
    expect(decide(only64, X86_64, 39)).toBe('ALLOW');
    expect(decide(only64, X86_64, X32_SYSCALL_BIT | 39)).toBe('KILL_THREAD'); // x32 not in the filter: bad arch
    expect(decide(only64, X86_64, 0xffffffff)).toBe('KILL_THREAD');
  });

  it('gives an architecture that is not in the filter the bad-arch action (KILL_THREAD, as runc)', () => {
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, { nativeArch: 'x86_64' });
    expect(decide(program, X86_64, 39)).toBe('ALLOW');
    expect(decide(program, AUDIT_ARCH_I386, 20)).toBe('KILL_THREAD');
    expect(decide(program, AUDIT_ARCH_AARCH64, 172)).toBe('KILL_THREAD');
    expect(decide(program, 0x12345678, 0)).toBe('KILL_THREAD');
  });

  it('supports aarch64 as the native architecture, with arm as a sub-architecture', () => {
    const { program } = compileSeccomp(
      { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'], syscalls: [{ names: ['getpid', 'cacheflush', 'open'], action: 'SCMP_ACT_ALLOW' }] },
      { nativeArch: 'aarch64' },
    );
    expect(decide(program, AUDIT_ARCH_AARCH64, 172)).toBe('ALLOW');
    expect(decide(program, AUDIT_ARCH_AARCH64, 39)).toBe('ERRNO(1)');
    expect(decide(program, AUDIT_ARCH_ARM, 20)).toBe('ALLOW');
    expect(decide(program, AUDIT_ARCH_ARM, 0xf0002)).toBe('ALLOW'); // ARM private cacheflush
    expect(decide(program, AUDIT_ARCH_ARM, 5)).toBe('ALLOW'); // open exists on arm, not on aarch64
    expect(decide(program, X86_64, 39)).toBe('KILL_THREAD');
  });

  it('returns ENOSYS above the highest syscall of the profile unless the default allows (runc)', () => {
    const { program } = compileSeccomp(profile, { nativeArch: 'x86_64' });
    expect(decide(program, X86_64, 20)).toBe('ERRNO(1)'); // writev, below getpid (the highest x86_64 call named)
    expect(decide(program, X86_64, 40)).toBe('ERRNO(38)');
    expect(decide(program, X86_64, 0x3fffffff)).toBe('ERRNO(38)');
    expect(decide(program, AUDIT_ARCH_I386, 100)).toBe('ERRNO(1)'); // below chown32 (212)
    expect(decide(program, AUDIT_ARCH_I386, 213)).toBe('ERRNO(38)');
    expect(decide(program, AUDIT_ARCH_I386, 0xffffffff)).toBe('ERRNO(38)');
    expect(decide(program, X86_64, X32_SYSCALL_BIT | 600)).toBe('ERRNO(38)'); // above x32 rt_sigaction (512)
    const off = compileSeccomp(profile, { nativeArch: 'x86_64', enosys: false }).program;
    expect(decide(off, X86_64, 1000)).toBe('ERRNO(1)');
    const allow = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO' }] }, { nativeArch: 'x86_64' }).program;
    expect(decide(allow, X86_64, 1000)).toBe('ALLOW');
    const log = compileSeccomp({ defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO' }] }, { nativeArch: 'x86_64' }).program;
    expect(decide(log, X86_64, 1000)).toBe('LOG');
  });

  it('reports names unknown on every architecture of the filter', () => {
    const c = compileSeccomp(
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls: [{ names: ['chown32', 'no_such_call', 'getpid', 'no_such_call'], action: 'SCMP_ACT_ERRNO' }] },
      { nativeArch: 'x86_64' },
    );
    expect(c.skipped).toEqual(['no_such_call']);
  });
});

describe('long programs', () => {
  it('uses trampolines for jumps beyond 255 instructions and stays valid', () => {
    // Many syscalls, each with several 64-bit conditions: far more than 255 instructions between the
    // binary search and its leaves.
    const names = ['read', 'write', 'openat', 'close', 'mmap', 'mprotect', 'munmap', 'brk', 'ioctl', 'pread64', 'pwrite64', 'readv', 'writev', 'getpid', 'socket', 'connect', 'accept', 'sendto', 'recvfrom', 'clone', 'kill', 'fcntl', 'prctl'];
    const syscalls = names.map((name, i) => ({
      names: [name],
      action: 'SCMP_ACT_ERRNO' as const,
      errnoRet: 100 + i,
      args: [
        { index: 0, value: 0x100000000 * (i + 1) + 3, op: 'SCMP_CMP_GT' as const },
        { index: 1, value: 7, op: 'SCMP_CMP_NE' as const },
        { index: 2, value: 0xff00, valueTwo: 0x1200, op: 'SCMP_CMP_MASKED_EQ' as const },
      ],
    }));
    const { program } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls }, { nativeArch: 'x86_64' });
    const count = program.length / 8;
    expect(count).toBeGreaterThan(300);
    checkSeccompProgram(program);
    expect(disassemble(program)).toMatch(/: ja \d{4}/);
    names.forEach((name, i) => {
      const n = nr('SCMP_ARCH_X86_64', name);
      const big = BigInt(0x100000000 * (i + 1) + 4);
      expect(decide(program, X86_64, n, [big, 8, 0x12ab])).toBe(`ERRNO(${100 + i})`);
      expect(decide(program, X86_64, n, [big - 1n, 8, 0x12ab])).toBe('ALLOW');
      expect(decide(program, X86_64, n, [big, 7, 0x12ab])).toBe('ALLOW');
      expect(decide(program, X86_64, n, [big, 8, 0x13ab])).toBe('ALLOW');
    });
  });

  it('refuses a program over the kernel limit', () => {
    const syscalls = ['read', 'write', 'openat', 'close', 'mmap', 'getpid', 'clone', 'kill'].map((name) => ({
      names: [name],
      action: 'SCMP_ACT_ERRNO' as const,
      args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' as const }],
    }));
    const many = Array.from({ length: 400 }, () => syscalls).flat().map((s, i) => ({ ...s, args: [{ index: 0, value: i + 1, op: 'SCMP_CMP_EQ' as const }] }));
    expect(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: many }, { nativeArch: 'x86_64' })).toThrow(/more than the kernel's limit of 4096/);
    expect(BPF_MAXINSNS).toBe(4096);
  });
});

describe('checkSeccompProgram (the kernel load-time checks)', () => {
  const prog = (...insns: Array<[number, number, number, number]>) => {
    const b = Buffer.alloc(insns.length * 8);
    insns.forEach(([code, jt, jf, k], i) => {
      b.writeUInt16LE(code, i * 8);
      b[i * 8 + 2] = jt;
      b[i * 8 + 3] = jf;
      b.writeUInt32LE(k >>> 0, i * 8 + 4);
    });
    return b;
  };
  const RET_ALLOW: [number, number, number, number] = [0x06, 0, 0, 0x7fff0000];
  it('accepts what the kernel accepts', () => {
    expect(() => checkSeccompProgram(prog([0x20, 0, 0, 4], [0x15, 0, 1, 7], RET_ALLOW, RET_ALLOW))).not.toThrow();
  });
  it('refuses what the kernel refuses', () => {
    expect(() => checkSeccompProgram(prog())).toThrow(/length/);
    expect(() => checkSeccompProgram(prog([0x20, 0, 0, 4]))).toThrow(/end with ret/);
    expect(() => checkSeccompProgram(prog([0x20, 0, 0, 6], RET_ALLOW))).toThrow(/unaligned/);
    expect(() => checkSeccompProgram(prog([0x20, 0, 0, 64], RET_ALLOW))).toThrow(/outside/);
    expect(() => checkSeccompProgram(prog([0x28, 0, 0, 4], RET_ALLOW))).toThrow(/not allowed/); // ldh
    expect(() => checkSeccompProgram(prog([0x15, 5, 0, 1], RET_ALLOW))).toThrow(/past the end/);
    expect(() => checkSeccompProgram(prog([0x05, 0, 0, 9], RET_ALLOW))).toThrow(/past the end/);
    expect(() => checkSeccompProgram(prog([0x34, 0, 0, 0], RET_ALLOW))).toThrow(/division/); // div #0
  });
  it('runs ALU and scratch-memory instructions like the kernel', () => {
    // A = nr; A = A * 3; M[0] = A; X = 5; A = M[0]; A = A - X; ret A  → 3*nr - 5 as the return value
    const p = prog([0x20, 0, 0, 0], [0x24, 0, 0, 3], [0x02, 0, 0, 0], [0x01, 0, 0, 5], [0x60, 0, 0, 0], [0x1c, 0, 0, 0], [0x16, 0, 0, 0]);
    expect(runSeccompFilter(p, { nr: 10, arch: X86_64 })).toBe(25);
    expect(runSeccompFilter(p, { nr: 1, arch: X86_64 })).toBe(0xfffffffe); // wraps at 32 bits
  });
});

describe('several conditions on one argument (runc: one rule per condition, OR)', () => {
  const CLONE3 = nr('SCMP_ARCH_X86_64', 'clone3');
  const UNSHARE = nr('SCMP_ARCH_X86_64', 'unshare');

  it('returns the rule action when either value of the same argument matches', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['unshare'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 38,
            args: [
              { index: 0, value: 0x10000000, op: 'SCMP_CMP_EQ' },
              { index: 0, value: 0x20000000, op: 'SCMP_CMP_EQ' },
            ],
          },
        ],
      },
      { nativeArch: 'x86_64' },
    );
    expect(decide(program, X86_64, UNSHARE, [0x10000000])).toBe('ERRNO(38)');
    expect(decide(program, X86_64, UNSHARE, [0x20000000])).toBe('ERRNO(38)');
    expect(decide(program, X86_64, UNSHARE, [0x40000000])).toBe('ALLOW');
    expect(decide(program, X86_64, CLONE3, [0x10000000])).toBe('ALLOW');
  });

  it('splits every condition of the rule, even those on other arguments, as runc does', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['unshare'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 1,
            args: [
              { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
              { index: 0, value: 2, op: 'SCMP_CMP_EQ' },
              { index: 1, value: 7, op: 'SCMP_CMP_EQ' },
            ],
          },
        ],
      },
      { nativeArch: 'x86_64' },
    );
    expect(decide(program, X86_64, UNSHARE, [0, 7])).toBe('ERRNO(1)');
    expect(decide(program, X86_64, UNSHARE, [3, 0])).toBe('ALLOW');
  });

  it('keeps AND for conditions on different arguments', () => {
    const { program } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['unshare'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 1,
            args: [
              { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
              { index: 1, value: 7, op: 'SCMP_CMP_EQ' },
            ],
          },
        ],
      },
      { nativeArch: 'x86_64' },
    );
    expect(decide(program, X86_64, UNSHARE, [1, 7])).toBe('ERRNO(1)');
    expect(decide(program, X86_64, UNSHARE, [1, 0])).toBe('ALLOW');
  });
});
