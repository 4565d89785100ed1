// Docker's port publishing syntax: -p [hostIP:][hostPort:]containerPort[/tcp|udp|sctp], with port
// ranges (8000-8001:80-81), and -P (every EXPOSEd port on a free host port).

import { usage } from './errors';
import { isIpv4 } from './ipv4';

export type Proto = 'tcp' | 'udp';

export interface PortSpec {
  /** Host address to listen on; "0.0.0.0" for every address. */
  hostIp: string;
  /** 0: any free port (chosen when published). */
  hostPort: number;
  containerPort: number;
  proto: Proto;
}

function bad(spec: string, why: string): Error {
  return usage(`invalid port mapping "${spec}": ${why}`);
}

function parseRange(spec: string, s: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) throw bad(spec, `${what} "${s}" is not a port number or range`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  // Docker's words: "invalid hostPort: 99999" / "invalid containerPort: 99999".
  const field = what === 'host port' ? 'hostPort' : 'containerPort';
  for (const p of [lo, hi]) if (p < 1 || p > 65535) throw usage(`invalid ${field}: ${p} (in port mapping "${spec}": ${what} ${p} is out of range 1-65535)`);
  if (hi < lo) throw bad(spec, `${what} range ${s} ends before it starts`);
  return [lo, hi];
}

/** One -p value -> the mappings it stands for (several for a range). */
export function parsePortSpec(spec: string): PortSpec[] {
  let rest = spec.trim();
  if (!rest) throw bad(spec, 'empty');
  let proto: Proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p === 'sctp') throw bad(spec, 'sctp is not supported, use tcp or udp');
    if (p !== 'tcp' && p !== 'udp') throw bad(spec, `unknown protocol "${p}", expected tcp or udp`);
    proto = p;
    rest = rest.slice(0, slash);
  }
  if (rest.startsWith('[')) throw bad(spec, 'IPv6 host addresses are not supported');
  const parts = rest.split(':');
  if (parts.length > 3) throw bad(spec, 'too many colons: expected [hostIP:][hostPort:]containerPort');
  let hostIp = '0.0.0.0';
  let hostPart = '';
  const containerPart = parts[parts.length - 1];
  if (parts.length === 3) {
    hostIp = parts[0] || '0.0.0.0';
    hostPart = parts[1];
  } else if (parts.length === 2) {
    hostPart = parts[0];
  }
  if (!isIpv4(hostIp)) throw bad(spec, `host address "${hostIp}" is not an IPv4 address`);
  if (!containerPart) throw bad(spec, 'no container port');
  const [clo, chi] = parseRange(spec, containerPart, 'container port');
  if (!hostPart) {
    const out: PortSpec[] = [];
    for (let p = clo; p <= chi; p++) out.push({ hostIp, hostPort: 0, containerPort: p, proto });
    return out;
  }
  const [hlo, hhi] = parseRange(spec, hostPart, 'host port');
  if (hhi - hlo !== chi - clo) throw bad(spec, `host range ${hostPart} and container range ${containerPart} differ in length`);
  const out: PortSpec[] = [];
  for (let i = 0; i <= chi - clo; i++) out.push({ hostIp, hostPort: hlo + i, containerPort: clo + i, proto });
  return out;
}

/** -P: the image's ExposedPorts keys ("80/tcp", "53/udp", "8080") each on a free host port. */
export function publishAll(exposed: Iterable<string>, hostIp = '0.0.0.0'): PortSpec[] {
  const out: PortSpec[] = [];
  for (const key of exposed) {
    const [port, p = 'tcp'] = key.split('/');
    const proto = p.toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') continue; // sctp: not published, as with a proxy-less Docker
    const [lo, hi] = parseRange(key, port, 'exposed port');
    for (let n = lo; n <= hi; n++) out.push({ hostIp, hostPort: 0, containerPort: n, proto });
  }
  return out;
}

/** Two mappings clash when protocol and host port match and one address covers the other. */
export function clashes(a: { hostIp: string; hostPort: number; proto: string }, b: { hostIp: string; hostPort: number; proto: string }): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && a.hostPort !== 0 && (a.hostIp === b.hostIp || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0');
}

/** Docker's `dock port` line: "80/tcp -> 0.0.0.0:8080". */
export function formatBinding(b: PortSpec): string {
  return `${b.containerPort}/${b.proto} -> ${b.hostIp}:${b.hostPort}`;
}
