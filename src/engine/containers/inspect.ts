// `dock inspect` documents and `dock ps` rows, shaped like Docker's.

import { join } from 'node:path';
import type { Engine } from './engine';
import { ContainerError } from './errors';
import { formatBinding } from '../network';
import { bridgeNetworks, networkRecords } from './network';
import { containerDir } from './paths';
import { type LiveState, liveState } from './status';
import type { ContainerDoc } from './types';

export function inspectContainer(engine: Engine, doc: ContainerDoc) {
  const live = liveState(engine, doc);
  const dir = containerDir(engine.paths, doc.Id);
  const args = [...(doc.Config.Entrypoint ?? []), ...(doc.Config.Cmd ?? [])];
  return {
    Id: doc.Id,
    Created: doc.Created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: live.status,
      Running: live.status === 'running' || live.status === 'paused',
      Paused: live.status === 'paused',
      Restarting: live.status === 'restarting',
      OOMKilled: !!doc.State.OOMKilled && live.status !== 'running',
      Dead: live.status === 'dead',
      Pid: live.pid,
      ExitCode: live.exitCode,
      Error: doc.State.Error,
      StartedAt: live.startedAt || '0001-01-01T00:00:00Z',
      FinishedAt: live.finishedAt || '0001-01-01T00:00:00Z',
      ...(live.health ? { Health: live.health } : {}),
    },
    Image: doc.ImageId,
    ResolvConfPath: join(dir, 'resolv.conf'),
    HostnamePath: join(dir, 'hostname'),
    HostsPath: join(dir, 'hosts'),
    LogPath: join(dir, 'container.log'),
    Name: `/${doc.Name}`,
    RestartCount: doc.State.RestartCount,
    Driver: 'overlay',
    Platform: 'linux',
    HostConfig: doc.HostConfig,
    GraphDriver: { Name: 'overlay', Data: { MergedDir: join(dir, 'rootfs'), UpperDir: join(dir, 'upper'), WorkDir: join(dir, 'work') } },
    Mounts: doc.Mounts.map((m) => ({ Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination, ...(m.Driver ? { Driver: m.Driver } : {}), Mode: m.Mode, RW: m.RW, Propagation: m.Propagation })),
    Config: doc.Config,
    NetworkSettings: networkSettings(engine, doc),
  };
}

/**
 * Docker's NetworkSettings: per bridge network its endpoint (IPAddress, Gateway, MacAddress,
 * Aliases, ...; empty while the container does not run), the published ports, and the first
 * network's address at the top level.
 */
export function networkSettings(engine: Engine, doc: ContainerDoc) {
  const bridges = bridgeNetworks(doc);
  const nets = doc.HostConfig.NetworkMode === 'host' ? undefined : networkRecords(engine);
  const live = nets ? nets.containerNetworks(doc.Id) : {};
  const Networks: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(doc.Networks)) {
    // What was asked (--ip as docker's IPAMConfig, --mac-address) shows before the container runs too.
    const asked = { ...(v.IPv4Address ? { IPAMConfig: { IPv4Address: v.IPv4Address } } : {}), MacAddress: v.MacAddress ?? '' };
    Networks[k] = v.Mode === 'bridge' ? { Aliases: v.Aliases ?? [], NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, ...asked, ...live[k] } : { NetworkMode: v.Mode };
  }
  // `dock network connect` of a running container adds endpoints that its record does not name.
  for (const [k, v] of Object.entries(live)) Networks[k] ??= v;
  const Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const p of Object.keys(doc.Config.ExposedPorts ?? {})) Ports[p] = null;
  for (const b of nets ? nets.portsOf(doc.Id) : []) (Ports[`${b.containerPort}/${b.proto}`] ??= []).push({ HostIp: b.hostIp, HostPort: String(b.hostPort) });
  const first = bridges.length ? Networks[bridges[0]] : undefined;
  return {
    Networks,
    Ports,
    IPAddress: (first?.IPAddress as string) ?? '',
    Gateway: (first?.Gateway as string) ?? '',
    MacAddress: (first?.MacAddress as string) ?? '',
  };
}

export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(m / 60);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  const d = Math.round(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}

