// Readable listing of a classic BPF program, one instruction a line, in the spirit of bpf_dbg and
// libseccomp's pseudo-filter output:
//
//   0000: ld [4]
//   0001: jeq #0xc000003e jt 0002 jf 0042
//   0002: ld [0]
//   0003: jge #0x40000000 jt 0041 jf 0004
//   ...
//   0041: ret KILL_THREAD
//
// Jump targets are absolute line numbers; `ret` constants are decoded as seccomp actions.

import {
  BPF_A, BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_B, BPF_DIV, BPF_H, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT,
  BPF_JMP, BPF_JSET, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MSH, BPF_MUL, BPF_NEG, BPF_OR,
  BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TXA, BPF_X, BPF_XOR, SECCOMP_DATA_ARCH, SECCOMP_DATA_ARGS,
  SECCOMP_DATA_IP, SECCOMP_DATA_NR, SECCOMP_DATA_SIZE, decodeProgram, describeRet,
} from './bpf';

export interface DisassembleOptions {
  /** Add `; arch`, `; nr`, `; args[1].hi` ... after loads from seccomp_data (little-endian layout). */
  annotate?: boolean;
}

const ALU_NAMES: Record<number, string> = {
  [BPF_ADD]: 'add', [BPF_SUB]: 'sub', [BPF_MUL]: 'mul', [BPF_DIV]: 'div', [BPF_OR]: 'or', [BPF_AND]: 'and',
  [BPF_LSH]: 'lsh', [BPF_RSH]: 'rsh', [BPF_MOD]: 'mod', [BPF_XOR]: 'xor',
};
const JMP_NAMES: Record<number, string> = { [BPF_JEQ]: 'jeq', [BPF_JGT]: 'jgt', [BPF_JGE]: 'jge', [BPF_JSET]: 'jset' };

const hex = (k: number) => `#0x${(k >>> 0).toString(16)}`;
const line = (n: number) => n.toString().padStart(4, '0');

/** Name of the seccomp_data field at a byte offset (little-endian words). */
export function seccompDataField(offset: number): string | undefined {
  if (offset === SECCOMP_DATA_NR) return 'nr';
  if (offset === SECCOMP_DATA_ARCH) return 'arch';
  if (offset === SECCOMP_DATA_IP) return 'instruction_pointer.lo';
  if (offset === SECCOMP_DATA_IP + 4) return 'instruction_pointer.hi';
  if (offset >= SECCOMP_DATA_ARGS && offset < SECCOMP_DATA_SIZE && offset % 4 === 0) {
    const i = (offset - SECCOMP_DATA_ARGS) >> 3;
    return `args[${i}].${(offset - SECCOMP_DATA_ARGS) % 8 === 0 ? 'lo' : 'hi'}`;
  }
  return undefined;
}

function insnText(pc: number, code: number, jt: number, jf: number, k: number, annotate: boolean): string {
  const cls = code & 0x07;
  const size = code & 0x18;
  const mode = code & 0xe0;
  const suffix = size === BPF_H ? 'h' : size === BPF_B ? 'b' : '';
  switch (cls) {
    case BPF_LD:
    case BPF_LDX: {
      const op = cls === BPF_LD ? `ld${suffix}` : `ldx${suffix}`;
      switch (mode) {
        case BPF_IMM:
          return `${op} ${hex(k)}`;
        case BPF_ABS: {
          const field = annotate ? seccompDataField(k) : undefined;
          return `${op} [${k}]${field ? `  ; ${field}` : ''}`;
        }
        case BPF_IND:
          return `${op} [x + ${k}]`;
        case BPF_MEM:
          return `${op} M[${k}]`;
        case BPF_LEN:
          return `${op} #len`;
        case BPF_MSH:
          return `ldxb 4*([${k}]&0xf)`;
      }
      break;
    }
    case BPF_ST:
      return `st M[${k}]`;
    case BPF_STX:
      return `stx M[${k}]`;
    case BPF_ALU: {
      const op = code & 0xf0;
      if (op === BPF_NEG) return 'neg';
      const name = ALU_NAMES[op];
      if (name) return `${name} ${code & BPF_X ? 'x' : hex(k)}`;
      break;
    }
    case BPF_JMP: {
      const op = code & 0xf0;
      if (op === BPF_JA) return `ja ${line(pc + 1 + k)}`;
      const name = JMP_NAMES[op];
      if (name) return `${name} ${code & BPF_X ? 'x' : hex(k)} jt ${line(pc + 1 + jt)} jf ${line(pc + 1 + jf)}`;
      break;
    }
    case BPF_RET: {
      const src = code & 0x18;
      if (src === BPF_A) return 'ret a';
      if (src === BPF_X) return 'ret x';
      return `ret ${describeRet(k)}`;
    }
    case BPF_MISC:
      return (code & 0xf8) === BPF_TXA ? 'txa' : 'tax';
  }
  return `.insn code=0x${code.toString(16)} jt=${jt} jf=${jf} k=0x${(k >>> 0).toString(16)}`;
}

/** One line per instruction: `0001: jeq #0xc000003e jt 0002 jf 0042`. */
export function disassemble(program: Buffer, opts: DisassembleOptions = {}): string {
  return decodeProgram(program)
    .map((insn, pc) => `${line(pc)}: ${insnText(pc, insn.code, insn.jt, insn.jf, insn.k, opts.annotate === true)}`)
    .join('\n');
}
