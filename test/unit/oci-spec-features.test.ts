// defaultSpec (`skiff spec`) against runc's `runc spec` output, and featuresDocument
// (`skiff features`) against what skiff's parsers accept.
import { describe, expect, it } from 'vitest';
import { CAPABILITIES, capabilityNumber } from '../../src/oci/capabilities';
import { featuresDocument } from '../../src/oci/features';
import { MOUNT_OPTIONS } from '../../src/oci/mount-options';
import { defaultSpec } from '../../src/oci/spec-default';

describe('defaultSpec', () => {
  it('is runc spec, with skiff\'s version and hostname, keys in runc\'s order', () => {
    const spec = defaultSpec({ cgroupns: false });
    expect(Object.keys(spec)).toEqual(['ociVersion', 'process', 'root', 'hostname', 'mounts', 'linux']);
    expect(spec.ociVersion).toBe('1.3.0');
    expect(spec.hostname).toBe('skiff');
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.process).toEqual({
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    });
    expect(spec.mounts!.map((m) => [m.destination, m.type, m.source])).toEqual([
      ['/proc', 'proc', 'proc'],
      ['/dev', 'tmpfs', 'tmpfs'],
      ['/dev/pts', 'devpts', 'devpts'],
      ['/dev/shm', 'tmpfs', 'shm'],
      ['/dev/mqueue', 'mqueue', 'mqueue'],
      ['/sys', 'sysfs', 'sysfs'],
      ['/sys/fs/cgroup', 'cgroup', 'cgroup'],
    ]);
    expect(spec.mounts![0].options).toBeUndefined();
    expect(spec.mounts![2].options).toEqual(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    expect(spec.linux!.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] });
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(spec.linux!.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux!.maskedPaths).toContain('/sys/firmware');
    expect(spec.linux!.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    expect(defaultSpec({ cgroupns: true }).linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
  });

  it('returns a fresh object each time', () => {
    const a = defaultSpec();
    a.process!.args!.push('x');
    a.mounts![1].options!.push('y');
    expect(defaultSpec().process!.args).toEqual(['sh']);
    expect(defaultSpec().mounts![1].options).not.toContain('y');
  });

  it('--rootless: user namespace mapping the caller, no network namespace, /sys rbind, no uid=/gid=, no resources', () => {
    const spec = defaultSpec({ rootless: true, uid: 1000, gid: 1001, cgroupns: false });
    const linux = spec.linux!;
    expect(Object.keys(linux)).toEqual(['uidMappings', 'gidMappings', 'namespaces', 'maskedPaths', 'readonlyPaths']);
    expect(linux.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    expect(linux.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(linux.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    expect(spec.mounts!.find((m) => m.destination === '/sys')).toEqual({
      destination: '/sys',
      type: 'none',
      source: '/sys',
      options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
    });
    expect(spec.mounts!.find((m) => m.destination === '/dev/pts')!.options).toEqual(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620']);
    expect(spec.mounts!.find((m) => m.destination === '/proc')!.options).toBeUndefined();
    const own = defaultSpec({ rootless: true }).linux!;
    expect(own.uidMappings![0].hostID).toBe(process.geteuid!());
    expect(own.gidMappings![0].hostID).toBe(process.getegid!());
  });
});

describe('featuresDocument', () => {
  it('states versions, hooks, every parsed mount option, namespaces and capabilities', () => {
    const f = featuresDocument();
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe('1.3.0');
    expect(f.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(f.mountOptions).toEqual(Object.keys(MOUNT_OPTIONS).sort());
    expect(f.linux!.namespaces).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
    expect(f.linux!.capabilities).toHaveLength(41);
    expect(f.linux!.capabilities![40]).toBe('CAP_CHECKPOINT_RESTORE');
    expect(f.linux!.mountExtensions).toEqual({ idmap: { enabled: true } });
    expect(f.linux!.seccomp!.actions).toHaveLength(9);
    expect(f.linux!.seccomp!.operators).toHaveLength(7);
    expect(f.linux!.seccomp!.supportedFlags).toBeUndefined();
    expect(f.linux!.cgroup).toEqual({ v1: true, v2: true, systemd: false, systemdUser: false, rdma: false });
    expect(f.potentiallyUnsafeConfigAnnotations).toBeUndefined();
  });

  it('takes what other parts of skiff implement from its options', () => {
    const f = featuresDocument({ version: '0.1.0', commit: 'abc', cgroup: { systemd: true }, seccompArchs: ['SCMP_ARCH_X86_64'], seccompSupportedFlags: ['SECCOMP_FILTER_FLAG_TSYNC'], apparmor: true });
    expect(f.annotations).toEqual({ 'io.github.skiff.version': '0.1.0', 'io.github.skiff.commit': 'abc' });
    expect(f.linux!.cgroup!.systemd).toBe(true);
    expect(f.linux!.seccomp!.archs).toEqual(['SCMP_ARCH_X86_64']);
    expect(f.linux!.seccomp!.supportedFlags).toEqual(['SECCOMP_FILTER_FLAG_TSYNC']);
    expect(f.linux!.apparmor).toEqual({ enabled: true });
    expect(f.potentiallyUnsafeConfigAnnotations).toEqual(['org.systemd.property.']);
  });
});

describe('capabilities', () => {
  it('are numbered as in the kernel, and looked up as the runtime does', () => {
    expect(capabilityNumber('CAP_CHOWN')).toBe(0);
    expect(capabilityNumber('CAP_SYS_ADMIN')).toBe(21);
    expect(capabilityNumber('net_admin')).toBe(12);
    expect(capabilityNumber('CAP_BPF')).toBe(39);
    expect(capabilityNumber('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(capabilityNumber('CAP_NOPE')).toBe(-1);
    expect(new Set(CAPABILITIES).size).toBe(CAPABILITIES.length);
  });
});
