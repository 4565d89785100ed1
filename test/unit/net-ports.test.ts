import { describe, expect, it } from 'vitest';
import { clashes, formatBinding, parsePortSpec, publishAll } from '../../src/engine/network/ports';

describe('-p parser (Docker syntax)', () => {
  it('accepts every form Docker accepts for IPv4', () => {
    expect(parsePortSpec('8080:80')).toEqual([{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }]);
    expect(parsePortSpec('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, proto: 'udp' }]);
    expect(parsePortSpec('80')).toEqual([{ hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, proto: 'tcp' }]);
    expect(parsePortSpec('10.0.0.1::53/UDP')).toEqual([{ hostIp: '10.0.0.1', hostPort: 0, containerPort: 53, proto: 'udp' }]);
    expect(parsePortSpec('8000-8001:80-81')).toEqual([
      { hostIp: '0.0.0.0', hostPort: 8000, containerPort: 80, proto: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: 8001, containerPort: 81, proto: 'tcp' },
    ]);
    expect(parsePortSpec('90-91').map((p) => p.containerPort)).toEqual([90, 91]);
  });

  it('refuses bad strings with one clear line', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['x', /container port "x" is not a port number or range/],
      ['0:80', /host port 0 is out of range/],
      ['80:65536', /container port 65536 is out of range/],
      // docker's words first
      ['99999:80', /^invalid hostPort: 99999 /],
      ['80:99999', /^invalid containerPort: 99999 /],
      ['80/sctp', /sctp is not supported/],
      ['80/icmp', /unknown protocol "icmp"/],
      ['[::1]:80:80', /IPv6 host addresses are not supported/],
      ['300.1.1.1:80:80', /host address "300\.1\.1\.1" is not an IPv4 address/],
      ['81-80:81-80', /ends before it starts/],
      ['1:2:3:4', /too many colons/],
      ['80-82:90-91', /differ in length/],
    ];
    for (const [spec, re] of cases) {
      expect(() => parsePortSpec(spec), spec).toThrow(re);
      try {
        parsePortSpec(spec);
      } catch (e) {
        expect((e as { code: string }).code).toBe('EUSAGE');
        expect((e as Error).message).not.toContain('\n');
      }
    }
  });

  it('-P publishes every exposed tcp/udp port on a free host port', () => {
    expect(publishAll(['80/tcp', '53/udp', '9000', '7/sctp'])).toEqual([
      { hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, proto: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: 0, containerPort: 53, proto: 'udp' },
      { hostIp: '0.0.0.0', hostPort: 0, containerPort: 9000, proto: 'tcp' },
    ]);
  });

  it('clashes: same port and protocol, one address covering the other', () => {
    const p = (hostIp: string, hostPort: number, proto = 'tcp') => ({ hostIp, hostPort, proto });
    expect(clashes(p('0.0.0.0', 80), p('127.0.0.1', 80))).toBe(true);
    expect(clashes(p('10.0.0.1', 80), p('127.0.0.1', 80))).toBe(false);
    expect(clashes(p('0.0.0.0', 80), p('0.0.0.0', 80, 'udp'))).toBe(false);
    expect(clashes(p('0.0.0.0', 0), p('0.0.0.0', 0))).toBe(false);
    expect(formatBinding({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' })).toBe('80/tcp -> 0.0.0.0:8080');
  });
});
