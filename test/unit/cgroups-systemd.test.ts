// The systemd driver without systemd: names, properties and device translation as pure functions,
// then the whole driver over real D-Bus against a fake systemd manager (test/fixtures/fake-systemd.cjs)
// on a private dbus-daemon, with a fake cgroup2 tree for the scope's files. The driver on a real
// systemd runs in the VM tier (test/v2/systemd.test.ts).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needTools, skipWhen } from '../host';
import { openCgroupManager } from '../../src/runtime/cgroups';
import { DEFAULT_ALLOWED_DEVICES, emulateDeviceRules } from '../../src/runtime/cgroups/devices';
import { DbusSystemdBus } from '../../src/runtime/cgroups/systemd-bus';
import { parseGVariant } from '../../src/runtime/cgroups/gvariant';
import { type CgroupSystemdManager, annotationProperties, cpuListToMask, cpuQuotaPerSec, devicePropertiesExact, expandSlice, resourceProperties, systemdUnitName } from '../../src/runtime/cgroups/systemd';

const PROC_DEVICES = 'Character devices:\n  1 mem\n  4 tty\n  5 /dev/tty\n136 pts\n180 usb\n\nBlock devices:\n  8 sd\n254 virtblk\n259 blkext\n';

describe('systemd names', () => {
  it('expands slices into their cgroup path', () => {
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
    expect(expandSlice('-.slice')).toBe('/');
    for (const bad of ['a', 'a--b.slice', '-a.slice', 'a-.slice', 'a/b.slice', '../x.slice']) expect(() => expandSlice(bad)).toThrow(/invalid slice name/);
  });

  it('turns slice:prefix:name into a scope, with defaults', () => {
    expect(systemdUnitName('machine.slice:libpod:abc', 'x')).toEqual({ slice: 'machine.slice', unit: 'libpod-abc.scope', path: '/machine.slice/libpod-abc.scope' });
    expect(systemdUnitName(':cri-containerd:c1', 'x')).toEqual({ slice: 'system.slice', unit: 'cri-containerd-c1.scope', path: '/system.slice/cri-containerd-c1.scope' });
    expect(systemdUnitName('kubepods-burstable.slice::c1', 'x').path).toBe('/kubepods.slice/kubepods-burstable.slice/c1.scope');
    expect(systemdUnitName(undefined, 'ctr1').unit).toBe('skiff-ctr1.scope');
    expect(() => systemdUnitName('/a/b', 'x')).toThrow(/expected "slice:prefix:name"/);
    expect(() => systemdUnitName('a.slice:p:', 'x')).toThrow(/expected "slice:prefix:name"/);
    expect(() => systemdUnitName('a.slice:p:n/../x', 'x')).toThrow(/not a valid unit name/);
    expect(() => systemdUnitName('a.slice:p:x.slice', 'x')).toThrow(/slice as the container's own unit/);
  });
});

describe('systemd properties', () => {
  it('cpu lists become AllowedCPUs bitmasks', () => {
    expect([...cpuListToMask('0-3,7')]).toEqual([0x8f]);
    expect([...cpuListToMask('9')]).toEqual([0, 2]);
    expect(() => cpuListToMask('3-1')).toThrow(/invalid cpu/);
    expect(() => cpuListToMask('x')).toThrow(/invalid cpu/);
  });

  it('quota per second is rounded up to systemd 10 ms steps', () => {
    expect(cpuQuotaPerSec(50000, 100000)).toBe(500000n);
    expect(cpuQuotaPerSec(12345, 100000)).toBe(130000n);
  });

  it('maps the limits systemd knows and converts as the v2 driver does', () => {
    const { properties, devicesBySystemd } = resourceProperties({
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1' },
      pids: { limit: 42 },
      blockIO: { weight: 500 },
      unified: { 'memory.high': '50000000' },
    });
    expect(devicesBySystemd).toBe(false);
    const m = Object.fromEntries(properties.map(([k, , v]) => [k, v]));
    expect(m).toEqual({
      MemoryMax: 67108864n,
      MemoryLow: 33554432n,
      MemorySwapMax: 67108864n,
      MemoryHigh: 50000000n,
      CPUWeight: 100n,
      CPUQuotaPeriodUSec: 100000n,
      CPUQuotaPerSecUSec: 500000n,
      AllowedCPUs: new Uint8Array([3]),
      TasksMax: 42n,
      IOWeight: 4950n,
    });
    const unlimited = Object.fromEntries(resourceProperties({ memory: { limit: -1 }, pids: { limit: 0 }, cpu: { quota: -1 } }).properties.map(([k, , v]) => [k, v]));
    expect(unlimited.MemoryMax).toBe(2n ** 64n - 1n);
    expect(unlimited.TasksMax).toBe(2n ** 64n - 1n);
    expect(unlimited.CPUQuotaPerSecUSec).toBe(2n ** 64n - 1n);
  });

  it('device rules go to systemd only when DeviceAllow says exactly the same', () => {
    const engine = emulateDeviceRules([{ allow: false, access: 'rwm' }, ...DEFAULT_ALLOWED_DEVICES]);
    expect(devicePropertiesExact(engine, PROC_DEVICES)).toEqual([
      ['DevicePolicy', 's', 'strict'],
      [
        'DeviceAllow',
        'a(ss)',
        [
          ['char-*', 'm'],
          ['block-*', 'm'],
          ['/dev/char/1:3', 'rwm'],
          ['/dev/char/1:8', 'rwm'],
          ['/dev/char/1:7', 'rwm'],
          ['/dev/char/5:0', 'rwm'],
          ['/dev/char/1:5', 'rwm'],
          ['/dev/char/1:9', 'rwm'],
          ['/dev/char/5:1', 'rwm'],
          ['char-pts', 'rwm'],
          ['/dev/char/5:2', 'rwm'],
        ],
      ],
    ]);
    // Allow everything: no device program at all.
    expect(devicePropertiesExact(emulateDeviceRules([{ allow: true, access: 'rwm' }]), PROC_DEVICES)).toEqual([['DevicePolicy', 's', 'auto']]);
    // Deny exceptions (default allow), an unknown major, or a minor of any major: skiff's program.
    expect(devicePropertiesExact(emulateDeviceRules([{ allow: false, type: 'c', major: 1, minor: 3, access: 'w' }]), PROC_DEVICES)).toBeUndefined();
    expect(devicePropertiesExact(emulateDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 77, access: 'r' }]), PROC_DEVICES)).toBeUndefined();
    expect(devicePropertiesExact(emulateDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', minor: 3, access: 'r' }]), PROC_DEVICES)).toBeUndefined();
    const mine = resourceProperties({ devices: [{ allow: false, type: 'c', major: 1, minor: 3, access: 'w' }] }, { procDevices: PROC_DEVICES });
    expect(mine.devicesBySystemd).toBe(false);
    expect(mine.properties).toEqual([
      ['DevicePolicy', 's', 'auto'],
      ['DeviceAllow', 'a(ss)', []],
    ]);
    // An update resets systemd's list first (it appends otherwise).
    const upd = resourceProperties({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }] }, { update: true, procDevices: PROC_DEVICES });
    expect(upd.properties.map(([k, , v]) => [k, v])).toEqual([
      ['DeviceAllow', []],
      ['DevicePolicy', 'strict'],
      ['DeviceAllow', [['/dev/char/1:3', 'rw']]],
    ]);
  });

  it('is refused clearly where no systemd runs', () => {
    expect(() => openCgroupManager({ id: 'x', systemd: true, cgroupsPath: 'a.slice:p:x', root: tmpdir() })).toThrow(
      existsSync('/run/systemd/system') ? /cgroup v2 only|systemd/ : /systemd cgroup driver not available: no systemd running/,
    );
  });
});

