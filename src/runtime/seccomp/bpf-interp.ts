// A classic BPF interpreter for seccomp filters, with the kernel's load-time checks
// (net/core/filter.c bpf_check_classic, kernel/seccomp.c seccomp_check_filter). It answers "what would
// the kernel return for this system call?" without loading anything: used by the unit tests and handy
// for explaining a filter's decision.

import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_DIV, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET,
  BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MAXINSNS, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MUL, BPF_NEG, BPF_OR, BPF_RET,
  BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TXA, BPF_W, BPF_X, BPF_XOR, BpfInsn, SECCOMP_DATA_SIZE, decodeProgram,
} from './bpf';

/** The input of a filter: struct seccomp_data. Arguments are uint64 (bigint, or number up to 2^53). */
export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint | number;
  args?: Array<bigint | number>;
}

const BPF_MEMWORDS = 16;

/** Raise an Error when the kernel would refuse the program with EINVAL. */
export function checkSeccompProgram(program: Buffer | BpfInsn[]): void {
  const insns = Buffer.isBuffer(program) ? decodeProgram(program) : program;
  const n = insns.length;
  if (n === 0 || n > BPF_MAXINSNS) throw new Error(`program length ${n} is not 1..${BPF_MAXINSNS}`);
  insns.forEach((insn, pc) => {
    const { code, jt, jf, k } = insn;
    const cls = code & 0x07;
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k >= SECCOMP_DATA_SIZE || k % 4 !== 0) throw new Error(`${pc}: ld [${k}] is outside struct seccomp_data or unaligned`);
        return;
      case BPF_LD | BPF_W | BPF_LEN:
      case BPF_LDX | BPF_W | BPF_LEN:
      case BPF_LD | BPF_IMM:
      case BPF_LDX | BPF_IMM:
      case BPF_MISC | 0: // tax
      case BPF_MISC | BPF_TXA:
      case BPF_RET | 0:
      case BPF_RET | BPF_A:
        return;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (k >= BPF_MEMWORDS) throw new Error(`${pc}: scratch memory index ${k} out of range`);
        return;
      case BPF_JMP | BPF_JA:
        if (pc + 1 + k >= n) throw new Error(`${pc}: ja jumps past the end`);
        return;
    }
    if (cls === BPF_ALU) {
      const op = code & 0xf0;
      if (op === BPF_NEG) return;
      if (![BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH].includes(op)) {
        throw new Error(`${pc}: bad ALU opcode 0x${code.toString(16)}`);
      }
      if ((code & BPF_X) === 0 && (op === BPF_DIV || op === BPF_MOD) && k === 0) throw new Error(`${pc}: division by constant 0`);
      if ((code & BPF_X) === 0 && (op === BPF_LSH || op === BPF_RSH) && k >= 32) throw new Error(`${pc}: shift by ${k}`);
      return;
    }
    if (cls === BPF_JMP && [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET].includes(code & 0xf0)) {
      if (pc + 1 + jt >= n || pc + 1 + jf >= n) throw new Error(`${pc}: conditional jump past the end`);
      return;
    }
    throw new Error(`${pc}: opcode 0x${code.toString(16)} is not allowed in a seccomp filter`);
  });
  const last = insns[n - 1].code;
  if (last !== (BPF_RET | 0) && last !== (BPF_RET | BPF_A)) throw new Error('the program does not end with ret');
}

/** Build the 64 bytes of struct seccomp_data as a little-endian kernel lays them out. */
export function seccompDataBytes(data: SeccompData): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA_SIZE);
  buf.writeInt32LE(data.nr | 0, 0);
  buf.writeUInt32LE(data.arch >>> 0, 4);
  buf.writeBigUInt64LE(BigInt(data.instructionPointer ?? 0), 8);
  const args = data.args ?? [];
  for (let i = 0; i < 6; i++) buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(args[i] ?? 0)), 16 + 8 * i);
  return buf;
}

/** Run a (checked) seccomp filter over one system call; returns the SECCOMP_RET_* value. */
export function runSeccompFilter(program: Buffer | BpfInsn[], data: SeccompData): number {
  const insns = Buffer.isBuffer(program) ? decodeProgram(program) : program;
  checkSeccompProgram(insns);
  const mem = seccompDataBytes(data);
  const M = new Uint32Array(BPF_MEMWORDS);
  let A = 0;
  let X = 0;
  let pc = 0;
  for (;;) {
    const { code, jt, jf, k } = insns[pc];
    const cls = code & 0x07;
    switch (cls) {
      case BPF_LD:
      case BPF_LDX: {
        let v: number;
        switch (code & 0xe0) {
          case BPF_ABS:
            v = mem.readUInt32LE(k);
            break;
          case BPF_LEN:
            v = SECCOMP_DATA_SIZE;
            break;
          case BPF_MEM:
            v = M[k];
            break;
          default:
            v = k >>> 0;
        }
        if (cls === BPF_LD) A = v;
        else X = v;
        pc++;
        break;
      }
      case BPF_ST:
        M[k] = A;
        pc++;
        break;
      case BPF_STX:
        M[k] = X;
        pc++;
        break;
      case BPF_ALU: {
        const op = code & 0xf0;
        const b = code & BPF_X ? X : k >>> 0;
        switch (op) {
          case BPF_ADD: A = (A + b) >>> 0; break;
          case BPF_SUB: A = (A - b) >>> 0; break;
          case BPF_MUL: A = Number((BigInt(A) * BigInt(b)) & 0xffffffffn); break;
          case BPF_DIV: if (b === 0) return 0; A = Math.floor(A / b) >>> 0; break;
          case BPF_MOD: if (b === 0) return 0; A = (A % b) >>> 0; break;
          case BPF_AND: A = (A & b) >>> 0; break;
          case BPF_OR: A = (A | b) >>> 0; break;
          case BPF_XOR: A = (A ^ b) >>> 0; break;
          case BPF_LSH: A = b >= 32 ? 0 : (A << b) >>> 0; break;
          case BPF_RSH: A = b >= 32 ? 0 : A >>> b; break;
          case BPF_NEG: A = -A >>> 0; break;
        }
        pc++;
        break;
      }
      case BPF_JMP: {
        const op = code & 0xf0;
        if (op === BPF_JA) {
          pc += 1 + k;
          break;
        }
        const b = code & BPF_X ? X : k >>> 0;
        const cond = op === BPF_JEQ ? A === b : op === BPF_JGT ? A > b : op === BPF_JGE ? A >= b : (A & b) !== 0;
        pc += 1 + (cond ? jt : jf);
        break;
      }
      case BPF_RET:
        return (code & BPF_A ? A : k) >>> 0;
      case BPF_MISC:
        if ((code & 0xf8) === BPF_TXA) A = X;
        else X = A;
        pc++;
        break;
    }
  }
}
