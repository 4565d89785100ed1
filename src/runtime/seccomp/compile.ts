// The seccomp compiler: OCI `linux.seccomp` → classic BPF program for seccomp(SECCOMP_SET_MODE_FILTER).
//
// Shape of the program (see disassemble() for a listing):
//
//   ld [4]                              seccomp_data.arch
//   jeq #AUDIT_ARCH_1 → section 1       one test per architecture of the filter
//   jeq #AUDIT_ARCH_2 → section 2
//   ret KILL_THREAD                     any other architecture ("bad arch")
//   section:  ld [0]                    seccomp_data.nr
//             binary search over ranges of syscall numbers (jge), each range ending in either a
//             `ret` (default action, a rule's action, ENOSYS, bad arch) or a syscall's argument rules
//
// Semantics, matching runc (libseccomp + runc's -ENOSYS patch, libcontainer/seccomp/patchbpf):
// - The native architecture is always in the filter, the listed ones are added. A process of any other
//   architecture is killed (SECCOMP_RET_KILL_THREAD: libseccomp's default bad-arch action, which runc
//   does not change).
// - x86_64 and x32 share AUDIT_ARCH_X86_64; x32 calls have bit 30 set in nr. Numbers at or above
//   0x40000000 are the x32 ABI: with x32 not in the filter they take the bad-arch action (libseccomp
//   does the same), and x86_64 rules never match them; with only x32, x86_64 numbers are the bad arch.
// - Rules are merged per syscall as runc and libseccomp do: a rule whose action is the default action
//   is dropped (runc skips it; its names still count for the ENOSYS rule below); the first rule without
//   argument conditions decides the syscall, and then conditional rules for it are ignored, before or
//   after it (libseccomp keeps the widest rule); otherwise the conditional rules are tried in the order
//   given, the first whose conditions all hold (AND) decides, else the default action. Several
//   conditional rules with one action therefore act as an OR.
// - Argument values are uint64 and compared unsigned, high word then low word. On 32-bit ABIs (x86, x32,
//   arm) only the low 32 bits are compared, as libseccomp does.
// - Unknown syscall names are skipped (reported in `skipped`), as runc does.
// - No `flags` in the section: SECCOMP_FILTER_FLAG_SPEC_ALLOW, as runc (>= 1.1.5) and crun do.
// - runc's -ENOSYS rule: unless the default action is ALLOW or LOG, a syscall numbered above the highest
//   one the profile names (per ABI) returns ENOSYS instead of the default action, so that programs fall
//   back from syscalls newer than the profile (clone3 → clone). `enosys: false` turns this off.

import { SkiffError } from '../errors';
import { Abi, abiByName, nativeAbi, syscallTable } from './arches';
import { Label, ReverseAssembler } from './assembler';
import {
  BPF_AND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET, BPF_MAXINSNS, SECCOMP_DATA_ARCH, SECCOMP_DATA_ARGS, SECCOMP_DATA_NR,
  SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF, SOCK_FILTER_SIZE,
} from './bpf';
import type { CompiledSeccomp, LinuxSeccomp, LinuxSeccompArg, SeccompOperator } from './types';

export interface CompileOptions {
  /** Architecture of the machine the filter is for: x86_64 (default on this host), aarch64, ... */
  nativeArch?: string;
  /** runc's -ENOSYS for syscalls newer than the profile (default true; see above). */
  enosys?: boolean;
  /**
   * Flags when the section has no `flags` at all (an empty list means none): runc and crun then use
   * SECCOMP_FILTER_FLAG_SPEC_ALLOW, so that seccomp does not force the Speculative Store Bypass
   * mitigation (a large slowdown of interpreters). Default SPEC_ALLOW; kernels before 4.17 refuse it,
   * a loader there retries without.
   */
  flagsWhenUnset?: number;
}

const EPERM = 1;
const ENOSYS = 38;
/** libseccomp's default bad-architecture action, kept by runc. */
export const BAD_ARCH_RET = SECCOMP_RET_KILL_THREAD;

const FLAG_BITS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG_SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
};

const seccompError = (code: string, message: string) => new SkiffError('seccomp', code, `seccomp: ${message}`);

