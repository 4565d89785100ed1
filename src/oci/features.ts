// The features document `skiff features` prints (runtime-spec features.md, modelled on runc's
// `runc features`): what this build of skiff recognises, irrespective of what the host kernel
// offers. Lists that depend on parts of skiff written elsewhere (cgroup drivers, the seccomp
// compiler's architectures, LSM support) come in through FeaturesOptions so that the document
// never claims more than the runtime does.
import { CAPABILITIES } from './capabilities';
import { mountOptionNames } from './mount-options';
import type { Features, HookName, LinuxNamespaceType, SeccompAction, SeccompArch, SeccompFlag, SeccompOperator } from './types';
import { OCI_VERSION, OCI_VERSION_MIN } from './version';

export interface FeaturesOptions {
  /** skiff's version, for the io.github.skiff.version annotation. */
  version?: string;
  /** Source revision, for io.github.skiff.commit. */
  commit?: string;
  /** cgroup drivers and controllers the runtime implements (the CLI passes them). Default: v1 and v2 only. */
  cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean; systemdUser?: boolean; rdma?: boolean };
  /** Architectures the seccomp compiler has syscall tables for. Default: those of src/runtime/seccomp/tables. */
  seccompArchs?: SeccompArch[];
  /** Seccomp filter flags the kernel accepts (probed at run time); left out when not given. */
  seccompSupportedFlags?: SeccompFlag[];
  /** Whether the runtime applies process.apparmorProfile / selinuxLabel / linux.intelRdt / netDevices. */
  apparmor?: boolean;
  selinux?: boolean;
  intelRdt?: boolean;
  netDevices?: boolean;
}

export const HOOK_NAMES: readonly HookName[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'];

export const SECCOMP_ACTIONS: readonly SeccompAction[] = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_TRAP',
];

export const SECCOMP_OPERATORS: readonly SeccompOperator[] = [
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_LE',
  'SCMP_CMP_LT',
  'SCMP_CMP_MASKED_EQ',
  'SCMP_CMP_NE',
];

export const SECCOMP_FLAGS: readonly SeccompFlag[] = [
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
];

// The syscall tables src/runtime/seccomp/tables has (oci cannot import runtime: keep in step).
const DEFAULT_SECCOMP_ARCHS: readonly SeccompArch[] = [
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
];

/** Annotation prefix of skiff's own annotations (reverse domain of the project). */
export const ANNOTATION_PREFIX = 'io.github.skiff.';

export function featuresDocument(opts: FeaturesOptions = {}): Features {
  const cgroup = { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false, ...opts.cgroup };
  const annotations: Record<string, string> = {};
  if (opts.version !== undefined) annotations[`${ANNOTATION_PREFIX}version`] = opts.version;
  if (opts.commit !== undefined) annotations[`${ANNOTATION_PREFIX}commit`] = opts.commit;
  const seccomp: NonNullable<NonNullable<Features['linux']>['seccomp']> = {
    enabled: true,
    actions: [...SECCOMP_ACTIONS],
    operators: [...SECCOMP_OPERATORS],
    archs: [...(opts.seccompArchs ?? DEFAULT_SECCOMP_ARCHS)].sort(),
    knownFlags: [...SECCOMP_FLAGS],
  };
  if (opts.seccompSupportedFlags) seccomp.supportedFlags = [...opts.seccompSupportedFlags].sort();

  const doc: Features = {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: mountOptionNames(),
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: [...CAPABILITIES],
      cgroup,
      seccomp,
      // "compiled in", not "enabled on this host" (runtime-spec features.md): skiff applies both
      // where the host has the LSM and refuses them clearly where it has not.
      apparmor: { enabled: opts.apparmor ?? true },
      selinux: { enabled: opts.selinux ?? true },
      intelRdt: { enabled: opts.intelRdt ?? false },
      mountExtensions: { idmap: { enabled: true } },
      netDevices: { enabled: opts.netDevices ?? false },
    },
    annotations,
  };
  // Annotations skiff acts on that can weaken the container: none of its own yet; the systemd
  // driver reads org.systemd.property.* as unit properties, as runc's does.
  if (cgroup.systemd || cgroup.systemdUser) doc.potentiallyUnsafeConfigAnnotations = ['org.systemd.property.'];
  return doc;
}
