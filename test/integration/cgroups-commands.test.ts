// Resource control on real containers: limits that the kernel enforces (memory/OOM, pids, cpu
// quota, devices), and the commands over the cgroup library (update, ps, pause/resume, events,
// kill --all), the `cgroup` mount of config.json, and that delete leaves no cgroup behind.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCgroupManager } from '../../src/runtime/cgroups';
import { EventStream, Skiff, baseConfig, isRoot, makeBundle } from '../helpers';
import { hostFeature, skipWhen } from '../host';

const CG = '/sys/fs/cgroup';
const V1 = isRoot && existsSync(join(CG, 'memory')) && existsSync(join(CG, 'freezer'));
/** Container ids (and so cgroup paths /skiff/<id>) unique to this run: other test files run at once. */
const uid = (name: string) => `cgc${process.pid}-${name}`;

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Poll `check` until it returns a value (not undefined), at most ~`seconds`; the bound only guards hangs. */
async function until<T>(what: string, check: () => T | undefined, seconds = 20): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The container's directories in every v1 hierarchy (every mounted one except the unified mount). */
/** `path` in every hierarchy, the hybrid unified one included (skiff makes its cgroups there too). */
function cgroupDirs(path: string): string[] {
  return readdirSync(CG)
    .map((h) => join(CG, h, path))
    .filter((d) => existsSync(d));
}




