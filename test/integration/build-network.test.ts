// dock build's network, Docker's semantics: RUN steps are on dock's default bridge (NAT to the
// outside) unless `--network none|host|NAME` or `RUN --network=none|host|default` say otherwise.
// Everything runs inside network namespaces made for the test: a "host" namespace where dock runs
// (nsenter --net: `host` is dock's own namespace) and keeps its bridge, veths and rules
// (DOCK_HOST_NETNS), and a "remote" namespace linked to it by a veth, serving a file over HTTP
// on 192.0.2.2. The remote has no route to 172.17.0.0/16: a step on the bridge reaches it only
// through the host's masquerading, as a docker build reaches the internet.

import { type ChildProcess, spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, dockScript, mountsUnder, newRoot, waitFor, type TestImage } from './dock-helpers';
import { request, startService, type TestService } from './api-helpers';
import { TestNetns, namedNetns, sh, tryRun } from './net-env';

const FILE = 'fetched through the network\n';
const URL = 'http://192.0.2.2:8000/file.txt';
/** busybox wget bounded by timeout (this busybox's wget -T crashes). */
const WGET = `timeout 10 wget -q -O /fetched ${URL}`;

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'nft', 'ip', 'busybox', 'nsenter')))('dock build: the network of RUN steps (inside test network namespaces)', () => {
  let img: TestImage;
  let root: string;
  let host: TestNetns;
  let remote: TestNetns;
  let httpd: ChildProcess | undefined;
  let work: string;
  let service: TestService | undefined;
  /** Pids of the dock processes run here: their step containers are build-<pid>-*. */
  const dockPids: number[] = [];

  /** `dock ARGS` inside the host namespace (nsenter execs node: the pid is dock's). */
  const dn = async (args: string[], input = '') => {
    const js = await dockScript();
    const child = spawn('nsenter', [`--net=${host.path}`, process.execPath, js, ...args], {
      env: { ...process.env, DOCK_ROOT: root, DOCK_HOST_NETNS: host.path },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (child.pid) dockPids.push(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (x) => (stdout += x));
    child.stderr.on('data', (x) => (stderr += x));
    child.stdin.end(input);
    const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
    return { code, stdout, stderr };
  };
  const ok = async (args: string[], input = '') => {
    const r = await dn(args, input);
    if (r.code !== 0) throw new Error(`dock ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const context = (name: string, dockerfile: string) => {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    return dir;
  };
  const cat = async (image: string, file: string) => ok(['run', '--rm', '--network', 'none', image, 'cat', file]);
  const veths = () => host.links().filter((l) => l.startsWith('veth'));

  /** What a build may leave: step containers' state, scratch dirs, mounts, cgroups, endpoints, veths. */
  const leftovers = async () => {
    const list = (p: string) => (existsSync(p) ? readdirSync(p) : []);
    const cgroups: string[] = [];
    for (const h of readdirSync('/sys/fs/cgroup')) {
      for (const n of list(join('/sys/fs/cgroup', h, 'skiff'))) if (dockPids.some((p) => n.startsWith(`build-${p}-`))) cgroups.push(join(h, n));
    }
    const endpoints = Object.keys(JSON.parse(await ok(['network', 'inspect', 'bridge']))[0].Containers);
    return { states: list(join(root, 'build', 'runtime')), tmp: list(join(root, 'build', 'tmp')), mounts: mountsUnder(root), cgroups, endpoints, veths: veths() };
  };
  const nothingLeft = { states: [], tmp: [], mounts: [], cgroups: [], endpoints: [], veths: [] };

  beforeAll(async () => {
    host = new TestNetns('bh');
    remote = new TestNetns('br');
    sh('ip', ['-n', host.name, 'link', 'add', 'tremote0', 'type', 'veth', 'peer', 'name', 'tremote1', 'netns', remote.name]);
    sh('ip', ['-n', host.name, 'addr', 'add', '192.0.2.1/24', 'dev', 'tremote0']);
    sh('ip', ['-n', host.name, 'link', 'set', 'tremote0', 'up']);
    sh('ip', ['-n', remote.name, 'addr', 'add', '192.0.2.2/24', 'dev', 'tremote1']);
    sh('ip', ['-n', remote.name, 'link', 'set', 'tremote1', 'up']);
    work = mkdtempSync(join(tmpdir(), 'dock-bnet-'));
    const www = join(work, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'file.txt'), FILE);
    // ip netns exec execs busybox: the child's pid is httpd's.
    httpd = spawn('ip', ['netns', 'exec', remote.name, 'busybox', 'httpd', '-f', '-p', '8000', '-h', www], { stdio: 'ignore' });
    await waitFor(() => host.run(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', URL]).stdout === FILE, 'the remote HTTP server');
    img = buildAppImage();
    root = await newRoot(img);
  });

  afterAll(async () => {
    await service?.stop();
    if (httpd?.pid) tryRun('kill', ['-9', String(httpd.pid)]);
    if (root) {
      await dn(['rm', '-f', ...(await dn(['ps', '-aq'])).stdout.split('\n').filter(Boolean)]);
      rmSync(root, { recursive: true, force: true });
    }
    img?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
    // The bridge, its rules and anything else dock made there go with the namespaces.
    for (const ns of [host, remote]) {
      if (!ns) continue;
      for (const pid of tryRun('ip', ['netns', 'pids', ns.name]).stdout.split('\n').filter(Boolean)) tryRun('kill', ['-9', pid.trim()]);
      ns.remove();
    }
  });

  it('the default network is the default bridge with NAT: a RUN step fetches a file from the remote host, and leaves no endpoint', async () => {
    const ctx = context('default', `FROM ${img.name}\nRUN ip -o -4 addr show eth0 | grep -o "inet [0-9./]*"; ip route | grep default; ${WGET}\n`);
    const out = await ok(['build', '-t', 'bnet/default:1', ctx]);
    expect(out).toMatch(/\| inet 172\.17\.0\.\d+\/16\n/);
    expect(out).toMatch(/\| default via 172\.17\.0\.1 dev eth0/);
    expect(await cat('bnet/default:1', '/fetched')).toBe(FILE);
    // The bridge and its NAT rule are the test host's; the step's endpoint is gone.
    expect(host.links()).toContain('dock0');
    expect(host.nft()).toMatch(/172\.17\.0\.0\/16[^\n]*masquerade/);
    expect(await leftovers()).toEqual(nothingLeft);
    // --network default names the same network (and the same cache key).
    expect(await ok(['build', '--network', 'default', '-t', 'bnet/default:2', ctx])).toContain('CACHED');
  });

  it('--network host shares dock\'s own namespace; --network none has only loopback and cannot fetch', async () => {
    const hostCtx = context('host', `FROM ${img.name}\nRUN readlink /proc/self/ns/net > /ns; ${WGET}\n`);
    await ok(['build', '--network', 'host', '-t', 'bnet/host:1', hostCtx]);
    expect(await cat('bnet/host:1', '/fetched')).toBe(FILE);
    const inode = execFileSync('stat', ['-L', '-c', '%i', host.path], { encoding: 'utf8' }).trim();
    expect((await cat('bnet/host:1', '/ns')).trim()).toBe(`net:[${inode}]`);

    const noneCtx = context('none', `FROM ${img.name}\nRUN ip -o link | cut -d" " -f2; ip -o addr show lo | grep -c "inet 127.0.0.1"; ${WGET}\n`);
    const none = await dn(['build', '--network', 'none', '-t', 'bnet/none:1', noneCtx]);
    expect(none.code).not.toBe(0);
    expect(none.stdout).toMatch(/\| lo:\n[^\n]*\| 1\n/);
    expect(none.stderr).toMatch(/did not complete successfully/);
    expect((await dn(['image', 'inspect', 'bnet/none:1'])).code).not.toBe(0);
    expect(await leftovers()).toEqual(nothingLeft);
  });

  it('RUN --network=none and --network=host per step, over the build\'s network', async () => {
    const ctx = context(
      'per-step',
      [
        `FROM ${img.name}`,
        'RUN --network=none ip -o link | cut -d" " -f2 > /links-none',
        `RUN --network=none timeout 10 wget -q -O /nope ${URL} || echo unreachable > /nope`,
        `RUN ${WGET}`,
        '',
      ].join('\n'),
    );
    await ok(['build', '-t', 'bnet/per-step:1', ctx]);
    expect(await cat('bnet/per-step:1', '/links-none')).toBe('lo:\n');
    expect(await cat('bnet/per-step:1', '/nope')).toBe('unreachable\n');
    expect(await cat('bnet/per-step:1', '/fetched')).toBe(FILE);

    // A build without a network, one step on the host's.
    const hostStep = context('host-step', `FROM ${img.name}\nRUN --network=host ${WGET}\nRUN --network=default timeout 10 wget -q -O /nope ${URL} || echo unreachable > /nope\n`);
    await ok(['build', '--network', 'none', '-t', 'bnet/host-step:1', hostStep]);
    expect(await cat('bnet/host-step:1', '/fetched')).toBe(FILE);
    expect(await cat('bnet/host-step:1', '/nope')).toBe('unreachable\n');

    const bad = await dn(['build', context('bad-step', `FROM ${img.name}\nRUN --network=bogus true\n`)]);
    expect([bad.code, bad.stderr]).toEqual([1, 'dock: Dockerfile:2: step [2/2] RUN --network=bogus true: invalid --network: bogus (default, none or host)\n']);
    expect(await leftovers()).toEqual(nothingLeft);
  });

  it('a user-defined network by name; a bad network name is one line, rc 1, and leaves nothing', async () => {
    await ok(['network', 'create', '--subnet', '10.91.0.0/24', 'bnet']);
    try {
      const ctx = context('named', `FROM ${img.name}\nRUN ip -o -4 addr show eth0 | grep -o "inet [0-9./]*"; ${WGET}\n`);
      const out = await ok(['build', '--network', 'bnet', '-t', 'bnet/named:1', ctx]);
      expect(out).toMatch(/\| inet 10\.91\.0\.\d+\/24\n/);
      expect(await cat('bnet/named:1', '/fetched')).toBe(FILE);
      expect(Object.keys(JSON.parse(await ok(['network', 'inspect', 'bnet']))[0].Containers)).toEqual([]);
    } finally {
      await dn(['network', 'rm', 'bnet']);
    }

    const links = host.links().sort();
    const netns = namedNetns();
    for (const [name, err] of [
      ['nosuch', 'dock: network nosuch not found\n'],
      ['bad name!', 'dock: invalid --network "bad name!": default, none, host or a network\'s name\n'],
    ]) {
      const r = await dn(['build', '--network', name, '-t', 'bnet/never:1', context(`bad-${dockPids.length}`, `FROM ${img.name}\nRUN touch /x\n`)]);
      expect([r.code, r.stdout, r.stderr]).toEqual([1, '', err]);
    }
    expect(host.links().sort()).toEqual(links);
    expect(namedNetns()).toEqual(netns);
    expect(await leftovers()).toEqual(nothingLeft);
  });

  it('dock compose build takes build.network the same way', async () => {
    const dir = context('compose', `FROM ${img.name}\nRUN timeout 10 wget -q -O /got ${URL} || echo unreachable > /got\n`);
    writeFileSync(join(dir, 'compose.yaml'), 'name: bnetc\nservices:\n  off:\n    build: {context: ., network: none}\n    image: bnet/compose-off:1\n  on:\n    build: {context: ., network: host}\n    image: bnet/compose-on:1\n');
    await ok(['compose', '-f', join(dir, 'compose.yaml'), 'build']);
    expect(await cat('bnet/compose-off:1', '/got')).toBe('unreachable\n');
    expect(await cat('bnet/compose-on:1', '/got')).toBe(FILE);
    expect(await leftovers()).toEqual(nothingLeft);
  });

  it('the API\'s /build takes networkmode the same way', async () => {
    // The service runs outside the test namespaces; its bridge side is the test host's.
    service = await startService(root, { DOCK_HOST_NETNS: host.path });
    if (service.child.pid) dockPids.push(service.child.pid);
    const ctx = context('api', `FROM ${img.name}\nRUN ${WGET}\n`);
    const tar = execFileSync('tar', ['-C', ctx, '-cf', '-', '.']);
    const build = async (query: string) => {
      const r = await request(service!.sock, 'POST', `/v1.50/build?${query}`, tar, { 'Content-Type': 'application/x-tar' }, 180_000);
      expect(r.status).toBe(200);
      return r.body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stream?: string; aux?: { ID: string }; error?: string });
    };
    const def = await build('t=bnet/api:1&nocache=1');
    expect(def.find((l) => l.error)).toBeUndefined();
    expect(def.some((l) => l.aux?.ID)).toBe(true);
    const none = await build('t=bnet/api:2&nocache=1&networkmode=none');
    expect(none.find((l) => l.error)?.error).toMatch(/did not complete successfully/);
    const bad = await build('t=bnet/api:3&networkmode=nosuch');
    expect(bad.find((l) => l.error)?.error).toBe('network nosuch not found');
    expect(await cat('bnet/api:1', '/fetched')).toBe(FILE);
    await service.stop();
    service = undefined;
    expect(await leftovers()).toEqual(nothingLeft);
  });
});