/** The SECCOMP_RET_* value of an OCI action. */
export function actionRet(action: string, errnoRet: number | undefined, where: string): number {
  const data = (): number => {
    if (errnoRet === undefined || errnoRet === null) return EPERM; // runc's default for ERRNO and TRACE
    if (!Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > 0xffff) {
      throw seccompError('EINVAL', `${where}: errnoRet ${errnoRet} is not a number from 0 to 65535`);
    }
    return errnoRet;
  };
  const noData = (ret: number): number => {
    if (errnoRet !== undefined && errnoRet !== null) {
      throw seccompError('EINVAL', `${where}: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${action}`);
    }
    return ret;
  };
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return noData(SECCOMP_RET_KILL_THREAD);
    case 'SCMP_ACT_KILL_PROCESS':
      return noData(SECCOMP_RET_KILL_PROCESS);
    case 'SCMP_ACT_TRAP':
      return noData(SECCOMP_RET_TRAP);
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET_ERRNO | data()) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET_TRACE | data()) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return noData(SECCOMP_RET_ALLOW);
    case 'SCMP_ACT_LOG':
      return noData(SECCOMP_RET_LOG);
    case 'SCMP_ACT_NOTIFY':
      return noData(SECCOMP_RET_USER_NOTIF);
    default:
      throw seccompError('EINVAL', `${where}: unknown action ${JSON.stringify(action)}`);
  }
}

const U64_MAX = (1n << 64n) - 1n;

function toU64(v: number | bigint | undefined, where: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw seccompError('EINVAL', `${where}: ${v} is not a uint64`);
    return v;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw seccompError('EINVAL', `${where}: ${v} is not a uint64`);
  // JSON numbers above 2^53 arrive rounded; 2^64-1 rounds up to 2^64, which can only have meant 2^64-1.
  const b = BigInt(v);
  if (b > U64_MAX + 1n) throw seccompError('EINVAL', `${where}: ${v} is not a uint64`);
  return b > U64_MAX ? U64_MAX : b;
}

type Op = 'NE' | 'LT' | 'LE' | 'EQ' | 'GE' | 'GT' | 'MASKED_EQ';

interface Cmp {
  index: number;
  op: Op;
  /** For MASKED_EQ the mask, else the value compared with. */
  value: bigint;
  /** For MASKED_EQ the expected masked value. */
  datum: bigint;
}

const OPS: Record<SeccompOperator, Op> = {
  SCMP_CMP_NE: 'NE', SCMP_CMP_LT: 'LT', SCMP_CMP_LE: 'LE', SCMP_CMP_EQ: 'EQ',
  SCMP_CMP_GE: 'GE', SCMP_CMP_GT: 'GT', SCMP_CMP_MASKED_EQ: 'MASKED_EQ',
};

function parseArg(arg: LinuxSeccompArg, where: string): Cmp {
  const op = OPS[arg.op as SeccompOperator];
  if (!op) throw seccompError('EINVAL', `${where}: unknown operator ${JSON.stringify(arg.op)}`);
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) {
    throw seccompError('EINVAL', `${where}: argument index ${arg.index} is not 0 to 5`);
  }
  return { index: arg.index, op, value: toU64(arg.value, `${where} value`), datum: toU64(arg.valueTwo, `${where} valueTwo`) };
}

interface Rule {
  cmps: Cmp[];
  ret: number;
}

/** What one syscall number does in one ABI. */
interface SyscallPlan {
  conditional: Rule[];
  /** Action of the first rule without conditions; it overrides the conditional rules. */
  unconditional?: number;
  /** Name of the syscall, for messages. */
  name: string;
}

interface AbiPlan {
  abi: Abi;
  table: Map<string, number>;
  syscalls: Map<number, SyscallPlan>;
  maxNr: number;
}

/** A range of syscall numbers [lo, hi] with one outcome: a `ret` value or a syscall's rules. */
interface Segment {
  lo: number;
  hi: number;
  ret?: number;
  plan?: SyscallPlan;
  abi: Abi;
}

