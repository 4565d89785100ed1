// The OCI `linux.seccomp` types come from src/oci/types.ts (one definition for the project); this
// file adds what the compiler hands to the loader.
export type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, SeccompAction, SeccompArch, SeccompFlag, SeccompOperator } from '../../oci/types';

/** What the compiler hands to the loader (seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)). */
export interface CompiledSeccomp {
  /** Array of struct sock_filter, 8 bytes each, little-endian: u16 code, u8 jt, u8 jf, u32 k. */
  program: Buffer;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
  /** True when SCMP_ACT_NOTIFY is used: load with NEW_LISTENER and hand the fd to listenerPath. */
  needsListener: boolean;
  /** Syscall names unknown on every architecture of the filter; ignored, as runc/libseccomp do. */
  skipped: string[];
}
