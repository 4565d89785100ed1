// Network records in the engine's SQLite database (the image store's images.db, WAL), beside the
// container tables; their schema version is the row 'network' of `dock_schema` (the containers
// code's convention), so that either side migrates without the other.
//
// Every write is a BEGIN IMMEDIATE transaction: the IPAM reads the used addresses and inserts the
// new endpoint under SQLite's write lock, so concurrent `dock` processes serialize there, and
// UNIQUE (network_id, ip) makes a duplicate address impossible even if that logic were wrong.

import type { Db } from '../store/db';
import { NetworkError } from './errors';

const COMPONENT = 'network';
const MIGRATIONS: string[] = [
  `
  CREATE TABLE networks (
    id TEXT PRIMARY KEY,                 -- 64 hex digits
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL,                -- 'bridge'
    subnet TEXT NOT NULL,                -- CIDR
    gateway TEXT NOT NULL,
    bridge TEXT NOT NULL UNIQUE,         -- the bridge's interface name in the host netns
    internal INTEGER NOT NULL,
    mtu INTEGER NOT NULL,
    dns INTEGER NOT NULL,                -- runs a DNS server (user-defined networks)
    labels TEXT NOT NULL,                -- JSON object
    options TEXT NOT NULL,               -- JSON object
    created_at INTEGER NOT NULL,         -- unix ms
    next_ip INTEGER NOT NULL,            -- where the IPAM's next scan starts (round robin)
    dns_pid INTEGER, dns_start TEXT      -- the DNS server: pid and /proc start time
  );
  CREATE TABLE endpoints (
    network_id TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    container_name TEXT NOT NULL,
    hostname TEXT NOT NULL,
    aliases TEXT NOT NULL,               -- JSON array
    ip INTEGER NOT NULL,
    mac TEXT NOT NULL,
    ifname TEXT NOT NULL,                -- in the container (eth0, eth1...)
    host_veth TEXT NOT NULL UNIQUE,      -- in the host netns
    netns TEXT NOT NULL,                 -- path of the container's netns when connected
    state TEXT NOT NULL,                 -- 'creating' | 'ready'
    created_at INTEGER NOT NULL,
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
  );
  CREATE INDEX endpoints_container ON endpoints(container_id);
  CREATE TABLE ports (
    container_id TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    proto TEXT NOT NULL,
    container_ip TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    proxy_pid INTEGER, proxy_start TEXT, -- the userland proxy holding the host port
    PRIMARY KEY (host_ip, host_port, proto)
  );
  CREATE INDEX ports_container ON ports(container_id);
  `,
];

export interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  subnet: string;
  gateway: string;
  bridge: string;
  internal: number;
  mtu: number;
  dns: number;
  labels: string;
  options: string;
  created_at: number;
  next_ip: number;
  dns_pid: number | null;
  dns_start: string | null;
}

export interface EndpointRow {
  network_id: string;
  container_id: string;
  container_name: string;
  hostname: string;
  aliases: string;
  ip: number;
  mac: string;
  ifname: string;
  host_veth: string;
  netns: string;
  state: string;
  created_at: number;
}

export interface PortRow {
  container_id: string;
  host_ip: string;
  host_port: number;
  proto: string;
  container_ip: string;
  container_port: number;
  proxy_pid: number | null;
  proxy_start: string | null;
}

export function migrateNetworkTables(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS dock_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const get = () => (db.prepare('SELECT version FROM dock_schema WHERE component = ?').get(COMPONENT) as { version: number } | undefined)?.version ?? 0;
  if (get() === MIGRATIONS.length) return;
  db.transaction(() => {
    const v = get();
    if (v > MIGRATIONS.length) throw new NetworkError('EUSAGE', `the network tables have schema version ${v}, newer than this dock (${MIGRATIONS.length})`);
    for (let i = v; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]);
    db.prepare('INSERT OR REPLACE INTO dock_schema (component, version) VALUES (?, ?)').run(COMPONENT, MIGRATIONS.length);
  }).immediate();
}

/** Typed queries over the network tables. Callers wrap multi-step writes in `write()`. */
export class NetworkStore {
  constructor(readonly db: Db) {
    migrateNetworkTables(db);
  }

  /** Runs fn in a BEGIN IMMEDIATE transaction (the write lock is taken before anything is read). */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  networks(): NetworkRow[] {
    return this.db.prepare('SELECT * FROM networks ORDER BY created_at, name').all() as NetworkRow[];
  }