export function compileSeccomp(seccomp: LinuxSeccomp, opts: CompileOptions = {}): CompiledSeccomp {
  if (!seccomp || typeof seccomp !== 'object') throw seccompError('EINVAL', 'the seccomp section is not an object');
  const defaultRet = actionRet(seccomp.defaultAction, seccomp.defaultErrnoRet ?? undefined, 'defaultAction');
  let needsListener = seccomp.defaultAction === 'SCMP_ACT_NOTIFY';

  // Architectures: the native one first, then the listed ones.
  const abis: Abi[] = [nativeAbi(opts.nativeArch)];
  for (const name of seccomp.architectures ?? []) {
    const abi = abiByName(name);
    if (!abis.includes(abi)) abis.push(abi);
  }

  let flags = seccomp.flags === undefined || seccomp.flags === null ? (opts.flagsWhenUnset ?? SECCOMP_FILTER_FLAG_SPEC_ALLOW) : 0;
  for (const f of seccomp.flags ?? []) {
    const bit = FLAG_BITS[f];
    if (bit === undefined) throw seccompError('EINVAL', `unknown flag ${JSON.stringify(f)}`);
    flags |= bit;
  }

  const plans: AbiPlan[] = abis.map((abi) => ({ abi, table: syscallTable(abi), syscalls: new Map(), maxNr: -1 }));
  const skipped: string[] = [];
  const seenSkipped = new Set<string>();

  const rules = seccomp.syscalls ?? [];
  for (let i = 0; i < rules.length; i++) {
    const sc = rules[i];
    if (!sc || !Array.isArray(sc.names) || sc.names.length === 0) throw seccompError('EINVAL', `syscalls[${i}]: names is empty`);
    const ret = actionRet(sc.action, sc.errnoRet ?? undefined, `syscalls[${i}]`);
    if (sc.action === 'SCMP_ACT_NOTIFY') needsListener = true;
    const cmps = sc.args && sc.args.length > 0 ? sc.args.map((a, j) => parseArg(a, `syscalls[${i}].args[${j}]`)) : undefined;
    // runc drops a rule that repeats the default action (libseccomp refuses it).
    const redundant = ret === defaultRet;
    for (const name of sc.names) {
      let known = false;
      for (const p of plans) {
        const nr = p.table.get(name);
        if (nr === undefined) continue;
        known = true;
        if (nr > p.maxNr) p.maxNr = nr;
        if (redundant) continue;
        let plan = p.syscalls.get(nr);
        if (!plan) p.syscalls.set(nr, (plan = { conditional: [], name }));
        if (cmps && hasRepeatedArg(cmps)) for (const c of cmps) plan.conditional.push({ cmps: [c], ret });
        else if (cmps) plan.conditional.push({ cmps, ret });
        else if (plan.unconditional === undefined) plan.unconditional = ret; // the first one wins
      }
      if (!known && !seenSkipped.has(name)) {
        seenSkipped.add(name);
        skipped.push(name);
      }
    }
  }

  if (needsListener) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // TSYNC and NEW_LISTENER both want the return value; the kernel accepts them together only with
    // TSYNC_ESRCH (a failed sync then reports ESRCH), which libseccomp adds in this case too.
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }

  const enosys = opts.enosys !== false && defaultRet !== SECCOMP_RET_ALLOW && defaultRet !== SECCOMP_RET_LOG;
  const enosysRet = (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;

  // One section per audit arch; x86_64 and x32 share theirs.
  const sections = new Map<number, AbiPlan[]>();
  for (const p of plans) {
    const list = sections.get(p.abi.auditArch) ?? [];
    list.push(p);
    sections.set(p.abi.auditArch, list);
  }

  const asm = new ReverseAssembler();
  const sectionLabels: Array<[number, Label]> = [];
  for (const [auditArch, list] of [...sections].reverse()) {
    const segments = buildSegments(list, defaultRet, enosys ? enosysRet : undefined);
    const root = emitTree(asm, segments, 0, segments.length - 1, defaultRet);
    // The tree compares the accumulator with nr; when it is a single outcome, nr is not needed.
    const entry = segments.length > 1 || segments[0].plan ? (emitLoadBefore(asm, root, SECCOMP_DATA_NR)) : root;
    sectionLabels.unshift([auditArch, entry]);
  }
  let next = asm.ret(BAD_ARCH_RET);
  for (const [auditArch, label] of [...sectionLabels].reverse()) next = asm.branch(BPF_JEQ, auditArch, label, next);
  emitLoadBefore(asm, next, SECCOMP_DATA_ARCH);

  const program = asm.assemble();
  const count = program.length / SOCK_FILTER_SIZE;
  if (count > BPF_MAXINSNS) {
    throw seccompError('E2BIG', `the filter needs ${count} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}`);
  }
  return { program, flags, needsListener, skipped };
}

