// dock's networks: bridges, veth endpoints, the IPAM, published ports, DNS servers and firewall
// rules, behind a small API the containers code calls (see README.md beside this file).
//
// Each operation is a sequence of steps with its undo: records first (in one SQLite write
// transaction, which is where concurrent dock processes serialize and where addresses and ports
// are reserved), kernel objects next (rtnetlink through the addon, no processes), helper processes
// and firewall rules last; a failure undoes the steps done, in reverse, and reports one line.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/db';
import { recordEvent } from '../events/log';
import { daemonAlive, helperScript, startDaemon, stopDaemon } from './daemons';
import { NetworkError, usage } from './errors';
import { buildHosts, buildResolvConf, parseResolvConf, type HostsInput } from './etcfiles';
import { applyFirewall, clearFirewall, detectBackend } from './firewall';
import {
  DEFAULT_BRIDGE_SUBNET,
  broadcast,
  contains,
  defaultPool,
  formatSubnet,
  hostRange,
  intToIp,
  ipToInt,
  isIpv4,
  macFor,
  overlaps,
  parseSubnet,
  type Subnet,
} from './ipv4';
import { HostNetns, hostResolvConfPath } from './netns';
import { clashes, type PortSpec, type Proto } from './ports';
import { Rtnl, delLinkMsg, newAddrMsg, newBridgeMsg, newRouteMsg, newVethMsg, setLinkMsg } from './rtnetlink';
import { NetworkStore, type EndpointRow, type NetworkRow, type PortRow } from './store';

export const DEFAULT_NETWORK = 'bridge';
/** Network modes that are not bridge networks: the containers code handles them itself. */
export const SPECIAL_MODES = ['host', 'none'] as const;
const DEFAULT_MTU = 1500;
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface NetworkManagerOptions {
  /** The engine database (images.db); the network tables are added to it. */
  db: Db;
  /** The engine root: DNS records and helper logs go to <root>/network/. */
  root: string;
  /** Path of the host-side network namespace (default: $DOCK_HOST_NETNS, else dock's own). */
  hostNetns?: string;
  /** nft table name (default "dock"). */
  table?: string;
  /** The host's resolv.conf (default: /etc/netns/NAME/resolv.conf for a named host netns, else /etc/resolv.conf). */
  resolvConf?: string;
  /** Interface name of the default bridge (default "dock0"). */
  defaultBridgeName?: string;
}

export interface CreateNetworkOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  /** Driver options: com.docker.network.bridge.name, com.docker.network.driver.mtu. */
  options?: Record<string, string>;
}

export interface NetworkSummary {
  Name: string;
  Id: string;
  Created: string;
  Driver: string;
  Scope: 'local';
  Internal: boolean;
  Subnet: string;
  Gateway: string;
  Bridge: string;
  Labels: Record<string, string>;
}

export interface ContainerRef {
  id: string;
  name: string;
  /** Path of the container's network namespace: /proc/PID/ns/net or a bind-mounted one. */
  netnsPath: string;
  hostname?: string;
  aliases?: string[];
}

export interface ConnectOptions {
  /** --network-alias names on this network. */
  aliases?: string[];
  /** --ip: a fixed address in the subnet. */
  ipAddress?: string;
  /** --mac-address: the interface's address (else one derived from the IP, as Docker's). */
  macAddress?: string;
}

export interface Endpoint {
  networkId: string;
  networkName: string;
  endpointId: string;
  ipAddress: string;
  ipPrefixLen: number;
  gateway: string;
  macAddress: string;
  ifname: string;
  aliases: string[];
  /** The network runs a DNS server at the gateway address. */
  dns: boolean;
}

export interface PortBinding extends PortSpec {
  containerIp: string;
}

export interface Published {
  bindings: PortBinding[];
  /** Removes the rules and stops the proxy (same as unpublishPorts). */
  dispose(): Promise<void>;
}

const endpointId = (networkId: string, containerId: string) => createHash('sha256').update(`${networkId}/${containerId}`).digest('hex');

export class NetworkManager {
  readonly store: NetworkStore;
  readonly ns: HostNetns;
  readonly dir: string;
  readonly table: string;
  readonly resolvConfPath: string;
  private readonly defaultBridgeName: string;

  constructor(o: NetworkManagerOptions) {
    this.store = new NetworkStore(o.db);
    this.ns = new HostNetns(o.hostNetns ?? process.env.DOCK_HOST_NETNS);
    this.dir = join(o.root, 'network');
    this.table = o.table ?? 'dock';
    this.resolvConfPath = o.resolvConf ?? hostResolvConfPath(this.ns.path);
    this.defaultBridgeName = o.defaultBridgeName ?? 'dock0';
  }

