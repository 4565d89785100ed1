// The cgroup v2 device filter: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE generated here
// from the emulated v1 state (devices.ts), in the spirit of runc's devicefilter.go and crun's
// ebpf.c. The addon only loads and attaches the bytes (addon/bpf.c).
//
// The program receives struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } in R1,
// where access_type = (access << 16) | type, with type BPF_DEVCG_DEV_BLOCK=1 / _CHAR=2 and access
// bits BPF_DEVCG_ACC_MKNOD=1 / _READ=2 / _WRITE=4 (the same bits as devices.ts). It returns 1 to
// allow and 0 to deny (the kernel turns 0 into EPERM).
//
//   r2 = ctx->access_type & 0xffff     ; type
//   r3 = ctx->access_type >> 16        ; requested access
//   r4 = ctx->major
//   r5 = ctx->minor
//   for each exception (all carry the verdict opposite to the default):
//     if r2 != type goto next
//     allow-exception (default deny):  if (r3 & access) != r3 goto next   ; request ⊆ access
//     deny-exception (default allow):  if (r3 & access) == 0 goto next    ; request ∩ access ≠ ∅
//     if r4 != major goto next         ; omitted for a wildcard
//     if r5 != minor goto next         ; omitted for a wildcard
//     r0 = verdict; exit
//   next: ...
//   r0 = default; exit
//
// The access test differs with the verdict on purpose: it is what the v1 kernel does
// (match_exception vs match_exception_partial), so a deny of "w" also denies an O_RDWR open.

import { ACC_ALL, accessString, type DeviceState } from './devices';

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
export const OP = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32_K: 0xb4, // BPF_ALU | BPF_MOV | BPF_K
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  JNE_X: 0x5d, // BPF_JMP | BPF_JNE | BPF_X
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

export const LICENSE = 'Apache';

/** Program instructions for a device state. Jump offsets are resolved (relative to the next insn). */
export function deviceFilterInstructions(state: DeviceState): BpfInsn[] {
  const insns: BpfInsn[] = [];
  const emit = (code: number, dst = 0, src = 0, off = 0, imm = 0) => insns.push({ code, dst, src, off, imm });
  emit(OP.LDXW, 2, 1, 0);
  emit(OP.AND32_K, 2, 0, 0, 0xffff);
  emit(OP.LDXW, 3, 1, 0);
  emit(OP.RSH32_K, 3, 0, 0, 16);
  emit(OP.LDXW, 4, 1, 4);
  emit(OP.LDXW, 5, 1, 8);

  const verdict = state.defaultAllow ? 0 : 1;
  for (const ex of state.exceptions) {
    // Jumps to the next block are emitted with a placeholder and patched once the block's end is known.
    const toPatch: number[] = [];
    const jumpNext = (code: number, dst: number, src: number, imm: number) => {
      toPatch.push(insns.length);
      emit(code, dst, src, 0, imm);
    };
    jumpNext(OP.JNE_K, 2, 0, ex.type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    if (verdict === 1) {
      if ((ex.access & ACC_ALL) !== ACC_ALL) {
        emit(OP.MOV32_X, 1, 3);
        emit(OP.AND32_K, 1, 0, 0, ex.access);
        jumpNext(OP.JNE_X, 1, 3, 0);
      }
    } else {
      emit(OP.MOV32_X, 1, 3);
      emit(OP.AND32_K, 1, 0, 0, ex.access);
      jumpNext(OP.JEQ_K, 1, 0, 0);
    }
    if (ex.major >= 0) jumpNext(OP.JNE_K, 4, 0, ex.major);
    if (ex.minor >= 0) jumpNext(OP.JNE_K, 5, 0, ex.minor);
    emit(OP.MOV32_K, 0, 0, 0, verdict);
    emit(OP.EXIT);
    const next = insns.length;
    for (const i of toPatch) insns[i].off = next - (i + 1);
  }
  emit(OP.MOV32_K, 0, 0, 0, state.defaultAllow ? 1 : 0);
  emit(OP.EXIT);
  return insns;
}

/** struct bpf_insn[] as bytes: u8 code; u8 dst:4, src:4; s16 off; s32 imm (little-endian host). */
export function encodeInstructions(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    const o = i * 8;
    buf.writeUInt8(ins.code, o);
    buf.writeUInt8(((ins.src & 0xf) << 4) | (ins.dst & 0xf), o + 1);
    buf.writeInt16LE(ins.off, o + 2);
    buf.writeInt32LE(ins.imm | 0, o + 4);
  });
  return buf;
}

export function decodeInstructions(buf: Buffer): BpfInsn[] {
  const out: BpfInsn[] = [];
  for (let o = 0; o + 8 <= buf.length; o += 8) {
    const regs = buf.readUInt8(o + 1);
    out.push({ code: buf.readUInt8(o), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(o + 2), imm: buf.readInt32LE(o + 4) });
  }
  return out;
}

/** Human-readable listing (for tests and `--debug`), one instruction per line. */
export function disassemble(insns: readonly BpfInsn[]): string {
  return insns
    .map((ins, i) => {
      const r = (n: number) => `r${n}`;
      const target = () => i + 1 + ins.off;
      let text: string;
      switch (ins.code) {
        case OP.LDXW:
          text = `${r(ins.dst)} = *(u32 *)(${r(ins.src)} + ${ins.off})`;
          break;
        case OP.AND32_K:
          text = `w${ins.dst} &= 0x${(ins.imm >>> 0).toString(16)}`;
          break;
        case OP.RSH32_K:
          text = `w${ins.dst} >>= ${ins.imm}`;
          break;
        case OP.MOV32_K:
          text = `w${ins.dst} = ${ins.imm}`;
          break;
        case OP.MOV32_X:
          text = `w${ins.dst} = w${ins.src}`;
          break;
        case OP.JEQ_K:
          text = `if ${r(ins.dst)} == ${ins.imm} goto ${target()}`;
          break;
        case OP.JNE_K:
          text = `if ${r(ins.dst)} != ${ins.imm} goto ${target()}`;
          break;
        case OP.JNE_X:
          text = `if ${r(ins.dst)} != ${r(ins.src)} goto ${target()}`;
          break;
        case OP.EXIT:
          text = 'exit';
          break;
        default:
          text = `.insn 0x${ins.code.toString(16)} dst=${ins.dst} src=${ins.src} off=${ins.off} imm=${ins.imm}`;
      }
      return `${String(i).padStart(3, ' ')}: ${text}`;
    })
    .join('\n');
}

export interface DeviceFilterProgram {
  insns: BpfInsn[];
  bytes: Buffer;
  license: string;
  /** One line per exception, e.g. "allow c 1:3 rwm", for messages. */
  summary: string[];
}

export function compileDeviceFilter(state: DeviceState): DeviceFilterProgram {
  const insns = deviceFilterInstructions(state);
  const verdict = state.defaultAllow ? 'deny' : 'allow';
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return {
    insns,
    bytes: encodeInstructions(insns),
    license: LICENSE,
    summary: [
      `default ${state.defaultAllow ? 'allow' : 'deny'}`,
      ...state.exceptions.map((e) => `${verdict} ${e.type} ${n(e.major)}:${n(e.minor)} ${accessString(e.access)}`),
    ],
  };
}