describe('org.systemd.property.* annotations (runc semantics)', () => {
  it('GVariant text: numbers int32 or double unless typed, strings, booleans, arrays, tuples', () => {
    expect(parseGVariant('uint64 123456789')).toEqual({ signature: 't', value: 123456789n });
    expect(parseGVariant('@t 18446744073709551615')).toEqual({ signature: 't', value: 2n ** 64n - 1n });
    expect(parseGVariant('42')).toEqual({ signature: 'i', value: 42 });
    expect(parseGVariant('-1.5e1')).toEqual({ signature: 'd', value: -15 });
    expect(parseGVariant("'inactive-or-failed'")).toEqual({ signature: 's', value: 'inactive-or-failed' });
    expect(parseGVariant(String.raw`"it\'s \\ \u00e9"`)).toEqual({ signature: 's', value: "it's \\ é" });
    expect(parseGVariant(' true ')).toEqual({ signature: 'b', value: true });
    expect(parseGVariant("['a.service', 'b.service']")).toEqual({ signature: 'as', value: ['a.service', 'b.service'] });
    expect(parseGVariant('@as []')).toEqual({ signature: 'as', value: [] });
    expect(parseGVariant("[('/dev/null', 'rw')]")).toEqual({ signature: 'a(ss)', value: [['/dev/null', 'rw']] });
    expect(parseGVariant('[uint32 1, 2]').signature).toBe('au');
    expect(parseGVariant('int16 -7')).toEqual({ signature: 'n', value: -7 });
    for (const [bad, why] of [
      ['', /missing value/],
      ['yes', /strings need quotes/],
      ["'open", /unterminated string/],
      ['[]', /empty array cannot be inferred/],
      ['uint64 -1', /out of range/],
      ['byte 256', /out of range/],
      ['2147483648', /out of range for type i/],
      ["1 'x'", /after the value/],
      ['[1, true]', /different types/],
      ['<1>', /variants are not supported/],
      ['@q 1.5', /expected an integer/],
    ] as const) {
      expect(() => parseGVariant(bad), bad).toThrow(why);
    }
  });

  it('become unit properties; *Sec names are sent as *USec in microseconds; others are ignored', () => {
    expect(
      annotationProperties({
        'org.systemd.property.CollectMode': "'inactive-or-failed'",
        'org.systemd.property.TimeoutStopUSec': 'uint64 123456789',
        'org.systemd.property.TimeoutStopSec': '2',
        'org.systemd.property.RuntimeMaxSec': '1.5',
        'org.systemd.property.JobTimeoutUSec': 'uint64 1',
        'org.systemd.property.Wants': "['a.service']",
        'com.example.other': 'not gvariant at all',
      }),
    ).toEqual([
      ['CollectMode', 's', 'inactive-or-failed'],
      ['TimeoutStopUSec', 't', 123456789n],
      ['TimeoutStopUSec', 't', 2_000_000n],
      ['RuntimeMaxUSec', 't', 1_500_000n],
      // Upper case before "Sec": not the seconds spelling (runc's rule), sent as it is.
      ['JobTimeoutUSec', 't', 1n],
      ['Wants', 'as', ['a.service']],
    ]);
    expect(annotationProperties(undefined)).toEqual([]);
  });

  it('a bad one is refused with one line naming it', () => {
    const bad: [Record<string, string>, string][] = [
      [{ 'org.systemd.property.Ab': '1' }, 'annotation org.systemd.property.Ab name incorrect: too short'],
      [{ 'org.systemd.property.Memory-Max': '1' }, 'annotation org.systemd.property.Memory-Max name incorrect: contains non-alphabetic character'],
      [{ 'org.systemd.property.CollectMode': 'inactive' }, 'annotation org.systemd.property.CollectMode=inactive value parse error: unexpected "inactive" (strings need quotes)'],
      [{ 'org.systemd.property.TimeoutStopSec': "'2s'" }, "annotation org.systemd.property.TimeoutStopSec='2s' value parse error: not a number"],
      [{ 'org.systemd.property.TimeoutStopSec': '-2' }, 'annotation org.systemd.property.TimeoutStopSec=-2 value parse error: negative seconds'],
    ];
    for (const [annotations, message] of bad) {
      let got = '';
      try {
        annotationProperties(annotations);
      } catch (err) {
        got = (err as Error).message;
      }
      expect(got).toBe(message);
    }
  });
});

