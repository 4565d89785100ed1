// Process settings of runtime-spec 1.2+ checked from inside real containers: process.scheduler,
// ioPriority, linux.personality, execCPUAffinity (exec only), and the LSM labels, which this
// host lacks: asking for them is a clear error.
import { execFileSync } from 'node:child_process';
import { cpus, getPriority } from 'node:os';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Skiff, baseConfig, isRoot, makeBundle, mountsUnder, tmp } from '../helpers';

const hasGcc = (() => {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!isRoot || !hasGcc)('process settings in real containers', () => {
  const skiff = new Skiff();
  const bin = tmp('skiff-proc-bin-');
  const syscalls = join(bin, 'syscalls');
  beforeAll(() => {
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', syscalls, join(__dirname, '../fixtures/security/syscalls.c')]);
  });
  afterAll(() => {
    skiff.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });

  function config(args: string[], edit: (c: Record<string, any>) => void = () => {}) {
    const cfg = baseConfig(args);
    cfg.mounts.push({ destination: '/usr/local/bin/syscalls', type: 'bind', source: syscalls, options: ['bind', 'ro'] });
    edit(cfg);
    return cfg;
  }
  function inside(args: string[], edit: (c: Record<string, any>) => void = () => {}): string {
    const r = skiff.run(['run', '-b', makeBundle(config(args, edit)), `p${Math.random().toString(36).slice(2, 8)}`]);
    if (r.status !== 0) throw new Error(`container exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  it('process.scheduler: SCHED_BATCH with a nice value, SCHED_IDLE, reset-on-fork', () => {
    // The kernel applies a nice value to SCHED_NORMAL/BATCH only: under SCHED_IDLE, and without the
    // setting, the process keeps the one it inherits, that of the suite (run under nice -n 10 at times).
    const runnerNice = getPriority();
    expect(inside(['syscalls', 'sched'], (c) => (c.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 }))).toBe('sched policy=3 nice=7 priority=0 flags=0\n');
    expect(inside(['syscalls', 'sched'], (c) => (c.process.scheduler = { policy: 'SCHED_IDLE', flags: ['SCHED_FLAG_RESET_ON_FORK'] }))).toBe(
      `sched policy=5 nice=${runnerNice} priority=0 flags=1\n`,
    );
    // Without the setting the process keeps the default policy.
    expect(inside(['syscalls', 'sched'])).toBe(`sched policy=0 nice=${runnerNice} priority=0 flags=0\n`);
  });

  // SCHED_FIFO needs realtime bandwidth. With realtime group scheduling on cgroup v1 (this host:
  // cpu.rt_runtime_us exists) a new cgroup has none, so the kernel refuses the policy until the
  // config gives the container's cgroup some (linux.resources.cpu.realtimeRuntime).
  const rtGroups = existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');
  it('process.scheduler: SCHED_FIFO with realtime bandwidth; refused without it, with the reason', () => {
    const fifo = (c: Record<string, any>) => {
      c.process.scheduler = { policy: 'SCHED_FIFO', priority: 10 };
      c.linux.cgroupsPath = `/skiff-test-rt-${process.pid}`; // under the root cgroup, which has bandwidth to give
    };
    expect(
      inside(['syscalls', 'sched'], (c) => {
        fifo(c);
        if (rtGroups) c.linux.resources.cpu = { realtimeRuntime: 10000, realtimePeriod: 1000000 };
      }),
    ).toBe('sched policy=1 nice=0 priority=10 flags=0\n');
    if (!rtGroups) return;
    const r = skiff.run(['run', '-b', makeBundle(config(['true'], fifo)), 'sched-refused']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('skiff: sched_setattr (policy 1, priority 10, nice 0): operation not permitted\n');
    expect(skiff.run(['state', 'sched-refused']).status).toBe(1);
    expect(existsSync(`/sys/fs/cgroup/cpu/skiff-test-rt-${process.pid}`)).toBe(false);
  });

  it('ioPriority: the class and level the process runs with', () => {
    expect(inside(['syscalls', 'ioprio'], (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 }))).toBe('ioprio class=3 level=0\n');
    expect(inside(['syscalls', 'ioprio'], (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 }))).toBe('ioprio class=2 level=6\n');
    expect(inside(['syscalls', 'ioprio'], (c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_RT', priority: 2 }))).toBe('ioprio class=1 level=2\n');
  });

  it('linux.personality LINUX32: uname says i686 and the personality is PER_LINUX32', () => {
    expect(inside(['sh', '-c', 'uname -m; syscalls personality'], (c) => (c.linux.personality = { domain: 'LINUX32' }))).toBe('i686\npersonality 0x8\n');
    expect(inside(['sh', '-c', 'uname -m; syscalls personality'], (c) => (c.linux.personality = { domain: 'LINUX' }))).toBe(
      `${execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim()}\npersonality 0x0\n`,
    );
  });

  it.skipIf(cpus().length < 2)('execCPUAffinity: initial and final for exec, not for the init', () => {
    const cfg = config(['sleep', '30'], (c) => (c.process.execCPUAffinity = { initial: '1', final: '1' }));
    const bundle = makeBundle(cfg);
    skiff.ok(['run', '-d', '-b', bundle, 'affinity']);
    try {
      // The container's own process is not affected (runtime-spec: not applicable to the init).
      expect(skiff.ok(['exec', 'affinity', 'cat', '/proc/1/status']).match(/^Cpus_allowed_list:\s*(.*)$/m)?.[1]).toBe(`0-${cpus().length - 1}`);

      const proc = (a: Record<string, string>, args = ['syscalls', 'affinity']) => {
        const file = join(bundle, `process-${Math.random().toString(36).slice(2)}.json`);
        writeFileSync(file, JSON.stringify({ ...cfg.process, args, execCPUAffinity: a }));
        return skiff.run(['exec', '--process', file, 'affinity']);
      };
      expect(proc({ initial: '1' }).stdout).toBe('affinity 1\n');
      expect(proc({ initial: '1', final: '0' }).stdout).toBe('affinity 0\n');
      expect(proc({ final: '0-1' }).stdout).toBe('affinity 0 1\n');
      // A list the validator accepts but the kernel cannot use (no such cpu) fails with the reason.
      const r = proc({ final: '4000' }, ['true']);
      expect(r.status).toBe(255); // runc: every exec failure is 255
      expect(r.stderr).toBe('skiff: set execCPUAffinity.final: invalid argument\n');
    } finally {
      skiff.run(['delete', '--force', 'affinity']);
    }
  });

  it('execCPUAffinity: a malformed list is a config error naming the field', () => {
    const cfg = config(['sleep', '30']);
    const bundle = makeBundle(cfg);
    skiff.ok(['run', '-d', '-b', bundle, 'affinity-bad']);
    try {
      const file = join(bundle, 'p.json');
      writeFileSync(file, JSON.stringify({ ...cfg.process, args: ['true'], execCPUAffinity: { initial: '3-1' } }));
      const r = skiff.run(['exec', '--process', file, 'affinity-bad']);
      expect(r.status).toBe(255); // runc: every exec failure is 255
      expect(r.stderr).toBe('skiff: invalid config.json: /process/execCPUAffinity/initial: "3-1": range 3-1 goes backwards\n');
    } finally {
      skiff.run(['delete', '--force', 'affinity-bad']);
    }
  });

  it.skipIf(existsSync('/sys/kernel/security/apparmor'))('apparmorProfile on a host without AppArmor: a clear error, nothing left', () => {
    const cfg = config(['true'], (c) => (c.process.apparmorProfile = 'docker-default'));
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'aa']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'skiff: /process/apparmorProfile: AppArmor profile "docker-default" requested but AppArmor is not enabled on this host (/sys/kernel/security/apparmor is missing)\n',
    );
    expect(skiff.run(['state', 'aa']).status).toBe(1);
    expect(mountsUnder([cfg.root.path])).toEqual([]);
  });

  it.skipIf(existsSync('/sys/fs/selinux/enforce'))('selinuxLabel on a host without SELinux: a clear error, nothing left', () => {
    const cfg = config(['true'], (c) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2'));
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'se']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'skiff: /process/selinuxLabel: SELinux label "system_u:system_r:container_t:s0:c1,c2" requested but SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)\n',
    );
    expect(skiff.run(['state', 'se']).status).toBe(1);
  });
});
