// Firewall rules of dock's networks, rendered whole from the records and applied atomically.
//
// nftables: one table (`ip dock` by default) holds everything; each apply replaces it in one nft
// transaction (`table; delete table; table {...}`), so a rule can never outlive its record, a
// failed apply changes nothing, and no rule handles need remembering. iptables (only where nft is
// missing): the same rules in DOCK-* chains, rewritten by one iptables-restore --noflush, with the
// jumps from the built-in chains added once.
//
// What the rules do:
//   nat prerouting/output  traffic to a local address on a published port -> DNAT to the container
//                          (output: not for 127.0.0.0/8, which the userland proxy serves)
//   nat postrouting        masquerade of each non-internal subnet leaving by another interface;
//                          hairpin masquerade of a container reaching its own published port
//   filter forward         isolation: a bridge's traffic may not leave to another dock bridge;
//                          internal networks may not talk to anything but their own bridge
//   filter input           a network's DNS server answers only its own bridge (and the host)
//
// Applying runs in the caller's SQLite write transaction, so concurrent dock processes apply in
// the order their records were written: the last apply always sees every committed record.

import type { HostNetns } from './netns';
import type { NetworkRow, PortRow } from './store';
import { NetworkError } from './errors';

export interface FirewallState {
  networks: NetworkRow[];
  ports: PortRow[];
}

export type Backend = 'nftables' | 'iptables';

const q = (s: string) => JSON.stringify(s);

