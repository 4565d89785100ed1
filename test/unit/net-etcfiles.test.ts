import { describe, expect, it } from 'vitest';
import { buildHosts, buildResolvConf, parseAddHost, parseResolvConf } from '../../src/engine/network/etcfiles';

const host = parseResolvConf('# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1 ; x\nsearch a.example b.example\noptions edns0 ndots:2\n');

describe('/etc/resolv.conf and /etc/hosts builders', () => {
  it('parses resolv.conf', () => {
    expect(host).toEqual({ nameservers: ['127.0.0.53', '192.0.2.1'], search: ['a.example', 'b.example'], options: ['edns0', 'ndots:2'] });
  });
  it('user-defined network: the embedded DNS server, ndots:0', () => {
    expect(buildResolvConf({ host, embeddedDns: '172.18.0.1' })).toBe('nameserver 172.18.0.1\nsearch a.example b.example\noptions edns0 ndots:0\n');
  });
  it('default bridge: host servers without loopback ones; --dns wins; fallback servers', () => {
    expect(buildResolvConf({ host })).toBe('nameserver 192.0.2.1\nsearch a.example b.example\noptions edns0\n');
    expect(buildResolvConf({ host, dns: ['9.9.9.9'], dnsSearch: ['c.example'], dnsOptions: ['rotate'] })).toBe('nameserver 9.9.9.9\nsearch c.example\noptions rotate\n');
    expect(buildResolvConf({ host: parseResolvConf('nameserver 127.0.0.1\n') })).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });
  it('hosts: localhost lines, --add-host, the container on each address', () => {
    const h = buildHosts({ hostname: 'web', domainname: 'example', addresses: ['10.0.0.2', '10.1.0.2'], extraHosts: [{ name: 'db', ip: '192.0.2.9' }] });
    expect(h.split('\n')).toEqual(expect.arrayContaining(['127.0.0.1\tlocalhost', '192.0.2.9\tdb', '10.0.0.2\tweb.example web', '10.1.0.2\tweb.example web']));
    expect(buildHosts({ hostname: 'solo', addresses: [] })).toContain('127.0.1.1\tsolo\n');
  });
  it('--add-host syntax', () => {
    expect(parseAddHost('db:192.0.2.9')).toEqual({ name: 'db', ip: '192.0.2.9' });
    expect(parseAddHost('gw=host-gateway')).toEqual({ name: 'gw', ip: 'host-gateway' });
    expect(parseAddHost('v6:::1')).toEqual({ name: 'v6', ip: '::1' });
    expect(() => parseAddHost('nohost')).toThrow(/invalid --add-host "nohost": expected NAME:IP/);
    expect(() => parseAddHost('db:not-an-ip')).toThrow(/is not an IP address/);
  });
});
