// Classic BPF as seccomp uses it: opcodes (linux/bpf_common.h, linux/filter.h), seccomp return values
// (linux/seccomp.h) and the layout of struct seccomp_data that a filter reads.

export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;

export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;

export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;

export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;

export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_A = 0x10; // BPF_RVAL: return the accumulator

export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;

/** The kernel refuses longer programs (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
export const SOCK_FILTER_SIZE = 8;

// Seccomp filter return values. The high 16 bits select the action, the low 16 bits carry data.
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

// seccomp(2) SECCOMP_SET_MODE_FILTER flags.
export const SECCOMP_FILTER_FLAG_TSYNC = 1 << 0;
export const SECCOMP_FILTER_FLAG_LOG = 1 << 1;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
export const SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4;
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5;

// struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_IP = 8;
export const SECCOMP_DATA_ARGS = 16;
export const SECCOMP_DATA_SIZE = 64;

/** One struct sock_filter. */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export function encodeProgram(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * SOCK_FILTER_SIZE);
  insns.forEach((insn, i) => writeInsn(buf, i, insn.code, insn.jt, insn.jf, insn.k));
  return buf;
}

export function writeInsn(buf: Uint8Array, i: number, code: number, jt: number, jf: number, k: number): void {
  // Plain byte stores: Buffer's write*LE helpers validate every call, which shows on a cold start.
  const o = i * SOCK_FILTER_SIZE;
  buf[o] = code & 0xff;
  buf[o + 1] = (code >>> 8) & 0xff;
  buf[o + 2] = jt & 0xff;
  buf[o + 3] = jf & 0xff;
  buf[o + 4] = k & 0xff;
  buf[o + 5] = (k >>> 8) & 0xff;
  buf[o + 6] = (k >>> 16) & 0xff;
  buf[o + 7] = (k >>> 24) & 0xff;
}

export function decodeProgram(program: Buffer): BpfInsn[] {
  if (program.length % SOCK_FILTER_SIZE !== 0) {
    throw new RangeError(`a BPF program is a multiple of ${SOCK_FILTER_SIZE} bytes, got ${program.length}`);
  }
  const out: BpfInsn[] = [];
  for (let o = 0; o < program.length; o += SOCK_FILTER_SIZE) {
    out.push({ code: program.readUInt16LE(o), jt: program[o + 2], jf: program[o + 3], k: program.readUInt32LE(o + 4) });
  }
  return out;
}

/** Human name of a seccomp return value: ALLOW, ERRNO(1), TRACE(5), KILL_PROCESS, ... */
export function describeRet(ret: number): string {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_KILL_PROCESS:
      return 'KILL_PROCESS';
    case SECCOMP_RET_KILL_THREAD:
      return 'KILL_THREAD';
    case SECCOMP_RET_TRAP:
      return `TRAP(${data})`;
    case SECCOMP_RET_ERRNO:
      return `ERRNO(${data})`;
    case SECCOMP_RET_USER_NOTIF:
      return 'USER_NOTIF';
    case SECCOMP_RET_TRACE:
      return `TRACE(${data})`;
    case SECCOMP_RET_LOG:
      return 'LOG';
    case SECCOMP_RET_ALLOW:
      return 'ALLOW';
    default:
      return `0x${(ret >>> 0).toString(16).padStart(8, '0')}`;
  }
}