  // ---- networks -------------------------------------------------------------------------------

  listNetworks(): NetworkSummary[] {
    const rows = this.store.networks().map((r) => this.summary(r));
    // The default bridge is made (record, bridge, rules) by the first container that joins it.
    if (!rows.some((r) => r.Name === DEFAULT_NETWORK)) rows.push(this.summary(this.defaultRow()));
    const special = SPECIAL_MODES.map((m) => ({
      Name: m,
      Id: createHash('sha256').update(`dock-special-${m}`).digest('hex'),
      Created: new Date(0).toISOString(),
      Driver: m === 'none' ? 'null' : 'host',
      Scope: 'local' as const,
      Internal: false,
      Subnet: '',
      Gateway: '',
      Bridge: '',
      Labels: {},
    }));
    return [...rows, ...special];
  }

  /** Docker's `network inspect` document. */
  inspectNetwork(nameOrId: string): Record<string, unknown> {
    const special = this.listNetworks().find((n) => n.Bridge === '' && (n.Name === nameOrId || n.Id.startsWith(nameOrId)));
    if (special && special.Name === nameOrId) return { Name: special.Name, Id: special.Id, Created: special.Created, Scope: 'local', Driver: special.Driver, EnableIPv6: false, IPAM: { Driver: 'default', Options: {}, Config: [] }, Internal: false, Attachable: false, Ingress: false, Containers: {}, Options: {}, Labels: {} };
    const n = nameOrId === DEFAULT_NETWORK ? (this.store.findNetwork(DEFAULT_NETWORK) ?? this.defaultRow()) : this.find(nameOrId);
    const containers: Record<string, unknown> = {};
    for (const e of this.store.endpoints(n.id)) {
      containers[e.container_id] = { Name: e.container_name, EndpointID: endpointId(n.id, e.container_id), MacAddress: e.mac, IPv4Address: `${intToIp(e.ip)}/${parseSubnet(n.subnet).prefix}`, IPv6Address: '', Aliases: JSON.parse(e.aliases) };
    }
    return {
      Name: n.name,
      Id: n.id,
      Created: new Date(n.created_at).toISOString(),
      Scope: 'local',
      Driver: n.driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
      Internal: !!n.internal,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: shownOptions(n),
      Labels: JSON.parse(n.labels),
      DnsServer: n.dns ? `${n.gateway}:53` : '',
    };
  }

  /** A network by name, id or id prefix; `join`: the default bridge's record is made if missing. */
  find(nameOrId: string, o: { join?: boolean } = {}): NetworkRow {
    if (nameOrId === DEFAULT_NETWORK && o.join) this.ensureDefaultRecord();
    const n = this.store.findNetwork(nameOrId);
    if (!n) {
      if ((SPECIAL_MODES as readonly string[]).includes(nameOrId)) throw usage(`network "${nameOrId}" is not a bridge network: containers join it with --network ${nameOrId}`);
      throw new NetworkError('ENOTFOUND', `network ${nameOrId} not found`);
    }
    return n;
  }

