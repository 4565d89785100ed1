// validateConfig / validateProcess / validateResources / parse*File: what is accepted, and the
// exact one-line message for what is not (users, podman and containerd print it as is).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringifyJson } from '../../src/oci/json';
import { defaultSpec } from '../../src/oci/spec-default';
import type { Spec } from '../../src/oci/types';
import {
  parseConfigFile,
  parseJsonText,
  parseProcessFile,
  parseResourcesFile,
  validateConfig,
  validateProcess,
  validateResources,
} from '../../src/oci/validate';
import { SkiffError } from '../../src/runtime/errors';

/** A valid config to break one field at a time: runc's example with a user namespace. */
function base(): Spec {
  const spec = defaultSpec({ cgroupns: false });
  spec.linux!.namespaces!.push({ type: 'user' });
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  return spec;
}

/** The message validateConfig throws for the config `edit` makes out of base(). */
function why(edit: (s: Spec & Record<string, any>) => void, opts?: { requireProcess?: boolean }): string {
  const spec = base() as Spec & Record<string, any>;
  edit(spec);
  try {
    validateConfig(spec, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(SkiffError);
    expect((err as SkiffError).domain).toBe('config');
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('accepted');
}

const tmp = mkdtempSync(join(tmpdir(), 'skiff-oci-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('validateConfig accepts', () => {
  it('the base config and returns the same object', () => {
    const spec = base();
    expect(validateConfig(spec, { requireProcess: true })).toBe(spec);
  });

  it('configs without process, and with unknown fields (forward compatibility)', () => {
    expect(() => validateConfig({ ociVersion: '1.0.2-dev', root: { path: 'rootfs' } })).not.toThrow();
    expect(() => validateConfig({ ...base(), 'org.example.future': { x: 1 } })).not.toThrow();
  });

  it('exact 64-bit values, kept as bigint', () => {
    const text = stringifyJson(base()).replace('"hard":1024', '"hard":18446744073709551615');
    const spec = validateConfig(parseJsonText(text, 'config.json'));
    expect(spec.process!.rlimits![0].hard).toBe(18446744073709551615n);
    expect(spec.process!.rlimits![0].soft).toBe(1024);
  });

  it('an empty namespace path as "create a new one", as runc does', () => {
    const spec = base();
    spec.linux!.namespaces![0] = { type: 'pid', path: '' };
    expect(() => validateConfig(spec)).not.toThrow();
  });

  it('sysctls the kernel namespaces, with their namespace', () => {
    const spec = base();
    spec.linux!.sysctl = { 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '10', 'net.ipv4.ip_forward': '1', 'net/ipv4/conf/eth0.100/forwarding': '1', 'kernel.domainname': 'x' };
    expect(() => validateConfig(spec)).not.toThrow();
  });
});

describe('validateConfig refuses, with one precise line', () => {
  it('schema violations', () => {
    expect(why((s) => (s.process!.args = 'sh' as any))).toBe('invalid config.json: /process/args: must be an array, got "sh"');
    expect(why((s) => delete (s.process as any).cwd)).toBe('invalid config.json: /process/cwd: is required');
    expect(why((s) => (s.process!.user!.uid = -1))).toBe('invalid config.json: /process/user/uid: must not be negative, got -1');
    expect(why((s) => (s.process!.user!.gid = 4294967296))).toBe('invalid config.json: /process/user/gid: must be at most 4294967295, got 4294967296');
    expect(why((s) => (s.process!.terminal = 'yes' as any))).toBe('invalid config.json: /process/terminal: must be a boolean, got "yes"');
    expect(why((s) => (s.process!.user!.uid = 1.5))).toBe('invalid config.json: /process/user/uid: must be an integer, got 1.5');
    expect(why((s) => (s.linux!.namespaces![0].type = 'net' as any))).toBe(
      'invalid config.json: /linux/namespaces/0/type: must be one of mount, pid, network, uts, ipc, user, cgroup, time, got "net"',
    );
    expect(why((s) => (s.hooks = { poststart: [{ path: '/bin/true', timeout: 0 }] }))).toBe(
      'invalid config.json: /hooks/poststart/0/timeout: must be at least 1, got 0',
    );
    expect(why((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }))).toBe(
      'invalid config.json: /linux/seccomp/syscalls/0/names: must not be empty',
    );
    expect(why((s) => delete (s as any).ociVersion)).toBe('invalid config.json: /ociVersion: is required');
  });

  it('a document that is not an object', () => {
    expect(() => validateConfig([])).toThrow('invalid config.json: /: must be an object, got an array');
    expect(() => validateConfig(null)).toThrow('invalid config.json: /: must be an object, got null');
  });

  it('64-bit bounds exactly, beyond what a double can tell apart', () => {
    const rl = (v: string) => () => validateConfig(parseJsonText(stringifyJson(base()).replace('"hard":1024', `"hard":${v}`), 'config.json'));
    expect(rl('18446744073709551616')).toThrow('invalid config.json: /process/rlimits/0/hard: must be at most 18446744073709551615, got 18446744073709551616');
    const mem = (v: string) => () =>
      validateConfig(parseJsonText(stringifyJson(base()).replace('"resources":{', `"resources":{"memory":{"limit":${v}},`), 'config.json'));
    expect(mem('9223372036854775807')).not.toThrow();
    expect(mem('9223372036854775808')).toThrow('invalid config.json: /linux/resources/memory/limit: must be at most 9223372036854775807, got 9223372036854775808');
    expect(mem('-9223372036854775809')).toThrow('invalid config.json: /linux/resources/memory/limit: must be at least -9223372036854775808, got -9223372036854775809');
  });

  it('versions, root and process', () => {
    expect(why((s) => (s.ociVersion = '2.0.0'))).toBe('invalid config.json: /ociVersion: unsupported version "2.0.0": skiff runs configs of version 1.x (up to 1.3.0)');
    expect(why((s) => (s.ociVersion = '1.0'))).toBe('invalid config.json: /ociVersion: must be a SemVer version like "1.3.0", got "1.0"');
    expect(why((s) => delete s.root)).toBe('invalid config.json: /root: is required');
    expect(why((s) => (s.root!.path = ''))).toBe('invalid config.json: /root/path: must not be empty');
    expect(why((s) => (s.process!.args = []))).toBe('invalid config.json: /process/args: must be a non-empty array');
    expect(why((s) => delete s.process!.args)).toBe('invalid config.json: /process/args: must be a non-empty array');
    expect(why((s) => (s.process!.cwd = 'tmp'))).toBe('invalid config.json: /process/cwd: must be an absolute path, got "tmp"');
    expect(why((s) => delete s.process, { requireProcess: true })).toBe('invalid config.json: /process: is required to create a container');
    expect(why((s) => (s.process!.args = ['sh', 'a\0b']))).toBe('invalid config.json: /process/args/1: must not contain a NUL byte');
    expect(why((s) => (s.process!.env = ['A=1', '=x']))).toBe('invalid config.json: /process/env/1: variable name must not be empty, got "=x"');
    // runc ignores unknown capability names with a warning: so does skiff (create warns).
    expect(() => why((s) => s.process!.capabilities!.bounding!.push('CAP_FLY'))).toThrow('accepted');
    expect(why((s) => (s.process!.rlimits![0].type = 'RLIMIT_FOO' as any))).toBe('invalid config.json: /process/rlimits/0/type: unknown rlimit "RLIMIT_FOO"');
    expect(why((s) => s.process!.rlimits!.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }))).toBe(
      'invalid config.json: /process/rlimits/1/type: duplicate rlimit "RLIMIT_NOFILE", already at /process/rlimits/0',
    );
    expect(why((s) => (s.process!.rlimits![0].soft = 2048))).toBe('invalid config.json: /process/rlimits/0: soft limit 2048 is greater than hard limit 1024');
    expect(why((s) => (s.process!.oomScoreAdj = 1001))).toBe('invalid config.json: /process/oomScoreAdj: must be between -1000 and 1000, got 1001');
    expect(why((s) => (s.process!.scheduler = { policy: 'SCHED_OTHER', priority: 5 }))).toBe(
      'invalid config.json: /process/scheduler/priority: can only be set for SCHED_FIFO and SCHED_RR, not SCHED_OTHER',
    );
    expect(why((s) => (s.process!.scheduler = { policy: 'SCHED_FIFO' }))).toBe('invalid config.json: /process/scheduler/priority: must be between 1 and 99 for SCHED_FIFO, got 0');
  });

  it('namespaces and what needs them', () => {
    expect(why((s) => s.linux!.namespaces!.push({ type: 'pid' }))).toBe(
      'invalid config.json: /linux/namespaces/6/type: duplicate namespace "pid", already at /linux/namespaces/0',
    );
    expect(why((s) => (s.linux!.namespaces![1] = { type: 'network', path: 'netns/a' }))).toBe(
      'invalid config.json: /linux/namespaces/1/path: must be an absolute path, got "netns/a"',
    );
    expect(why((s) => s.linux!.namespaces!.pop())).toBe('invalid config.json: /linux/uidMappings: needs a "user" namespace in /linux/namespaces');
    expect(why((s) => delete s.linux!.gidMappings)).toBe('invalid config.json: /linux/gidMappings: is required to create a new user namespace');
    expect(why((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts')))).toBe(
      'invalid config.json: /hostname: cannot be set without a "uts" namespace',
    );
    expect(why((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount')))).toBe(
      'invalid config.json: /linux/maskedPaths: need a "mount" namespace',
    );
    expect(why((s) => (s.linux!.timeOffsets = { monotonic: { secs: 1 } }))).toBe('invalid config.json: /linux/timeOffsets: need a "time" namespace in /linux/namespaces');
    expect(
      why((s) => {
        s.linux!.namespaces!.push({ type: 'time', path: '/proc/1/ns/time' });
        s.linux!.timeOffsets = { monotonic: { secs: 1 } };
      }),
    ).toBe('invalid config.json: /linux/timeOffsets: can only be set for a new time namespace, not one joined by path');
    expect(why((s) => (s.linux!.sysctl = { 'vm.swappiness': '10' }))).toBe(
      'invalid config.json: /linux/sysctl/vm.swappiness: is not namespaced by the kernel (it would change the host)',
    );
    expect(why((s) => (s.linux!.sysctl = { 'kernel.hostname': 'x' }))).toBe('invalid config.json: /linux/sysctl/kernel.hostname: conflicts with /hostname: set that instead');
    expect(
      why((s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
        s.linux!.sysctl = { 'net/ipv4/ip_forward': '1' };
      }),
    ).toBe('invalid config.json: /linux/sysctl/net~1ipv4~1ip_forward: cannot be set without a "network" namespace (it would change the host)');
  });

  it('id mappings, mounts, devices, hooks', () => {
    expect(why((s) => s.linux!.uidMappings!.push({ containerID: 1000, hostID: 300000, size: 10 }))).toBe(
      'invalid config.json: /linux/uidMappings/1: containerID range overlaps /linux/uidMappings/0',
    );
    expect(why((s) => (s.linux!.gidMappings![0].size = 0))).toBe('invalid config.json: /linux/gidMappings/0/size: must be greater than 0');
    expect(why((s) => s.mounts!.push({ destination: '/data', source: '/srv', options: ['rbind'], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }))).toBe(
      'invalid config.json: /mounts/7/gidMappings: is required with uidMappings (an id-mapped mount needs both)',
    );
    expect(
      why((s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'user');
        delete s.linux!.uidMappings;
        delete s.linux!.gidMappings;
        s.mounts!.push({ destination: '/data', source: '/srv', options: ['rbind', 'ridmap'] });
      }),
    ).toBe('invalid config.json: /mounts/7/options/1: "ridmap" needs uidMappings and gidMappings on the mount or a "user" namespace');
    expect(why((s) => (s.linux!.devices = [{ type: 'c', path: '/dev/fuse' }]))).toBe(
      'invalid config.json: /linux/devices/0: major and minor are required for a device of type "c"',
    );
    expect(why((s) => (s.linux!.devices = [{ type: 'p', path: 'fifo' }]))).toBe('invalid config.json: /linux/devices/0/path: must be an absolute path, got "fifo"');
    expect(() =>
      validateConfig(parseJsonText(stringifyJson({ ...base(), hooks: { poststop: [{ path: '/bin/true', timeout: 10n ** 20n }] } }), 'config.json')),
    ).toThrow('invalid config.json: /hooks/poststop/0/timeout: is too large, got 100000000000000000000');
    expect(why((s) => (s.hooks = { createRuntime: [{ path: 'hook.sh' }] }))).toBe(
      'invalid config.json: /hooks/createRuntime/0/path: must be an absolute path, got "hook.sh"',
    );
    expect(why((s) => (s.linux!.netDevices = { 'eth0': { name: 'a/b' } }))).toBe('invalid config.json: /linux/netDevices/eth0/name: invalid network interface name "a/b"');
  });

  it('resources and seccomp', () => {
    // runc's reading: r, w, m picked out, other letters ignored ("rwa" as engines write it).
    expect(() => why((s) => (s.linux!.resources!.devices![0].access = 'rwa'))).toThrow('accepted');
    expect(why((s) => (s.linux!.resources!.memory = { limit: 1 << 30, swap: 1 << 20 }))).toBe(
      'invalid config.json: /linux/resources/memory/swap: memory+swap limit 1048576 must not be less than the memory limit 1073741824',
    );
    expect(why((s) => (s.linux!.resources!.cpu = { cpus: '0-3;7' }))).toBe('invalid config.json: /linux/resources/cpu/cpus: must be a CPU list like "0-3,7", got "0-3;7"');
    expect(why((s) => (s.linux!.resources!.unified = { '../cpu.max': '1' }))).toBe(
      'invalid config.json: /linux/resources/unified/..~1cpu.max: must be the name of a file in the cgroup directory, not a path',
    );
    expect(why((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY' }))).toBe('invalid config.json: /linux/seccomp/defaultAction: SCMP_ACT_NOTIFY cannot be the default action');
    expect(why((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }))).toBe(
      'invalid config.json: /linux/seccomp/syscalls/0/action: SCMP_ACT_NOTIFY needs /linux/seccomp/listenerPath',
    );
    expect(why((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }))).toBe(
      'invalid config.json: /linux/seccomp/syscalls/0/errnoRet: only applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_KILL',
    );
    expect(
      why((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] })),
    ).toBe('invalid config.json: /linux/seccomp/syscalls/0/args/0/index: must be between 0 and 5 (a syscall has 6 arguments), got 6');
  });
});

describe('validateProcess and validateResources', () => {
  it('accept what exec and update pass', () => {
    const p = { args: ['ps', 'aux'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 }, terminal: false };
    expect(validateProcess(p)).toBe(p);
    const r = { memory: { limit: 1 << 30, swap: -1 }, cpu: { shares: 512, quota: 50000, period: 100000 }, pids: { limit: 100 } };
    expect(validateResources(r)).toBe(r);
  });

  it('refuse with paths relative to the document', () => {
    expect(() => validateProcess({ args: ['sh'] })).toThrow('invalid process.json: /cwd: is required');
    expect(() => validateProcess({ args: [], cwd: '/' })).toThrow('invalid process.json: /args: must be a non-empty array');
    expect(() => validateResources({ pids: {} })).toThrow('invalid resources: /pids/limit: is required');
    expect(() => validateResources({ memory: { swappiness: 101 } })).toThrow('invalid resources: /memory/swappiness: must be between 0 and 100, got 101');
    expect(() => validateResources({ blockIO: { weightDevice: [{ major: 8, minor: 0 }] } })).toThrow('invalid resources: /blockIO/weightDevice/0: needs weight or leafWeight');
  });
});

describe('parse*File', () => {
  it('reads, parses and validates', () => {
    const dir = join(tmp, 'bundle');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(base(), null, 2));
    expect(parseConfigFile(join(dir, 'config.json')).hostname).toBe('skiff');
    writeFileSync(join(tmp, 'process.json'), JSON.stringify({ args: ['true'], cwd: '/' }));
    expect(parseProcessFile(join(tmp, 'process.json')).args).toEqual(['true']);
    writeFileSync(join(tmp, 'resources.json'), '{"pids":{"limit":9223372036854775807}}');
    expect(parseResourcesFile(join(tmp, 'resources.json')).pids!.limit).toBe(9223372036854775807n);
  });

  it('says what is wrong with the file itself', () => {
    const missing = join(tmp, 'nope', 'config.json');
    expect(() => parseConfigFile(missing)).toThrow(new SkiffError('config', 'ENOENT', `open ${missing}: no such file or directory`));
    expect(() => parseConfigFile(tmp)).toThrow(`read ${tmp}: is a directory`);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{\n  "ociVersion": "1.0.0",\n  "root": {"path": "rootfs",}\n}\n');
    expect(() => parseConfigFile(bad)).toThrow("invalid config.json: unexpected token '}' at line 3 column 29");
    writeFileSync(bad, '{"ociVersion": "1.0.0"');
    expect(() => parseConfigFile(bad)).toThrow('invalid config.json: unexpected end of JSON input at line 1 column 23');
    writeFileSync(bad, '');
    expect(() => parseProcessFile(bad)).toThrow('invalid process.json: unexpected end of JSON input at line 1 column 1');
  });

  it('error codes tell the kinds apart', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as SkiffError).code;
      }
      return 'none';
    };
    expect(code(() => parseConfigFile(join(tmp, 'absent.json')))).toBe('ENOENT');
    expect(code(() => parseJsonText('{', 'config.json'))).toBe('EJSON');
    expect(code(() => validateConfig({}))).toBe('ESCHEMA');
    expect(code(() => validateConfig({ ociVersion: '1.0.0' }))).toBe('EINVAL');
  });
});
