// dock's bridge networks end to end, inside a network namespace made for the test (the engine's
// host side) with real busybox containers run by skiff: names and aliases through the network's
// DNS server, forwarding to the host's resolver, isolation between networks, published ports
// (DNAT from another host, the host side's own address, 127.0.0.1 through the proxy), and that
// removing containers and networks leaves nothing behind.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { parsePortSpec } from '../../src/engine/network/ports';
import { ROOT } from '../helpers';
import { NetWorld, TestNetns, sh, tryRun, type TestContainer } from './net-env';

// A minimal authoritative DNS server: outside.example A 192.0.2.7, NXDOMAIN otherwise.
const UPSTREAM_DNS = `
const s = require('dgram').createSocket('udp4');
s.on('message', (q, r) => {
  let o = 12; const l = [];
  while (q[o]) { l.push(q.toString('latin1', o + 1, o + 1 + q[o])); o += q[o] + 1; }
  const end = o + 5, name = l.join('.').toLowerCase(), type = q.readUInt16BE(o + 1);
  const h = Buffer.from(q.subarray(0, end)); h[2] = 0x84 | (q[2] & 1); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
  if (name !== 'outside.example') { h[3] = 0x83; h.writeUInt16BE(0, 6); return s.send(h, r.port, r.address); }
  h[3] = 0x80;
  if (type !== 1) { h.writeUInt16BE(0, 6); return s.send(h, r.port, r.address); }
  h.writeUInt16BE(1, 6);
  const a = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
  s.send(Buffer.concat([h, a]), r.port, r.address);
});
s.bind(53, '127.0.0.53', () => process.stdout.write('ready\\n'));
`;

const alive = (pid: number | null) => !!pid && existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