/**
 * Several comparisons of one argument in a rule: runc then adds each comparison of the rule as a
 * rule of its own (libseccomp cannot AND two conditions on one argument), so they are OR'ed, and
 * profiles rely on it (e.g. ENOSYS for clone3 or for either of two flag values).
 */
function hasRepeatedArg(cmps: readonly { index: number }[]): boolean {
  const seen = new Set<number>();
  for (const c of cmps) {
    if (seen.has(c.index)) return true;
    seen.add(c.index);
  }
  return false;
}

/** Emit `ld [offset]` so that it runs right before `label`. */
function emitLoadBefore(asm: ReverseAssembler, label: Label, offset: number): Label {
  asm.jump(label);
  return asm.load(offset);
}

/** Cover the 32-bit number space of one audit arch with segments, merged where the outcome is the same. */
function buildSegments(list: AbiPlan[], defaultRet: number, enosysRet: number | undefined): Segment[] {
  const out: Segment[] = [];
  // Called once per syscall of the profile: no allocation when the range extends the previous one.
  const add = (lo: number, hi: number, ret: number | undefined, plan: SyscallPlan | undefined, abi: Abi) => {
    if (lo > hi) return;
    const last = out.length > 0 ? out[out.length - 1] : undefined;
    if (last !== undefined && ret !== undefined && last.ret === ret && last.hi + 1 === lo) last.hi = hi;
    else out.push({ lo, hi, ret, plan, abi });
  };
  const sorted = list.length > 1 ? [...list].sort((a, b) => a.abi.nrMin - b.abi.nrMin) : list;
  let cursor = 0;
  for (const p of sorted) {
    const { abi, syscalls } = p;
    // Numbers between ABIs of one audit arch (only x86_64/x32 share one) belong to an ABI not in the filter.
    add(cursor, abi.nrMin - 1, BAD_ARCH_RET, undefined, abi);
    let at = abi.nrMin;
    const nrs = Uint32Array.from(syscalls.keys()).sort(); // numeric sort, no comparator calls
    for (let i = 0; i < nrs.length; i++) {
      const nr = nrs[i];
      add(at, nr - 1, defaultRet, undefined, abi);
      const plan = syscalls.get(nr)!;
      if (plan.unconditional !== undefined || plan.conditional.length === 0) add(nr, nr, plan.unconditional ?? defaultRet, undefined, abi);
      else add(nr, nr, undefined, plan, abi);
      at = nr + 1;
    }
    add(at, abi.nrMax, enosysRet !== undefined && p.maxNr >= 0 ? enosysRet : defaultRet, undefined, abi);
    cursor = abi.nrMax + 1;
  }
  if (cursor <= 0xffffffff) add(cursor, 0xffffffff, BAD_ARCH_RET, undefined, sorted[sorted.length - 1].abi);
  return out;
}

/** Binary search over segments[i..j] on the accumulator (nr): one `jge` per inner node. */
function emitTree(asm: ReverseAssembler, segs: Segment[], i: number, j: number, defaultRet: number): Label {
  if (i === j) return emitOutcome(asm, segs[i], defaultRet);
  const m = (i + j + 1) >> 1;
  const right = emitTree(asm, segs, m, j, defaultRet);
  const left = emitTree(asm, segs, i, m - 1, defaultRet);
  return asm.branch(BPF_JGE, segs[m].lo, right, left);
}

function emitOutcome(asm: ReverseAssembler, seg: Segment, defaultRet: number): Label {
  if (!seg.plan) return asm.ret(seg.ret!);
  const fallbackRet = defaultRet; // a syscall with an unconditional rule never gets here
  const rules = [...seg.plan.conditional];
  // Trailing rules that end where the fallback ends change nothing.
  while (rules.length > 0 && rules[rules.length - 1].ret === fallbackRet) rules.pop();
  let next = asm.ret(fallbackRet);
  for (let r = rules.length - 1; r >= 0; r--) {
    const rule = rules[r];
    let pass = asm.ret(rule.ret);
    const fail = next;
    for (let c = rule.cmps.length - 1; c >= 0; c--) pass = emitCmp(asm, seg.abi, rule.cmps[c], pass, fail);
    next = pass;
  }
  return next;
}

