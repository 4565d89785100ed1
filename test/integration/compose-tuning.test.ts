// The Compose keys that map onto dock run's kernel-tuning and namespace flags (sysctls, shm_size,
// group_add, oom_*, ipc/pid service:X, uts/cgroup/userns_mode, mac_address, memory reservations,
// cpu_period/cpu_quota, blkio_config, logging none, annotations), each seen where it acts: inside
// the container, in its cgroup, or in `dock inspect`. In a test network namespace (ComposeWorld).

import { existsSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { d, isRoot } from './dock-helpers';
import { ComposeWorld } from './compose-world';

const CG = '/sys/fs/cgroup';
const v2 = existsSync(join(CG, 'cgroup.controllers'));

function cgFile(id: string, controller: string, v1name: string, v2name: string): string {
  if (v2) return readFileSync(join(CG, 'dock', id, v2name), 'utf8');
  const h = readdirSync(CG).find((n) => n.split(',').includes(controller))!;
  return readFileSync(join(CG, h, 'dock', id, v1name), 'utf8');
}

/** The first disk with a node in /dev (for the throttles), if the machine has one. */
function blockDevice(): { path: string; majmin: string } | undefined {
  for (const name of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    try {
      if (statSync(`/dev/${name}`).isBlockDevice()) return { path: `/dev/${name}`, majmin: readFileSync(`/sys/block/${name}/dev`, 'utf8').trim() };
    } catch {
      /* no node */
    }
  }
  return undefined;
}

describe.skipIf(skipWhen(needRoot()))('dock compose: tuning and namespace keys', () => {
  const w = new ComposeWorld();
  const project = `ctune${process.pid}`;
  const dev = blockDevice();
  const file = (macSysctl: string) => `name: ${project}
services:
  tuned:
    image: skiff-test/app:1
    command: [sleep, "600"]
    stop_signal: SIGKILL
    network_mode: none
    user: app:app
    sysctls:
      net.ipv4.ip_forward: 1
      kernel.shmmax: "123456789"
    shm_size: 32m
    group_add: [extra, 4242]
    oom_score_adj: 300
    oom_kill_disable: true
    ipc: shareable
    mem_limit: 64m
    deploy:
      resources:
        reservations:
          memory: 32M
    cpu_period: 50000
    cpu_quota: 25000
${dev ? `    blkio_config:\n      device_read_bps: [{path: ${dev.path}, rate: 1mb}]\n      device_write_iops: [{path: ${dev.path}, rate: 400}]\n` : ''}    logging:
      driver: none
    annotations:
      org.example.team: storage
  joined:
    image: skiff-test/app:1
    command: [sleep, "600"]
    stop_signal: SIGKILL
    network_mode: none
    ipc: service:tuned
    pid: service:tuned
  hostly:
    image: skiff-test/app:1
    command: [sleep, "600"]
    stop_signal: SIGKILL
    network_mode: none
    uts: host
    cgroup: host
    userns_mode: host
  mac:
    image: skiff-test/app:1
    command: [sleep, "600"]
    stop_signal: SIGKILL
    mac_address: "02:42:ac:11:00:99"
    dns_search: [corp.example, lab.example]
    dns_opt: [ndots:3, use-vc]
    sysctls: [net.core.somaxconn=${macSysctl}]
`;
  const exec = (svc: string, cmd: string) => w.ok(['exec', '-T', svc, 'sh', '-c', cmd]);
  const inspect = async (name: string) => JSON.parse(await w.dock(['inspect', `${project}-${name}-1`]))[0];

  beforeAll(async () => {
    await w.setUp('ct');
    writeFileSync(join(w.dir, 'compose.yaml'), file('512'));
    await w.ok(['up', '-d']);
  }, 300_000);
  afterAll(() => w.tearDown(), 300_000);

  it('sysctls, shm_size, group_add and oom_score_adj act inside the container', async () => {
    const lines = (await exec('tuned', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/self/oom_score_adj; grep " /dev/shm " /proc/mounts; id -G')).split('\n');
    expect(lines.slice(0, 3)).toEqual(['1', '123456789', '300']);
    expect(lines[3]).toMatch(/size=32768k/);
    expect(lines[4]).toBe('1000 2000 4242');
    expect(await exec('mac', 'cat /proc/sys/net/core/somaxconn')).toBe('512\n');
  }, 120_000);

  it('memory reservation, oom_kill_disable, cpu_period/cpu_quota and blkio_config reach the cgroup', async () => {
    const t = await inspect('tuned');
    const id: string = t.Id;
    expect(cgFile(id, 'memory', 'memory.soft_limit_in_bytes', 'memory.low').trim()).toBe(String(32 << 20));
    if (!v2) expect(cgFile(id, 'memory', 'memory.oom_control', '').split('\n')[0]).toBe('oom_kill_disable 1');
    if (v2) expect(cgFile(id, 'cpu', '', 'cpu.max').trim()).toBe('25000 50000');
    else expect([cgFile(id, 'cpu', 'cpu.cfs_period_us', '').trim(), cgFile(id, 'cpu', 'cpu.cfs_quota_us', '').trim()]).toEqual(['50000', '25000']);
    if (dev && !v2) {
      expect(cgFile(id, 'blkio', 'blkio.throttle.read_bps_device', '')).toContain(`${dev.majmin} ${1 << 20}`);
      expect(cgFile(id, 'blkio', 'blkio.throttle.write_iops_device', '')).toContain(`${dev.majmin} 400`);
    }
    if (dev && v2) expect(cgFile(id, 'io', '', 'io.max')).toContain(`${dev.majmin} rbps=${1 << 20} wbps=max riops=max wiops=400`);
    expect(t.HostConfig).toMatchObject({ MemoryReservation: 32 << 20, OomKillDisable: true, CpuPeriod: 50000, CpuQuota: 25000, LogConfig: { Type: 'none' }, Annotations: { 'org.example.team': 'storage' }, IpcMode: 'shareable' });
  }, 120_000);

  it('ipc/pid service:X join X; uts/cgroup host share the host namespaces; mac_address sets the address', async () => {
    const ns = (svc: string) => exec(svc, 'for t in ipc pid uts cgroup; do readlink /proc/self/ns/$t; done');
    const [tIpc, tPid] = (await ns('tuned')).split('\n');
    const [jIpc, jPid] = (await ns('joined')).split('\n');
    expect([jIpc, jPid]).toEqual([tIpc, tPid]);
    // One PID namespace: the joined container sees tuned's sleep besides its own.
    expect((await exec('joined', 'ps -o args | grep -c "^sleep 600"')).trim()).toBe('2');
    const [, , hUts, hCg] = (await ns('hostly')).split('\n');
    expect([hUts, hCg]).toEqual([readlinkSync('/proc/self/ns/uts'), readlinkSync('/proc/self/ns/cgroup')]);
    expect(await exec('mac', 'cat /sys/class/net/eth0/address')).toBe('02:42:ac:11:00:99\n');
    const resolv = await exec('mac', 'cat /etc/resolv.conf');
    expect(resolv).toMatch(/^search corp\.example lab\.example$/m);
    expect(resolv).toMatch(/^options ndots:3 use-vc$/m);
    expect((await inspect('mac')).HostConfig).toMatchObject({ DnsSearch: ['corp.example', 'lab.example'], DnsOptions: ['ndots:3', 'use-vc'] });
    // dock run's flags behind the keys: one resolv.conf word each.
    expect(await d(w.root, ['run', '--rm', '--network', 'none', '--dns-search', 'a b', 'skiff-test/app:1', 'true'])).toMatchObject({ code: 125, stderr: 'dock: invalid --dns-search "a b": a domain name\n' });
    expect(await d(w.root, ['run', '--rm', '--network', 'none', '--dns-option', 'ndots:2\nnameserver 1.2.3.4', 'skiff-test/app:1', 'true'])).toMatchObject({ code: 125 });
  }, 120_000);

  it('a changed sysctl recreates only that service', async () => {
    const ids = async () => Object.fromEntries(await Promise.all(['tuned', 'joined', 'hostly', 'mac'].map(async (s) => [s, (await inspect(s)).Id as string])));
    const before = await ids();
    await w.ok(['up', '-d']);
    expect(await ids()).toEqual(before);
    writeFileSync(join(w.dir, 'compose.yaml'), file('1024'));
    await w.ok(['up', '-d']);
    const after = await ids();
    expect(after.mac).not.toBe(before.mac);
    expect({ ...after, mac: '' }).toEqual({ ...before, mac: '' });
    expect(await exec('mac', 'cat /proc/sys/net/core/somaxconn')).toBe('1024\n');
  }, 300_000);

  it("a recreated container keeps its anonymous volumes (the service's and the image's); down -v removes them", async () => {
    const vfile = (v: string) => `name: ${project}v\nservices:\n  keeper:\n    build:\n      context: .\n      dockerfile_inline: |\n        FROM skiff-test/app:1\n        VOLUME /imgvol\n    command: [sleep, "600"]\n    stop_signal: SIGKILL\n    network_mode: none\n    environment: {V: "${v}"}\n    volumes: [/data]\n`;
    const o = { file: 'vol.yaml' };
    const anon = async () => {
      const doc = JSON.parse(await w.dock(['inspect', `${project}v-keeper-1`]))[0];
      return { id: doc.Id as string, vols: Object.fromEntries((doc.Mounts as Array<{ Type: string; Name: string; Destination: string }>).filter((m) => m.Type === 'volume').map((m) => [m.Destination, m.Name])) };
    };
    writeFileSync(join(w.dir, 'vol.yaml'), vfile('1'));
    await w.ok(['up', '-d'], o);
    await w.ok(['exec', '-T', 'keeper', 'sh', '-c', 'echo kept > /data/x; echo img > /imgvol/y'], o);
    const before = await anon();
    expect(Object.keys(before.vols).sort()).toEqual(['/data', '/imgvol']);
    writeFileSync(join(w.dir, 'vol.yaml'), vfile('2'));
    await w.ok(['up', '-d'], o);
    const after = await anon();
    expect(after.id).not.toBe(before.id);
    expect(after.vols).toEqual(before.vols);
    expect(await w.ok(['exec', '-T', 'keeper', 'sh', '-c', 'cat /data/x /imgvol/y; echo $V'], o)).toBe('kept\nimg\n2\n');
    // --force-recreate too; then down -v removes them with the container.
    await w.ok(['up', '-d', '--force-recreate'], o);
    expect((await anon()).vols).toEqual(before.vols);
    await w.ok(['down', '-v', '-t', '1'], o);
    const left = (await w.dock(['volume', 'ls', '-q'])).split('\n');
    for (const v of Object.values(before.vols)) expect(left).not.toContain(v);
  }, 300_000);
});