// ---- the driver over D-Bus, against the fake manager ----

const dbusDaemon = spawnSync('sh', ['-c', 'command -v dbus-daemon'], { encoding: 'utf8' }).stdout.trim();

describe.skipIf(skipWhen(needTools('dbus-daemon')))('the driver over a private D-Bus with a fake systemd', () => {
  let dir = '';
  let daemon: ChildProcess | undefined;
  let fake: ChildProcess | undefined;
  let root = '';
  let log = '';
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;

  const calls = (): { member: string; body: unknown[]; signatures: Record<string, string> }[] =>
    existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  const lines = (child: ChildProcess, want: RegExp) =>
    new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${want}: ${out}`)), 20_000);
      child.stdout!.on('data', (d) => {
        out += d;
        const m = want.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[0]);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-test-sdbus-'));
    root = join(dir, 'cgroup');
    log = join(dir, 'calls.jsonl');
    spawnSync('mkdir', ['-p', join(root, 'machine.slice')]);
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    writeFileSync(join(root, 'cgroup.subtree_control'), '');
    writeFileSync(
      join(dir, 'bus.conf'),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><listen>unix:path=${dir}/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>`,
    );
    daemon = spawn(dbusDaemon, ['--config-file', join(dir, 'bus.conf'), '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const address = (await lines(daemon, /unix:[^\n]+\n/)).trim();
    process.env.DBUS_SYSTEM_BUS_ADDRESS = address;
    fake = spawn(process.execPath, [join(__dirname, '..', 'fixtures', 'fake-systemd.cjs'), root, log], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address },
    });
    await lines(fake, /ready\n/);
  });

  afterAll(() => {
    fake?.kill('SIGKILL');
    daemon?.kill('SIGKILL');
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (id: string, cgroupsPath?: string, annotations?: Record<string, string>) =>
    openCgroupManager({ id, systemd: true, cgroupsPath, root, systemdBus: new DbusSystemdBus(), bpf: undefined, annotations }) as CgroupSystemdManager;

  it('starts a scope with the init and the limits, writes the rest to its files, stops it on destroy', () => {
    const cg = open('c1', 'machine.slice:libpod:c1');
    try {
      cg.create();
      cg.apply({ memory: { limit: 64 << 20 }, cpu: { quota: 12345, period: 100000, burst: 1000 }, pids: { limit: 42 }, unified: { 'memory.high': '50000000' } });
      // Nothing starts before the init exists (systemd refuses an empty scope); create only looks.
      expect(calls().map((c) => c.member)).toEqual(['GetUnit']);
      cg.addProcess(4242);
      const start = calls().find((c) => c.member === 'StartTransientUnit')!;
      expect(start.body[0]).toBe('libpod-c1.scope');
      expect(start.body[1]).toBe('replace');
      const props = Object.fromEntries(start.body[2] as [string, unknown][]);
      expect(props).toMatchObject({
        Slice: 'machine.slice',
        PIDs: [4242],
        Delegate: true,
        MemoryMax: String(64 << 20),
        MemoryHigh: '50000000',
        TasksMax: '42',
        CPUQuotaPerSecUSec: '130000',
        CPUQuotaPeriodUSec: '100000',
      });
      const scope = join(root, 'machine.slice', 'libpod-c1.scope');
      expect(cg.paths()).toEqual({ '': scope });
      // Exact values in the files, including what systemd cannot say (burst) or rounds (quota).
      expect(readFileSync(join(scope, 'cpu.max'), 'utf8')).toBe('12345 100000');
      expect(readFileSync(join(scope, 'cpu.max.burst'), 'utf8')).toBe('1000');
      expect(readFileSync(join(scope, 'memory.high'), 'utf8')).toBe('50000000');
      expect(readFileSync(join(scope, 'pids.max'), 'utf8')).toBe('42');

      cg.update({ memory: { limit: 32 << 20 } });
      const set = calls().find((c) => c.member === 'SetUnitProperties')!;
      expect(set.body).toEqual(['libpod-c1.scope', true, [['MemoryMax', String(32 << 20)]]]);
      expect(readFileSync(join(scope, 'memory.max'), 'utf8')).toBe(String(32 << 20));
    } finally {
      cg.destroy();
    }
    expect(calls().map((c) => c.member)).toContain('StopUnit');
    expect(existsSync(join(root, 'machine.slice', 'libpod-c1.scope'))).toBe(false);
  });

  it('refuses a scope that is already active, and names systemd errors', () => {
    const a = open('c2', 'machine.slice:libpod:c2');
    const b = open('c2', 'machine.slice:libpod:c2');
    try {
      a.create();
      a.addProcess(4343);
      expect(() => b.create()).toThrow(/libpod-c2.scope already exists and is active/);
    } finally {
      a.destroy();
    }
    expect(() => a.update({ pids: { limit: 5 } })).toThrow(/^systemd refused set libpod-c2.scope: Unit libpod-c2.scope not loaded. \(org.freedesktop.systemd1.NoSuchUnit\)$/);
    b.destroy(); // a unit that is gone already is stopped
  });

  it('says so when the bus is not there', () => {
    const saved2 = process.env.DBUS_SYSTEM_BUS_ADDRESS;
    process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${dir}/no-such-bus`;
    const cg = open('c3', 'machine.slice:libpod:c3');
    try {
      expect(() => cg.create()).toThrow(/cannot reach systemd on the system bus/);
      expect(() => cg.destroy()).toThrow(/cannot reach systemd on the system bus/);
    } finally {
      process.env.DBUS_SYSTEM_BUS_ADDRESS = saved2;
    }
  });

  it('sends org.systemd.property.* annotations with the scope, typed, after its own properties', () => {
    const cg = open('c0', 'machine.slice:libpod:c0', {
      'org.systemd.property.TimeoutStopSec': '7',
      'org.systemd.property.CollectMode': "'inactive'",
      'org.systemd.property.TasksMax': 'uint64 9',
    });
    try {
      cg.create();
      cg.apply({ pids: { limit: 42 } });
      cg.addProcess(4141);
      const start = calls().find((c) => c.member === 'StartTransientUnit' && c.body[0] === 'libpod-c0.scope')!;
      const props = start.body[2] as [string, unknown][];
      expect(start.signatures).toMatchObject({ TimeoutStopUSec: 't', CollectMode: 's', TasksMax: 't' });
      expect(props.filter(([k]) => k === 'TimeoutStopUSec' || k === 'CollectMode')).toEqual([['CollectMode', 'inactive-or-failed'], ['TimeoutStopUSec', '7000000'], ['CollectMode', 'inactive']]);
      // The annotation's TasksMax comes after the one from the limits: systemd keeps the last.
      expect(props.filter(([k]) => k === 'TasksMax')).toEqual([['TasksMax', '42'], ['TasksMax', '9']]);
    } finally {
      cg.destroy();
    }
  });

  it('a bad annotation fails before systemd is asked anything', () => {
    const before = calls().length;
    expect(() => open('c9', 'machine.slice:libpod:c9', { 'org.systemd.property.X': '1' })).toThrow('annotation org.systemd.property.X name incorrect: too short');
    expect(calls().length).toBe(before);
  });
});
