// `dock network connect/disconnect` of real dock containers (run with --network none, so each has
// a netns of its own), with the engine's host side in a network namespace made for the test.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, cleanRoot, d, newRoot, type TestImage } from './dock-helpers';
import { TestNetns } from './net-env';

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'nft', 'ip', 'busybox')))('dock network with dock containers (inside a test network namespace)', () => {
  let img: TestImage;
  let root: string;
  let host: TestNetns;
  let env: Record<string, string>;
  const dk = (args: string[]) => d(root, args, { env });
  const ok = async (args: string[]) => {
    const r = await dk(args);
    if (r.code !== 0) throw new Error(`dock ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    host = new TestNetns('d');
    env = { DOCK_HOST_NETNS: host.path };
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      await dk(['network', 'prune', '-f']);
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
    host?.remove();
  });

  it('connects a running container, names it in /etc/hosts, disconnects it; rm -f then network rm leaves nothing', async () => {
    const net = `dn-${process.pid}`;
    await ok(['network', 'create', '--subnet', '10.86.0.0/24', net]);
    await ok(['run', '-d', '--name', 'box', '--network', 'none', img.name, 'sleep', '600']);
    await ok(['network', 'connect', '--alias', 'boxy', net, 'box']);
    expect(await ok(['exec', 'box', 'ip', '-4', 'addr', 'show', 'eth0'])).toContain('inet 10.86.0.2/24');
    expect(await ok(['exec', 'box', 'ip', 'route'])).toContain('default via 10.86.0.1 dev eth0');
    expect(await ok(['exec', 'box', 'ping', '-c', '1', '-W', '2', '10.86.0.1'])).toContain('1 packets received');
    expect(await ok(['exec', 'box', 'cat', '/etc/hosts'])).toMatch(/^10\.86\.0\.2\t/m);
    const inspect = JSON.parse(await ok(['network', 'inspect', net]))[0];
    expect(Object.values(inspect.Containers)).toEqual([expect.objectContaining({ Name: 'box', IPv4Address: '10.86.0.2/24', Aliases: ['boxy'] })]);
    const again = await dk(['network', 'connect', net, 'box']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`dock: container box is already connected to network ${net}\n`);

    await ok(['network', 'disconnect', net, 'box']);
    expect((await dk(['exec', 'box', 'ip', 'link', 'show', 'eth0'])).code).not.toBe(0);
    expect(host.links().filter((l) => l.startsWith('veth'))).toEqual([]);

    // A container removed while connected: its veth dies with its netns, and network rm reaps the record.
    await ok(['network', 'connect', net, 'box']);
    expect(host.links().filter((l) => l.startsWith('veth'))).toHaveLength(1);
    await ok(['rm', '-f', 'box']);
    expect(host.links().filter((l) => l.startsWith('veth'))).toEqual([]);
    await ok(['network', 'rm', net]);
    expect(host.links()).toEqual(['lo']);
    expect(host.nft()).not.toContain('table ip dock');
    expect(await ok(['network', 'ls', '--format', '{{.Name}}'])).toBe('bridge\nhost\nnone\n');
  });
});
