// docker run/create's flags that dock had lacked, each seen where it acts: inside the container,
// in its cgroup, in the OCI config, or in `dock inspect` under docker's name. Containers run with
// --network none, or on a user network whose host side is a test network namespace.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostFeature, needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { startRegistry } from '../fixtures/images/registry';
import { buildAppImage, cleanRoot, d, dockChild, dockScript, newRoot, ok, ops, waitFor, type TestImage } from './dock-helpers';
import { TestNetns } from './net-env';
import { DOCKER, docker, removeConfigDir, request, startService, type TestService } from './api-helpers';

const CG = '/sys/fs/cgroup';
const v2 = existsSync(join(CG, 'cgroup.controllers'));

/** A file of the container's cgroup: v1 under the controller's hierarchy, v2 in the unified one. */
function cgFile(id: string, controller: string, v1name: string, v2name: string): string {
  if (v2) return readFileSync(join(CG, 'dock', id, v2name), 'utf8');
  const h = readdirSync(CG).find((n) => n.split(',').includes(controller))!;
  return readFileSync(join(CG, h, 'dock', id, v1name), 'utf8');
}

/** A block device of the host (for the throttles): the first disk with a node in /dev. */
function blockDevice(): { path: string; majmin: string } | undefined {
  for (const name of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    const path = `/dev/${name}`;
    try {
      if (!statSync(path).isBlockDevice()) continue;
      return { path, majmin: readFileSync(`/sys/block/${name}/dev`, 'utf8').trim() };
    } catch {
      /* no node */
    }
  }
  return undefined;
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock run/create flags', { timeout: 240_000 }, () => {
  let img: TestImage;
  let root: string;
  let scratch: string;
  const inspect = async (name: string) => JSON.parse(await ok(root, ['inspect', name]))[0];
  const run = (args: string[]) => d(root, ['run', '--rm', '--network', 'none', ...args]);

  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
    scratch = mkdtempSync(join(tmpdir(), 'dock-flags-'));
  });
  afterAll(async () => {
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('--cidfile: written with the id, refused when it exists, removed when create fails', async () => {
    const cid = join(scratch, 'cid');
    const id = (await ok(root, ['create', '--cidfile', cid, '--network', 'none', img.name, 'true'])).trim();
    expect(readFileSync(cid, 'utf8')).toBe(id);
    expect((await inspect(id)).HostConfig.ContainerIDFile).toBe(cid);
    const before = (await ok(root, ['ps', '-aq'])).split('\n').filter(Boolean).length;
    const again = await d(root, ['run', '--cidfile', cid, '--network', 'none', img.name, 'true']);
    expect(again.code).toBe(125);
    expect(again.stderr).toBe(`dock: container ID file found, make sure the other container isn't running or delete ${cid}\n`);
    expect(readFileSync(cid, 'utf8')).toBe(id);
    expect((await ok(root, ['ps', '-aq'])).split('\n').filter(Boolean).length).toBe(before);
    // Hostile paths: a symlink to a host file, or a dangling one, is never followed nor written through.
    const victim = join(scratch, 'victim');
    writeFileSync(victim, 'host data\n');
    symlinkSync(victim, join(scratch, 'cid-link'));
    symlinkSync(join(scratch, 'made-through-link'), join(scratch, 'cid-dangling'));
    for (const p of ['cid-link', 'cid-dangling']) {
      const r = await d(root, ['create', '--cidfile', join(scratch, p), '--network', 'none', img.name, 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/container ID file found/);
    }
    expect(readFileSync(victim, 'utf8')).toBe('host data\n');
    expect(existsSync(join(scratch, 'made-through-link'))).toBe(false);
    expect((await d(root, ['create', '--cidfile', join(scratch, 'no/such/dir/cid'), '--network', 'none', img.name, 'true'])).stderr).toMatch(/failed to create the container ID file .*: no such file or directory/);
    expect((await ok(root, ['ps', '-aq'])).split('\n').filter(Boolean).length).toBe(before);
    const failed = join(scratch, 'cid-failed');
    const bad = await d(root, ['create', '--cidfile', failed, '--network', 'none', '--memory', '1k', img.name, 'true']);
    expect(bad.code).toBe(125);
    expect(existsSync(failed)).toBe(false);
    await ok(root, ['rm', id]);
  });

  it('--pid/--ipc/--uts/--cgroupns host share the host namespaces; --userns host is accepted', async () => {
    const ns = (t: string) => readlinkSync(`/proc/self/ns/${t}`);
    const r = await run(['--pid', 'host', '--ipc', 'host', '--uts', 'host', '--cgroupns', 'host', '--userns', 'host', img.name, 'sh', '-c', 'for t in pid ipc uts cgroup; do readlink /proc/self/ns/$t; done; hostname']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${ns('pid')}\n${ns('ipc')}\n${ns('uts')}\n${ns('cgroup')}\n${hostname()}\n`);
    const own = await run(['--cgroupns', 'private', img.name, 'sh', '-c', 'for t in pid ipc uts cgroup; do readlink /proc/self/ns/$t; done']);
    for (const [i, t] of ['pid', 'ipc', 'uts', 'cgroup'].entries()) expect(own.stdout.split('\n')[i]).not.toBe(ns(t));
    const c = await ok(root, ['create', '--pid', 'host', '--ipc', 'host', '--uts', 'host', '--userns', 'host', '--cgroupns', 'private', '--network', 'none', img.name, 'true']);
    expect((await inspect(c.trim())).HostConfig).toMatchObject({ PidMode: 'host', IpcMode: 'host', UTSMode: 'host', UsernsMode: 'host', CgroupnsMode: 'private' });
    await ok(root, ['rm', c.trim()]);
    // --ipc none: a private IPC namespace without /dev/shm; shareable: one of its own with it.
    expect((await run(['--ipc', 'none', img.name, 'sh', '-c', 'grep -c " /dev/shm " /proc/mounts || true'])).stdout).toBe('0\n');
    expect((await run(['--ipc', 'shareable', img.name, 'sh', '-c', 'grep -c " /dev/shm " /proc/mounts'])).stdout).toBe('1\n');
    const conflict = await run(['--uts', 'host', '-h', 'name', img.name, 'true']);
    expect(conflict).toMatchObject({ code: 125, stderr: 'dock: Conflicting options: hostname and the UTS mode\n' });
    const userns = await run(['--userns', 'private', img.name, 'true']);
    expect(userns.code).toBe(125);
  }, ops(10));

  it('--pid/--ipc container:X join the namespaces of X', async () => {
    const x = (await ok(root, ['run', '-d', '--name', 'nsowner', '--network', 'none', img.name, 'sleep', '600'])).trim();
    const pid = (await inspect(x)).State.Pid;
    const r = await run(['--pid', 'container:nsowner', '--ipc', 'container:nsowner', img.name, 'sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; ps -o args | grep -c "^sleep 600"']);
    expect(r.stdout).toBe(`${readlinkSync(`/proc/${pid}/ns/pid`)}\n${readlinkSync(`/proc/${pid}/ns/ipc`)}\n1\n`);
    const c = (await ok(root, ['create', '--pid', 'container:nsowner', '--network', 'none', img.name, 'true'])).trim();
    expect((await inspect(c)).HostConfig.PidMode).toBe(`container:${x}`);
    await ok(root, ['rm', '-f', c, x]);
  });

  it('--sysctl, --shm-size, --group-add, --oom-score-adj act inside the container', async () => {
    const r = await run(['--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789', '--shm-size', '32m', '--group-add', 'extra', '--group-add', '4242', '--oom-score-adj', '300', '-u', 'app:app', img.name, 'sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/self/oom_score_adj; grep " /dev/shm " /proc/mounts; id -G']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['1', '123456789', '300']);
    expect(lines[3]).toMatch(/size=32768k/);
    expect(lines[4]).toBe('1000 2000 4242');
    const bad = await run(['--sysctl', 'kernel.hostname=x', img.name, 'true']);
    expect(bad).toMatchObject({ code: 125, stderr: `dock: invalid argument "kernel.hostname=x" for "--sysctl" flag: sysctl 'kernel.hostname' is not allowed\n` });
    const hostNet = await d(root, ['run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', img.name, 'true']);
    expect(hostNet).toMatchObject({ code: 125, stderr: 'dock: sysctl "net.ipv4.ip_forward" not allowed in host network namespace\n' });
    const c = (await ok(root, ['create', '--network', 'none', '--sysctl', 'net.core.somaxconn=512', '--shm-size', '1g', '--group-add', 'extra', '--oom-score-adj', '-5', img.name, 'true'])).trim();
    expect((await inspect(c)).HostConfig).toMatchObject({ Sysctls: { 'net.core.somaxconn': '512' }, ShmSize: 1 << 30, GroupAdd: ['extra'], OomScoreAdj: -5 });
    await ok(root, ['rm', c]);
  });

  it('--memory-reservation, --oom-kill-disable, --cpu-period/--cpu-quota and the device throttles reach the cgroup', async () => {
    const dev = blockDevice();
    const throttles = dev ? ['--device-read-bps', `${dev.path}:1mb`, '--device-write-bps', `${dev.path}:2mb`, '--device-read-iops', `${dev.path}:300`, '--device-write-iops', `${dev.path}:400`] : [];
    const id = (await ok(root, ['run', '-d', '--network', 'none', '-m', '64m', '--memory-reservation', '32m', '--oom-kill-disable', '--cpu-period', '50000', '--cpu-quota', '25000', ...throttles, img.name, 'sleep', '600'])).trim();
    expect(cgFile(id, 'memory', 'memory.soft_limit_in_bytes', 'memory.low').trim()).toBe(String(32 << 20));
    if (!v2) expect(cgFile(id, 'memory', 'memory.oom_control', '').split('\n')[0]).toBe('oom_kill_disable 1');
    if (v2) expect(cgFile(id, 'cpu', '', 'cpu.max').trim()).toBe('25000 50000');
    else expect([cgFile(id, 'cpu', 'cpu.cfs_period_us', '').trim(), cgFile(id, 'cpu', 'cpu.cfs_quota_us', '').trim()]).toEqual(['50000', '25000']);
    if (dev && !v2) {
      expect(cgFile(id, 'blkio', 'blkio.throttle.read_bps_device', '')).toContain(`${dev.majmin} ${1 << 20}`);
      expect(cgFile(id, 'blkio', 'blkio.throttle.write_bps_device', '')).toContain(`${dev.majmin} ${2 << 20}`);
      expect(cgFile(id, 'blkio', 'blkio.throttle.read_iops_device', '')).toContain(`${dev.majmin} 300`);
      expect(cgFile(id, 'blkio', 'blkio.throttle.write_iops_device', '')).toContain(`${dev.majmin} 400`);
    }
    if (dev && v2) expect(cgFile(id, 'io', '', 'io.max')).toContain(`${dev.majmin} rbps=${1 << 20} wbps=${2 << 20} riops=300 wiops=400`);
    const hc = (await inspect(id)).HostConfig;
    expect(hc).toMatchObject({ MemoryReservation: 32 << 20, OomKillDisable: true, CpuPeriod: 50000, CpuQuota: 25000 });
    if (dev) expect(hc.BlkioDeviceReadBps).toEqual([{ Path: dev.path, Rate: 1 << 20 }]);
    await ok(root, ['rm', '-f', id]);
    const both = await run(['--cpus', '1', '--cpu-quota', '50000', img.name, 'true']);
    expect(both).toMatchObject({ code: 125, stderr: 'dock: Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set\n' });
    const over = await run(['-m', '32m', '--memory-reservation', '64m', img.name, 'true']);
    expect(over.code).toBe(125);
    expect(over.stderr).toMatch(/memory reservation/);
  });

  it('--blkio-weight: the weight file, or the runtime error where the host has none', async () => {
    const noWeight = hostFeature.blkioWeight();
    skipWhen(noWeight && `blkio weight: ${noWeight}`);
    const r = await d(root, ['run', '-d', '--name', 'weighted', '--network', 'none', '--blkio-weight', '300', img.name, 'sleep', '600']);
    if (noWeight) {
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/cannot set linux\.resources\.blockIO\.weight: no proportional-weight I\/O scheduler/);
      expect((await ok(root, ['inspect', '-f', '{{.HostConfig.BlkioWeight}}', 'weighted']))).toBe('300\n');
    } else {
      expect(r.code).toBe(0);
      const id = r.stdout.trim();
      const files = v2 ? ['io.bfq.weight', 'io.weight'] : ['blkio.weight', 'blkio.bfq.weight'];
      const text = files.map((f) => { try { return cgFile(id, v2 ? 'io' : 'blkio', f, f); } catch { return ''; } }).join('\n');
      expect(text).toMatch(/\b300\b/);
    }
    await ok(root, ['rm', '-f', 'weighted']);
    expect((await run(['--blkio-weight', '5', img.name, 'true'])).stderr).toBe('dock: range of blkio weight is from 10 to 1000\n');
  });

  it('--annotation, --expose, --stop-timeout, --log-driver none and local, in the OCI config and inspect', async () => {
    const id = (await ok(root, ['run', '-d', '--network', 'none', '--annotation', 'org.test.a=1', '--annotation', 'org.test.b=two=2', '--expose', '7000-7001/udp', '--expose', '8080', '--stop-timeout', '1', '--log-driver', 'none', img.name, 'sh', '-c', 'echo not kept; trap "" TERM; sleep 600 & wait'])).trim();
    const doc = await inspect(id);
    const spec = JSON.parse(readFileSync(join(dirname(doc.ResolvConfPath), 'config.json'), 'utf8'));
    expect(spec.annotations).toEqual({ 'org.test.a': '1', 'org.test.b': 'two=2' });
    expect(doc.HostConfig.Annotations).toEqual({ 'org.test.a': '1', 'org.test.b': 'two=2' });
    expect(Object.keys(doc.Config.ExposedPorts).sort()).toEqual(['7000/udp', '7001/udp', '8080/tcp']);
    expect(doc.Config.StopTimeout).toBe(1);
    expect(doc.HostConfig.LogConfig).toEqual({ Type: 'none', Config: {} });
    const logs = await d(root, ['logs', id]);
    expect(logs).toMatchObject({ code: 1, stdout: '', stderr: 'dock: configured logging driver does not support reading\n' });
    expect(existsSync(join(dirname(doc.ResolvConfPath), 'container.log'))).toBe(false);
    // The process ignores SIGTERM: stop kills it after --stop-timeout.
    await ok(root, ['stop', id]);
    expect(await ok(root, ['inspect', '-f', '{{.State.ExitCode}}', id])).toBe('137\n');
    await ok(root, ['rm', id]);
    const local = await run(['--log-driver', 'local', img.name, 'echo', 'kept']);
    expect(local.stdout).toBe('kept\n');
    const c = (await ok(root, ['run', '-d', '--network', 'none', '--log-driver', 'local', img.name, 'echo', 'in the log'])).trim();
    await ok(root, ['wait', c]);
    expect(await ok(root, ['logs', c])).toBe('in the log\n');
    expect((await inspect(c)).HostConfig.LogConfig.Type).toBe('local');
    await ok(root, ['rm', c]);
    const bad = await run(['--log-driver', 'syslog', img.name, 'true']);
    expect(bad.code).toBe(125);
    expect((await run(['--log-driver', 'none', '--log-opt', 'max-size=1m', img.name, 'true'])).stderr).toBe("dock: unknown log opt 'max-size' for none log driver\n");
  }, ops(13));

  it('--tty=false, -t=true and --rm=true: docker-style boolean values', async () => {
    const r = await d(root, ['run', '--rm=true', '--tty=false', '-i=false', '--network', 'none', img.name, 'sh', '-c', '[ -t 1 ] && echo tty || echo notty']);
    expect(r).toMatchObject({ code: 0, stdout: 'notty\n' });
    const t = await d(root, ['run', '--rm', '-t=true', '--network', 'none', img.name, 'sh', '-c', '[ -t 1 ] && echo tty || echo notty']);
    expect(t.stdout.replace(/\r/g, '')).toBe('tty\n');
    const last = await d(root, ['run', '--rm', '-t', '--tty=false', '--network', 'none', img.name, 'sh', '-c', '[ -t 1 ] && echo tty || echo notty']);
    expect(last.stdout).toBe('notty\n');
    const bad = await d(root, ['run', '--rm', '--network', 'none', '--tty=maybe', img.name, 'true']);
    expect(bad.code).toBe(125);
  });

  it('--sig-proxy: by default a signal to dock reaches the container; =false leaves the container running', async () => {
    const script = ['sh', '-c', 'trap "echo got TERM; exit 3" TERM; echo ready; while true; do sleep 0.1; done'];
    const a = dockChild(root, ['run', '--rm', '--network', 'none', img.name, ...script]);
    await waitFor(() => a.out().includes('ready'), 'the container to start');
    a.child.kill('SIGTERM');
    expect(await a.closed).toBe(3);
    expect(a.out()).toBe('ready\ngot TERM\n');
    const b = dockChild(root, ['run', '--name', 'noproxy', '--sig-proxy=false', '--network', 'none', img.name, ...script]);
    await waitFor(() => b.out().includes('ready'), 'the container to start');
    b.child.kill('SIGTERM');
    await b.closed;
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'noproxy'])).toBe('running\n');
    await ok(root, ['rm', '-f', 'noproxy']);
  });

  it('--detach-keys detaches a -it session with the keys given', async () => {
    const js = await dockScript();
    const child = spawn('script', ['-qfec', `${process.execPath} ${js} run -it --name detkeys --network none --detach-keys ctrl-a,x ${img.name} sh`, '/dev/null'], { env: { ...process.env, DOCK_ROOT: root, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (x) => (out += x));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    await waitFor(() => out.includes('# '), 'the shell prompt');
    child.stdin.write('\x10\x11echo still-attached\n'); // docker's default keys do nothing now
    await waitFor(() => out.includes('still-attached\r'), 'the echo');
    child.stdin.write('\x01x');
    expect(await closed).toBe(0);
    expect(out).toContain('read escape sequence');
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'detkeys'])).toBe('running\n');
    await ok(root, ['rm', '-f', 'detkeys']);
    const bad = await d(root, ['run', '--rm', '--network', 'none', '--detach-keys', 'ctrl-', img.name, 'true']);
    expect(bad).toMatchObject({ code: 125, stderr: "dock: invalid detach keys (ctrl-): unknown character: 'ctrl-'\n" });
  });

  it('-q: run pulls a missing image without a word; without it, the pull is reported on stderr', async () => {
    skipWhen(needTools('docker-registry'));
    if (needTools('docker-registry')) return;
    const reg = await startRegistry();
    try {
      execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${img.archive}`, `docker://${reg.host}/flags/app:1`], { stdio: 'ignore' });
      const ref = `${reg.host}/flags/app:1`;
      const quiet = await d(root, ['--insecure-registry', reg.host, 'run', '--rm', '-q', '--network', 'none', ref, 'echo', 'quiet']);
      expect(quiet).toMatchObject({ code: 0, stdout: 'quiet\n', stderr: '' });
      await ok(root, ['rmi', ref]);
      const loud = await d(root, ['--insecure-registry', reg.host, 'run', '--rm', '--network', 'none', ref, 'echo', 'loud']);
      expect(loud.stdout).toBe('loud\n');
      expect(loud.stderr).toMatch(new RegExp(`^Unable to find image '${ref}' locally\n`));
      expect(loud.stderr).toMatch(/Pull complete|Download complete|Digest: sha256:/);
      await ok(root, ['rmi', ref]);
    } finally {
      await reg.stop();
    }
  });
});

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'nft', 'ip')))('dock run --ip and --mac-address (inside a test network namespace)', { timeout: 240_000 }, () => {
  let img: TestImage;
  let root: string;
  let host: TestNetns;
  let env: Record<string, string>;
  const net = `dfl-${process.pid}`;

  beforeAll(async () => {
    host = new TestNetns('fl');
    env = { DOCK_HOST_NETNS: host.path };
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      const ids = (await d(root, ['ps', '-aq', '--no-trunc'], { env })).stdout.split('\n').filter(Boolean);
      if (ids.length) await d(root, ['rm', '-f', '-v', ...ids], { env });
      await d(root, ['network', 'rm', net], { env });
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
    host?.remove();
  });

  it('gives the container the address and MAC asked for, shown by inspect', async () => {
    const dk = (args: string[]) => d(root, args, { env });
    expect((await dk(['network', 'create', '--subnet', '10.89.0.0/24', net])).code).toBe(0);
    const r = await dk(['run', '-d', '--name', 'fixed', '--network', net, '--ip', '10.89.0.42', '--mac-address', '02:42:AC:11:00:99', img.name, 'sleep', '600']);
    expect(r.stderr).toBe('');
    const addr = await dk(['exec', 'fixed', 'ip', 'addr', 'show', 'eth0']);
    expect(addr.stdout).toContain('inet 10.89.0.42/24');
    expect(addr.stdout).toContain('link/ether 02:42:ac:11:00:99');
    const doc = JSON.parse((await dk(['inspect', 'fixed'])).stdout)[0];
    expect(doc.Config.MacAddress).toBe('02:42:ac:11:00:99');
    expect(doc.NetworkSettings.Networks[net]).toMatchObject({ IPAddress: '10.89.0.42', MacAddress: '02:42:ac:11:00:99', IPAMConfig: { IPv4Address: '10.89.0.42' } });
    // A created container shows what it asked for before it has an endpoint.
    const created = (await dk(['create', '--network', net, '--ip', '10.89.0.43', '--mac-address', '02:42:ac:11:00:98', img.name, 'true'])).stdout.trim();
    expect(JSON.parse((await dk(['inspect', created])).stdout)[0].NetworkSettings.Networks[net]).toMatchObject({ IPAddress: '', MacAddress: '02:42:ac:11:00:98', IPAMConfig: { IPv4Address: '10.89.0.43' } });
    await dk(['rm', created]);
    const taken = await dk(['run', '--rm', '--network', net, '--ip', '10.89.0.42', img.name, 'true']);
    expect(taken.code).toBe(125);
    expect(taken.stderr).toMatch(/10\.89\.0\.42 is already in use/);
    const onNone = await dk(['run', '--rm', '--network', 'none', '--mac-address', '02:42:ac:11:00:98', img.name, 'true']);
    expect(onNone.code).toBe(125);
    const bad = await dk(['run', '--rm', '--network', net, '--mac-address', '01:00:5e:00:00:01', img.name, 'true']);
    expect(bad.stderr).toBe('dock: invalid argument "01:00:5e:00:00:01" for "--mac-address" flag: 01:00:5e:00:00:01 is a multicast address\n');
    await dk(['rm', '-f', 'fixed']);
  });
});


describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS), DOCKER ? undefined : 'the docker CLI is not installed'))('the same flags from the docker CLI through the API', { timeout: 240_000 }, () => {
  let img: TestImage;
  let root: string;
  let svc: TestService;
  const dk = (args: string[]) => docker(svc.sock, args);

  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
    svc = await startService(root);
  });
  afterAll(async () => {
    await svc?.stop();
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
    removeConfigDir();
  });

  it('docker run/create with the new flags: the container and `dock inspect` see them', async () => {
    const r = await dk(['run', '--rm', '--network', 'none', '--shm-size', '32m', '--sysctl', 'net.ipv4.ip_forward=1', '--group-add', '4242', '--oom-score-adj', '300', '--pid', 'host', '--ipc', 'none', img.name, 'sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; id -G; readlink /proc/self/ns/pid; grep -c " /dev/shm " /proc/mounts || true']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`1\n300\n0 4242\n${readlinkSync('/proc/self/ns/pid')}\n0\n`);
    const c = await dk(['create', '--network', 'none', '-m', '64m', '--memory-reservation', '32m', '--oom-kill-disable', '--cpu-period', '50000', '--cpu-quota', '25000', '--log-driver', 'none', '--expose', '9000', '--stop-timeout', '3', '--uts', 'host', '--cgroupns', 'private', img.name, 'true']);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    const id = c.stdout.trim();
    const doc = JSON.parse(await ok(root, ['inspect', id]))[0];
    expect(doc.HostConfig).toMatchObject({ MemoryReservation: 32 << 20, OomKillDisable: true, CpuPeriod: 50000, CpuQuota: 25000, LogConfig: { Type: 'none' }, UTSMode: 'host', CgroupnsMode: 'private' });
    expect(doc.Config).toMatchObject({ StopTimeout: 3, ExposedPorts: { '9000/tcp': {} } });
    // docker's own inspect reads them back through the API under the same names.
    const api = JSON.parse((await dk(['inspect', id])).stdout)[0];
    expect(api.HostConfig).toMatchObject({ MemoryReservation: 32 << 20, OomKillDisable: true, CpuPeriod: 50000, CpuQuota: 25000, UTSMode: 'host' });
    expect((await dk(['start', id])).code).toBe(0);
    const logs = await dk(['logs', id]);
    expect(logs.code).not.toBe(0);
    expect(logs.stderr).toMatch(/configured logging driver does not support reading/);
    await dk(['rm', '-f', id]);
    // Fields no docker CLI flag of this version sends: the create body itself.
    const made = await request(svc.sock, 'POST', '/containers/create', { Image: img.name, Cmd: ['true'], HostConfig: { NetworkMode: 'none', Annotations: { 'org.test.api': 'yes' }, BlkioDeviceReadIOps: [], IpcMode: 'shareable', UsernsMode: 'host' } });
    expect(made.status).toBe(201);
    const body = JSON.parse(await ok(root, ['inspect', made.json().Id]))[0];
    expect(body.HostConfig).toMatchObject({ Annotations: { 'org.test.api': 'yes' }, IpcMode: 'shareable', UsernsMode: 'host' });
    await ok(root, ['rm', made.json().Id]);
  });
});
