// Container networking, per attachment in the record's Networks: "host" shares the host's network
// namespace (nothing to do); "none" gets its own namespace with only the loopback interface, up (as
// Docker's none; the supervisor does it, from a child that joins the namespace); "container:X" joins
// X's namespace (spec.ts, with the path start.ts finds). Bridge networks ("bridge" or a user-defined
// one) are connected here, after runtime create and before the container's process starts: a veth
// per network (eth0, eth1, ...), the published ports, then /etc/hosts and /etc/resolv.conf written
// in place (their bind mounts keep the inode). detachNetworks undoes it on exit, stop, rm or a failed
// start.

import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NETWORK, NetworkManager, parseAddHost, parsePortSpec, publishAll, type PortSpec } from '../network';
import type { Engine } from './engine';
import { ContainerError } from './errors';
import { containerDir } from './paths';
import { liveState } from './status';
import { loopbackUp } from './supervisor';
import type { ContainerDoc } from './types';

/** Modes that are not bridge networks. */
export const isSpecialMode = (mode: string) => mode === 'none' || mode === 'host' || mode.startsWith('container:');

export function bridgeNetworks(doc: ContainerDoc): string[] {
  return Object.entries(doc.Networks)
    .filter(([, n]) => n.Mode === 'bridge')
    .map(([name]) => name);
}

/**
 * The manager of the engine's networks; `hostNetns`: the host network namespace to work in (a
 * container's recorded one), else $DOCK_HOST_NETNS, else dock's own ("" is dock's own too).
 */
export function networkManager(engine: Engine, hostNetns?: string): NetworkManager {
  return new NetworkManager({ db: engine.images.db, root: engine.root, ...(hostNetns !== undefined ? { hostNetns } : {}) });
}

/** For reading records only (inspect, ps, port): no namespace is needed, so none that is gone can fail it. */
export const networkRecords = (engine: Engine): NetworkManager => networkManager(engine, '');

/**
 * The host network namespace the container's bridge networks were made in (recorded by create from
 * $DOCK_HOST_NETNS): a later dock without that variable (or with another) still works in the right
 * one, and never in the machine's own by mistake. Undefined for a container without bridge networks.
 */
export function hostNetnsOf(doc: ContainerDoc): string | undefined {
  for (const n of Object.values(doc.Networks)) if (n.Mode === 'bridge' && n.HostNetns !== undefined) return n.HostNetns;
  return undefined;
}

/** The -p and -P specs of the container (already validated by create). */
export function portSpecs(doc: ContainerDoc): PortSpec[] {
  const hc = doc.HostConfig;
  return [...(hc.PortBindings ?? []).flatMap(parsePortSpec), ...(hc.PublishAllPorts ? publishAll(Object.keys(doc.Config.ExposedPorts ?? {})) : [])];
}

export async function setupNetwork(engine: Engine, doc: ContainerDoc, dir: string, initPid: number): Promise<void> {
  const bridges: string[] = [];
  for (const [name, net] of Object.entries(doc.Networks)) {
    if (net.Mode === 'host' || net.Mode.startsWith('container:')) continue;
    if (net.Mode === 'none') {
      loopbackUp(dir, initPid);
      continue;
    }
    if (net.Mode !== 'bridge') throw new ContainerError('EUSAGE', `network ${name} (${net.Mode}) is not supported`);
    bridges.push(name);
  }
  if (!bridges.length) return;
  const nets = networkManager(engine, hostNetnsOf(doc));
  // What a previous run left (a killed dock, an exit handler that did not run) goes first.
  await nets.detachContainer(doc.Id);
  const ref = { id: doc.Id, name: doc.Name, hostname: doc.Config.Hostname, netnsPath: `/proc/${initPid}/ns/net` };
  try {
    for (const name of bridges) await nets.connect(ref, name, { aliases: doc.Networks[name].Aliases ?? [], ipAddress: doc.Networks[name].IPv4Address, macAddress: doc.Networks[name].MacAddress });
    await nets.publishPorts(ref, portSpecs(doc));
    const hc = doc.HostConfig;
    writeFileSync(join(dir, 'hosts'), nets.hosts(doc.Id, { hostname: doc.Config.Hostname, domainname: doc.Config.Domainname, extraHosts: (hc.ExtraHosts ?? []).map(parseAddHost) }));
    writeFileSync(join(dir, 'resolv.conf'), nets.resolvConf(doc.Id, { dns: hc.Dns ?? [], dnsSearch: hc.DnsSearch ?? [], dnsOptions: hc.DnsOptions ?? [] }));
  } catch (e) {
    await nets.detachContainer(doc.Id).catch(() => undefined);
    throw e;
  }
}

/**
 * Ports (rules, proxy) and endpoints (veths, addresses) of the container, also those of a
 * `dock network connect` to a container of another mode; safe to repeat.
 */
