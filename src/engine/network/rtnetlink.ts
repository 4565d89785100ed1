// rtnetlink in TypeScript: the messages dock sends to configure links, addresses and routes, and
// the decoding of the kernel's replies. The addon (addon/netlink.c) only opens sockets (in a given
// network namespace) and moves bytes, so every layout here is unit-tested without a kernel
// (test/unit/net-rtnetlink.test.ts). Layouts are those of <linux/rtnetlink.h> and <linux/if_link.h>.

import { closeSync } from 'node:fs';
import { nativeNetlink } from '../../runtime/native';

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

export const NLM_F = { REQUEST: 1, MULTI: 2, ACK: 4, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;

const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, MASTER: 10, OPERSTATE: 16, LINKINFO: 18, NET_NS_FD: 28 } as const;
const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
const VETH_INFO_PEER = 1;
const IFA = { ADDRESS: 1, LOCAL: 2, BROADCAST: 4 } as const;
const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PREFSRC: 7, TABLE: 15 } as const;
export const IFF_UP = 1;
const AF_UNSPEC = 0;
const AF_INET = 2;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTPROT_KERNEL = 2;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;
const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

const align4 = (n: number) => (n + 3) & ~3;

// ---- encoding -----------------------------------------------------------------------------------

/** One attribute: 16-bit length, 16-bit type, payload padded to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}
const nested = (type: number, parts: Buffer[]) => attr(type, Buffer.concat(parts));
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const i32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
const cstr = (s: string) => Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);
export const ipv4Bytes = (ip: string) => Buffer.from(ip.split('.').map(Number));
export const macBytes = (mac: string) => Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));

let seqCounter = Math.floor(Math.random() * 0x7fffffff);

/** nlmsghdr + body: the sequence number is fresh per message. */
export function message(type: number, flags: number, body: Buffer, seq = (seqCounter = (seqCounter + 1) >>> 0)): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + body.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags | NLM_F.REQUEST, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(0, 12);
  body.copy(b, NLMSG_HDRLEN);
  return b;
}

export function ifinfomsg(o: { index?: number; flags?: number; change?: number; family?: number } = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(o.family ?? AF_UNSPEC, 0);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

function ifaddrmsg(prefix: number, index: number): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(prefix, 1);
  b.writeUInt8(0, 2);
  b.writeUInt8(RT_SCOPE_UNIVERSE, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

function rtmsg(o: { dstLen: number; scope: number; protocol: number }): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(o.dstLen, 1);
  b.writeUInt8(RT_TABLE_MAIN, 4);
  b.writeUInt8(o.protocol, 5);
  b.writeUInt8(o.scope, 6);
  b.writeUInt8(RTN_UNICAST, 7);
  return b;
}

export interface LinkAttrs {
  name?: string;
  mtu?: number;
  mac?: string;
  master?: number;
  netnsFd?: number;
}

function linkAttrs(a: LinkAttrs): Buffer[] {
  const out: Buffer[] = [];
  if (a.name !== undefined) out.push(attr(IFLA.IFNAME, cstr(a.name)));
  if (a.mtu !== undefined) out.push(attr(IFLA.MTU, u32(a.mtu)));
  if (a.mac !== undefined) out.push(attr(IFLA.ADDRESS, macBytes(a.mac)));
  if (a.master !== undefined) out.push(attr(IFLA.MASTER, u32(a.master)));
  if (a.netnsFd !== undefined) out.push(attr(IFLA.NET_NS_FD, i32(a.netnsFd)));
  return out;
}

/** RTM_NEWLINK of a bridge, up. */
export function newBridgeMsg(name: string, mtu: number): Buffer {
  const body = Buffer.concat([
    ifinfomsg({ flags: IFF_UP, change: IFF_UP }),
    ...linkAttrs({ name, mtu }),
    nested(IFLA.LINKINFO, [attr(IFLA_INFO.KIND, cstr('bridge'))]),
  ]);
  return message(RTM.NEWLINK, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, body);
}

/**
 * RTM_NEWLINK of a veth pair in one message: this end (up, enslaved to `master`) and the peer,
 * created directly in the netns of `peer.netnsFd` under its final name (eth0), so that no
 * temporary name ever exists in either namespace.
 */
export function newVethMsg(host: LinkAttrs, peer: LinkAttrs): Buffer {
  const peerInfo = Buffer.concat([ifinfomsg(), ...linkAttrs(peer)]);
  const body = Buffer.concat([
    ifinfomsg({ flags: IFF_UP, change: IFF_UP }),
    ...linkAttrs(host),
    nested(IFLA.LINKINFO, [attr(IFLA_INFO.KIND, cstr('veth')), nested(IFLA_INFO.DATA, [attr(VETH_INFO_PEER, peerInfo)])]),
  ]);
  return message(RTM.NEWLINK, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, body);
}

/** RTM_NEWLINK on an existing link (by index): flags and attributes. */
export function setLinkMsg(index: number, o: { up?: boolean } & LinkAttrs): Buffer {
  const flags = o.up === undefined ? 0 : o.up ? IFF_UP : 0;
  const change = o.up === undefined ? 0 : IFF_UP;
  return message(RTM.NEWLINK, NLM_F.ACK, Buffer.concat([ifinfomsg({ index, flags, change }), ...linkAttrs(o)]));
}

export function delLinkMsg(o: { index?: number; name?: string }): Buffer {
  return message(RTM.DELLINK, NLM_F.ACK, Buffer.concat([ifinfomsg({ index: o.index ?? 0 }), ...(o.name ? [attr(IFLA.IFNAME, cstr(o.name))] : [])]));
}

export function getLinksMsg(): Buffer {
  return message(RTM.GETLINK, NLM_F.DUMP, ifinfomsg());
}

export function newAddrMsg(index: number, ip: string, prefix: number, broadcast?: string): Buffer {
  const parts = [ifaddrmsg(prefix, index), attr(IFA.LOCAL, ipv4Bytes(ip)), attr(IFA.ADDRESS, ipv4Bytes(ip))];
  if (broadcast) parts.push(attr(IFA.BROADCAST, ipv4Bytes(broadcast)));
  return message(RTM.NEWADDR, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, Buffer.concat(parts));
}

export function getAddrsMsg(): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(AF_INET, 0);
  return message(RTM.GETADDR, NLM_F.DUMP, b);
}

