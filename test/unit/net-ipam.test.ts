import { describe, expect, it } from 'vitest';
import { broadcast, contains, defaultPool, formatSubnet, hostRange, intToIp, ipToInt, macFor, overlaps, parseSubnet } from '../../src/engine/network/ipv4';

describe('IPv4 subnets', () => {
  it('parses, formats and measures', () => {
    const s = parseSubnet('10.1.0.0/16');
    expect(formatSubnet(s)).toBe('10.1.0.0/16');
    expect(intToIp(broadcast(s))).toBe('10.1.255.255');
    expect(hostRange(s).map(intToIp)).toEqual(['10.1.0.1', '10.1.255.254']);
    expect(contains(s, ipToInt('10.1.7.7'))).toBe(true);
    expect(contains(s, ipToInt('10.2.0.1'))).toBe(false);
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
  });
  it('refuses host bits, bad prefixes and non-addresses', () => {
    expect(() => parseSubnet('10.1.0.1/16')).toThrow(/host bits are set, did you mean 10\.1\.0\.0\/16\?/);
    expect(() => parseSubnet('10.1.0.0/33')).toThrow(/invalid subnet/);
    expect(() => parseSubnet('10.1.0.0/31')).toThrow(/at least a \/30/);
    expect(() => parseSubnet('10.1.0/24')).toThrow(/invalid subnet/);
    expect(() => ipToInt('1.2.3.256')).toThrow(/invalid IPv4 address/);
  });
  it('overlap in both directions', () => {
    expect(overlaps(parseSubnet('10.0.0.0/8'), parseSubnet('10.5.0.0/24'))).toBe(true);
    expect(overlaps(parseSubnet('10.5.0.0/24'), parseSubnet('10.0.0.0/8'))).toBe(true);
    expect(overlaps(parseSubnet('10.5.0.0/24'), parseSubnet('10.5.1.0/24'))).toBe(false);
  });
  it("Docker's MAC from an address, and the default pools", () => {
    expect(macFor(ipToInt('172.17.0.2'))).toBe('02:42:ac:11:00:02');
    const pool = [...defaultPool()].map(formatSubnet);
    expect(pool[0]).toBe('172.18.0.0/16');
    expect(pool).toContain('192.168.240.0/20');
    expect(pool).not.toContain('172.17.0.0/16');
  });
});