export async function detachNetworks(engine: Engine, doc: ContainerDoc): Promise<void> {
  if (doc.HostConfig.NetworkMode === 'host' || doc.HostConfig.NetworkMode.startsWith('container:')) return;
  const ns = hostNetnsOf(doc);
  // A recorded namespace that is gone took its bridges, veths and rules with it.
  if (ns && !existsSync(ns)) return;
  await networkManager(engine, ns).detachContainer(doc.Id);
}

/**
 * --network container:X: the path of X's network namespace (X must be running), and X's /etc/hosts
 * and /etc/resolv.conf copied into this container's directory (its bind mounts read them).
 */
export function sharedNetns(engine: Engine, doc: ContainerDoc, dir: string): string | undefined {
  const mode = doc.HostConfig.NetworkMode;
  if (!mode.startsWith('container:')) return undefined;
  const other = engine.containers.get(mode.slice('container:'.length));
  if (!other) throw new ContainerError('ENOTFOUND', `cannot join the network of container ${mode.slice('container:'.length, 22)}: no such container`);
  const live = liveState(engine, other);
  if (live.status !== 'running' && live.status !== 'paused') throw new ContainerError('ESTATE', `cannot join the network of container ${other.Name}: it is not running`);
  const from = containerDir(engine.paths, other.Id);
  for (const f of ['hosts', 'resolv.conf']) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(dir, f));
  return `/proc/${live.pid}/ns/net`;
}

/** Rewrites the container's /etc/hosts in place (its bind mount keeps the inode) after a change. */
function refreshHosts(engine: Engine, nets: NetworkManager, doc: ContainerDoc): void {
  const p = join(containerDir(engine.paths, doc.Id), 'hosts');
  const extraHosts = (doc.HostConfig.ExtraHosts ?? []).map(parseAddHost);
  if (existsSync(p)) writeFileSync(p, nets.hosts(doc.Id, { hostname: doc.Config.Hostname, domainname: doc.Config.Domainname, extraHosts }));
}

/**
 * `network connect`: the container joins another network. A running one gets its veth now; the
 * attachment is recorded either way, so a created or stopped container joins at its next start
 * (what docker does, and what docker-compose 1.29 relies on: it connects before it starts).
 */
export async function connectContainer(engine: Engine, network: string, container: string, o: { aliases?: string[]; ipAddress?: string } = {}): Promise<void> {
  const doc = engine.containers.find(container);
  const mode = doc.HostConfig.NetworkMode;
  if (mode === 'host' || mode.startsWith('container:')) throw new ContainerError('EUSAGE', `container ${doc.Name} shares the network namespace of ${mode === 'host' ? 'the host' : 'another container'}: it cannot join other networks`);
  const live = liveState(engine, doc);
  const running = live.status === 'running' || live.status === 'paused';
  const hostNetns = hostNetnsOf(doc);
  const nets = networkManager(engine, hostNetns);
  const name = network === DEFAULT_NETWORK ? DEFAULT_NETWORK : nets.find(network).name;
  if (!running && doc.Networks[name]) throw new ContainerError('EEXISTS', `container ${doc.Name} is already connected to network ${name}`);
  const aliases = o.aliases ?? [];
  if (running) {
    await nets.connect({ id: doc.Id, name: doc.Name, hostname: doc.Config.Hostname, netnsPath: `/proc/${live.pid}/ns/net` }, name, { aliases, ipAddress: o.ipAddress });
    refreshHosts(engine, nets, doc);
  }
  engine.containers.update(doc.Id, (d) => {
    d.Networks[name] = { Mode: 'bridge', ...(aliases.length ? { Aliases: [...aliases] } : {}), ...(o.ipAddress ? { IPv4Address: o.ipAddress } : {}), HostNetns: hostNetns ?? process.env.DOCK_HOST_NETNS ?? '' };
  });
}

/** `network disconnect`: the container leaves the network (its veth and addresses go back) and its record. */
export async function disconnectContainer(engine: Engine, network: string, container: string, o: { force?: boolean } = {}): Promise<void> {
  const doc = engine.containers.find(container);
  const live = liveState(engine, doc);
  const nets = networkManager(engine, hostNetnsOf(doc));
  const name = doc.Networks[network] ? network : network === DEFAULT_NETWORK ? DEFAULT_NETWORK : nets.find(network).name;
  if (live.status === 'running' || live.status === 'paused') {
    await nets.disconnect(doc.Id, name, { force: o.force });
    refreshHosts(engine, nets, doc);
  } else if (doc.Networks[name]?.Mode !== 'bridge') {
    throw new ContainerError('ENOTFOUND', `container ${doc.Id.slice(0, 12)} is not connected to network ${name}`);
  }
  engine.containers.update(doc.Id, (d) => {
    if (d.Networks[name]?.Mode === 'bridge') delete d.Networks[name];
  });
}
