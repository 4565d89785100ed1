// The seccomp compiler's public face: OCI linux.seccomp → BPF, its disassembler and interpreter, and
// Docker's profile format.
export type { CompiledSeccomp, LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, SeccompAction, SeccompArch, SeccompFlag, SeccompOperator } from './types';
export { compileSeccomp, type CompileOptions, BAD_ARCH_RET } from './compile';
export { disassemble, type DisassembleOptions } from './disassemble';
export { runSeccompFilter, checkSeccompProgram, type SeccompData } from './bpf-interp';
export { describeRet } from './bpf';
export { SUPPORTED_ARCHES, nativeAbi, resolveSyscall } from './arches';
export { dockerProfileToOci, defaultDockerProfile, type DockerSeccompProfile, type DockerProfileOptions } from './docker-profile';
