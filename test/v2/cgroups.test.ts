// Resource control on real containers on a pure cgroup v2 host with systemd as PID 1 (the VM tier,
// npm run test:v2), through the skiff CLI, once with the cgroupfs driver and once with the systemd
// driver (--systemd-cgroup, a transient scope per container). Limits are read back from the host's
// files and, for systemd, from the unit's properties; the kernel's enforcement is observed (an OOM
// kill, throttled periods, a stopped fork loop, a denied device, frozen processes).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventStream, Skiff, type Result, baseConfig, isRoot, makeBundle } from '../helpers';

const CG = '/sys/fs/cgroup';
const PURE_V2 = isRoot && statfsSync(CG).type === 0x63677270;
const SYSTEMD = existsSync('/run/systemd/system');
const tag = `v2${process.pid}`;

async function until<T>(what: string, check: () => T | undefined, seconds = 60): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A property of a systemd unit as `systemctl show` prints it. */
const unitProp = (unit: string, prop: string) => execFileSync('systemctl', ['show', '-P', prop, unit], { encoding: 'utf8' }).trim();


interface Driver {
  name: string;
  flags: string[];
  /** cgroupsPath for a container id (undefined: the driver's default). */
  cgroupsPath(id: string): string | undefined;
  /** The container's cgroup directory on the host. */
  dir(skiff: Skiff, id: string): string;
  /** The systemd unit, for the systemd driver. */
  unit?(id: string): string;
}

const SLICE = `skiff${tag}.slice`;
const drivers: Driver[] = [
  {
    name: 'cgroupfs',
    flags: [],
    cgroupsPath: () => undefined,
    dir: (skiff, id) => join(CG, skiff.cgroup(id)),
  },
  {
    name: 'systemd',
    flags: ['--systemd-cgroup'],
    // A slice that does not exist before: systemd makes it for the first scope.
    cgroupsPath: (id) => `${SLICE}:skiff:${id}`,
    dir: (_skiff, id) => join(CG, SLICE, `skiff-${id}.scope`),
    unit: (id) => `skiff-${id}.scope`,
  },
];

describe.skipIf(!PURE_V2)('pure cgroup v2 host', () => {
  it('has systemd, the unified hierarchy only, and the controllers the tier needs', () => {
    expect(SYSTEMD).toBe(true);
    const controllers = readFileSync(join(CG, 'cgroup.controllers'), 'utf8').trim().split(' ');
    expect(controllers).toEqual(expect.arrayContaining(['cpuset', 'cpu', 'io', 'memory', 'pids', 'hugetlb']));
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/ - cgroup /);
  });
});

