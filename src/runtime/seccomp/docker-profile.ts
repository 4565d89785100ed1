// Docker's seccomp profile format → OCI linux.seccomp, the way moby does it (profiles/seccomp,
// setupSeccomp): keep the archMap entry of the native architecture with its sub-architectures, and
// each syscall entry whose `includes` all hold and whose `excludes` none hold, where
//   caps:      includes need every listed capability in the bounding set, excludes any of them;
//   arches:    Docker's arch names (amd64, x32, x86, arm, arm64, riscv64, ...) against the native one;
//   minKernel: "major.minor" against the running kernel.
//
// docker-default-profile.json is moby's default profile (github.com/moby/profiles, seccomp/default.json,
// Apache-2.0), shipped so that `dock run` can use it without network or Docker installed.

import { release } from 'node:os';
import { SkiffError } from '../errors';
import { nativeAbi } from './arches';
import defaultProfileData from './docker-default-profile.json';
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, SeccompAction, SeccompArch, SeccompFlag } from './types';

export interface DockerSeccompFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

export interface DockerSeccompSyscall {
  /** Deprecated single-name form. */
  name?: string;
  names?: string[] | null;
  action: SeccompAction;
  errnoRet?: number | null;
  args?: LinuxSeccompArg[] | null;
  comment?: string;
  includes?: DockerSeccompFilter | null;
  excludes?: DockerSeccompFilter | null;
}

export interface DockerSeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number | null;
  architectures?: SeccompArch[] | null;
  archMap?: Array<{ architecture: SeccompArch; subArchitectures?: SeccompArch[] | null }> | null;
  syscalls?: DockerSeccompSyscall[] | null;
  flags?: SeccompFlag[] | null;
  listenerPath?: string;
  listenerMetadata?: string;
}

export interface DockerProfileOptions {
  /** The container's bounding capability set (CAP_SYS_ADMIN or SYS_ADMIN spelling). */
  capabilities: readonly string[];
  /** Native architecture (x86_64, aarch64, ...); default: this machine's. */
  arch?: string;
  /** Kernel release for `minKernel` (e.g. "6.1.0-18-amd64"); default: os.release(). */
  kernelVersion?: string;
}

const profileError = (message: string) => new SkiffError('seccomp', 'EPROFILE', `seccomp profile: ${message}`);

/** Docker's (Go's) name of an architecture, as used in `includes.arches`/`excludes.arches`. */
const DOCKER_ARCH: Record<string, string> = {
  SCMP_ARCH_X86_64: 'amd64',
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_AARCH64: 'arm64',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_RISCV64: 'riscv64',
};

function kernelAtLeast(current: string, wanted: string): boolean {
  const parse = (v: string, what: string): [number, number] => {
    const m = /^(\d+)\.(\d+)/.exec(v.trim());
    if (!m) throw profileError(`cannot read ${what} kernel version ${JSON.stringify(v)}`);
    return [Number(m[1]), Number(m[2])];
  };
  const [cMaj, cMin] = parse(current, 'the running');
  const [wMaj, wMin] = parse(wanted, 'the minKernel');
  return cMaj > wMaj || (cMaj === wMaj && cMin >= wMin);
}

const normCap = (c: string) => {
  const u = c.toUpperCase();
  return u.startsWith('CAP_') ? u : `CAP_${u}`;
};

/** The OCI seccomp section Docker would give a container with these capabilities on this architecture. */
export function dockerProfileToOci(profile: DockerSeccompProfile, opts: DockerProfileOptions): LinuxSeccomp {
  if (!profile || typeof profile !== 'object') throw profileError('not an object');
  const native = nativeAbi(opts.arch);
  const arch = DOCKER_ARCH[native.name];
  const caps = new Set(opts.capabilities.map(normCap));
  const kernel = opts.kernelVersion ?? release();

  const archMap = profile.archMap ?? [];
  if ((profile.architectures?.length ?? 0) > 0 && archMap.length > 0) {
    throw profileError("use either 'architectures' or 'archMap', not both");
  }
  let architectures: SeccompArch[] = [...(profile.architectures ?? [])];
  for (const entry of archMap) {
    if (entry.architecture === native.name) {
      architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
      break;
    }
  }

  const syscalls: LinuxSyscall[] = [];
  (profile.syscalls ?? []).forEach((call, i) => {
    if (call.name && call.names && call.names.length > 0) throw profileError(`syscalls[${i}]: use either 'name' or 'names'`);
    const ex = call.excludes;
    if (ex) {
      if (ex.arches?.length && ex.arches.includes(arch)) return;
      if (ex.caps?.length && ex.caps.some((c) => caps.has(normCap(c)))) return;
      if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) return;
    }
    const inc = call.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(arch)) return;
      if (inc.caps?.length && !inc.caps.every((c) => caps.has(normCap(c)))) return;
      if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return;
    }
    const names = call.name ? [call.name] : [...(call.names ?? [])];
    const out: LinuxSyscall = { names, action: call.action };
    if (call.errnoRet !== undefined && call.errnoRet !== null) out.errnoRet = call.errnoRet;
    if (call.args && call.args.length > 0) out.args = call.args.map((a) => ({ ...a }));
    syscalls.push(out);
  });

  const result: LinuxSeccomp = { defaultAction: profile.defaultAction, architectures, syscalls };
  if (profile.defaultErrnoRet !== undefined && profile.defaultErrnoRet !== null) result.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags && profile.flags.length > 0) result.flags = [...profile.flags];
  if (profile.listenerPath) result.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) result.listenerMetadata = profile.listenerMetadata;
  return result;
}

/** moby's default profile (a fresh copy each call, safe to modify). */
export function defaultDockerProfile(): DockerSeccompProfile {
  return structuredClone(defaultProfileData) as unknown as DockerSeccompProfile;
}
