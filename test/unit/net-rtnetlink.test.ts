// The rtnetlink codec against the layouts of <linux/rtnetlink.h>, <linux/if_link.h>, <linux/veth.h>.
import { describe, expect, it } from 'vitest';
import { RTM, NLM_F, IFF_UP, attr, delLinkMsg, message, newAddrMsg, newBridgeMsg, newRouteMsg, newVethMsg, parseAddr, parseAttrs, parseLink, parseRoute, splitMessages } from '../../src/engine/network/rtnetlink';

const str = (b?: Buffer) => b?.toString('utf8').replace(/\0+$/, '');

describe('rtnetlink messages', () => {
  it('nlmsghdr: length, type, flags with NLM_F_REQUEST, sequence', () => {
    const m = message(RTM.GETLINK, NLM_F.DUMP, Buffer.alloc(16), 42);
    expect(m.length).toBe(32);
    expect(m.readUInt32LE(0)).toBe(32);
    expect(m.readUInt16LE(4)).toBe(18);
    expect(m.readUInt16LE(6)).toBe(0x301);
    expect(m.readUInt32LE(8)).toBe(42);
    expect(m.readUInt32LE(12)).toBe(0);
  });

  it('attributes are padded to 4 bytes, their length is not', () => {
    const a = attr(3, Buffer.from('eth0\0'));
    expect(a.length).toBe(12);
    expect(a.readUInt16LE(0)).toBe(9);
    expect(a.readUInt16LE(2)).toBe(3);
    const m = parseAttrs(Buffer.concat([a, attr(4, Buffer.from([0xdc, 5, 0, 0]))]));
    expect(str(m.get(3))).toBe('eth0');
    expect(m.get(4)!.readUInt32LE(0)).toBe(1500);
  });

  it('a veth pair: this end up in the bridge, the peer named eth0 in the container netns', () => {
    const m = splitMessages(newVethMsg({ name: 'vethabc', mtu: 1400, master: 7 }, { name: 'eth0', mtu: 1400, mac: '02:42:0a:00:00:02', netnsFd: 33 }))[0];
    expect(m.type).toBe(RTM.NEWLINK);
    expect(m.flags).toBe(NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL);
    expect(m.body.readUInt32LE(8)).toBe(IFF_UP); // ifi_flags
    expect(m.body.readUInt32LE(12)).toBe(IFF_UP); // ifi_change
    const a = parseAttrs(m.body.subarray(16));
    expect(str(a.get(3))).toBe('vethabc'); // IFLA_IFNAME
    expect(a.get(4)!.readUInt32LE(0)).toBe(1400); // IFLA_MTU
    expect(a.get(10)!.readUInt32LE(0)).toBe(7); // IFLA_MASTER
    const info = parseAttrs(a.get(18)!); // IFLA_LINKINFO
    expect(str(info.get(1))).toBe('veth'); // IFLA_INFO_KIND
    const data = parseAttrs(info.get(2)!); // IFLA_INFO_DATA
    const peer = data.get(1)!; // VETH_INFO_PEER: ifinfomsg + attributes
    const pa = parseAttrs(peer.subarray(16));
    expect(str(pa.get(3))).toBe('eth0');
    expect([...pa.get(1)!]).toEqual([2, 0x42, 10, 0, 0, 2]); // IFLA_ADDRESS
    expect(pa.get(28)!.readInt32LE(0)).toBe(33); // IFLA_NET_NS_FD
  });

  it('a bridge, an address, a default route, a delete by name', () => {
    const br = splitMessages(newBridgeMsg('br-x', 1500))[0];
    expect(str(parseAttrs(parseAttrs(br.body.subarray(16)).get(18)!).get(1))).toBe('bridge');
    const ad = splitMessages(newAddrMsg(5, '10.1.2.3', 24, '10.1.2.255'))[0];
    expect(ad.type).toBe(RTM.NEWADDR);
    expect([ad.body[0], ad.body[1], ad.body.readUInt32LE(4)]).toEqual([2, 24, 5]); // AF_INET, prefix, index
    const aa = parseAttrs(ad.body.subarray(8));
    expect([...aa.get(2)!]).toEqual([10, 1, 2, 3]); // IFA_LOCAL
    expect([...aa.get(4)!]).toEqual([10, 1, 2, 255]); // IFA_BROADCAST
    const rt = splitMessages(newRouteMsg({ gateway: '10.1.2.1', oif: 5 }))[0];
    expect([rt.body[0], rt.body[1], rt.body[4], rt.body[5], rt.body[6], rt.body[7]]).toEqual([2, 0, 254, 3, 0, 1]);
    const ra = parseAttrs(rt.body.subarray(12));
    expect([...ra.get(5)!]).toEqual([10, 1, 2, 1]); // RTA_GATEWAY
    expect(ra.get(4)!.readUInt32LE(0)).toBe(5); // RTA_OIF
    expect(ra.has(1)).toBe(false); // no RTA_DST: default route
    const del = splitMessages(delLinkMsg({ name: 'vethabc' }))[0];
    expect(del.type).toBe(RTM.DELLINK);
    expect(str(parseAttrs(del.body.subarray(16)).get(3))).toBe('vethabc');
  });

  it('decodes replies: several messages in one buffer, links, addresses, routes', () => {
    const ifi = Buffer.alloc(16);
    ifi.writeInt32LE(9, 4);
    ifi.writeUInt32LE(0x1043, 8);
    const link = message(RTM.NEWLINK, NLM_F.MULTI, Buffer.concat([ifi, attr(3, Buffer.from('br0\0')), attr(4, Buffer.from([0xdc, 5, 0, 0])), attr(1, Buffer.from([2, 0x42, 0, 0, 0, 1])), attr(18, attr(1, Buffer.from('bridge\0')))]), 1);
    const ifa = Buffer.from([2, 16, 0, 0, 9, 0, 0, 0]);
    const addr = message(RTM.NEWADDR, NLM_F.MULTI, Buffer.concat([ifa, attr(2, Buffer.from([172, 18, 0, 1]))]), 1);
    const rtm = Buffer.from([2, 16, 0, 0, 254, 2, 253, 1, 0, 0, 0, 0]);
    const route = message(RTM.NEWROUTE, NLM_F.MULTI, Buffer.concat([rtm, attr(1, Buffer.from([172, 18, 0, 0])), attr(4, Buffer.from([9, 0, 0, 0]))]), 1);
    const msgs = splitMessages(Buffer.concat([link, addr, route]));
    expect(msgs.map((m) => m.type)).toEqual([RTM.NEWLINK, RTM.NEWADDR, RTM.NEWROUTE]);
    expect(parseLink(msgs[0].body)).toEqual({ index: 9, flags: 0x1043, name: 'br0', mtu: 1500, mac: '02:42:00:00:00:01', master: 0, kind: 'bridge' });
    expect(parseAddr(msgs[1].body)).toEqual({ index: 9, prefix: 16, address: '172.18.0.1' });
    expect(parseRoute(msgs[2].body)).toEqual({ dst: '172.18.0.0', dstLen: 16, gateway: '', oif: 9, table: 254, protocol: 2 });
  });
});
