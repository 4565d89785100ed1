// IPv4 arithmetic for subnets and the IPAM: addresses as unsigned 32-bit numbers.

import { usage } from './errors';

export interface Subnet {
  /** Network address as a number. */
  base: number;
  prefix: number;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return IPV4_RE.test(s);
}

export function ipToInt(s: string): number {
  if (!isIpv4(s)) throw usage(`invalid IPv4 address "${s}"`);
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.0.0/16" -> Subnet; host bits must be zero (Docker: "invalid subnet ... : it should be ..."). */
export function parseSubnet(s: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) throw usage(`invalid subnet "${s}": expected an IPv4 CIDR such as 10.1.0.0/24`);
  const prefix = Number(m[2]);
  const addr = ipToInt(m[1]);
  const base = (addr & maskOf(prefix)) >>> 0;
  if (base !== addr) throw usage(`invalid subnet "${s}": host bits are set, did you mean ${intToIp(base)}/${prefix}?`);
  if (prefix > 30) throw usage(`invalid subnet "${s}": a bridge network needs at least a /30`);
  return { base, prefix };
}

export function formatSubnet(n: Subnet): string {
  return `${intToIp(n.base)}/${n.prefix}`;
}

export function size(n: Subnet): number {
  return 2 ** (32 - n.prefix);
}

export function broadcast(n: Subnet): number {
  return (n.base + size(n) - 1) >>> 0;
}

export function contains(n: Subnet, ip: number): boolean {
  return ((ip & maskOf(n.prefix)) >>> 0) === n.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & maskOf(p)) >>> 0) === ((b.base & maskOf(p)) >>> 0);
}

/** First and last usable host address (network and broadcast addresses excluded). */
export function hostRange(n: Subnet): [number, number] {
  return [n.base + 1, broadcast(n) - 1];
}

/** Docker's MAC for an address: 02:42 then the four bytes of the IPv4 address. */
export function macFor(ip: number): string {
  return ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The subnets dock picks from when none is given (Docker's default address pools). */
export function* defaultPool(): Generator<Subnet> {
  for (let i = 18; i <= 31; i++) yield { base: ipToInt(`172.${i}.0.0`), prefix: 16 };
  for (let i = 0; i < 256; i += 16) yield { base: ipToInt(`192.168.${i}.0`), prefix: 20 };
}

export const DEFAULT_BRIDGE_SUBNET = '172.17.0.0/16';