/** A route in the main table: `dst/len via gateway dev index`, or a default route when dst is absent. */
export function newRouteMsg(o: { dst?: string; dstLen?: number; gateway?: string; oif: number }): Buffer {
  const parts = [rtmsg({ dstLen: o.dst ? (o.dstLen ?? 32) : 0, scope: o.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, protocol: RTPROT_BOOT })];
  parts.push(attr(RTA.TABLE, u32(RT_TABLE_MAIN)));
  if (o.dst) parts.push(attr(RTA.DST, ipv4Bytes(o.dst)));
  if (o.gateway) parts.push(attr(RTA.GATEWAY, ipv4Bytes(o.gateway)));
  parts.push(attr(RTA.OIF, u32(o.oif)));
  return message(RTM.NEWROUTE, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, Buffer.concat(parts));
}

export function getRoutesMsg(): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(AF_INET, 0);
  return message(RTM.GETROUTE, NLM_F.DUMP, b);
}

// ---- decoding -----------------------------------------------------------------------------------

export interface RawMessage {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

export function splitMessages(buf: Buffer): RawMessage[] {
  const out: RawMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), body: buf.subarray(off + NLMSG_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > buf.length) break;
    if (!m.has(type)) m.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return m;
}

const strOf = (b?: Buffer) => (b ? b.toString('utf8').replace(/\0.*$/s, '') : '');
const ipOf = (b?: Buffer) => (b && b.length === 4 ? [...b].join('.') : '');
const macOf = (b?: Buffer) => (b ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(':') : '');

export interface Link {
  index: number;
  name: string;
  flags: number;
  mtu: number;
  mac: string;
  master: number;
  kind: string;
}

export function parseLink(body: Buffer): Link {
  const a = parseAttrs(body.subarray(IFINFOMSG_LEN));
  const info = a.get(IFLA.LINKINFO);
  return {
    index: body.readInt32LE(4),
    flags: body.readUInt32LE(8),
    name: strOf(a.get(IFLA.IFNAME)),
    mtu: a.get(IFLA.MTU)?.readUInt32LE(0) ?? 0,
    mac: macOf(a.get(IFLA.ADDRESS)),
    master: a.get(IFLA.MASTER)?.readUInt32LE(0) ?? 0,
    kind: info ? strOf(parseAttrs(info).get(IFLA_INFO.KIND)) : '',
  };
}

export interface Addr {
  index: number;
  prefix: number;
  address: string;
}

export function parseAddr(body: Buffer): Addr {
  const a = parseAttrs(body.subarray(IFADDRMSG_LEN));
  return { index: body.readUInt32LE(4), prefix: body.readUInt8(1), address: ipOf(a.get(IFA.LOCAL) ?? a.get(IFA.ADDRESS)) };
}

export interface Route {
  dst: string;
  dstLen: number;
  gateway: string;
  oif: number;
  table: number;
  protocol: number;
}

export function parseRoute(body: Buffer): Route {
  const a = parseAttrs(body.subarray(RTMSG_LEN));
  return {
    dstLen: body.readUInt8(1),
    table: a.get(RTA.TABLE)?.readUInt32LE(0) ?? body.readUInt8(4),
    protocol: body.readUInt8(5),
    dst: ipOf(a.get(RTA.DST)) || '0.0.0.0',
    gateway: ipOf(a.get(RTA.GATEWAY)),
    oif: a.get(RTA.OIF)?.readUInt32LE(0) ?? 0,
  };
}

export { RTPROT_KERNEL };

// ---- a socket ---------------------------------------------------------------------------------

/** A NETLINK_ROUTE socket bound to one network namespace. Close it (or use `using`). */
export class Rtnl {
  private fd: number;
  private constructor(fd: number) {
    this.fd = fd;
  }

  /** Opens a socket in the netns at `netnsPath` (undefined: the caller's own). */
  static open(netnsPath?: string): Rtnl {
    return new Rtnl(nativeNetlink().netlinkOpen(netnsPath ?? null));
  }

  talk(msg: Buffer): RawMessage[] {
    if (this.fd < 0) throw new Error('netlink socket is closed');
    return splitMessages(nativeNetlink().netlinkTalk(this.fd, msg));
  }

  links(): Link[] {
    return this.talk(getLinksMsg()).filter((m) => m.type === RTM.NEWLINK).map((m) => parseLink(m.body));
  }

  link(name: string): Link | undefined {
    return this.links().find((l) => l.name === name);
  }

  addrs(): Addr[] {
    return this.talk(getAddrsMsg()).filter((m) => m.type === RTM.NEWADDR).map((m) => parseAddr(m.body));
  }

  routes(): Route[] {
    return this.talk(getRoutesMsg()).filter((m) => m.type === RTM.NEWROUTE).map((m) => parseRoute(m.body));
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