  async createNetwork(o: CreateNetworkOptions): Promise<NetworkSummary> {
    if (!NAME_RE.test(o.name)) throw usage(`invalid network name "${o.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if ((SPECIAL_MODES as readonly string[]).includes(o.name) || o.name === DEFAULT_NETWORK) throw new NetworkError('EBUILTIN', `network name "${o.name}" is reserved`);
    if (o.gateway && !o.subnet) throw usage('--gateway needs --subnet');
    const mtu = parseMtu(o.options?.['com.docker.network.driver.mtu']);
    const explicit = o.subnet ? parseSubnet(o.subnet) : undefined;
    const id = randomBytes(32).toString('hex');
    const bridge = o.options?.['com.docker.network.bridge.name'] ?? `br-${id.slice(0, 12)}`;
    if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw usage(`invalid bridge name "${bridge}": at most 15 characters of [a-zA-Z0-9_.-]`);
    const hostRoutes = explicit ? [] : this.hostSubnets();
    const row = this.store.write(() => {
      if (this.store.findNetwork(o.name)?.name === o.name) throw new NetworkError('EEXISTS', `network with name ${o.name} already exists`);
      const existing = this.store.networks();
      let subnet: Subnet;
      if (explicit) {
        const clash = existing.find((n) => overlaps(parseSubnet(n.subnet), explicit));
        if (clash) throw new NetworkError('EOVERLAP', `subnet ${formatSubnet(explicit)} overlaps with network ${clash.name} (${clash.subnet})`);
        subnet = explicit;
      } else {
        const taken = [...existing.map((n) => parseSubnet(n.subnet)), parseSubnet(DEFAULT_BRIDGE_SUBNET), ...hostRoutes];
        const free = [...defaultPool()].find((c) => !taken.some((t) => overlaps(t, c)));
        if (!free) throw new NetworkError('EPOOL', 'no free subnet left in the default pools: give one with --subnet');
        subnet = free;
      }
      const gateway = this.pickGateway(subnet, o.gateway);
      if (existing.some((n) => n.bridge === bridge)) throw new NetworkError('EEXISTS', `bridge ${bridge} is used by another network`);
      const r: NetworkRow = {
        id,
        name: o.name,
        driver: 'bridge',
        subnet: formatSubnet(subnet),
        gateway: intToIp(gateway),
        bridge,
        internal: o.internal ? 1 : 0,
        mtu,
        dns: 1,
        labels: JSON.stringify(o.labels ?? {}),
        options: JSON.stringify(Object.fromEntries(Object.entries(o.options ?? {}).filter(([k]) => !k.startsWith('com.docker.network.')))),
        created_at: Date.now(),
        next_ip: 0,
        dns_pid: null,
        dns_start: null,
      };
      this.store.insertNetwork(r);
      return r;
    });
    try {
      await this.ensureKernel(row, { firewall: true });
    } catch (e) {
      await this.destroyNetwork(row).catch(() => undefined);
      throw e;
    }
    recordEvent(this.store.db, 'network', 'create', row.id, { name: row.name, type: 'bridge' });
    return this.summary(row);
  }

  async removeNetwork(nameOrId: string): Promise<void> {
    const n = this.find(nameOrId);
    if (n.name === DEFAULT_NETWORK) throw new NetworkError('EBUILTIN', `bridge is a pre-defined network and cannot be removed`);
    this.reapStale(n);
    const eps = this.store.endpoints(n.id);
    if (eps.length) throw new NetworkError('EINUSE', `network ${n.name} has active endpoints (${eps.map((e) => e.container_name).join(', ')})`);
    await this.destroyNetwork(n);
    recordEvent(this.store.db, 'network', 'destroy', n.id, { name: n.name, type: 'bridge' });
  }

  /** Removes the default bridge's kernel objects and record (they come back on the next connect). */
  async removeDefaultBridge(): Promise<void> {
    const n = this.store.findNetwork(DEFAULT_NETWORK);
    if (!n || n.name !== DEFAULT_NETWORK) return;
    this.reapStale(n);
    const eps = this.store.endpoints(n.id);
    if (eps.length) throw new NetworkError('EINUSE', `network bridge has active endpoints (${eps.map((e) => e.container_name).join(', ')})`);
    await this.destroyNetwork(n);
  }

  /** Removes every user-defined network without endpoints; returns their names. */
  async pruneNetworks(): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.store.networks()) {
      if (n.name === DEFAULT_NETWORK) continue;
      this.reapStale(n);
      if (this.store.endpoints(n.id).length) continue;
      await this.destroyNetwork(n);
      recordEvent(this.store.db, 'network', 'destroy', n.id, { name: n.name, type: 'bridge' });
      removed.push(n.name);
    }
    return removed;
  }

  // ---- endpoints ------------------------------------------------------------------------------

  async connect(c: ContainerRef, network: string, opts: ConnectOptions = {}): Promise<Endpoint> {
    if (!c.id || !c.name) throw usage('connect needs a container id and name');
    const n = this.find(network, { join: true });
    if (!existsSync(c.netnsPath)) throw usage(`network namespace ${c.netnsPath} of container ${c.name} does not exist (is it running?)`);
    const aliases = [...new Set([...(c.aliases ?? []), ...(opts.aliases ?? [])])];
    for (const a of aliases) if (!/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(a)) throw usage(`invalid network alias "${a}"`);
    if (opts.ipAddress && !isIpv4(opts.ipAddress)) throw usage(`invalid IPv4 address "${opts.ipAddress}"`);
    const hostVeth = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;

    // 1. Records: the address is reserved in the same transaction that checks it is free.
    const ep = this.store.write(() => {
      if (this.store.endpoint(n.id, c.id)) throw new NetworkError('EEXISTS', `container ${c.name} is already connected to network ${n.name}`);
      const ip = this.allocate(n, opts.ipAddress);
      const r: EndpointRow = {
        network_id: n.id,
        container_id: c.id,
        container_name: c.name,
        hostname: c.hostname ?? '',
        aliases: JSON.stringify(aliases),
        ip,
        mac: opts.macAddress ?? macFor(ip),
        ifname: '',
        host_veth: hostVeth,
        netns: c.netnsPath,
        state: 'creating',
        created_at: Date.now(),
      };
      this.store.insertEndpoint(r);
      return r;
    });

    // 2. Kernel: the bridge (made again if the host side lost it), the veth pair, the container's side.
    let vethMade = false;
    try {
      await this.ensureKernel(n, { firewall: false });
      const subnet = parseSubnet(n.subnet);
      const host = this.ns.rtnl();
      let ifname: string;
      try {
        const br = host.link(n.bridge);
        if (!br) throw new NetworkError('EKERNEL', `bridge ${n.bridge} of network ${n.name} is missing`);
        const ctr = this.rtnlIn(c.netnsPath, c.name);
        try {
          const links = ctr.links();
          const names = new Set(links.map((l) => l.name));
          let i = 0;
          while (names.has(`eth${i}`)) i++;
          ifname = `eth${i}`;
          const nsfd = openSync(c.netnsPath, 'r');
          try {
            kernel(`create veth pair ${hostVeth}/${ifname}`, () => host.talk(newVethMsg({ name: hostVeth, mtu: n.mtu, master: br.index }, { name: ifname, mtu: n.mtu, mac: ep.mac, netnsFd: nsfd })));
            vethMade = true;
          } finally {
            closeSync(nsfd);
          }
          const eth = ctr.link(ifname);
          if (!eth) throw new NetworkError('EKERNEL', `${ifname} did not appear in container ${c.name}`);
          kernel(`add address ${intToIp(ep.ip)}/${subnet.prefix} to ${ifname}`, () => ctr.talk(newAddrMsg(eth.index, intToIp(ep.ip), subnet.prefix, intToIp(broadcast(subnet)))));
          kernel(`set ${ifname} up`, () => ctr.talk(setLinkMsg(eth.index, { up: true })));
          const lo = links.find((l) => l.name === 'lo');
          if (lo && !(lo.flags & 1)) kernel('set lo up', () => ctr.talk(setLinkMsg(lo.index, { up: true })));
          if (!n.internal) {
            try {
              ctr.talk(newRouteMsg({ gateway: n.gateway, oif: eth.index }));
            } catch (e) {
              // A default route exists already (an earlier network): Docker keeps the first one.
              if ((e as { code?: string }).code !== 'EEXIST') throw kernelError(`add default route via ${n.gateway}`, e);
            }
          }
        } finally {
          ctr.close();
        }
      } finally {
        host.close();
      }
      // 3. Ready: the DNS server now answers this container's names.
      this.store.write(() => {
        this.store.markEndpointReady(n.id, c.id, ifname);
        this.writeRecords(n);
      });
      recordEvent(this.store.db, 'network', 'connect', n.id, { container: c.id, name: n.name, type: 'bridge' });
      return this.toEndpoint(n, { ...ep, ifname });
    } catch (e) {
      if (vethMade) this.deleteLink(hostVeth);
      this.store.write(() => {
        this.store.deleteEndpoint(n.id, c.id);
        this.writeRecords(n);
      });
      throw e;
    }
  }

  async disconnect(containerId: string, network: string, opts: { force?: boolean } = {}): Promise<void> {
    const n = this.find(network);
    const ep = this.store.endpoint(n.id, containerId);
    if (!ep) {
      if (opts.force) return;
      throw new NetworkError('ENOTFOUND', `container ${containerId.slice(0, 12)} is not connected to network ${n.name}`);
    }
    const ports = this.store.portsOf(containerId).filter((p) => p.container_ip === intToIp(ep.ip));
    if (ports.length) await this.unpublishPorts(containerId);
    this.deleteLink(ep.host_veth);
    this.store.write(() => {
      this.store.deleteEndpoint(n.id, containerId);
      this.writeRecords(n);
    });
    recordEvent(this.store.db, 'network', 'disconnect', n.id, { container: containerId, name: n.name, type: 'bridge' });
  }

  /** Everything a container holds: its ports (rules, proxy) and its endpoints (veths, addresses). */
  async detachContainer(containerId: string): Promise<void> {
    await this.unpublishPorts(containerId);
    for (const ep of this.store.endpointsOf(containerId)) {
      const n = this.store.network(ep.network_id);
      if (n) await this.disconnect(containerId, n.id, { force: true });
    }
  }

  /** The container's endpoints, as Docker's NetworkSettings.Networks lists them. */
  containerNetworks(containerId: string): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const ep of this.store.endpointsOf(containerId)) {
      const n = this.store.network(ep.network_id);
      if (!n) continue;
      const e = this.toEndpoint(n, ep);
      out[n.name] = {
        Aliases: e.aliases,
        NetworkID: n.id,
        EndpointID: e.endpointId,
        Gateway: n.internal ? '' : e.gateway,
        IPAddress: e.ipAddress,
        IPPrefixLen: e.ipPrefixLen,
        MacAddress: e.macAddress,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        DNSNames: this.namesOf(ep),
      };
    }
    return out;
  }

  endpointsOf(containerId: string): Endpoint[] {
    return this.store.endpointsOf(containerId).flatMap((ep) => {
      const n = this.store.network(ep.network_id);
      return n ? [this.toEndpoint(n, ep)] : [];
    });
  }

  // ---- ports ----------------------------------------------------------------------------------

  /**
   * Publishes ports to the container's address on `network` (default: its first network): one
   * proxy process holds the host ports (and serves 127.0.0.1), DNAT rules serve other addresses.
   */
  async publishPorts(c: { id: string; name: string }, specs: PortSpec[], opts: { network?: string } = {}): Promise<Published> {
    const dispose = () => this.unpublishPorts(c.id);
    if (!specs.length) return { bindings: [], dispose };
    const eps = this.store.endpointsOf(c.id);
    const ep = opts.network ? eps.find((e) => e.network_id === this.find(opts.network!).id) : eps[0];
    if (!ep) throw usage(`container ${c.name} has no bridge network to publish ports on`);
    const containerIp = intToIp(ep.ip);
    for (const s of specs) {
      if (!isIpv4(s.hostIp)) throw usage(`invalid host address "${s.hostIp}"`);
      if (!(s.proto === 'tcp' || s.proto === 'udp') || !(s.containerPort >= 1 && s.containerPort <= 65535) || !(s.hostPort >= 0 && s.hostPort <= 65535)) throw usage(`invalid port mapping ${JSON.stringify(s)}`);
    }
    for (let i = 0; i < specs.length; i++) for (let j = 0; j < i; j++) if (clashes(specs[i], specs[j])) throw new NetworkError('EPORTINUSE', `port ${specs[i].hostPort}/${specs[i].proto} is published twice`);
    if (this.store.portsOf(c.id).length) throw new NetworkError('EEXISTS', `container ${c.name} has published ports already`);

    // 1. Reserve fixed host ports against other dock containers (a clear error before any work).
    this.store.write(() => {
      for (const s of specs) {
        const taken = this.store.ports().find((p) => clashes(s, { hostIp: p.host_ip, hostPort: p.host_port, proto: p.proto }));
        if (taken) throw new NetworkError('EPORTINUSE', `cannot publish ${s.hostIp}:${s.hostPort}/${s.proto}: port is already allocated (container ${taken.container_id.slice(0, 12)})`);
      }
    });
    // 2. The proxy binds the host ports: the kernel's word on whether they are free, 0 made concrete.
    const args = specs.flatMap((s) => ['--map', `${s.proto}:${s.hostIp}:${s.hostPort}:${containerIp}:${s.containerPort}`]);
    const proxy = await startDaemon(this.ns, `port proxy of ${c.name}`, helperScript('dock-proxy.js'), args, join(this.dir, 'proxy', `${c.id}.log`));
    const bindings: PortBinding[] = specs.map((s, i) => ({ ...s, hostPort: Number(proxy.ready[i]) || s.hostPort, containerIp }));
    // 3. Records and rules in one transaction: a clash with a concurrent dock fails on the primary key.
    try {
      this.store.write(() => {
        for (const b of bindings) {
          const taken = this.store.ports().find((p) => clashes(b, { hostIp: p.host_ip, hostPort: p.host_port, proto: p.proto }));
          if (taken) throw new NetworkError('EPORTINUSE', `cannot publish ${b.hostIp}:${b.hostPort}/${b.proto}: port is already allocated (container ${taken.container_id.slice(0, 12)})`);
          this.store.insertPort({ container_id: c.id, host_ip: b.hostIp, host_port: b.hostPort, proto: b.proto, container_ip: containerIp, container_port: b.containerPort, proxy_pid: proxy.pid, proxy_start: proxy.startTime });
        }
        this.applyRules();
      });
    } catch (e) {
      await stopDaemon(proxy.pid, proxy.startTime);
      throw e;
    }
    return { bindings, dispose };
  }

  async unpublishPorts(containerId: string): Promise<void> {
    const rows = this.store.portsOf(containerId);
    if (!rows.length) return;
    this.store.write(() => {
      this.store.deletePortsOf(containerId);
      this.applyRules();
    });
    const seen = new Set<number>();
    for (const r of rows) {
      if (!r.proxy_pid || seen.has(r.proxy_pid)) continue;
      seen.add(r.proxy_pid);
      await stopDaemon(r.proxy_pid, r.proxy_start);
    }
  }

  portsOf(containerId: string): PortBinding[] {
    return this.store.portsOf(containerId).map((p) => ({ hostIp: p.host_ip, hostPort: p.host_port, containerPort: p.container_port, proto: p.proto as Proto, containerIp: p.container_ip }));
  }

  // ---- /etc files -----------------------------------------------------------------------------

  /** resolv.conf content for the container: its first network's DNS server, or --dns / the host's. */
  resolvConf(containerId: string, o: { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[] } = {}): string {
    const eps = this.endpointsOf(containerId);
    const withDns = eps.find((e) => e.dns);
    let host = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
    try {
      host = parseResolvConf(readFileSync(this.resolvConfPath, 'utf8'));
    } catch {
      /* no resolv.conf: Docker's fallback servers */
    }
    return buildResolvConf({ host, embeddedDns: withDns?.gateway, ...o });
  }

  /** /etc/hosts content: the container's addresses on its networks, and --add-host lines. */
  hosts(containerId: string, o: Omit<HostsInput, 'addresses'>): string {
    const extra = (o.extraHosts ?? []).map((h) => ({ name: h.name, ip: h.ip === 'host-gateway' ? this.hostGateway(containerId) : h.ip }));
    return buildHosts({ ...o, extraHosts: extra, addresses: this.endpointsOf(containerId).map((e) => e.ipAddress) });
  }

  /** The address --add-host NAME:host-gateway stands for: the gateway of the container's first network. */
  hostGateway(containerId: string): string {
    const e = this.endpointsOf(containerId).find((x) => x.gateway);
    if (!e) throw usage('host-gateway needs a bridge network');
    return e.gateway;
  }

  /** The DNS servers that a user-defined network's server forwards to (from the host's resolv.conf). */
  upstreamResolvers(): string[] {
    try {
      return parseResolvConf(readFileSync(this.resolvConfPath, 'utf8')).nameservers;
    } catch {
      return [];
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private summary(r: NetworkRow): NetworkSummary {
    return { Name: r.name, Id: r.id, Created: new Date(r.created_at).toISOString(), Driver: r.driver, Scope: 'local', Internal: !!r.internal, Subnet: r.subnet, Gateway: r.gateway, Bridge: r.bridge, Labels: JSON.parse(r.labels) };
  }

  private toEndpoint(n: NetworkRow, ep: EndpointRow): Endpoint {
    return {
      networkId: n.id,
      networkName: n.name,
      endpointId: endpointId(n.id, ep.container_id),
      ipAddress: intToIp(ep.ip),
      ipPrefixLen: parseSubnet(n.subnet).prefix,
      gateway: n.internal ? '' : n.gateway,
      macAddress: ep.mac,
      ifname: ep.ifname,
      aliases: JSON.parse(ep.aliases),
      dns: !!n.dns,
    };
  }

  private namesOf(ep: EndpointRow): string[] {
    return [...new Set([ep.container_name, ep.container_id.slice(0, 12), ...(ep.hostname ? [ep.hostname] : []), ...(JSON.parse(ep.aliases) as string[])])];
  }

  /** The default bridge's record (no kernel work: ensureKernel does that on connect). */
  private ensureDefaultRecord(): void {
    if (this.store.findNetwork(DEFAULT_NETWORK)?.name === DEFAULT_NETWORK) return;
    // 172.17.0.0/16 as Docker, unless the host routes it (a Docker beside us): then the pool's first free one.
    const routed = this.hostSubnets();
    this.store.write(() => {
      if (this.store.findNetwork(DEFAULT_NETWORK)?.name === DEFAULT_NETWORK) return;
      const taken = [...this.store.networks().map((n) => parseSubnet(n.subnet)), ...routed];
      const subnet = [parseSubnet(DEFAULT_BRIDGE_SUBNET), ...defaultPool()].find((c) => !taken.some((t) => overlaps(t, c)));
      if (!subnet) throw new NetworkError('EPOOL', 'no free subnet left for the default bridge');
      this.store.insertNetwork(this.defaultRow(subnet));
    });
  }

  private defaultRow(subnet = parseSubnet(DEFAULT_BRIDGE_SUBNET)): NetworkRow {
    return {
        id: createHash('sha256').update(`dock-default-bridge:${this.dir}`).digest('hex'),
        name: DEFAULT_NETWORK,
        driver: 'bridge',
        subnet: formatSubnet(subnet),
        gateway: intToIp(subnet.base + 1),
        bridge: this.defaultBridgeName,
        internal: 0,
        mtu: DEFAULT_MTU,
        dns: 0, // Docker's default bridge has no name resolution between containers
        labels: '{}',
        options: '{}',
        created_at: Date.now(),
        next_ip: 0,
        dns_pid: null,
        dns_start: null,
    };
  }

  private pickGateway(subnet: Subnet, gw?: string): number {
    const [lo, hi] = hostRange(subnet);
    if (!gw) return lo;
    const g = ipToInt(gw);
    if (!contains(subnet, g) || g < lo || g > hi) throw usage(`gateway ${gw} is not a host address of subnet ${formatSubnet(subnet)}`);
    return g;
  }

  /** The next free address (round robin from the last one given), or the one asked for. */
  private allocate(n: NetworkRow, want?: string): number {
    const subnet = parseSubnet(n.subnet);
    const [lo, hi] = hostRange(subnet);
    const gw = ipToInt(n.gateway);
    const used = this.store.usedIps(n.id);
    if (want) {
      const ip = ipToInt(want);
      if (!contains(subnet, ip) || ip < lo || ip > hi || ip === gw) throw usage(`address ${want} is not a free host address of network ${n.name} (${n.subnet})`);
      if (used.has(ip)) throw new NetworkError('EEXISTS', `address ${want} is already in use on network ${n.name}`);
      return ip;
    }
    const count = hi - lo + 1;
    const start = n.next_ip >= lo && n.next_ip <= hi ? n.next_ip : lo;
    for (let k = 0; k < count; k++) {
      const ip = lo + ((start - lo + k) % count);
      if (ip === gw || used.has(ip)) continue;
      this.store.setNextIp(n.id, ip + 1 > hi ? lo : ip + 1);
      return ip;
    }
    throw new NetworkError('EPOOL', `no free address left in network ${n.name} (${n.subnet})`);
  }

  /** Subnets routed in the host namespace (not to be picked for a new network). */
  private hostSubnets(): Subnet[] {
    const nl = this.ns.rtnl();
    try {
      return nl
        .routes()
        .filter((r) => r.table === 254 && r.dstLen > 0 && isIpv4(r.dst))
        .map((r) => ({ base: ipToInt(r.dst), prefix: r.dstLen }));
    } finally {
      nl.close();
    }
  }

  /** Bridge, its address, forwarding, firewall rules and DNS server: made if missing. */
  private async ensureKernel(n: NetworkRow, o: { firewall: boolean }): Promise<void> {
    const nl = this.ns.rtnl();
    let made = false;
    try {
      let br = nl.link(n.bridge);
      if (!br) {
        try {
          nl.talk(newBridgeMsg(n.bridge, n.mtu));
          made = true;
        } catch (e) {
          if ((e as { code?: string }).code !== 'EEXIST') throw kernelError(`create bridge ${n.bridge}`, e);
        }
        br = nl.link(n.bridge);
        if (!br) throw new NetworkError('EKERNEL', `bridge ${n.bridge} did not appear`);
        const subnet = parseSubnet(n.subnet);
        try {
          nl.talk(newAddrMsg(br.index, n.gateway, subnet.prefix, intToIp(broadcast(subnet))));
        } catch (e) {
          if ((e as { code?: string }).code !== 'EEXIST') throw kernelError(`add address ${n.gateway} to ${n.bridge}`, e);
        }
        if (!n.internal) this.ns.run(() => writeFileSync('/proc/sys/net/ipv4/ip_forward', '1'));
      }
    } finally {
      nl.close();
    }
    if (made || o.firewall) this.store.write(() => this.applyRules());
    if (n.dns) {
      const cur = this.store.network(n.id);
      if (!daemonAlive(cur?.dns_pid ?? null, cur?.dns_start ?? null)) await this.startDns(n);
    }
  }

  private async startDns(n: NetworkRow): Promise<void> {
    this.store.write(() => this.writeRecords(n));
    const d = await startDaemon(
      this.ns,
      `DNS server of network ${n.name}`,
      helperScript('dock-dns.js'),
      ['--listen', n.gateway, '--records', this.recordsPath(n), '--resolv', this.resolvConfPath],
      join(this.dir, n.id, 'dns.log'),
    );
    // Two docks may race to start it: the loser's server fails to bind (EADDRINUSE) and throws above,
    // so at most one is recorded.
    this.store.write(() => this.store.setDns(n.id, d.pid, d.startTime));
  }

  private recordsPath(n: NetworkRow): string {
    return join(this.dir, n.id, 'records.json');
  }

  /** The DNS server's view of the network, rewritten whole (rename) inside a write transaction. */
  private writeRecords(n: NetworkRow): void {
    if (!n.dns) return;
    const names: Record<string, string[]> = {};
    const ptr: Record<string, string> = {};
    for (const ep of this.store.endpoints(n.id)) {
      if (ep.state !== 'ready' && ep.state !== 'creating') continue;
      const ip = intToIp(ep.ip);
      for (const name of this.namesOf(ep)) (names[name.toLowerCase()] ??= []).push(ip);
      ptr[ip] = ep.container_name;
    }
    mkdirSync(join(this.dir, n.id), { recursive: true });
    const p = this.recordsPath(n);
    const tmp = `${p}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ names, ptr }));
    renameSync(tmp, p);
  }

  /** Rewrites the firewall from the records. Call inside a write transaction. */
  private applyRules(): void {
    // Rules name bridges by interface name, which nft accepts whether or not the link exists yet.
    const state = { networks: this.store.networks(), ports: this.store.ports() };
    if (!state.networks.length && !state.ports.length) clearFirewall(this.ns, this.table);
    else applyFirewall(this.ns, this.table, state);
  }

  /** Stops the DNS server, deletes the bridge, the records and the rules of a network. */
  private async destroyNetwork(n: NetworkRow): Promise<void> {
    const cur = this.store.network(n.id) ?? n;
    await stopDaemon(cur.dns_pid, cur.dns_start);
    this.deleteLink(n.bridge);
    this.store.write(() => {
      this.store.deleteNetwork(n.id);
      this.applyRules();
    });
    rmSync(join(this.dir, n.id), { recursive: true, force: true });
  }

  /** Endpoints whose host-side veth is gone (the container's netns died): their records go. */
  private reapStale(n: NetworkRow): void {
    const eps = this.store.endpoints(n.id);
    if (!eps.length) return;
    const nl = this.ns.rtnl();
    let names: Set<string>;
    try {
      names = new Set(nl.links().map((l) => l.name));
    } finally {
      nl.close();
    }
    const stale = eps.filter((e) => e.state === 'ready' && !names.has(e.host_veth));
    if (!stale.length) return;
    this.store.write(() => {
      for (const e of stale) {
        this.store.deletePortsOf(e.container_id);
        this.store.deleteEndpoint(n.id, e.container_id);
      }
      this.writeRecords(n);
      this.applyRules();
    });
  }

  private deleteLink(name: string): void {
    const nl = this.ns.rtnl();
    try {
      nl.talk(delLinkMsg({ name }));
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ENODEV' && code !== 'ENOENT') throw kernelError(`delete link ${name}`, e);
    } finally {
      nl.close();
    }
  }

  private rtnlIn(netnsPath: string, who: string): Rtnl {
    try {
      return Rtnl.open(netnsPath);
    } catch (e) {
      throw kernelError(`enter the network namespace of ${who}`, e);
    }
  }

  /** nftables or iptables, as found in the host namespace. */
  firewallBackend(): string {
    return detectBackend(this.ns);
  }
}