/** The nft script that makes the table hold exactly the rules of `s` (pure: unit-tested). */
export function renderNft(table: string, s: FirewallState): string {
  const out = [`table ip ${table}`, `delete table ip ${table}`];
  if (!s.networks.length && !s.ports.length) return out.join('\n') + '\n';
  const bridges = s.networks.map((n) => q(n.bridge));
  const t: string[] = [];
  t.push(`table ip ${table} {`);
  t.push(`  set bridges {`, `    type ifname`, ...(bridges.length ? [`    elements = { ${bridges.join(', ')} }`] : []), `  }`);
  t.push(`  chain ports {`);
  for (const p of s.ports) {
    const daddr = p.host_ip === '0.0.0.0' ? '' : `ip daddr ${p.host_ip} `;
    t.push(`    ${daddr}${p.proto} dport ${p.host_port} dnat to ${p.container_ip}:${p.container_port}`);
  }
  t.push(`  }`);
  t.push(`  chain prerouting {`, `    type nat hook prerouting priority dstnat; policy accept;`, `    fib daddr type local jump ports`, `  }`);
  t.push(`  chain output {`, `    type nat hook output priority -100; policy accept;`, `    ip daddr != 127.0.0.0/8 fib daddr type local jump ports`, `  }`);
  t.push(`  chain postrouting {`, `    type nat hook postrouting priority srcnat; policy accept;`);
  for (const p of s.ports) t.push(`    ip saddr ${p.container_ip} ip daddr ${p.container_ip} ${p.proto} dport ${p.container_port} masquerade`);
  for (const n of s.networks) if (!n.internal) t.push(`    ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
  t.push(`  }`);
  t.push(`  chain forward {`, `    type filter hook forward priority filter; policy accept;`);
  for (const n of s.networks) {
    if (n.internal) {
      t.push(`    iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
      t.push(`    oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
    } else {
      t.push(`    iifname ${q(n.bridge)} oifname != ${q(n.bridge)} oifname @bridges drop`);
    }
  }
  t.push(`  }`);
  t.push(`  chain input {`, `    type filter hook input priority filter; policy accept;`);
  for (const n of s.networks) if (n.dns) t.push(`    ip daddr ${n.gateway} meta l4proto { tcp, udp } th dport 53 iifname != { ${q(n.bridge)}, "lo" } drop`);
  t.push(`  }`);
  t.push(`}`);
  return [...out, ...t].join('\n') + '\n';
}

/** iptables-restore input (--noflush) for the same rules, in DOCK-* chains of the nat and filter tables. */
export function renderIptables(s: FirewallState): string {
  const l: string[] = [];
  l.push('*nat', ':DOCK-PORTS - [0:0]', ':DOCK-POSTROUTING - [0:0]');
  for (const p of s.ports) {
    const d = p.host_ip === '0.0.0.0' ? '' : `-d ${p.host_ip}/32 `;
    l.push(`-A DOCK-PORTS ${d}-p ${p.proto} -m ${p.proto} --dport ${p.host_port} -j DNAT --to-destination ${p.container_ip}:${p.container_port}`);
  }
  for (const p of s.ports) l.push(`-A DOCK-POSTROUTING -s ${p.container_ip}/32 -d ${p.container_ip}/32 -p ${p.proto} -m ${p.proto} --dport ${p.container_port} -j MASQUERADE`);
  for (const n of s.networks) if (!n.internal) l.push(`-A DOCK-POSTROUTING -s ${n.subnet} ! -o ${n.bridge} -j MASQUERADE`);
  l.push('COMMIT', '*filter', ':DOCK-FORWARD - [0:0]', ':DOCK-INPUT - [0:0]');
  for (const n of s.networks) {
    if (n.internal) {
      l.push(`-A DOCK-FORWARD -i ${n.bridge} ! -o ${n.bridge} -j DROP`, `-A DOCK-FORWARD -o ${n.bridge} ! -i ${n.bridge} -j DROP`);
    } else {
      for (const o of s.networks) if (o.id !== n.id) l.push(`-A DOCK-FORWARD -i ${n.bridge} -o ${o.bridge} -j DROP`);
    }
  }
  for (const n of s.networks) {
    if (!n.dns) continue;
    for (const proto of ['udp', 'tcp']) l.push(`-A DOCK-INPUT -d ${n.gateway}/32 ! -i ${n.bridge} -p ${proto} -m ${proto} --dport 53 -m addrtype ! --src-type LOCAL -j DROP`);
  }
  l.push('COMMIT');
  return l.join('\n') + '\n';
}

/** Jumps from the built-in chains into ours: [table, chain, rule...]. */
export const IPTABLES_JUMPS: Array<[string, string, string[]]> = [
  ['nat', 'PREROUTING', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCK-PORTS']],
  ['nat', 'OUTPUT', ['!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCK-PORTS']],
  ['nat', 'POSTROUTING', ['-j', 'DOCK-POSTROUTING']],
  ['filter', 'FORWARD', ['-j', 'DOCK-FORWARD']],
  ['filter', 'INPUT', ['-j', 'DOCK-INPUT']],
];

let detected: Backend | undefined;

/** nftables when the nft command exists, else iptables (DOCK_FIREWALL=iptables|nftables forces one). */
export function detectBackend(ns: HostNetns): Backend {
  const forced = process.env.DOCK_FIREWALL;
  if (forced === 'iptables' || forced === 'nftables') return forced;
  if (!detected) detected = ns.exec('nft', ['--version']).status === 0 ? 'nftables' : 'iptables';
  return detected;
}

export function applyFirewall(ns: HostNetns, table: string, s: FirewallState): void {
  const backend = detectBackend(ns);
  if (backend === 'nftables') {
    const r = ns.exec('nft', ['-f', '-'], renderNft(table, s));
    if (r.status !== 0) throw new NetworkError('EFIREWALL', `nft refused dock's rules: ${firstLine(r.stderr)}`);
    return;
  }
  const r = ns.exec('iptables-restore', ['--noflush', '-w'], renderIptables(s));
  if (r.status !== 0) throw new NetworkError('EFIREWALL', `iptables-restore refused dock's rules: ${firstLine(r.stderr)}`);
  for (const [tbl, chain, rule] of IPTABLES_JUMPS) {
    if (ns.exec('iptables', ['-w', '-t', tbl, '-C', chain, ...rule]).status === 0) continue;
    const a = ns.exec('iptables', ['-w', '-t', tbl, '-I', chain, '1', ...rule]);
    if (a.status !== 0) throw new NetworkError('EFIREWALL', `iptables -t ${tbl} -I ${chain}: ${firstLine(a.stderr)}`);
  }
}

/** Removes everything dock's firewall holds (the last network went). */
export function clearFirewall(ns: HostNetns, table: string): void {
  applyFirewall(ns, table, { networks: [], ports: [] });
  if (detectBackend(ns) === 'iptables') {
    for (const [tbl, chain, rule] of IPTABLES_JUMPS) ns.exec('iptables', ['-w', '-t', tbl, '-D', chain, ...rule]);
    for (const [tbl, chain] of [['nat', 'DOCK-PORTS'], ['nat', 'DOCK-POSTROUTING'], ['filter', 'DOCK-FORWARD'], ['filter', 'DOCK-INPUT']]) ns.exec('iptables', ['-w', '-t', tbl, '-X', chain]);
  }
}

function firstLine(s: string): string {
  return (s.trim().split('\n').find((l) => l.trim()) ?? 'unknown error').trim();
}