export function statusText(live: LiveState): string {
  const now = Date.now();
  switch (live.status) {
    case 'running':
    case 'paused': {
      const health = live.health ? (live.health.Status === 'starting' ? ' (health: starting)' : ` (${live.health.Status})`) : '';
      return `Up ${humanDuration(now - Date.parse(live.startedAt))}${live.status === 'paused' ? ' (Paused)' : health}`;
    }
    case 'restarting':
      return `Restarting (${live.exitCode}) ${humanDuration(now - Date.parse(live.finishedAt || live.startedAt))} ago`;
    case 'exited':
      return `Exited (${live.exitCode}) ${humanDuration(now - Date.parse(live.finishedAt || live.startedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

export interface PsRow {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Status: string;
  State: string;
  Ports: string;
  Names: string;
  Labels: string;
  Mounts: string;
  Networks: string;
  [k: string]: unknown;
}

/** Containers with their live state, newest first, narrowed as `docker ps -a --filter` does. */
export function listContainers(engine: Engine, o: { all?: boolean; filters?: Array<readonly [string, string]> }): Array<{ doc: ContainerDoc; live: LiveState }> {
  const filters = o.filters ?? [];
  const out: Array<{ doc: ContainerDoc; live: LiveState }> = [];
  for (const doc of engine.containers.list()) {
    const live = liveState(engine, doc);
    const running = live.status === 'running' || live.status === 'paused' || live.status === 'restarting';
    if (!o.all && !running && !filters.some(([k]) => k === 'status' || k === 'exited')) continue;
    // Docker: values of one key are alternatives (OR), different keys must all match (AND); labels
    // are the exception, each one must match (MatchKVList).
    const byKey = new Map<string, string[]>();
    for (const [k, v] of filters) byKey.set(k, [...(byKey.get(k) ?? []), v]);
    let keep = true;
    for (const [k, vals] of byKey) keep &&= k === 'label' ? vals.every((v) => matchFilter(doc, live, k, v)) : vals.some((v) => matchFilter(doc, live, k, v));
    if (keep) out.push({ doc, live });
  }
  return out;
}

function matchFilter(doc: ContainerDoc, live: LiveState, k: string, v: string): boolean {
  switch (k) {
    case 'status':
      return live.status === v;
    case 'name':
      return new RegExp(v).test(doc.Name);
    case 'id':
      return doc.Id.startsWith(v);
    case 'label': {
      const [lk, lv] = v.split('=', 2);
      return lk in doc.Config.Labels && (lv === undefined || doc.Config.Labels[lk] === lv);
    }
    case 'exited':
      return live.status === 'exited' && live.exitCode === Number(v);
    case 'ancestor':
      return doc.Config.Image === v || doc.ImageId === v || doc.ImageId.slice(7).startsWith(v);
    case 'volume':
      return doc.Mounts.some((m) => m.Name === v || m.Destination === v);
    case 'health':
      return (live.health?.Status ?? 'none') === v;
    case 'network':
      return v in doc.Networks;
    default:
      throw new ContainerError('EUSAGE', `unsupported filter "${k}"`);
  }
}

export function psRows(engine: Engine, o: { all?: boolean; filters?: string[]; noTrunc?: boolean }): PsRow[] {
  const filters = (o.filters ?? []).map((f) => {
    const i = f.indexOf('=');
    if (i < 0) throw new ContainerError('EUSAGE', `bad filter "${f}": want key=value`);
    return [f.slice(0, i), f.slice(i + 1)] as const;
  });
  return listContainers(engine, { all: o.all, filters }).map(({ doc, live }) => {
    const cmd = [...(doc.Config.Entrypoint ?? []), ...(doc.Config.Cmd ?? [])].join(' ');
    return {
      ID: o.noTrunc ? doc.Id : doc.Id.slice(0, 12),
      Image: doc.Config.Image,
      Command: o.noTrunc ? `"${cmd}"` : `"${cmd.length > 20 ? cmd.slice(0, 19) + '…' : cmd}"`,
      CreatedAt: doc.Created,
      RunningFor: `${humanDuration(Date.now() - Date.parse(doc.Created))} ago`,
      Status: statusText(live),
      State: live.status,
      Ports: bridgeNetworks(doc).length ? networkRecords(engine).portsOf(doc.Id).map(formatBinding).map((b) => b.replace(/^(.*) -> (.*)$/, '$2->$1')).join(', ') : '',
      Names: doc.Name,
      Labels: Object.entries(doc.Config.Labels).map(([k, v]) => `${k}=${v}`).join(','),
      Mounts: doc.Mounts.map((m) => m.Name ?? m.Source).join(','),
      Networks: Object.keys(doc.Networks).join(','),
    };
  });
}