describe.skipIf(!V1)('cgroups through the commands, on real containers (cgroup v1)', () => {
  const skiff = new Skiff();
  const hostFile = (controller: string, id: string, file: string) => readFileSync(join(CG, controller, skiff.cgroup(id), file), 'utf8').trim();
  afterAll(() => skiff.cleanup());

  const status = (id: string) => JSON.parse(skiff.ok(['state', id])).status as string;
  const waitStatus = (id: string, want: string) => until(`${id} ${want}`, () => (status(id) === want ? true : undefined));
  const deleteAndCheck = (id: string) => {
    skiff.ok(['delete', '--force', id]);
    expect(cgroupDirs(skiff.cgroup(id))).toEqual([]);
  };

  it('kills a process that outgrows the memory limit, and events reports the oom', async () => {
    const id = uid('oom');
    const cfg = baseConfig(['sleep', '1000']);
    // Memory and memory+swap at 32 MiB: the hungry process cannot swap its way out.
    cfg.linux.resources.memory = { limit: 32 << 20, swap: 32 << 20 };
    skiff.ok(['run', '-d', '-b', makeBundle(cfg), id]);
    expect(hostFile('memory', id, 'memory.limit_in_bytes')).toBe(String(32 << 20));

    const ev = new EventStream(skiff.root, ['--interval', '200ms', id]);
    // The first stats line means the stream (and its OOM watch, set up before) is running.
    await until('first stats event', () => ev.events.find((e) => e.type === 'stats'));
    expect(ev.events[0]).toMatchObject({ type: 'stats', id, data: { memory: { usage: { limit: 32 << 20 } } } });
    expect(ev.events.some((e) => e.type === 'oom')).toBe(false);

    // busybox tail keeps the last lines of /dev/zero, which has no newline: it never stops growing.
    const hungry = skiff.run(['exec', id, 'tail', '/dev/zero']);
    expect(hungry.status).toBe(128 + 9); // SIGKILL from the OOM killer
    const oom = await until('oom event', () => ev.events.find((e) => e.type === 'oom'));
    expect(oom).toEqual({ type: 'oom', id });
    expect(hostFile('memory', id, 'memory.oom_control')).toMatch(/oom_kill [1-9]/);
    expect(status(id)).toBe('running'); // only the hungry process died

    // The stream ends by itself when the container stops.
    skiff.ok(['kill', id, 'KILL']);
    expect(await ev.exit()).toBe(0);
    expect(ev.stderr).toBe('');
    deleteAndCheck(id);
  });

  it('stops a fork loop at the pids limit', () => {
    const cfg = baseConfig([
      'sh',
      '-c',
      // The subshell forks until fork fails; the rest uses builtins only (no fork left).
      '(while :; do sleep 1000 & done) 2>/dev/null; echo "loop ended $?"; set -- /proc/[0-9]*; echo "procs $#"; kill -9 -1',
    ]);
    cfg.linux.resources.pids = { limit: 16 };
    const r = skiff.run(['run', '-b', makeBundle(cfg), uid('pids')]);
    expect(r.status, r.stderr).toBe(0);
    const [ended, procs] = r.stdout.trim().split('\n');
    expect(ended).toMatch(/^loop ended [1-9]\d*$/);
    const n = Number(procs.split(' ')[1]);
    expect(n).toBeGreaterThan(2);
    expect(n).toBeLessThanOrEqual(16);
    expect(cgroupDirs(skiff.cgroup(uid('pids')))).toEqual([]);
  });

  it('holds a busy loop to its cpu quota of a quarter core', async () => {
    const id = uid('cpu');
    const cfg = baseConfig(['sh', '-c', 'while :; do :; done']);
    cfg.linux.resources.cpu = { quota: 25000, period: 100000 };
    skiff.ok(['run', '-d', '-b', makeBundle(cfg), id]);
    expect(hostFile('cpu', id, 'cpu.cfs_quota_us')).toBe('25000');
    const sample = () => {
      const s = JSON.parse(skiff.ok(['events', '--stats', id]));
      return { t: process.hrtime.bigint(), usage: s.data.cpu.usage.total as number, throttled: s.data.cpu.throttling.throttledPeriods as number };
    };
    const a = sample();
    await new Promise((r) => setTimeout(r, 2000));
    const b = sample();
    const share = (b.usage - a.usage) / Number(b.t - a.t);
    // Unthrottled, the loop would use a whole core (share ~1). The kernel keeps it near 0.25;
    // the margin is generous, and throttled periods show the quota is what held it.
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThan(0.4);
    expect(b.throttled).toBeGreaterThan(a.throttled);
    deleteAndCheck(id);
  });

  it('device rules block one device and allow another', () => {
    // /dev/null and /dev/zero are in the default allow list every runtime appends after the
    // config's rules (runc does the same), so a rule cannot take them away: the test uses two
    // host devices bound into the container instead, one allowed and one denied by a rule.
    const cfg = baseConfig([
      'sh',
      '-c',
      // `true`, not `:`: a failed redirection of a special builtin would end the shell.
      'true > /dev/kmsg && echo kmsg-ok; true > /dev/loop-control && echo loop-ok; true > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c',
    ]);
    cfg.mounts.push(
      { destination: '/dev/kmsg', type: 'bind', source: '/dev/kmsg', options: ['bind'] },
      { destination: '/dev/loop-control', type: 'bind', source: '/dev/loop-control', options: ['bind'] },
    );
    cfg.linux.resources.devices = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }, // /dev/kmsg, write only
      { allow: false, type: 'c', major: 10, minor: 237, access: 'rwm' }, // /dev/loop-control
    ];
    const r = skiff.run(['run', '-b', makeBundle(cfg), uid('dev')]);
    expect(r.stdout.trim().split('\n')).toEqual(['kmsg-ok', 'null-ok', '4']);
    expect(r.stderr).toMatch(/can't create \/dev\/loop-control: Operation not permitted/);
  });

  it('pause freezes a counter, resume lets it go on; state says paused', async () => {
    const id = uid('pause');
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.02; done'])), id]);
    const pid = JSON.parse(skiff.ok(['state', id])).pid;
    // The container's /tmp is its own tmpfs: read it through the init's root.
    const counter = () => Number(readFileSync(`/proc/${pid}/root/tmp/n`, 'utf8').trim() || 0);
    await until('counter running', () => (counter() > 3 ? true : undefined));

    skiff.ok(['pause', id]);
    expect(status(id)).toBe('paused');
    expect(hostFile('freezer', id, 'freezer.state')).toBe('FROZEN');
    const frozen = counter();
    pause(500); // 25 increments' worth of time
    expect(counter()).toBe(frozen);
    expect(skiff.run(['pause', id]).stderr).toBe(`skiff: container ${id} is already paused\n`);

    skiff.ok(['resume', id]);
    expect(status(id)).toBe('running');
    await until('counter moving again', () => (counter() > frozen ? true : undefined));
    expect(skiff.run(['resume', id]).stderr).toBe('skiff: container not paused\n');

    // A paused container can be killed and deleted with --force.
    skiff.ok(['pause', id]);
    deleteAndCheck(id);
  });

  it('pause and resume refuse containers that are not running or not paused', async () => {
    const id = uid('pstate');
    skiff.ok(['create', '-b', makeBundle(baseConfig(['sleep', '1000'])), id]);
    expect(skiff.run(['resume', id]).stderr).toBe('skiff: container not paused\n');
    // A created container pauses as under runc, and resumes to created.
    skiff.ok(['pause', id]);
    expect(JSON.parse(skiff.ok(['state', id])).status).toBe('paused');
    expect(skiff.run(['start', id]).stderr).toBe('skiff: cannot start an already paused container\n');
    skiff.ok(['resume', id]);
    expect(JSON.parse(skiff.ok(['state', id])).status).toBe('created');
    skiff.ok(['kill', id, 'KILL']);
    await waitStatus(id, 'stopped');
    expect(skiff.run(['pause', id]).stderr).toBe('skiff: container not running\n');
    expect(skiff.run(['pause', 'nosuch']).stderr).toBe('skiff: container nosuch does not exist\n');
    skiff.ok(['delete', id]);
  });

  it('update changes live limits, read back from the host and from inside', () => {
    const id = uid('upd');
    const cfg = baseConfig(['sleep', '1000']);
    cfg.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
    cfg.linux.resources.memory = { limit: 64 << 20 };
    skiff.ok(['run', '-d', '-b', makeBundle(cfg), id]);

    skiff.ok(['update', '--memory', '48m', '--memory-reservation', '20M', '--pids-limit', '30', '--cpu-quota', '30000', '--cpu-period', '100000', '--cpu-share', '256', '--cpuset-cpus', '0', id]);
    expect(hostFile('memory', id, 'memory.limit_in_bytes')).toBe(String(48 << 20));
    expect(hostFile('memory', id, 'memory.soft_limit_in_bytes')).toBe(String(20 << 20));
    expect(hostFile('pids', id, 'pids.max')).toBe('30');
    expect(hostFile('cpu', id, 'cpu.cfs_quota_us')).toBe('30000');
    expect(hostFile('cpu', id, 'cpu.cfs_period_us')).toBe('100000');
    expect(hostFile('cpu', id, 'cpu.shares')).toBe('256');
    expect(hostFile('cpuset', id, 'cpuset.cpus')).toBe('0');
    // The container sees its new limit through its cgroup mount.
    expect(skiff.ok(['exec', id, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']).trim()).toBe(String(48 << 20));

    // A resources document on stdin; only what it names changes (pids limit 0 means unchanged).
    skiff.ok(['update', '--resources', '-', id], { input: JSON.stringify({ memory: { limit: 40 << 20 }, pids: { limit: 0 } }) });
    expect(hostFile('memory', id, 'memory.limit_in_bytes')).toBe(String(40 << 20));
    expect(hostFile('pids', id, 'pids.max')).toBe('30');

    // The record keeps the merged resources for later reads.
    const rec = JSON.parse(readFileSync(join(skiff.root, id, 'state.json'), 'utf8'));
    expect(rec.config.linux.resources).toMatchObject({
      memory: { limit: 40 << 20, reservation: 20 << 20 },
      pids: { limit: 30 },
      cpu: { quota: 30000, period: 100000, shares: 256, cpus: '0' },
      devices: [{ allow: false, access: 'rwm' }],
    });

    // Bad input fails with one line and changes nothing.
    const bad = (args: string[], err: RegExp, input?: string) => {
      const r = skiff.run(['update', ...args, id], { input });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(err);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    };
    bad(['--memory', '12x'], /^skiff: invalid value for --memory: invalid size: "12x"$/m);
    bad(['--cpu-quota', 'lots'], /^skiff: invalid value for --cpu-quota/m);
    bad(['--l3-cache-schema', 'L3:0=f'], /Intel RDT .* not supported/);
    bad(['-r', '-'], /^skiff: invalid resources: \/memory\/limit: /m, '{"memory":{"limit":"x"}}');
    bad(['--memory', '100k'], /^skiff: unable to set memory limit to 102400 .*current usage/m);
    expect(hostFile('memory', id, 'memory.limit_in_bytes')).toBe(String(40 << 20));

    deleteAndCheck(id);
    expect(skiff.run(['update', '--memory', '1m', id]).stderr).toBe(`skiff: container ${id} does not exist\n`);
  });

  it('update refuses a stopped container', async () => {
    const id = uid('updstop');
    skiff.ok(['create', '-b', makeBundle(baseConfig(['sleep', '1000'])), id]);
    skiff.ok(['kill', id, 'KILL']);
    await waitStatus(id, 'stopped');
    expect(skiff.run(['update', '--memory', '10m', id]).stderr).toBe('skiff: container not running\n');
    skiff.ok(['delete', id]);
  });

  it('ps lists the container processes as host pids (json) and as ps lines (table)', async () => {
    const id = uid('ps');
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sh', '-c', 'sleep 1001 & sleep 1002 & wait'])), id]);
    const init = JSON.parse(skiff.ok(['state', id])).pid as number;
    // Three processes, and the two children past their exec of sleep (a forked sh shows sh's cmdline).
    const cmdline = (p: number) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8'); } catch { return ''; } };
    const pids = await until('three processes, two of them sleep', () => {
      const p = JSON.parse(skiff.ok(['ps', '--format', 'json', id])) as number[];
      return p.length === 3 && p.filter((x) => cmdline(x).startsWith('sleep\x00')).length === 2 ? p : undefined;
    });
    expect(pids).toContain(init);
    for (const p of pids) expect(readFileSync(`/proc/${p}/cgroup`, 'utf8')).toContain(`:memory:/${skiff.cgroup(id)}\n`);
    const comms = pids.filter((p) => p !== init).map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8'));
    expect(comms.sort()).toEqual(['sleep\x001001\x00', 'sleep\x001002\x00']);

    const table = skiff.ok(['ps', id]).trim().split('\n');
    expect(table[0]).toMatch(/^UID\s+PID\s+PPID\s/);
    expect(table.slice(1).map((l) => Number(l.trim().split(/\s+/)[1])).sort()).toEqual([...pids].sort());
    const custom = skiff.ok(['ps', id, '--', '-o', 'pid,args']).trim().split('\n');
    expect(custom[0]).toMatch(/^\s*PID COMMAND$/);
    expect(custom.slice(1).map((l) => l.trim().replace(/^\d+\s+/, '')).sort()).toEqual(['sh -c sleep 1001 & sleep 1002 & wait', 'sleep 1001', 'sleep 1002']);
    expect(skiff.run(['ps', id, '--', '-o', 'comm']).stderr).toBe("skiff: couldn't find PID field in ps output (ps -o comm)\n");
    deleteAndCheck(id);
    expect(skiff.run(['ps', '--format', 'json', id]).stderr).toBe(`skiff: container ${id} does not exist\n`);
  });

  it('kill --all reaches every process of a created and of a running container', async () => {
    const created = uid('kac');
    skiff.ok(['create', '-b', makeBundle(baseConfig(['sleep', '1000'])), created]);
    skiff.ok(['kill', '--all', created, 'KILL']);
    await waitStatus(created, 'stopped');
    expect(JSON.parse(skiff.ok(['ps', '--format', 'json', created]))).toEqual([]);
    skiff.ok(['delete', created]);

    const running = uid('kar');
    // The shell waits in a builtin `read` on a fifo nobody writes: it never forks again.
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sh', '-c', 'sleep 1000 & mkfifo /tmp/f; exec 3<>/tmp/f; read x <&3'])), running]);
    skiff.ok(['exec', '-d', running, 'sleep', '1001'], { detached: true }); // the process keeps our stdio
    await until('three processes', () => (JSON.parse(skiff.ok(['ps', '--format', 'json', running])).length === 3 ? true : undefined));
    // TERM: the sleeps die; the shell is its pid namespace's init without a handler, so it stays.
    skiff.ok(['kill', '--all', running, 'TERM']);
    const left = await until('the sleeps gone', () => {
      const p = JSON.parse(skiff.ok(['ps', '--format', 'json', running])) as number[];
      return p.length === 1 ? p : undefined;
    });
    expect(left).toEqual([JSON.parse(skiff.ok(['state', running])).pid]);
    skiff.ok(['kill', '--all', running, 'KILL']);
    await waitStatus(running, 'stopped');
    expect(JSON.parse(skiff.ok(['ps', '--format', 'json', running]))).toEqual([]);
    deleteAndCheck(running);
  });

  it('events: --stats once, a stream that SIGTERM ends cleanly, errors for stopped containers', async () => {
    const id = uid('ev');
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sleep', '1000'])), id]);
    const once1 = JSON.parse(skiff.ok(['events', '--stats', id]));
    expect(once1).toMatchObject({ type: 'stats', id });
    expect(Object.keys(once1.data)).toEqual(expect.arrayContaining(['cpu', 'memory', 'pids', 'blkio', 'hugetlb']));
    expect(once1.data.pids).toEqual({ current: 1, limit: 64 });
    expect(once1.data.cpu.usage.total).toBeGreaterThan(0);

    const ev = new EventStream(skiff.root, ['--interval', '100ms', id]);
    await until('two stats events', () => (ev.events.length >= 2 ? true : undefined));
    ev.child.kill('SIGTERM');
    expect(await ev.exit()).toBe(0);
    expect(ev.events.every((e) => e.type === 'stats' && e.id === id)).toBe(true);
    expect(ev.stderr).toBe('');

    expect(skiff.run(['events', '--interval', '0s', id]).stderr).toBe('skiff: duration interval must be greater than 0\n');
    expect(skiff.run(['events', '--interval', 'soon', id]).stderr).toBe('skiff: invalid duration "soon"\n');
    skiff.ok(['kill', id, 'KILL']);
    await waitStatus(id, 'stopped');
    expect(skiff.run(['events', '--stats', id]).stderr).toBe(`skiff: container with id ${id} is not running\n`);
    expect(skiff.run(['events', id]).stderr).toBe(`skiff: container with id ${id} is not running\n`);
    deleteAndCheck(id);
  });

  it('mounts the cgroup type: hierarchies of the container, read-only, on a writable tmpfs as runc, with or without a cgroup namespace', () => {
    const script = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup | tr "\\n" " "; echo; touch /sys/fs/cgroup/x 2>&1 && echo tmpfs-writable; echo 1 2>&1 > /sys/fs/cgroup/pids/pids.max; cat /sys/fs/cgroup/pids/cgroup.procs';
    for (const cgroupns of [true, false]) {
      const cfg = baseConfig(['sh', '-c', script]);
      if (!cgroupns) cfg.linux.namespaces = cfg.linux.namespaces.filter((n: { type: string }) => n.type !== 'cgroup');
      cfg.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
      cfg.linux.resources.memory = { limit: 48 << 20 };
      cfg.linux.resources.pids = { limit: 33 };
      const r = skiff.run(['run', '-b', makeBundle(cfg), uid(`mnt${cgroupns ? 'ns' : ''}`)]);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0], r.stderr).toBe(String(48 << 20));
      expect(lines[1]).toBe('33');
      const hierarchies = readdirSync(CG).filter((h) => h !== 'unified').sort();
      expect(lines[2].trim().split(' ').sort()).toEqual(hierarchies);
      expect(lines[3]).toBe('tmpfs-writable'); // runc 1.1 leaves the tmpfs writable; the hierarchies are not
      expect(lines[4]).toMatch(/Read-only file system/);
      // Only the container's own process is in the cgroup it sees: cat (the shell exec'd it), pid 1.
      expect(lines.slice(5)).toEqual(['1']);
    }
  });

  it('create writes every linux.resources field this host has, and names the ones it cannot honour', () => {
    const id = uid('all');
    const disk = readFileSync('/proc/partitions', 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f.length === 4 && /^\d+$/.test(f[0]) && !f[3].startsWith('loop') && !f[3].startsWith('zram') && !/\d$/.test(f[3]));
    // Disks on the none/mq-deadline scheduler have no weight file: there the weight is checked for its error.
    const noWeight = hostFeature.blkioWeight();
    skipWhen(noWeight && `blkio weight: ${noWeight}`);
    const cfg = baseConfig(['sleep', '1000']);
    cfg.linux.resources = {
      ...cfg.linux.resources,
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20, swappiness: 30, disableOOMKiller: true },
      cpu: { shares: 512, quota: 20000, period: 50000, burst: 10000, cpus: '0', mems: '0', idle: 0 },
      pids: { limit: 42 },
      blockIO: {
        ...(noWeight ? {} : { weight: 300 }),
        ...(disk
          ? {
              throttleReadBpsDevice: [{ major: Number(disk[0]), minor: Number(disk[1]), rate: 10485760 }],
              throttleWriteBpsDevice: [{ major: Number(disk[0]), minor: Number(disk[1]), rate: 5242880 }],
              throttleReadIOPSDevice: [{ major: Number(disk[0]), minor: Number(disk[1]), rate: 1000 }],
              throttleWriteIOPSDevice: [{ major: Number(disk[0]), minor: Number(disk[1]), rate: 500 }],
            }
          : {}),
      },
    };
    skiff.ok(['create', '-b', makeBundle(cfg), id]);
    const f = (c: string, file: string) => hostFile(c, id, file);
    expect(f('memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
    expect(f('memory', 'memory.soft_limit_in_bytes')).toBe(String(32 << 20));
    expect(f('memory', 'memory.memsw.limit_in_bytes')).toBe(String(96 << 20));
    expect(f('memory', 'memory.swappiness')).toBe('30');
    expect(f('memory', 'memory.oom_control')).toMatch(/^oom_kill_disable 1$/m);
    expect(f('cpu', 'cpu.shares')).toBe('512');
    expect(f('cpu', 'cpu.cfs_quota_us')).toBe('20000');
    expect(f('cpu', 'cpu.cfs_period_us')).toBe('50000');
    expect(f('cpu', 'cpu.cfs_burst_us')).toBe('10000');
    expect(f('cpu', 'cpu.idle')).toBe('0');
    expect(f('cpuset', 'cpuset.cpus')).toBe('0');
    expect(f('cpuset', 'cpuset.mems')).toBe('0');
    expect(f('pids', 'pids.max')).toBe('42');
    if (!noWeight) expect(f('blkio', existsSync(join(CG, 'blkio', 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight')).toMatch(/^(default )?300$/m);
    if (disk) {
      const dev = `${disk[0]}:${disk[1]}`;
      expect(f('blkio', 'blkio.throttle.read_bps_device')).toBe(`${dev} 10485760`);
      expect(f('blkio', 'blkio.throttle.write_bps_device')).toBe(`${dev} 5242880`);
      expect(f('blkio', 'blkio.throttle.read_iops_device')).toBe(`${dev} 1000`);
      expect(f('blkio', 'blkio.throttle.write_iops_device')).toBe(`${dev} 500`);
    }
    // The deny-all rule, then the default allow list: only those remain in devices.list.
    expect(f('devices', 'devices.list').split('\n')).toEqual(expect.arrayContaining(['c 1:3 rwm', 'c 1:5 rwm', 'c *:* m', 'b *:* m']));
    expect(f('devices', 'devices.list')).not.toMatch(/^a /m);
    deleteAndCheck(id);

    if (noWeight) {
      const heavy = baseConfig(['true']);
      heavy.linux.resources = { ...heavy.linux.resources, blockIO: { weight: 300 } };
      const wid = uid('no-weight');
      const r = skiff.run(['create', '-b', makeBundle(heavy), wid]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^skiff: cannot set linux\.resources\.blockIO\.weight: no proportional-weight I\/O scheduler \(neither blkio\.weight nor blkio\.bfq\.weight in .*\)\n$/);
      expect(cgroupDirs(skiff.cgroup(wid))).toEqual([]);
      expect(existsSync(join(skiff.root, wid))).toBe(false);
    }

    // Controllers this host does not mount: one clear line naming the setting, nothing left behind.
    const missing = (['hugetlb', 'net_cls'] as const).filter((c) => !existsSync(join(CG, c)) && !readdirSync(CG).some((h) => h.split(',').includes(c)));
    for (const c of missing) {
      const bad = baseConfig(['true']);
      const res = c === 'hugetlb' ? { hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }] } : { network: { classID: 0x100001 } };
      bad.linux.resources = { ...bad.linux.resources, ...res };
      const bid = uid(`no-${c}`);
      const r = skiff.run(['create', '-b', makeBundle(bad), bid]);
      expect(r.status).toBe(1);
      const setting = c === 'hugetlb' ? 'hugepageLimits' : 'network.classID';
      expect(r.stderr).toBe(`skiff: cannot set linux.resources.${setting}: the ${c} cgroup controller is not mounted\n`);
      expect(cgroupDirs(skiff.cgroup(bid))).toEqual([]);
      expect(existsSync(join(skiff.root, bid))).toBe(false);
    }
  });

  it('delete removes the empty parents it created under /skiff, and keeps used ones', () => {
    const parent = `skiff-test-cgc-${process.pid}`;
    const bundle = (n: number) => {
      const cfg = baseConfig(['sleep', '1000']);
      cfg.linux.cgroupsPath = `${parent}/n${n}`; // relative: /skiff/<parent>/n<n>
      return makeBundle(cfg);
    };
    skiff.ok(['run', '-d', '-b', bundle(1), uid('par1')]);
    skiff.ok(['run', '-d', '-b', bundle(2), uid('par2')]);
    expect(cgroupDirs(`skiff/${parent}/n1`).length).toBeGreaterThan(5);
    skiff.ok(['delete', '--force', uid('par1')]);
    expect(cgroupDirs(`skiff/${parent}/n1`)).toEqual([]);
    expect(cgroupDirs(`skiff/${parent}`).length).toBeGreaterThan(5); // still holds n2
    skiff.ok(['delete', '--force', uid('par2')]);
    expect(cgroupDirs(`skiff/${parent}`)).toEqual([]);
  });
});

describe.skipIf(!V1)('removeEmptyParents through the manager', () => {
  it('removes the parent when the last child goes, tolerating a parent that is still used', () => {
    const parent = `/skiff-test-parents-${process.pid}`;
    const outside = `/skiff-test-outside-${process.pid}`;
    const a = openCgroupManager({ id: 'a', cgroupsPath: `${parent}/x/a`, parent });
    const b = openCgroupManager({ id: 'b', cgroupsPath: `${parent}/b`, parent });
    const c = openCgroupManager({ id: 'c', cgroupsPath: `${outside}/c`, parent });
    try {
      a.create();
      b.create();
      a.destroy();
      // x was a's alone; the parent still has b.
      expect(cgroupDirs(`${parent}/x`)).toEqual([]);
      expect(cgroupDirs(parent).length).toBeGreaterThan(5);
      b.destroy();
      expect(cgroupDirs(parent)).toEqual([]);
      // A path outside the parent: its own parent directories are not skiff's to remove.
      for (const h of readdirSync(CG)) mkdirSync(join(CG, h, outside));
      c.create();
      c.destroy();
      expect(cgroupDirs(`${outside}/c`)).toEqual([]);
      expect(cgroupDirs(outside).length).toBeGreaterThan(5);
    } finally {
      for (const m of [a, b, c]) try { m.destroy(); } catch { /* already gone */ }
      for (const d of cgroupDirs(outside)) rmdirSync(d);
    }
  });
});