const WORD = 0xffffffff;

/**
 * Emit the test of one argument comparison: continue at `t` when it holds, at `f` when not. Returns the
 * label of its first instruction (or of `t`/`f` when the outcome does not depend on the argument).
 */
function emitCmp(asm: ReverseAssembler, abi: Abi, cmp: Cmp, t: Label, f: Label): Label {
  const base = SECCOMP_DATA_ARGS + 8 * cmp.index;
  const loOff = abi.bigEndian ? base + 4 : base;
  const hiOff = abi.bigEndian ? base : base + 4;
  const vl = Number(cmp.value & 0xffffffffn);
  const vh = Number(cmp.value >> 32n);
  const dl = Number(cmp.datum & 0xffffffffn);
  const dh = Number(cmp.datum >> 32n);

  // Emits the test of one 32-bit word (preceded by its load) unless the outcome is already known.
  const word = (offset: number, build: () => Label): Label => {
    const before = asm.length;
    const label = build();
    return asm.length === before ? label : emitLoadBefore(asm, label, offset);
  };

  // Low word: the final decision once the high words are equal.
  let lo: Label;
  switch (cmp.op) {
    case 'EQ':
      lo = word(loOff, () => asm.branch(BPF_JEQ, vl, t, f));
      break;
    case 'NE':
      lo = word(loOff, () => asm.branch(BPF_JEQ, vl, f, t));
      break;
    case 'GT':
      lo = vl === WORD ? f : word(loOff, () => asm.branch(BPF_JGT, vl, t, f));
      break;
    case 'GE':
      lo = vl === 0 ? t : word(loOff, () => asm.branch(BPF_JGE, vl, t, f));
      break;
    case 'LT':
      lo = vl === 0 ? f : word(loOff, () => asm.branch(BPF_JGE, vl, f, t));
      break;
    case 'LE':
      lo = vl === WORD ? t : word(loOff, () => asm.branch(BPF_JGT, vl, f, t));
      break;
    case 'MASKED_EQ':
      lo = maskedWord(asm, loOff, vl, dl, t, f, word);
      break;
  }
  if (abi.bits === 32) return lo;

  // High word: decides unless equal to the value's high word, then the low word decides.
  switch (cmp.op) {
    case 'EQ':
      return word(hiOff, () => asm.branch(BPF_JEQ, vh, lo, f));
    case 'NE':
      return word(hiOff, () => asm.branch(BPF_JEQ, vh, lo, t));
    case 'GT':
    case 'GE':
      return word(hiOff, () => {
        if (vh === WORD) return asm.branch(BPF_JEQ, vh, lo, f);
        if (vh === 0) return asm.branch(BPF_JGT, 0, t, lo);
        const eq = asm.branch(BPF_JEQ, vh, lo, f);
        return asm.branch(BPF_JGT, vh, t, eq);
      });
    case 'LT':
    case 'LE':
      return word(hiOff, () => {
        if (vh === WORD) return asm.branch(BPF_JEQ, vh, lo, t);
        if (vh === 0) return asm.branch(BPF_JGT, 0, f, lo);
        const eq = asm.branch(BPF_JEQ, vh, lo, t);
        return asm.branch(BPF_JGT, vh, f, eq);
      });
    case 'MASKED_EQ':
      return maskedWord(asm, hiOff, vh, dh, lo, f, word);
  }
}

/** (word & mask) == datum for one 32-bit word. */
function maskedWord(
  asm: ReverseAssembler, offset: number, mask: number, datum: number, t: Label, f: Label,
  word: (offset: number, build: () => Label) => Label,
): Label {
  if ((datum & ~mask) !== 0) return f; // bits outside the mask can never be set after masking
  if (mask === 0) return t; // datum is 0 here
  if (datum === 0) return word(offset, () => asm.branch(BPF_JSET, mask, f, t));
  if (mask === WORD) return word(offset, () => asm.branch(BPF_JEQ, datum, t, f));
  return word(offset, () => {
    asm.branch(BPF_JEQ, datum, t, f);
    return asm.alu(BPF_AND, mask); // runs right before the branch just emitted
  });
}