describe.skipIf(!PURE_V2).each(drivers)('$name driver on real containers', (d) => {
  const skiff = new Skiff();
  const sk = (args: string[], opts: { input?: string } = {}): Result => {
    const detached = args[0] === 'create' || (['run', 'exec'].includes(args[0]) && (args.includes('-d') || args.includes('--detach')));
    return skiff.run([...d.flags, ...args], { ...opts, detached, timeout: 120_000 });
  };
  const ok = (args: string[], opts: { input?: string } = {}) => {
    const r = sk(args, opts);
    if (r.status !== 0) throw new Error(`skiff ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const id = (name: string) => `${tag}-${d.name}-${name}`;
  const cfgFor = (name: string, args: string[]) => {
    const cfg = baseConfig(args);
    const p = d.cgroupsPath(id(name));
    if (p) cfg.linux.cgroupsPath = p;
    return cfg;
  };
  const file = (name: string, f: string) => readFileSync(join(d.dir(skiff, id(name)), f), 'utf8').trim();
  const status = (name: string) => JSON.parse(ok(['state', id(name)])).status as string;
  const gone = (name: string) => {
    ok(['delete', '--force', id(name)]);
    expect(existsSync(d.dir(skiff, id(name)))).toBe(false);
    if (d.unit) expect(['inactive', '']).toContain(unitProp(d.unit(id(name)), 'ActiveState'));
  };
  afterAll(() => {
    skiff.cleanup();
    if (d.name === 'systemd') spawnSync('systemctl', ['stop', SLICE]);
  });

  it('memory: the limit OOM-kills the hungry process, events reports it, memory.* files and unit properties hold the values', async () => {
    const cfg = cfgFor('oom', ['sleep', '1000']);
    cfg.linux.resources.memory = { limit: 32 << 20, swap: 32 << 20, reservation: 8 << 20 };
    // memory.high above memory.max: only the OOM killer acts (a lower high would throttle forever).
    cfg.linux.resources.unified = { 'memory.high': String(48 << 20), 'memory.min': String(1 << 20), 'memory.oom.group': '0' };
    ok(['run', '-d', '-b', makeBundle(cfg), id('oom')]);
    expect(file('oom', 'memory.max')).toBe(String(32 << 20));
    expect(file('oom', 'memory.swap.max')).toBe('0');
    expect(file('oom', 'memory.low')).toBe(String(8 << 20));
    expect(file('oom', 'memory.high')).toBe(String(48 << 20));
    expect(file('oom', 'memory.min')).toBe(String(1 << 20));
    expect(file('oom', 'memory.oom.group')).toBe('0');
    if (d.unit) {
      const u = d.unit(id('oom'));
      expect(unitProp(u, 'MemoryMax')).toBe(String(32 << 20));
      expect(unitProp(u, 'MemoryHigh')).toBe(String(48 << 20));
      expect(unitProp(u, 'MemorySwapMax')).toBe('0');
      expect(unitProp(u, 'Delegate')).toBe('yes');
      expect(unitProp(u, 'Slice')).toBe(SLICE);
      expect(unitProp(SLICE, 'ActiveState')).toBe('active');
    }
    const ev = new EventStream(skiff.root, ['--interval', '500ms', id('oom')]);
    try {
      await until('first stats event', () => ev.events.find((e) => e.type === 'stats'));
      const hungry = sk(['exec', id('oom'), 'tail', '/dev/zero']);
      expect(hungry.status).toBe(128 + 9);
      expect(await until('oom event', () => ev.events.find((e) => e.type === 'oom'))).toEqual({ type: 'oom', id: id('oom') });
      expect(file('oom', 'memory.events')).toMatch(/oom_kill [1-9]/);
      expect(status('oom')).toBe('running');
      ok(['kill', id('oom'), 'KILL']);
      expect(await ev.exit()).toBe(0);
    } finally {
      ev.child.kill('SIGKILL');
    }
    gone('oom');
  });

  it('cpu: cpu.max throttles a busy loop (events --stats shows it); weight, burst, cpuset written', async () => {
    const cfg = cfgFor('cpu', ['sh', '-c', 'while :; do :; done']);
    cfg.linux.resources.cpu = { quota: 20000, period: 100000, shares: 512, burst: 5000, cpus: '0', mems: '0' };
    ok(['run', '-d', '-b', makeBundle(cfg), id('cpu')]);
    expect(file('cpu', 'cpu.max')).toBe('20000 100000');
    expect(file('cpu', 'cpu.max.burst')).toBe('5000');
    expect(file('cpu', 'cpu.weight')).toBe('59');
    expect(file('cpu', 'cpuset.cpus')).toBe('0');
    expect(file('cpu', 'cpuset.mems')).toBe('0');
    if (d.unit) {
      expect(unitProp(d.unit(id('cpu')), 'CPUQuotaPerSecUSec')).toBe('200ms');
      expect(unitProp(d.unit(id('cpu')), 'CPUWeight')).toBe('59');
      expect(unitProp(d.unit(id('cpu')), 'AllowedCPUs')).toBe('0');
    }
    const stats = await until('throttled periods', () => {
      const s = JSON.parse(ok(['events', '--stats', id('cpu')]));
      return s.data.cpu.throttling.throttledPeriods > 0 ? s : undefined;
    });
    expect(stats.type).toBe('stats');
    expect(stats.data.cpu.usage.total).toBeGreaterThan(0);
    expect(stats.data.cpu.throttling.throttledTime).toBeGreaterThan(0);
    expect(stats.data.pids.current).toBeGreaterThanOrEqual(1);
    expect(stats.data.memory.usage.usage).toBeGreaterThan(0);
    gone('cpu');
  });

  it('cpu.idle is written on its own', () => {
    const cfg = cfgFor('idle', ['cat', '/proc/self/cgroup']);
    cfg.linux.resources.cpu = { idle: 1 };
    ok(['create', '-b', makeBundle(cfg), id('idle')]);
    expect(file('idle', 'cpu.idle')).toBe('1');
    gone('idle');
  });

  it('pids: a fork loop stops at pids.max', () => {
    const cfg = cfgFor('pids', ['sh', '-c', '(while :; do sleep 1000 & done) 2>/dev/null; echo "loop ended $?"; set -- /proc/[0-9]*; echo "procs $#"; kill -9 -1']);
    cfg.linux.resources.pids = { limit: 16 };
    const r = sk(['run', '-b', makeBundle(cfg), id('pids')]);
    expect(r.status, r.stderr).toBe(0);
    const [ended, procs] = r.stdout.trim().split('\n');
    expect(ended).toMatch(/^loop ended [1-9]\d*$/);
    expect(Number(procs.split(' ')[1])).toBeLessThanOrEqual(16);
    expect(existsSync(d.dir(skiff, id('pids')))).toBe(false);
  });

  it('io: io.max and io.weight for the root disk; writes show in io stats', () => {
    const [major, minor] = readFileSync('/sys/block/vda/dev', 'utf8').trim().split(':').map(Number);
    const cfg = cfgFor('io', ['sleep', '1000']);
    cfg.linux.resources.blockIO = {
      weight: 500,
      throttleWriteBpsDevice: [{ major, minor, rate: 4 << 20 }],
      throttleReadIOPSDevice: [{ major, minor, rate: 1000 }],
    };
    ok(['run', '-d', '-b', makeBundle(cfg), id('io')]);
    expect(file('io', 'io.max')).toBe(`${major}:${minor} rbps=max wbps=${4 << 20} riops=1000 wiops=max`);
    const weightFile = existsSync(join(d.dir(skiff, id('io')), 'io.bfq.weight')) ? 'io.bfq.weight' : 'io.weight';
    expect(file('io', weightFile)).toMatch(weightFile === 'io.weight' ? /^default 4950/ : /^default 500/);
    gone('io');
  });

  it('devices: the eBPF program denies one device and allows another', () => {
    const cfg = cfgFor('dev', ['sh', '-c', 'true > /dev/kmsg && echo kmsg-ok; true > /dev/loop-control && echo loop-ok; true > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c']);
    cfg.mounts.push(
      { destination: '/dev/kmsg', type: 'bind', source: '/dev/kmsg', options: ['bind'] },
      { destination: '/dev/loop-control', type: 'bind', source: '/dev/loop-control', options: ['bind'] },
    );
    cfg.linux.resources.devices = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 11, access: 'w' },
      { allow: false, type: 'c', major: 10, minor: 237, access: 'rwm' },
    ];
    const r = sk(['run', '-b', makeBundle(cfg), id('dev')]);
    expect(r.stdout.trim().split('\n')).toEqual(['kmsg-ok', 'null-ok', '4']);
    expect(r.stderr).toMatch(/can't create \/dev\/loop-control: Operation not permitted/);
  });

  it('pause freezes through cgroup.freeze and resume thaws', async () => {
    ok(['run', '-d', '-b', makeBundle(cfgFor('frz', ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done'])), id('frz')]);
    const pid = JSON.parse(ok(['state', id('frz')])).pid;
    const counter = () => Number(readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8').trim() || 0);
    await until('counter running', () => (counter() > 2 ? true : undefined));
    ok(['pause', id('frz')]);
    expect(status('frz')).toBe('paused');
    expect(file('frz', 'cgroup.freeze')).toBe('1');
    expect(file('frz', 'cgroup.events')).toMatch(/frozen 1/);
    const frozenAt = counter();
    // Frozen: the same value on two reads with the counter's own period between them.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    expect(counter()).toBe(frozenAt);
    ok(['resume', id('frz')]);
    expect(status('frz')).toBe('running');
    await until('counter moving again', () => (counter() > frozenAt ? true : undefined));
    gone('frz');
  });

  it('update: live limits in the files (and the unit), read back from inside through a cgroup namespace', () => {
    const cfg = cfgFor('upd', ['sleep', '1000']);
    cfg.linux.resources.memory = { limit: 64 << 20 };
    cfg.linux.resources.pids = { limit: 100 };
    cfg.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
    ok(['run', '-d', '-b', makeBundle(cfg), id('upd')]);
    ok(['update', '--memory', '48m', '--pids-limit', '30', '--cpu-quota', '30000', '--cpu-period', '100000', id('upd')]);
    expect(file('upd', 'memory.max')).toBe(String(48 << 20));
    expect(file('upd', 'pids.max')).toBe('30');
    expect(file('upd', 'cpu.max')).toBe('30000 100000');
    if (d.unit) {
      expect(unitProp(d.unit(id('upd')), 'MemoryMax')).toBe(String(48 << 20));
      expect(unitProp(d.unit(id('upd')), 'TasksMax')).toBe('30');
    }
    // Inside: its own cgroup is the namespace root, and its files show the new values.
    expect(ok(['exec', id('upd'), 'cat', '/proc/self/cgroup']).trim()).toBe('0::/');
    expect(ok(['exec', id('upd'), 'cat', '/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/pids.max']).trim().split('\n')).toEqual([String(48 << 20), '30']);
    gone('upd');
  });

  it('kill --all reaches every process (cgroup.kill)', async () => {
    ok(['run', '-d', '-b', makeBundle(cfgFor('kall', ['sh', '-c', 'sleep 1000 & sleep 1000 & wait'])), id('kall')]);
    await until('three processes', () => (JSON.parse(ok(['ps', '--format', 'json', id('kall')])).length >= 3 ? true : undefined));
    ok(['kill', '--all', id('kall'), 'KILL']);
    await until('stopped', () => (status('kall') === 'stopped' ? true : undefined));
    // Empty; systemd already removed a scope whose last process died.
    const procs = join(d.dir(skiff, id('kall')), 'cgroup.procs');
    if (d.unit) expect(existsSync(procs) ? readFileSync(procs, 'utf8').trim() : '').toBe('');
    else expect(readFileSync(procs, 'utf8').trim()).toBe('');
    gone('kall');
  });

  it('hugetlb limits are written; rdma and misc without such resources fail naming the file', () => {
    const cfg = cfgFor('huge', ['true']);
    cfg.linux.resources.hugepageLimits = [{ pageSize: '2MB', limit: 4 << 20 }];
    ok(['create', '-b', makeBundle(cfg), id('huge')]);
    expect(file('huge', 'hugetlb.2MB.max')).toBe(String(4 << 20));
    gone('huge');
    const rdma = cfgFor('rdma', ['true']);
    rdma.linux.resources.rdma = { mlx_skiff0: { hcaHandles: 2 } };
    const r = sk(['create', '-b', makeBundle(rdma), id('rdma')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/rdma\.max/);
    expect(existsSync(d.dir(skiff, id('rdma')))).toBe(false);
    const misc = cfgFor('misc', ['true']);
    misc.linux.resources.unified = { 'misc.max': 'skiff_nonexistent 1' };
    const m = sk(['create', '-b', makeBundle(misc), id('misc')]);
    expect(m.status).not.toBe(0);
    expect(m.stderr).toMatch(/misc\.max/);
    expect(existsSync(d.dir(skiff, id('misc')))).toBe(false);
  });
});

describe.skipIf(!PURE_V2 || !SYSTEMD)('systemd driver: org.systemd.property.* annotations and features', () => {
  const skiff = new Skiff();
  const unit = (name: string) => `skiff-${tag}-${name}.scope`;
  const cfgWith = (name: string, annotations: Record<string, string>) => {
    const cfg = baseConfig(['sleep', '1000']);
    cfg.linux.cgroupsPath = `${SLICE}:skiff:${tag}-${name}`;
    cfg.annotations = annotations;
    return cfg;
  };
  afterAll(() => {
    skiff.cleanup();
    spawnSync('systemctl', ['stop', SLICE]);
  });

  it('features names the systemd driver and its annotations', () => {
    const doc = JSON.parse(skiff.run(['features']).stdout);
    expect(doc.linux.cgroup.systemd).toBe(true);
    expect(doc.potentiallyUnsafeConfigAnnotations).toEqual(['org.systemd.property.']);
  });

  it('annotations become properties of the scope (a *Sec name in seconds as *USec)', () => {
    const cfg = cfgWith('props', {
      'org.systemd.property.TimeoutStopSec': '7',
      'org.systemd.property.Description': "'annotated by skiff'",
      'org.systemd.property.CollectMode': "'inactive'",
    });
    const r = skiff.run(['--systemd-cgroup', 'run', '-d', '-b', makeBundle(cfg), `${tag}-props`], { detached: true, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(unitProp(unit('props'), 'TimeoutStopUSec')).toBe('7s');
    expect(unitProp(unit('props'), 'Description')).toBe('annotated by skiff');
    expect(unitProp(unit('props'), 'CollectMode')).toBe('inactive');
    expect(skiff.run(['--systemd-cgroup', 'delete', '--force', `${tag}-props`]).status).toBe(0);
    expect(['inactive', '']).toContain(unitProp(unit('props'), 'ActiveState'));
  });

  it('a bad annotation (a name, a value, or a property systemd does not know) fails with one line and leaves nothing', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['badname', { 'org.systemd.property.A1b': '1' }, /^skiff: annotation org\.systemd\.property\.A1b name incorrect: contains non-alphabetic character$/],
      ['badvalue', { 'org.systemd.property.CollectMode': 'inactive' }, /^skiff: annotation org\.systemd\.property\.CollectMode=inactive value parse error: .*strings need quotes/],
      ['unknown', { 'org.systemd.property.SkiffNoSuchThing': 'true' }, /^skiff: systemd refused start skiff-\S+-unknown\.scope: .*SkiffNoSuchThing/],
    ];
    for (const [name, annotations, message] of cases) {
      const r = skiff.run(['--systemd-cgroup', 'create', '-b', makeBundle(cfgWith(name, annotations)), `${tag}-${name}`], { detached: true, timeout: 120_000 });
      expect(r.status, name).toBe(1);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
      expect(existsSync(join(skiff.root, `${tag}-${name}`)), name).toBe(false);
      expect(['inactive', ''], name).toContain(unitProp(unit(name), 'ActiveState'));
      expect(existsSync(join(CG, SLICE, unit(name))), name).toBe(false);
    }
  });
});

describe.skipIf(!PURE_V2)('cgroupfs driver: delegation', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('a parent that cannot delegate memory (it holds a process) gives one clear error and leaves nothing', () => {
    const parent = join(CG, `skiff-${tag}-busy`);
    mkdirSync(parent);
    const holder = spawn('sleep', ['1000']);
    try {
      writeFileSync(join(parent, 'cgroup.procs'), String(holder.pid));
      const cfg = baseConfig(['true']);
      cfg.linux.cgroupsPath = `/skiff-${tag}-busy/c1`;
      cfg.linux.resources.memory = { limit: 32 << 20 };
      const r = skiff.run(['create', '-b', makeBundle(cfg), `${tag}-deleg`], { detached: true });
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/the memory controller is not available in this cgroup/);
      expect(r.stderr).toMatch(new RegExp(`skiff-${tag}-busy does not delegate it`));
      expect(existsSync(join(parent, 'c1'))).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      await_exit(holder);
      try {
        rmdirSync(parent);
      } catch {
        /* the holder is still leaving: the next boot has a fresh tree anyway */
      }
    }
  });
});

function await_exit(child: ChildProcess): void {
  const end = Date.now() + 5000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < end) {
    try {
      process.kill(child.pid!, 0);
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
