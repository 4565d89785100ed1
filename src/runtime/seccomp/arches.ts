// Architectures the compiler knows: the SCMP_ARCH_* name, the AUDIT_ARCH_* value the kernel puts in
// seccomp_data.arch (linux/audit.h: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE), and how system call
// numbers and arguments look in that ABI.

import { SkiffError } from '../errors';
import type { SeccompArch } from './types';
import { AARCH64 } from './tables/aarch64';
import { ARM } from './tables/arm';
import { RISCV64 } from './tables/riscv64';
import { X32 } from './tables/x32';
import { X86 } from './tables/x86';
import { X86_64 } from './tables/x86_64';

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
export const AUDIT_ARCH_ARM = 0x40000028;
export const AUDIT_ARCH_RISCV64 = 0xc00000f3;

/** x32 system calls are x86_64 ones with this bit set in seccomp_data.nr (and AUDIT_ARCH_X86_64). */
export const X32_SYSCALL_BIT = 0x40000000;

/** One system call ABI. x86_64 and x32 share an audit arch and split the number space at X32_SYSCALL_BIT. */
export interface Abi {
  name: SeccompArch;
  /** Short name used in messages and Docker profiles' `arches` (Go's GOARCH spelling where one exists). */
  short: string;
  auditArch: number;
  /** Range of seccomp_data.nr values that belong to this ABI under its audit arch. */
  nrMin: number;
  nrMax: number;
  /**
   * Word size of the ABI. On 32-bit ABIs (x86, x32, arm) libseccomp compares only the low 32 bits of an
   * argument, and so do we: their arguments are 32-bit values, the kernel zero-extends them.
   */
  bits: 32 | 64;
  /** Argument words in seccomp_data are in the kernel's byte order; every ABI here is little-endian. */
  bigEndian: boolean;
  /** The table source (a lazily parsed string) and the number added to each entry. */
  table: () => string;
  tableBase: number;
}

const ABIS: Record<string, Abi> = {
  SCMP_ARCH_X86_64: {
    name: 'SCMP_ARCH_X86_64', short: 'amd64', auditArch: AUDIT_ARCH_X86_64, nrMin: 0, nrMax: X32_SYSCALL_BIT - 1,
    bits: 64, bigEndian: false, table: () => X86_64, tableBase: 0,
  },
  SCMP_ARCH_X32: {
    name: 'SCMP_ARCH_X32', short: 'x32', auditArch: AUDIT_ARCH_X86_64, nrMin: X32_SYSCALL_BIT, nrMax: 0xffffffff,
    bits: 32, bigEndian: false, table: () => X32, tableBase: X32_SYSCALL_BIT,
  },
  SCMP_ARCH_X86: {
    name: 'SCMP_ARCH_X86', short: 'x86', auditArch: AUDIT_ARCH_I386, nrMin: 0, nrMax: 0xffffffff,
    bits: 32, bigEndian: false, table: () => X86, tableBase: 0,
  },
  SCMP_ARCH_AARCH64: {
    name: 'SCMP_ARCH_AARCH64', short: 'arm64', auditArch: AUDIT_ARCH_AARCH64, nrMin: 0, nrMax: 0xffffffff,
    bits: 64, bigEndian: false, table: () => AARCH64, tableBase: 0,
  },
  SCMP_ARCH_ARM: {
    name: 'SCMP_ARCH_ARM', short: 'arm', auditArch: AUDIT_ARCH_ARM, nrMin: 0, nrMax: 0xffffffff,
    bits: 32, bigEndian: false, table: () => ARM, tableBase: 0,
  },
  SCMP_ARCH_RISCV64: {
    name: 'SCMP_ARCH_RISCV64', short: 'riscv64', auditArch: AUDIT_ARCH_RISCV64, nrMin: 0, nrMax: 0xffffffff,
    bits: 64, bigEndian: false, table: () => RISCV64, tableBase: 0,
  },
};

/** SCMP_ARCH_* names this compiler can build filters for. */
export const SUPPORTED_ARCHES = Object.keys(ABIS) as SeccompArch[];

/** Native architectures (what `opts.nativeArch` and process.arch may say) and their ABI. */
const NATIVE: Record<string, SeccompArch> = {
  x86_64: 'SCMP_ARCH_X86_64', amd64: 'SCMP_ARCH_X86_64', x64: 'SCMP_ARCH_X86_64',
  aarch64: 'SCMP_ARCH_AARCH64', arm64: 'SCMP_ARCH_AARCH64',
  x86: 'SCMP_ARCH_X86', i386: 'SCMP_ARCH_X86', i686: 'SCMP_ARCH_X86', ia32: 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
  riscv64: 'SCMP_ARCH_RISCV64',
};

export function abiByName(name: string): Abi {
  const abi = ABIS[name];
  if (!abi) {
    throw new SkiffError('seccomp', 'EARCH', `seccomp: unsupported architecture ${JSON.stringify(name)} (supported: ${SUPPORTED_ARCHES.join(', ')})`);
  }
  return abi;
}

/** The ABI of the machine: opts.nativeArch (x86_64, aarch64, amd64, arm64, SCMP_ARCH_*) or process.arch. */
export function nativeAbi(nativeArch?: string): Abi {
  const key = nativeArch ?? process.arch;
  if (key.startsWith('SCMP_ARCH_')) return abiByName(key);
  const name = NATIVE[key];
  if (!name) throw new SkiffError('seccomp', 'EARCH', `seccomp: unsupported native architecture ${JSON.stringify(key)}`);
  return ABIS[name];
}

const parsed = new Map<string, Map<string, number>>();

/** name → seccomp_data.nr for one ABI; the table is parsed on first use. */
export function syscallTable(abi: Abi): Map<string, number> {
  let table = parsed.get(abi.name);
  if (table) return table;
  table = new Map();
  const text = abi.table();
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const sp = text.indexOf(' ', pos);
    if (sp > pos && sp < end) table.set(text.slice(sp + 1, end), (Number(text.slice(pos, sp)) + abi.tableBase) >>> 0);
    pos = end + 1;
  }
  parsed.set(abi.name, table);
  return table;
}

/** The number of a system call in an ABI, or undefined when the ABI has no such call. */
export function resolveSyscall(abi: Abi, name: string): number | undefined {
  return syscallTable(abi).get(name);
}

/** The name of a system call number in an ABI (for messages and debugging). */
export function syscallName(abi: Abi, nr: number): string | undefined {
  for (const [name, n] of syscallTable(abi)) if (n === nr) return name;
  return undefined;
}