/**
 * A network's Options as dockerd shows them: what was given at create (the bridge name and MTU when
 * they were chosen), all of them for the default bridge. Clients compare these with their own
 * (docker-compose 1.29 recreates a network whose options differ from its file's).
 */
function shownOptions(n: NetworkRow): Record<string, string> {
  const o: Record<string, string> = JSON.parse(n.options);
  const dflt = n.name === DEFAULT_NETWORK;
  if (dflt || n.bridge !== `br-${n.id.slice(0, 12)}`) o['com.docker.network.bridge.name'] = n.bridge;
  if (dflt || n.mtu !== DEFAULT_MTU) o['com.docker.network.driver.mtu'] = String(n.mtu);
  return o;
}

function parseMtu(v?: string): number {
  if (v === undefined) return DEFAULT_MTU;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 68 || n > 65535) throw usage(`invalid MTU "${v}": expected 68-65535`);
  return n;
}

function kernelError(what: string, e: unknown): NetworkError {
  if (e instanceof NetworkError) return e;
  return new NetworkError('EKERNEL', `${what}: ${(e as Error).message.replace(/^netlink request: /, '')}`, { cause: e });
}

function kernel<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw kernelError(what, e);
  }
}

/**
 * Sets the loopback interface of the network namespace at `netnsPath` up (Docker's `none`: only
 * lo, up). One netlink socket in that namespace; no process.
 */
export function loopbackUp(netnsPath: string): void {
  const nl = Rtnl.open(netnsPath);
  try {
    const lo = nl.link('lo');
    if (lo && !(lo.flags & 1)) kernel('set lo up', () => nl.talk(setLinkMsg(lo.index, { up: true })));
  } finally {
    nl.close();
  }
}
