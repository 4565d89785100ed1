// A classic BPF assembler that emits a program backwards, from its last instruction to its first.
//
// Seccomp filters only jump forwards, so when a jump is emitted every instruction it can reach is
// already placed, and its offset is known at once: no second pass, no fix-ups. A label is the position
// of an instruction counted from the end of the program. Conditional jumps carry 8-bit offsets; when a
// target lies more than 255 instructions ahead, the assembler places a `ja` trampoline (32-bit offset)
// right after the jump and aims the jump at it. libseccomp's gen_bpf.c builds its programs the same
// way round.

import { BPF_ABS, BPF_ALU, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SOCK_FILTER_SIZE, writeInsn } from './bpf';

/** Position of an instruction counted from the end of the program (0 = last instruction). */
export type Label = number;

const MAX_JUMP = 255;
/** A `ret` already emitted is reused while it is this close; farther away a fresh copy is cheaper than a trampoline. */
const RET_REUSE_DISTANCE = 192;

export class ReverseAssembler {
  private codes: number[] = [];
  private jts: number[] = [];
  private jfs: number[] = [];
  private ks: number[] = [];
  private rets = new Map<number, Label>();

  /** Number of instructions emitted so far. */
  get length(): number {
    return this.codes.length;
  }

  /** Label of the instruction emitted last, i.e. the one that follows the next instruction emitted. */
  get next(): Label {
    if (this.codes.length === 0) throw new Error('assembler: no instruction emitted yet');
    return this.codes.length - 1;
  }

  private push(code: number, jt: number, jf: number, k: number): Label {
    this.codes.push(code);
    this.jts.push(jt);
    this.jfs.push(jf);
    this.ks.push(k >>> 0);
    return this.codes.length - 1;
  }

  /** Offset of a jump placed at the next position to `target`. */
  private offsetTo(target: Label): number {
    const off = this.codes.length - target - 1;
    if (off < 0) throw new Error(`assembler: label ${target} is not ahead of the jump`);
    return off;
  }

  /** `ret #k`, shared with an earlier identical `ret` when that one is near enough. */
  ret(k: number): Label {
    k >>>= 0;
    const seen = this.rets.get(k);
    if (seen !== undefined && this.codes.length - seen - 1 <= RET_REUSE_DISTANCE) return seen;
    const label = this.push(BPF_RET | BPF_K, 0, 0, k);
    this.rets.set(k, label);
    return label;
  }

  /** `ld [offset]`: 32-bit load from seccomp_data. */
  load(offset: number): Label {
    return this.push(BPF_LD | BPF_W | BPF_ABS, 0, 0, offset);
  }

  /** ALU operation with a constant operand (e.g. BPF_AND). */
  alu(op: number, k: number): Label {
    return this.push(BPF_ALU | op | BPF_K, 0, 0, k);
  }

  /** Unconditional jump; nothing is emitted when the target is the next instruction anyway. */
  jump(target: Label): Label {
    if (this.codes.length > 0 && target === this.codes.length - 1) return target;
    return this.push(BPF_JMP | BPF_JA, 0, 0, this.offsetTo(target));
  }

  /** `j<op> #k, jt, jf` (op is BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET). */
  branch(op: number, k: number, jt: Label, jf: Label): Label {
    if (jt === jf) return this.jump(jt);
    // Far targets go through `ja` trampolines placed right after the branch. The false one is placed
    // first so that both end up within reach (offsets 0 and 1 in the worst case).
    if (this.offsetTo(jf) > MAX_JUMP) jf = this.push(BPF_JMP | BPF_JA, 0, 0, this.offsetTo(jf));
    if (this.offsetTo(jt) > MAX_JUMP) jt = this.push(BPF_JMP | BPF_JA, 0, 0, this.offsetTo(jt));
    if (this.offsetTo(jf) > MAX_JUMP) jf = this.push(BPF_JMP | BPF_JA, 0, 0, this.offsetTo(jf));
    return this.push(BPF_JMP | op | BPF_K, this.offsetTo(jt), this.offsetTo(jf), k);
  }

  /** The program in execution order, as struct sock_filter[]. */
  assemble(): Buffer {
    const n = this.codes.length;
    const buf = Buffer.alloc(n * SOCK_FILTER_SIZE);
    for (let e = 0; e < n; e++) writeInsn(buf, n - 1 - e, this.codes[e], this.jts[e], this.jfs[e], this.ks[e]);
    return buf;
  }
}