describe.skipIf(skipWhen(needRoot(), needTools('nft', 'ip', 'busybox')))('bridge networks (inside a test network namespace)', () => {
  let w: NetWorld;
  let web: TestContainer;
  let client: TestContainer;
  let other: TestContainer;
  let peer: TestNetns;
  const netA = `neta-${process.pid}`;
  /** busybox wget in a container, bounded by timeout (this busybox's wget -T crashes). */
  const get = (c: TestContainer, url: string, secs = 5) => w.exec(c, ['timeout', String(secs), 'wget', '-q', '-O', '-', url], (secs + 10) * 1000);
  const netB = `netb-${process.pid}`;

  beforeAll(async () => {
    w = new NetWorld({ upstream: '127.0.0.53' });
    // The "host's resolver": an authoritative server on 127.0.0.53 in the test namespace that knows
    // one name and says NXDOMAIN for every other (as a real resolver would for web.test.invalid).
    const script = join(w.dir, 'upstream.js');
    writeFileSync(script, UPSTREAM_DNS);
    sh('ip', ['-n', w.host.name, 'addr', 'add', '127.0.0.53/8', 'dev', 'lo']);
    const up = spawn('ip', ['netns', 'exec', w.host.name, process.execPath, script], { stdio: ['ignore', 'pipe', 'inherit'] });
    w.extraPids.push(up.pid!);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('upstream DNS did not start')), 10_000);
      up.stdout!.once('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
  });

  afterAll(async () => {
    await w?.cleanup();
    peer?.remove();
  });

  it('containers on a user-defined network reach each other by name and by alias; another network cannot', async () => {
    await w.mgr.createNetwork({ name: netA, subnet: '10.77.0.0/24' });
    await w.mgr.createNetwork({ name: netB, subnet: '10.78.0.0/24' });

    web = w.create('web', ['httpd', '-f', '-p', '80', '-h', '/www']);
    const epWeb = await w.mgr.connect(web, netA, { aliases: ['www-alias'] });
    expect(epWeb).toMatchObject({ ipAddress: '10.77.0.2', gateway: '10.77.0.1', macAddress: '02:42:0a:4d:00:02', ifname: 'eth0', ipPrefixLen: 24 });
    w.start(web);
    client = w.create('client', ['sleep', '600']);
    const epClient = await w.mgr.connect(client, netA);
    w.start(client, { extraHosts: [{ name: 'gw.test', ip: 'host-gateway' }] });
    other = w.create('other', ['sleep', '600']);
    await w.mgr.connect(other, netB);
    w.start(other);

    // The container's view: its own address and route, /etc files from the builders.
    const addr = w.exec(client, ['ip', 'addr', 'show', 'eth0']);
    expect(addr.stdout).toContain(`inet ${epClient.ipAddress}/24`);
    expect(w.exec(client, ['ip', 'route']).stdout).toContain('default via 10.77.0.1 dev eth0');
    expect(w.exec(client, ['cat', '/etc/resolv.conf']).stdout).toBe('nameserver 10.77.0.1\nsearch test.invalid\noptions ndots:0\n');
    const hosts = w.exec(client, ['cat', '/etc/hosts']).stdout;
    expect(hosts).toContain(`${epClient.ipAddress}\tclient`);
    expect(hosts).toContain('10.77.0.1\tgw.test');

    // By name and by alias, through the network's DNS server.
    const byName = get(client, 'http://web/');
    expect(byName.stdout, byName.stderr).toBe('hello from web\n');
    const byAlias = get(client, 'http://www-alias/');
    expect(byAlias.stdout, byAlias.stderr).toBe('hello from web\n');
    // (busybox nslookup ignores ndots and tries only the search domain for a bare name: ask the absolute name)
    const ns = w.exec(client, ['nslookup', 'www-alias.']);
    expect(ns.stdout).toContain('Address: 10.77.0.2');
    // Other names are forwarded to the host's resolver.
    const fwd = w.exec(client, ['nslookup', 'outside.example']);
    expect(fwd.stdout, fwd.stderr).toContain('Address: 192.0.2.7');

    // The container on the other network: its own gateway answers, the web container does not.
    expect(w.exec(other, ['ping', '-c', '1', '-W', '2', '10.78.0.1']).status).toBe(0);
    const blocked = get(other, `http://${epWeb.ipAddress}/`, 3);
    expect(blocked.status).not.toBe(0);
    expect(blocked.stdout).toBe('');
    expect(w.exec(other, ['nslookup', 'web.']).stdout).not.toContain('10.77.0.2');
    // ...and it cannot ask network A's DNS server either.
    expect(w.exec(other, ['timeout', '5', 'nslookup', 'web.', '10.77.0.1'], 20_000).stdout).not.toContain('10.77.0.2');

    // The same packet path works once the isolation rules are gone (both ways: the reply is
    // dropped too): the test fails for the right reason.
    const rules = w.host.run(['nft', '-a', 'list', 'chain', 'ip', 'dock', 'forward']).stdout;
    const handles = [...rules.matchAll(/oifname @bridges drop # handle (\d+)/g)].map((m) => m[1]);
    expect(handles).toHaveLength(2);
    for (const h of handles) sh('ip', ['netns', 'exec', w.host.name, 'nft', 'delete', 'rule', 'ip', 'dock', 'forward', 'handle', h]);
    expect(get(other, `http://${epWeb.ipAddress}/`, 3).stdout).toBe('hello from web\n');
    await w.mgr.createNetwork({ name: `tmp-${process.pid}`, subnet: '10.79.0.0/24' }); // any apply restores the rules
    await w.mgr.removeNetwork(`tmp-${process.pid}`);
    expect(get(other, `http://${epWeb.ipAddress}/`, 3).stdout).toBe('');
  });

  it('a published port 8080:80 answers from another host (DNAT), on the host side address and on 127.0.0.1 (proxy)', async () => {
    const pub = await w.mgr.publishPorts(web, parsePortSpec('8080:80'));
    expect(pub.bindings).toEqual([{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp', containerIp: '10.77.0.2' }]);
    const fetch = (url: string) => w.host.run(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url]);
    expect(fetch('http://10.77.0.1:8080/').stdout).toBe('hello from web\n');
    expect(fetch('http://127.0.0.1:8080/').stdout).toBe('hello from web\n');

    // Another host: a namespace linked to the test host by a veth, talking to the host's address.
    peer = new TestNetns('p');
    sh('ip', ['-n', w.host.name, 'link', 'add', 'tpeer0', 'type', 'veth', 'peer', 'name', 'tpeer1', 'netns', peer.name]);
    sh('ip', ['-n', w.host.name, 'addr', 'add', '192.0.2.1/24', 'dev', 'tpeer0']);
    sh('ip', ['-n', w.host.name, 'link', 'set', 'tpeer0', 'up']);
    sh('ip', ['-n', peer.name, 'addr', 'add', '192.0.2.2/24', 'dev', 'tpeer1']);
    sh('ip', ['-n', peer.name, 'link', 'set', 'tpeer1', 'up']);
    const remote = peer.run(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', 'http://192.0.2.1:8080/']);
    expect(remote.stdout, remote.stderr).toBe('hello from web\n');
    // The container saw the remote host's own address (DNAT, no proxy in the way).
    expect(fetch('http://192.0.2.1:8080/').stdout).toBe('hello from web\n');

    // Outbound NAT: the client reaches the peer "outside", which sees the host's address.
    const out = w.exec(client, ['ping', '-c', '1', '-W', '2', '192.0.2.2']);
    expect(out.status, out.stdout + out.stderr).toBe(0);

    const rows = w.mgr.store.portsOf(web.id);
    expect(rows).toHaveLength(1);
    expect(alive(rows[0].proxy_pid)).toBe(true);
    expect(w.host.nft()).toContain('tcp dport 8080 dnat to 10.77.0.2:80');
  });

  it('removing containers leaves no veth, no rule, no allocated address, no proxy; removing networks leaves nothing', async () => {
    const proxyPid = w.mgr.store.portsOf(web.id)[0]?.proxy_pid ?? null;
    const dnsPids = w.mgr.store.networks().map((n) => n.dns_pid);
    expect(w.host.links().filter((l) => l.startsWith('veth'))).toHaveLength(3);
    for (const c of [web, client, other]) {
      w.kill(c);
      await w.mgr.detachContainer(c.id);
    }
    expect(w.host.links().filter((l) => l.startsWith('veth'))).toEqual([]);
    expect(w.mgr.store.allEndpoints()).toEqual([]);
    expect(w.mgr.store.ports()).toEqual([]);
    expect(w.host.nft()).not.toContain('dnat');
    expect(alive(proxyPid)).toBe(false);
    expect(w.host.run(['busybox', 'timeout', '2', 'busybox', 'wget', '-q', '-O', '-', 'http://127.0.0.1:8080/']).status).not.toBe(0);

    await w.mgr.removeNetwork(netA);
    await w.mgr.removeNetwork(netB);
    expect(w.host.links().sort()).toEqual(['lo', 'tpeer0']);
    expect(w.host.nft()).not.toContain('table ip dock');
    for (const pid of dnsPids) expect(alive(pid)).toBe(false);
    expect(w.mgr.store.networks()).toEqual([]);
  });

  it('the default bridge: made on first connect, 172.17.0.0/16, no DNS server, removable when empty', async () => {
    const c = w.create('plain', ['sleep', '600']);
    const ep = await w.mgr.connect(c, 'bridge');
    expect(ep).toMatchObject({ ipAddress: '172.17.0.2', gateway: '172.17.0.1', dns: false });
    expect(w.host.links()).toContain('dock0');
    w.start(c, { dns: ['192.0.2.53'] });
    expect(w.exec(c, ['cat', '/etc/resolv.conf']).stdout).toBe('nameserver 192.0.2.53\nsearch test.invalid\n');
    expect(w.exec(c, ['ping', '-c', '1', '-W', '2', '172.17.0.1']).status).toBe(0);
    w.kill(c);
    await w.mgr.detachContainer(c.id);
    await w.mgr.removeDefaultBridge();
    expect(w.host.links()).not.toContain('dock0');
    expect(w.host.nft()).not.toContain('table ip dock');
  });
});

describe.skipIf(skipWhen(needRoot(), needTools('nft', 'ip', 'busybox')))('concurrency (inside a test network namespace)', () => {
  let w: NetWorld;
  beforeAll(() => {
    w = new NetWorld();
  });
  afterAll(async () => {
    await w?.cleanup();
  });

  it('50 connects by 50 dock processes at once get 50 distinct addresses, all freed on detach', async () => {
    const net = `par-${process.pid}`;
    await w.mgr.createNetwork({ name: net, subnet: '10.80.0.0/24' });
    const spaces = Array.from({ length: 50 }, () => w.bareNetns());
    const dockJs = join(ROOT, 'dist', 'dock.js');
    const runs = spaces.map(
      (s, i) =>
        new Promise<{ code: number; out: string; err: string }>((resolve) => {
          const child = spawn(process.execPath, [dockJs, 'network', '_connect-netns', net, '--netns', s.path, '--id', `par${i}`, '--name', `par${i}`], {
            env: { ...process.env, DOCK_ROOT: w.dir, DOCK_HOST_NETNS: w.host.path },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (err += d));
          const t = setTimeout(() => child.kill('SIGKILL'), 90_000);
          child.on('close', (code) => {
            clearTimeout(t);
            resolve({ code: code ?? -1, out, err });
          });
        }),
    );
    const results = await Promise.all(runs);
    for (const r of results) expect(r.code, r.err).toBe(0);
    const ips = results.map((r) => JSON.parse(r.out).ipAddress as string);
    expect(new Set(ips).size).toBe(50);
    // The kernel agrees: each namespace holds the address its dock was given.
    spaces.forEach((s, i) => {
      const a = JSON.parse(sh('nsenter', [`--net=${s.path}`, 'ip', '-j', '-4', 'addr', 'show', 'eth0']));
      expect(a[0].addr_info[0].local).toBe(ips[i]);
    });
    expect(w.mgr.store.allEndpoints()).toHaveLength(50);
    expect(w.host.links().filter((l) => l.startsWith('veth'))).toHaveLength(50);
    for (let i = 0; i < 50; i++) await w.mgr.detachContainer(`par${i}`);
    expect(w.mgr.store.allEndpoints()).toEqual([]);
    expect(w.host.links().filter((l) => l.startsWith('veth'))).toEqual([]);
    await w.mgr.removeNetwork(net);
  }, 180_000);
});

describe.skipIf(skipWhen(needRoot(), needTools('nft', 'ip', 'busybox')))('bad input (inside a test network namespace)', () => {
  let w: NetWorld;
  let a: TestContainer;
  let b: TestContainer;
  const net = `bad-${process.pid}`;
  beforeAll(async () => {
    w = new NetWorld();
    await w.mgr.createNetwork({ name: net, subnet: '10.81.0.0/24' });
    a = w.create('a', ['httpd', '-f', '-p', '80', '-h', '/www']);
    b = w.create('b', ['httpd', '-f', '-p', '80', '-h', '/www']);
    await w.mgr.connect(a, net);
    await w.mgr.connect(b, net);
  });
  afterAll(async () => {
    await w?.cleanup();
  });

  /** The snapshot of everything a failed call could have half-made. */
  const snapshot = () => ({ links: w.host.links().sort(), nft: w.host.nft(), networks: w.mgr.store.networks().map((n) => n.id), endpoints: w.mgr.store.allEndpoints().map((e) => `${e.container_id}@${e.ip}`), ports: w.mgr.store.ports() });

  async function fails(fn: () => Promise<unknown>, code: string, msg: RegExp): Promise<void> {
    const before = snapshot();
    const err = (await fn().then(
      () => null,
      (e: unknown) => e,
    )) as (Error & { code?: string }) | null;
    expect(err, 'expected an error').not.toBeNull();
    expect(err!.code).toBe(code);
    expect(err!.message).toMatch(msg);
    expect(err!.message).not.toContain('\n');
    expect(snapshot()).toEqual(before);
  }

  it('an overlapping subnet', async () => {
    await fails(() => w.mgr.createNetwork({ name: `ov-${process.pid}`, subnet: '10.81.0.128/25' }), 'EOVERLAP', /^subnet 10\.81\.0\.128\/25 overlaps with network bad-\d+ \(10\.81\.0\.0\/24\)$/);
    await fails(() => w.mgr.createNetwork({ name: net }), 'EEXISTS', /already exists/);
    await fails(() => w.mgr.createNetwork({ name: `gw-${process.pid}`, subnet: '10.82.0.0/24', gateway: '10.83.0.1' }), 'EUSAGE', /gateway 10\.83\.0\.1 is not a host address of subnet 10\.82\.0\.0\/24/);
    await fails(() => w.mgr.createNetwork({ name: `sn-${process.pid}`, subnet: '10.82.0.1/24' }), 'EUSAGE', /host bits are set/);
  });

  it('an unknown network, a container connected twice, a missing namespace', async () => {
    await fails(() => w.mgr.connect(a, 'no-such-net'), 'ENOTFOUND', /^network no-such-net not found$/);
    await fails(() => w.mgr.connect(a, net), 'EEXISTS', /already connected/);
    await fails(() => w.mgr.connect({ id: 'x', name: 'x', netnsPath: '/proc/999999999/ns/net' }, net), 'EUSAGE', /does not exist/);
    await fails(() => w.mgr.connect(b, net, { ipAddress: '10.81.0.2' }), 'EEXISTS', /already connected/);
    await fails(() => w.mgr.removeNetwork('no-such-net'), 'ENOTFOUND', /not found/);
    await fails(() => w.mgr.removeNetwork(net), 'EINUSE', /has active endpoints/);
  });

  it('a port already taken, by another container or by another process', async () => {
    const pub = await w.mgr.publishPorts(a, parsePortSpec('8080:80'));
    await fails(() => w.mgr.publishPorts(b, parsePortSpec('8080:80')), 'EPORTINUSE', /^cannot publish 0\.0\.0\.0:8080\/tcp: port is already allocated/);
    await fails(() => w.mgr.publishPorts(b, parsePortSpec('127.0.0.1:8080:80')), 'EPORTINUSE', /already allocated/);
    // A listener that is not dock's, in the host namespace.
    const squatter = spawn('ip', ['netns', 'exec', w.host.name, 'busybox', 'httpd', '-f', '-p', '9090', '-h', '/'], { stdio: 'ignore' });
    w.extraPids.push(squatter.pid!);
    for (let i = 0; i < 100 && !w.host.run(['busybox', 'netstat', '-ltn']).stdout.includes(':9090'); i++) await new Promise((r) => setTimeout(r, 50));
    await fails(() => w.mgr.publishPorts(b, parsePortSpec('9090:80')), 'EPORTINUSE', /^port proxy of b: cannot listen on 0\.0\.0\.0:9090\/tcp: address already in use$/);
    squatter.kill('SIGKILL');
    await pub.dispose();
    expect(w.host.nft()).not.toContain('8080');
  });

  it('invalid -p strings', () => {
    for (const [spec, msg] of [
      ['abc', /container port "abc" is not a port number/],
      ['70000:80', /^invalid hostPort: 70000 \(in port mapping "70000:80": host port 70000 is out of range 1-65535\)$/],
      ['8080:80/sctpx', /unknown protocol "sctpx"/],
      ['1.2.3:80:80', /host address "1\.2\.3" is not an IPv4 address/],
      ['80-81:90', /differ in length/],
      ['a:b:c:d', /too many colons/],
      ['8080:', /no container port/],
    ] as const) {
      let err: (Error & { code?: string }) | undefined;
      try {
        parsePortSpec(spec);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.code, spec).toBe('EUSAGE');
      expect(err!.message).toMatch(msg);
      // A number out of range is named as docker names it (invalid hostPort/containerPort: N).
      if (!/out of range/.test(err!.message)) expect(err!.message.startsWith(`invalid port mapping "${spec}": `)).toBe(true);
    }
  });

  it('the CLI prints each error as one line', async () => {
    const dockJs = join(ROOT, 'dist', 'dock.js');
    const env = { ...process.env, DOCK_ROOT: w.dir, DOCK_HOST_NETNS: w.host.path };
    const cli = (args: string[]) => {
      const r = require('node:child_process').spawnSync(process.execPath, [dockJs, ...args], { env, encoding: 'utf8', timeout: 30_000 });
      return { status: r.status as number, stderr: r.stderr as string, stdout: r.stdout as string };
    };
    const before = snapshot();
    for (const [args, msg] of [
      [['network', 'create', '--subnet', '10.81.0.0/16', 'x1'], /^dock: subnet 10\.81\.0\.0\/16 overlaps with network bad-\d+ \(10\.81\.0\.0\/24\)\n$/],
      [['network', 'create', '--subnet', '10.1.0.0/33', 'x2'], /^dock: invalid subnet "10\.1\.0\.0\/33"/],
      [['network', 'rm', 'nope'], /^dock: network nope not found\n$/],
      [['network', '_connect-netns', 'nope', '--netns', w.bareNetns().path, '--id', 'q', '--name', 'q'], /^dock: network nope not found\n$/],
      [['network', '_connect-netns', net, '--netns', w.bareNetns().path, '--id', 'q', '--name', 'q', '-p', '80:80/xyz'], /^dock: invalid port mapping "80:80\/xyz": unknown protocol "xyz", expected tcp or udp\n$/],
    ] as const) {
      const r = cli([...args]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
    expect(snapshot()).toEqual(before);
    expect(cli(['network', 'ls']).stdout).toMatch(new RegExp(`^[0-9a-f]{12}\\s+${net}\\s+bridge\\s+local$`, 'm'));
    expect(tryRun('true', []).status).toBe(0);
  });
});
