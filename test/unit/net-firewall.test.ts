// nft and iptables rendering from records; the nft output is also checked by nft itself (nft -c,
// which validates against the kernel without committing) inside a throwaway network namespace.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { renderIptables, renderNft } from '../../src/engine/network/firewall';
import type { NetworkRow, PortRow } from '../../src/engine/network/store';

const net = (name: string, subnet: string, bridge: string, o: Partial<NetworkRow> = {}): NetworkRow => ({
  id: name.padEnd(64, '0'), name, driver: 'bridge', subnet, gateway: subnet.replace(/0\/\d+$/, '1'), bridge, internal: 0, mtu: 1500, dns: 1,
  labels: '{}', options: '{}', created_at: 0, next_ip: 0, dns_pid: null, dns_start: null, ...o,
});
const port = (host_ip: string, host_port: number, container_ip: string, container_port: number, proto = 'tcp'): PortRow => ({
  container_id: 'c', host_ip, host_port, proto, container_ip, container_port, proxy_pid: null, proxy_start: null,
});

const state = {
  networks: [net('a', '10.1.0.0/24', 'br-a'), net('b', '10.2.0.0/24', 'br-b'), net('i', '10.3.0.0/24', 'br-i', { internal: 1 }), net('bridge', '172.17.0.0/16', 'dock0', { dns: 0 })],
  ports: [port('0.0.0.0', 8080, '10.1.0.2', 80), port('127.0.0.1', 5353, '10.2.0.2', 53, 'udp')],
};

describe('firewall rendering', () => {
  it('nft: one table replaced whole; NAT, ports, isolation, internal networks, DNS servers', () => {
    const s = renderNft('dock', state);
    expect(s.startsWith('table ip dock\ndelete table ip dock\ntable ip dock {\n')).toBe(true);
    for (const line of [
      'elements = { "br-a", "br-b", "br-i", "dock0" }',
      'tcp dport 8080 dnat to 10.1.0.2:80',
      'ip daddr 127.0.0.1 udp dport 5353 dnat to 10.2.0.2:53',
      'fib daddr type local jump ports',
      'ip daddr != 127.0.0.0/8 fib daddr type local jump ports',
      'ip saddr 10.1.0.2 ip daddr 10.1.0.2 tcp dport 80 masquerade',
      'ip saddr 10.1.0.0/24 oifname != "br-a" masquerade',
      'iifname "br-a" oifname != "br-a" oifname @bridges drop',
      'iifname "br-i" oifname != "br-i" drop',
      'oifname "br-i" iifname != "br-i" drop',
      'ip daddr 10.1.0.1 meta l4proto { tcp, udp } th dport 53 iifname != { "br-a", "lo" } drop',
    ]) expect(s).toContain(line);
    expect(s).not.toContain('10.3.0.0/24 oifname'); // internal: no masquerade
    expect(s).not.toContain('ip daddr 172.17.0.1'); // the default bridge has no DNS server
  });

  it('nft: no networks and no ports remove the table', () => {
    expect(renderNft('dock', { networks: [], ports: [] })).toBe('table ip dock\ndelete table ip dock\n');
  });

  it('iptables: the same rules in DOCK-* chains', () => {
    const s = renderIptables(state);
    for (const line of [
      '-A DOCK-PORTS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80',
      '-A DOCK-PORTS -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.2.0.2:53',
      '-A DOCK-POSTROUTING -s 10.1.0.0/24 ! -o br-a -j MASQUERADE',
      '-A DOCK-FORWARD -i br-a -o br-b -j DROP',
      '-A DOCK-FORWARD -i br-i ! -o br-i -j DROP',
    ]) expect(s).toContain(line);
    expect(s.match(/^COMMIT$/gm)).toHaveLength(2);
  });

  it.skipIf(skipWhen(needRoot(), needTools('nft', 'unshare')))('nft accepts the rendered script (checked in a throwaway netns, not committed)', () => {
    for (const s of [state, { networks: [], ports: [] }]) {
      const r = spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: renderNft('dock', s), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });
});
