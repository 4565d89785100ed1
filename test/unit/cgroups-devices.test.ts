// Device rules: the v1 emulator, and the v2 eBPF program generated from it, checked by running the
// program in a small interpreter of the instructions it uses against the emulator's answer for
// every (type, major, minor, access) of a grid, for many rule lists.
import { describe, expect, it } from 'vitest';
import {
  ACC_ALL,
  ACC_MKNOD,
  ACC_READ,
  ACC_WRITE,
  DEFAULT_ALLOWED_DEVICES,
  deviceAllowed,
  emulateDeviceRules,
  normalizeRule,
  v1RuleString,
  type DeviceState,
} from '../../src/runtime/cgroups/devices';
import {
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  OP,
  compileDeviceFilter,
  decodeInstructions,
  disassemble,
  type BpfInsn,
} from '../../src/runtime/cgroups/devicefilter';
import type { LinuxDeviceCgroup } from '../../src/oci/types';

/** Runs a cgroup device program on struct bpf_cgroup_dev_ctx { access_type, major, minor }. */
function runProgram(insns: BpfInsn[], type: 'c' | 'b', major: number, minor: number, access: number): number {
  const ctx = [(access << 16) | (type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major, minor];
  const r = new Array<bigint>(11).fill(0n);
  const u32 = (v: bigint) => v & 0xffffffffn;
  const imm64 = (imm: number) => BigInt.asUintN(64, BigInt(imm)); // imm is sign-extended to 64 bits
  let steps = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    if (++steps > 4096) throw new Error('program does not terminate');
    const i = insns[pc];
    switch (i.code) {
      case OP.LDXW:
        if (i.src !== 1 || i.off % 4 !== 0 || i.off > 8) throw new Error(`bad context load at ${pc}`);
        r[i.dst] = BigInt(ctx[i.off / 4] >>> 0);
        break;
      case OP.AND32_K:
        r[i.dst] = u32(r[i.dst] & BigInt(i.imm >>> 0));
        break;
      case OP.RSH32_K:
        r[i.dst] = u32(r[i.dst]) >> BigInt(i.imm);
        break;
      case OP.MOV32_K:
        r[i.dst] = BigInt(i.imm >>> 0);
        break;
      case OP.MOV32_X:
        r[i.dst] = u32(r[i.src]);
        break;
      case OP.JEQ_K:
        if (r[i.dst] === imm64(i.imm)) pc += i.off;
        break;
      case OP.JNE_K:
        if (r[i.dst] !== imm64(i.imm)) pc += i.off;
        break;
      case OP.JNE_X:
        if (r[i.dst] !== r[i.src]) pc += i.off;
        break;
      case OP.EXIT:
        return Number(r[0]);
      default:
        throw new Error(`unknown opcode 0x${i.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('fell off the end of the program');
}

function checkAgainstEmulator(rules: LinuxDeviceCgroup[]): void {
  const state = emulateDeviceRules(rules);
  const prog = compileDeviceFilter(state);
  const insns = decodeInstructions(prog.bytes); // through the byte encoding the kernel gets
  for (const type of ['c', 'b'] as const) {
    for (const major of [1, 5, 7, 136]) {
      for (const minor of [0, 3, 5, 9]) {
        for (let access = 1; access <= ACC_ALL; access++) {
          const want = deviceAllowed(state, type, major, minor, access) ? 1 : 0;
          const got = runProgram(insns, type, major, minor, access);
          if (got !== want) {
            throw new Error(
              `rules ${JSON.stringify(rules)}: ${type} ${major}:${minor} access ${access}: program says ${got}, v1 semantics say ${want}\n${disassemble(insns)}`,
            );
          }
        }
      }
    }
  }
}

describe('device rules (v1 semantics)', () => {
  it('normalises OCI rules and writes the v1 syntax', () => {
    expect(v1RuleString(normalizeRule({ allow: false, access: 'rwm' }))).toBe('a *:* rwm');
    expect(v1RuleString(normalizeRule({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }))).toBe('c 1:3 rwm');
    expect(v1RuleString(normalizeRule({ allow: true, type: 'c', major: 136, access: 'rw' }))).toBe('c 136:* rw');
    expect(v1RuleString(normalizeRule({ allow: true, type: 'b', major: -1, minor: -1 }))).toBe('b *:* rwm');
    expect(() => normalizeRule({ allow: true, type: 'x' as 'c' })).toThrow(/invalid device type/);
    // runc's reading of access: r, w, m in any order and number; other letters are ignored ("rwa").
    expect(normalizeRule({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwa' }).access).toBe(normalizeRule({ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }).access);
    expect(v1RuleString(normalizeRule({ allow: true, type: 'c', major: 1, minor: 3, access: 'mrwr' }))).toBe('c 1:3 rwm');
  });

  it('emulates deny-all plus allow rules as a whitelist', () => {
    const s = emulateDeviceRules([{ allow: false, access: 'rwm' }, ...DEFAULT_ALLOWED_DEVICES]);
    expect(s.defaultAllow).toBe(false);
    expect(deviceAllowed(s, 'c', 1, 3, ACC_READ | ACC_WRITE)).toBe(true); // /dev/null
    expect(deviceAllowed(s, 'c', 136, 7, ACC_READ)).toBe(true); // a pty
    expect(deviceAllowed(s, 'b', 8, 0, ACC_READ)).toBe(false); // a disk
    expect(deviceAllowed(s, 'b', 8, 0, ACC_MKNOD)).toBe(true); // mknod of anything
  });

  it('follows the kernel: an allow does not punch a hole into a wildcard deny', () => {
    const s = emulateDeviceRules([{ allow: true, type: 'a' }, { allow: false, type: 'c', access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]);
    expect(s.defaultAllow).toBe(true);
    expect(deviceAllowed(s, 'c', 1, 3, ACC_READ)).toBe(false);
    expect(deviceAllowed(s, 'b', 8, 0, ACC_READ)).toBe(true);
  });

  it('merges and removes access bits of the same device', () => {
    const s = emulateDeviceRules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'r' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'w' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'r' },
    ]);
    expect(s.exceptions).toEqual([{ type: 'c', major: 1, minor: 3, access: ACC_WRITE }]);
    expect(deviceAllowed(s, 'c', 1, 3, ACC_WRITE)).toBe(true);
    expect(deviceAllowed(s, 'c', 1, 3, ACC_READ | ACC_WRITE)).toBe(false);
  });

  it('a deny of one access bit in allow-all mode also denies a request that includes it', () => {
    const s = emulateDeviceRules([{ allow: false, type: 'c', major: 1, minor: 3, access: 'w' }]);
    expect(deviceAllowed(s, 'c', 1, 3, ACC_READ)).toBe(true);
    expect(deviceAllowed(s, 'c', 1, 3, ACC_READ | ACC_WRITE)).toBe(false);
  });
});

describe('eBPF device filter', () => {
  it('generates the expected program for deny-all + /dev/null', () => {
    const prog = compileDeviceFilter(emulateDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]));
    expect(disassemble(prog.insns)).toBe(
      [
        '  0: r2 = *(u32 *)(r1 + 0)',
        '  1: w2 &= 0xffff',
        '  2: r3 = *(u32 *)(r1 + 0)',
        '  3: w3 >>= 16',
        '  4: r4 = *(u32 *)(r1 + 4)',
        '  5: r5 = *(u32 *)(r1 + 8)',
        '  6: if r2 != 2 goto 11',
        '  7: if r4 != 1 goto 11',
        '  8: if r5 != 3 goto 11',
        '  9: w0 = 1',
        ' 10: exit',
        ' 11: w0 = 0',
        ' 12: exit',
      ].join('\n'),
    );
    expect(prog.bytes.length).toBe(13 * 8);
    expect(prog.license).toBe('Apache');
    expect(prog.summary).toEqual(['default deny', 'allow c 1:3 rwm']);
    // struct bpf_insn of "if r2 != 2 goto +4": code 0x55, dst r2, off 4, imm 2.
    expect([...prog.bytes.subarray(6 * 8, 7 * 8)]).toEqual([0x55, 0x02, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00]);
  });

  it('allows everything when there are no rules (a new v1 cgroup under the root)', () => {
    const prog = compileDeviceFilter(emulateDeviceRules([]));
    for (const access of [ACC_READ, ACC_WRITE, ACC_MKNOD]) expect(runProgram(prog.insns, 'b', 8, 0, access)).toBe(1);
  });

  it('agrees with the v1 semantics for the default container rules', () => {
    checkAgainstEmulator([{ allow: false, access: 'rwm' }, ...DEFAULT_ALLOWED_DEVICES]);
  });

  it('agrees with the v1 semantics for 400 random rule lists', () => {
    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pick = <T,>(xs: T[]) => xs[rand(xs.length)];
    for (let t = 0; t < 400; t++) {
      const rules: LinuxDeviceCgroup[] = [];
      const n = 1 + rand(7);
      for (let k = 0; k < n; k++) {
        const access = pick(['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm', undefined]);
        rules.push({
          allow: rand(2) === 0,
          type: pick(['a', 'c', 'c', 'b', undefined] as const),
          major: pick([undefined, 1, 5, 136]),
          minor: pick([undefined, 3, 5]),
          access,
        });
      }
      checkAgainstEmulator(rules);
    }
  });

  it('checks the type, so a block device never matches a char rule', () => {
    const state: DeviceState = { defaultAllow: false, exceptions: [{ type: 'c', major: -1, minor: -1, access: ACC_ALL }] };
    const prog = compileDeviceFilter(state);
    expect(runProgram(prog.insns, 'c', 8, 0, ACC_READ)).toBe(1);
    expect(runProgram(prog.insns, 'b', 8, 0, ACC_READ)).toBe(0);
  });
});