  network(id: string): NetworkRow | undefined {
    return this.db.prepare('SELECT * FROM networks WHERE id = ?').get(id) as NetworkRow | undefined;
  }

  /** By exact name, exact id, or unique id prefix. */
  findNetwork(text: string): NetworkRow | undefined {
    const byName = this.db.prepare('SELECT * FROM networks WHERE name = ?').get(text) as NetworkRow | undefined;
    if (byName) return byName;
    if (!/^[0-9a-f]{1,64}$/.test(text)) return undefined;
    const rows = this.db.prepare("SELECT * FROM networks WHERE id LIKE ? || '%'").all(text) as NetworkRow[];
    if (rows.length > 1) throw new NetworkError('EAMBIGUOUS', `network id prefix "${text}" matches ${rows.length} networks`);
    return rows[0];
  }

  insertNetwork(r: NetworkRow): void {
    this.db
      .prepare(
        `INSERT INTO networks (id, name, driver, subnet, gateway, bridge, internal, mtu, dns, labels, options, created_at, next_ip, dns_pid, dns_start)
         VALUES (@id, @name, @driver, @subnet, @gateway, @bridge, @internal, @mtu, @dns, @labels, @options, @created_at, @next_ip, @dns_pid, @dns_start)`,
      )
      .run(r);
  }

  deleteNetwork(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  setDns(id: string, pid: number | null, start: string | null): void {
    this.db.prepare('UPDATE networks SET dns_pid = ?, dns_start = ? WHERE id = ?').run(pid, start, id);
  }

  setNextIp(id: string, next: number): void {
    this.db.prepare('UPDATE networks SET next_ip = ? WHERE id = ?').run(next, id);
  }

  endpoints(networkId: string): EndpointRow[] {
    return this.db.prepare('SELECT * FROM endpoints WHERE network_id = ? ORDER BY ip').all(networkId) as EndpointRow[];
  }

  allEndpoints(): EndpointRow[] {
    return this.db.prepare('SELECT * FROM endpoints ORDER BY network_id, ip').all() as EndpointRow[];
  }

  endpointsOf(containerId: string): EndpointRow[] {
    return this.db.prepare('SELECT * FROM endpoints WHERE container_id = ? ORDER BY created_at').all(containerId) as EndpointRow[];
  }

  endpoint(networkId: string, containerId: string): EndpointRow | undefined {
    return this.db.prepare('SELECT * FROM endpoints WHERE network_id = ? AND container_id = ?').get(networkId, containerId) as EndpointRow | undefined;
  }

  usedIps(networkId: string): Set<number> {
    return new Set((this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(networkId) as Array<{ ip: number }>).map((r) => r.ip));
  }

  insertEndpoint(r: EndpointRow): void {
    this.db
      .prepare(
        `INSERT INTO endpoints (network_id, container_id, container_name, hostname, aliases, ip, mac, ifname, host_veth, netns, state, created_at)
         VALUES (@network_id, @container_id, @container_name, @hostname, @aliases, @ip, @mac, @ifname, @host_veth, @netns, @state, @created_at)`,
      )
      .run(r);
  }

  markEndpointReady(networkId: string, containerId: string, ifname: string): void {
    this.db.prepare("UPDATE endpoints SET state = 'ready', ifname = ? WHERE network_id = ? AND container_id = ?").run(ifname, networkId, containerId);
  }

  deleteEndpoint(networkId: string, containerId: string): void {
    this.db.prepare('DELETE FROM endpoints WHERE network_id = ? AND container_id = ?').run(networkId, containerId);
  }

  ports(): PortRow[] {
    return this.db.prepare('SELECT * FROM ports ORDER BY host_port, proto, host_ip').all() as PortRow[];
  }

  portsOf(containerId: string): PortRow[] {
    return this.db.prepare('SELECT * FROM ports WHERE container_id = ? ORDER BY container_port, proto, host_port').all(containerId) as PortRow[];
  }

  insertPort(r: PortRow): void {
    this.db
      .prepare(
        `INSERT INTO ports (container_id, host_ip, host_port, proto, container_ip, container_port, proxy_pid, proxy_start)
         VALUES (@container_id, @host_ip, @host_port, @proto, @container_ip, @container_port, @proxy_pid, @proxy_start)`,
      )
      .run(r);
  }

  deletePortsOf(containerId: string): void {
    this.db.prepare('DELETE FROM ports WHERE container_id = ?').run(containerId);
  }
}
