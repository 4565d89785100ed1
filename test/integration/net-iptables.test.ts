// The iptables backend (used where nft is missing), forced with DOCK_FIREWALL=iptables, inside a
// network namespace made for the test: a published port answers on the host side's address and
// through the proxy, isolation holds, and removal leaves no DOCK chain and no jump.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { parsePortSpec } from '../../src/engine/network/ports';
import { NetWorld, sh, type TestContainer } from './net-env';

describe.skipIf(skipWhen(needRoot(), needTools('nft', 'ip', 'busybox', 'iptables-restore')))('iptables backend (inside a test network namespace)', () => {
  let w: NetWorld;
  let web: TestContainer;
  let other: TestContainer;
  const saved = process.env.DOCK_FIREWALL;
  beforeAll(() => {
    process.env.DOCK_FIREWALL = 'iptables';
    w = new NetWorld();
  });
  afterAll(async () => {
    await w?.cleanup();
    if (saved === undefined) delete process.env.DOCK_FIREWALL;
    else process.env.DOCK_FIREWALL = saved;
  });

  it('ports, isolation and cleanup with iptables rules', async () => {
    expect(w.mgr.firewallBackend()).toBe('iptables');
    await w.mgr.createNetwork({ name: `ipa-${process.pid}`, subnet: '10.84.0.0/24' });
    await w.mgr.createNetwork({ name: `ipb-${process.pid}`, subnet: '10.85.0.0/24' });
    web = w.create('web', ['httpd', '-f', '-p', '80', '-h', '/www']);
    const ep = await w.mgr.connect(web, `ipa-${process.pid}`);
    w.start(web);
    other = w.create('other', ['sleep', '600']);
    await w.mgr.connect(other, `ipb-${process.pid}`);
    w.start(other);
    await w.mgr.publishPorts(web, parsePortSpec('8080:80'));
    const rules = w.host.run(['iptables-save']).stdout;
    expect(rules).toContain('-A DOCK-PORTS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.84.0.2:80');
    expect(rules).toMatch(/-A PREROUTING -m addrtype --dst-type LOCAL -j DOCK-PORTS/);
    expect(w.host.nft()).not.toContain('table ip dock');
    const fetch = (url: string) => w.host.run(['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url]);
    expect(fetch('http://10.84.0.1:8080/').stdout).toBe('hello from web\n');
    expect(fetch('http://127.0.0.1:8080/').stdout).toBe('hello from web\n');
    expect(w.exec(other, ['ping', '-c', '1', '-W', '2', '10.85.0.1']).status).toBe(0);
    expect(w.exec(other, ['timeout', '3', 'wget', '-q', '-O', '-', `http://${ep.ipAddress}/`], 15_000).stdout).toBe('');

    for (const c of [web, other]) {
      w.kill(c);
      await w.mgr.detachContainer(c.id);
    }
    expect(w.host.run(['iptables-save']).stdout).not.toContain('8080');
    await w.mgr.removeNetwork(`ipa-${process.pid}`);
    await w.mgr.removeNetwork(`ipb-${process.pid}`);
    const after = w.host.run(['iptables-save']).stdout;
    expect(after).not.toContain('DOCK');
    expect(sh('ip', ['-n', w.host.name, '-j', 'link'])).not.toContain('br-');
  });
});
