// `dock run --network/-p/-P/--network-alias/--add-host/--dns/--hostname` end to end: real dock
// containers on bridge networks, with the engine's host side (bridges, veths, nft rules, DNS servers,
// port proxies) in a network namespace made for the test (DOCK_HOST_NETNS), removed at the end.

import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, cleanRoot, d, DOCK_OP_MS, newRoot, ops, waitFor, type TestImage } from './dock-helpers';
import { TestNetns, tryRun } from './net-env';

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'nft', 'ip', 'busybox')))('dock run on bridge networks (inside a test network namespace)', () => {
  let img: TestImage;
  let root: string;
  let host: TestNetns;
  let env: Record<string, string>;
  const netA = `dna-${process.pid}`;
  const netB = `dnb-${process.pid}`;
  const dk = (args: string[]) => d(root, args, { env });
  const ok = async (args: string[]) => {
    const r = await dk(args);
    if (r.code !== 0) throw new Error(`dock ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  /** busybox wget in a container, bounded by timeout (Debian's busybox wget -T crashes). */
  const get = (ctr: string, url: string) => dk(['exec', ctr, 'timeout', '5', 'wget', '-q', '-O', '-', url]);
  const fetchFromHost = (url: string) => host.run(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url], 20_000);
  const veths = () => host.links().filter((l) => l.startsWith('veth'));
  const inspect = async (name: string) => JSON.parse(await ok(['inspect', name]))[0];
  const serve = (text: string) => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

  beforeAll(async () => {
    host = new TestNetns('dr');
    env = { DOCK_HOST_NETNS: host.path };
    img = buildAppImage();
    root = await newRoot(img);
    await ok(['network', 'create', '--subnet', '10.87.0.0/24', netA]);
    await ok(['network', 'create', '--subnet', '10.88.0.0/24', netB]);
  });
  // What a test made goes with it, even when it failed half-way: each test starts with no container.
  afterEach(async () => {
    const ids = (await dk(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await dk(['rm', '-f', '-v', ...ids]);
  });
  afterAll(async () => {
    if (root) {
      // rm with the test's host netns first (cleanRoot's rm would not name it).
      const ids = (await dk(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await dk(['rm', '-f', '-v', ...ids]);
      await dk(['network', 'rm', netA, netB]);
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
    host?.remove();
  });

  it('two containers on a user-defined network reach each other by name and alias; another network cannot', async () => {
    await ok(['run', '-d', '--name', 'web', '--network', netA, '--network-alias', 'www', '--hostname', 'webhost', img.name, ...serve('hello-web')]);
    await ok(['run', '-d', '--name', 'client', '--network', netA, '--add-host', 'extra.test:192.0.2.7', '--dns', '192.0.2.53', img.name, 'sleep', '600']);
    await waitFor(async () => (await get('client', 'http://10.87.0.2/')).stdout === 'hello-web\n', 'httpd of web', DOCK_OP_MS);
    expect((await get('client', 'http://web/')).stdout).toBe('hello-web\n');
    expect((await get('client', 'http://www/')).stdout).toBe('hello-web\n');
    // A foreground --rm container: connected, fetches, and gives everything back when it exits.
    expect(await ok(['run', '--rm', '--network', netA, img.name, 'timeout', '5', 'wget', '-q', '-O', '-', 'http://www/'])).toBe('hello-web\n');
    expect(veths()).toHaveLength(2);
    expect(Object.keys(JSON.parse(await ok(['network', 'inspect', netA]))[0].Containers)).toHaveLength(2);

    // The container's files: its own address and --add-host in /etc/hosts, the network's DNS server.
    const hosts = await ok(['exec', 'client', 'cat', '/etc/hosts']);
    expect(hosts).toMatch(/^10\.87\.0\.3\t/m);
    expect(hosts).toContain('192.0.2.7\textra.test\n');
    expect(await ok(['exec', 'client', 'cat', '/etc/resolv.conf'])).toMatch(/^nameserver 10\.87\.0\.1$/m);
    expect(await ok(['exec', 'web', 'hostname'])).toBe('webhost\n');
    expect(await ok(['exec', 'web', 'cat', '/etc/hosts'])).toMatch(/^10\.87\.0\.2\twebhost$/m);
    expect(await ok(['exec', 'web', 'ip', 'route'])).toContain('default via 10.87.0.1 dev eth0');

    const web = (await inspect('web')).NetworkSettings;
    expect(web.Networks[netA]).toMatchObject({ IPAddress: '10.87.0.2', Gateway: '10.87.0.1', IPPrefixLen: 24, MacAddress: '02:42:0a:57:00:02' });
    expect(web.Networks[netA].Aliases).toContain('www');
    expect(web.IPAddress).toBe('10.87.0.2');
    expect(await ok(['ps', '--filter', `network=${netA}`, '--format', '{{.Names}}'])).toBe('client\nweb\n');

    // netB: neither the address nor the name of web.
    await ok(['run', '-d', '--name', 'other', '--network', netB, img.name, 'sleep', '600']);
    expect(await ok(['exec', 'other', 'cat', '/etc/resolv.conf'])).toMatch(/^nameserver 10\.88\.0\.1$/m);
    const direct = await get('other', 'http://10.87.0.2/');
    expect(direct.code).not.toBe(0);
    expect(direct.stdout).toBe('');
    expect((await get('other', 'http://web/')).code).not.toBe(0);
    // ...while the same container reaches its own network's gateway (the test is not vacuous).
    expect(await ok(['exec', 'other', 'ping', '-c', '1', '-W', '2', '10.88.0.1'])).toContain('1 packets received');

    expect(veths()).toHaveLength(3);
    await ok(['rm', '-f', 'client', 'other']);
    expect(veths()).toHaveLength(1);
    expect(Object.keys(JSON.parse(await ok(['network', 'inspect', netB]))[0].Containers)).toEqual([]);
  }, ops(25)); // 25 dock commands

  it('-p 8080:80 without --network (the default bridge, as Docker) answers on the host side address and on 127.0.0.1; dock port; rm -f leaves nothing', async () => {
    await ok(['run', '-d', '--name', 'pub', '-p', '8080:80', '-p', '127.0.0.1::80', img.name, ...serve('hello-pub')]);
    expect((await inspect('pub')).HostConfig.NetworkMode).toBe('bridge');
    const ns = (await inspect('pub')).NetworkSettings;
    const ip = ns.Networks.bridge.IPAddress as string;
    const gw = ns.Networks.bridge.Gateway as string;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(ns.Ports['80/tcp']).toContainEqual({ HostIp: '0.0.0.0', HostPort: '8080' });
    const ephemeral = ns.Ports['80/tcp'].find((p: { HostIp: string }) => p.HostIp === '127.0.0.1').HostPort as string;
    expect(Number(ephemeral)).toBeGreaterThan(0);
    expect(await ok(['port', 'pub'])).toBe(`80/tcp -> 0.0.0.0:8080\n80/tcp -> 127.0.0.1:${ephemeral}\n`);
    expect(await ok(['port', 'pub', '80/tcp'])).toBe(`0.0.0.0:8080\n127.0.0.1:${ephemeral}\n`);

    await waitFor(() => fetchFromHost(`http://${gw}:8080/`).stdout === 'hello-pub\n', 'published port on the host side address', DOCK_OP_MS);
    expect(fetchFromHost('http://127.0.0.1:8080/').stdout).toBe('hello-pub\n');
    expect(fetchFromHost(`http://127.0.0.1:${ephemeral}/`).stdout).toBe('hello-pub\n');
    expect(host.nft()).toContain(`dnat to ${ip}:80`);
    expect(await ok(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}'])).toContain('0.0.0.0:8080->80/tcp');

    // The port is taken: the second container fails to start, clearly, and holds nothing.
    const clash = await dk(['run', '-d', '--name', 'pub2', '--network', 'bridge', '-p', '8080:80', img.name, 'sleep', '600']);
    expect(clash.code).toBe(125);
    expect(clash.stderr).toMatch(/^dock: failed to start container pub2: cannot publish 0\.0\.0\.0:8080\/tcp: port is already allocated[^\n]*\n$/);
    expect(veths()).toHaveLength(1); // pub's
    expect((await inspect('pub2')).NetworkSettings.Networks.bridge.IPAddress).toBe('');
    await ok(['rm', '-f', 'pub2']);

    // rm by a dock without DOCK_HOST_NETNS: the containers' recorded host netns is used (the test's,
    // not the machine's, whose ruleset is only read here: rules rendered there would name netA's subnet).
    const rm = await d(root, ['rm', '-f', 'pub']);
    expect([rm.code, rm.stderr]).toEqual([0, '']);
    expect(tryRun('nft', ['list', 'ruleset']).stdout).not.toContain('10.87.0.0/24');
    expect(host.nft()).toContain('10.87.0.0/24');
    expect(veths()).toEqual([]);
    expect(host.nft()).not.toContain('dnat');
    expect(fetchFromHost('http://127.0.0.1:8080/').status).not.toBe(0);
    for (const n of ['bridge', netA]) expect(Object.keys(JSON.parse(await ok(['network', 'inspect', n]))[0].Containers)).toEqual([]);
  }, ops(14));

  it('stop detaches, start connects again; -P publishes the EXPOSEd ports; container:X shares a netns', async () => {
    const ctx = mkdtempSync(join(tmpdir(), 'dock-net-ctx-'));
    try {
      writeFileSync(join(ctx, 'Dockerfile'), `FROM ${img.name}\nEXPOSE 80\n`);
      await ok(['build', '-q', '-t', 'skiff-test/exposed:1', ctx]);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    await ok(['run', '-d', '--name', 'exp', '--network', netA, '-P', 'skiff-test/exposed:1', ...serve('hello-exp')]);
    const expNet = (await inspect('exp')).NetworkSettings;
    const expIp = expNet.Networks[netA].IPAddress as string;
    expect(expIp).toMatch(/^10\.87\.0\.\d+$/);
    const ports = expNet.Ports['80/tcp'];
    expect(ports).toHaveLength(1);
    const hostPort = ports[0].HostPort as string;
    await waitFor(() => fetchFromHost(`http://127.0.0.1:${hostPort}/`).stdout === 'hello-exp\n', '-P port', DOCK_OP_MS);

    // container:exp sees exp's interfaces and reaches its server on localhost.
    await ok(['run', '-d', '--name', 'side', '--network', 'container:exp', img.name, 'sleep', '600']);
    expect(await ok(['exec', 'side', 'ip', '-4', 'addr', 'show', 'eth0'])).toContain(`inet ${expIp}/24`);
    expect((await get('side', 'http://127.0.0.1/')).stdout).toBe('hello-exp\n');
    await ok(['rm', '-f', 'side']);

    await ok(['stop', '-t', '1', 'exp']);
    // The exit handler (run by the supervisor) detaches it.
    await waitFor(async () => (await ok(['port', 'exp'])) === '' && veths().length === 0, 'the stopped container to be detached', DOCK_OP_MS);
    expect((await inspect('exp')).NetworkSettings.Networks[netA].IPAddress).toBe('');
    expect(host.nft()).not.toContain('dnat');
    await ok(['start', 'exp']);
    expect(veths()).toHaveLength(1);
    expect((await inspect('exp')).NetworkSettings.Networks[netA].IPAddress).toMatch(/^10\.87\.0\.\d+$/);
    expect((await get('exp', 'http://127.0.0.1/')).stdout).toBe('hello-exp\n');
    await ok(['rm', '-f', 'exp']);
    expect(veths()).toEqual([]);
    expect(host.nft()).not.toContain('dnat');
  }, ops(16));

  it('bad input is one clear line and nothing is made', async () => {
    const before = await ok(['ps', '-aq']);
    const cases: Array<[string[], RegExp]> = [
      [['--network', 'nosuch'], /^dock: network nosuch not found\n$/],
      [['--network', netA, '-p', '80:abc'], /^dock: [^\n]*"80:abc"[^\n]*\n$/],
      [['--network', netA, '-p', '99999:80'], /^dock: [^\n]*\n$/],
      [['--network', 'none', '-p', '8080:80'], /^dock: conflicting options: port publishing and --network none\n$/],
      [['--network', 'bridge', '--network-alias', 'x'], /^dock: --network-alias is only supported for containers on user-defined networks\n$/],
      [['--network', netA, '--add-host', 'nocolon'], /^dock: invalid --add-host "nocolon": expected NAME:IP\n$/],
      [['--network', 'container:nosuch'], /^dock: [^\n]*nosuch[^\n]*\n$/],
    ];
    for (const [flags, err] of cases) {
      const r = await dk(['run', '-d', ...flags, img.name, 'true']);
      expect({ flags, code: r.code }).toEqual({ flags, code: 125 });
      expect(r.stderr).toMatch(err);
    }
    expect(await ok(['ps', '-aq'])).toBe(before);
    expect(veths()).toEqual([]);
  }, ops(9));
});
