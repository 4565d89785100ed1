// /containers/...: Docker's container routes over src/engine/containers. The create body is turned
// into the same RunFlags `dock run` collects (so the checks and defaults are the CLI's); the
// answers are Docker's shapes. Attach and wait may come before start (that is how `docker run`
// works): an attach to a created container is connected to the supervisor by the start that
// follows, before the process runs, so that no output is lost.

import { Writable } from 'node:stream';
import { cgroupV2Host, type RunFlags } from '../containers/config';
import type { Engine } from '../containers/engine';
import { networkSettings, statusText } from '../containers/inspect';
import { containerDir } from '../containers/paths';
import { parsePortSpec } from '../network';
import { liveState, type LiveState } from '../containers/status';
import type { ContainerDoc } from '../containers/types';
import { badRequest, conflict, notImplemented } from './errors';
import { type Ctx, field, qBool, qFilters, qInt, readBody, readJson, type Router, sendEmpty, sendJson } from './router';
import { hijack, streamWriter } from './streams';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Obj = Record<string, unknown>;

// ---- create -------------------------------------------------------------------------------------

/** Docker's create body (Config + HostConfig + NetworkingConfig) as dock run's flags. */
export function runFlagsFromBody(body: Obj, name: string | undefined): { image: string; flags: RunFlags; command: string[] } {
  const image = field<string>(body, 'Image', 'string');
  if (!image) throw badRequest('config cannot be empty in order to create a container: Image is required');
  const hc = (field<Obj>(body, 'HostConfig', 'object') ?? {}) as Obj;
  const strList = (o: Obj, k: string): string[] | undefined => {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`invalid value for ${k}: want a list of strings`);
    return v as string[];
  };
  const num = (o: Obj, k: string) => field<number>(o, k, 'number');
  const f: RunFlags = { name };
  const hostname = field<string>(body, 'Hostname', 'string');
  if (hostname) f.hostname = hostname;
  const user = field<string>(body, 'User', 'string');
  if (user) f.user = user;
  f.interactive = !!field<boolean>(body, 'OpenStdin', 'boolean');
  f.tty = !!field<boolean>(body, 'Tty', 'boolean');
  f.detach = !body.AttachStdin && !body.AttachStdout && !body.AttachStderr;
  // A bare "KEY" would take the service's own value: the client resolves those, so they are dropped.
  f.env = (strList(body, 'Env') ?? []).filter((e) => e.includes('='));
  const entrypoint = strList(body, 'Entrypoint');
  if (entrypoint) f.entrypointArgs = entrypoint;
  const wd = field<string>(body, 'WorkingDir', 'string');
  if (wd) f.workdir = wd;
  const labels = field<Record<string, string>>(body, 'Labels', 'object');
  if (labels) f.label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  const stopSignal = field<string>(body, 'StopSignal', 'string');
  if (stopSignal) f.stopSignal = stopSignal;
  const stopTimeout = num(body, 'StopTimeout');
  if (stopTimeout !== undefined) f.stopTimeout = String(stopTimeout);
  const hcheck = field<Obj>(body, 'Healthcheck', 'object');
  if (hcheck) {
    // Durations in nanoseconds as Docker's; zero (unset) leaves the image's value.
    f.healthConfig = { Test: strList(hcheck, 'Test') ?? [] };
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const) {
      const v = num(hcheck, k);
      if (v) f.healthConfig[k] = v;
    }
  }
  const domainname = field<string>(body, 'Domainname', 'string');
  if (domainname) f.domainname = domainname;
  const exposed = field<Obj>(body, 'ExposedPorts', 'object');
  if (exposed) f.expose = Object.keys(exposed);
  const volumes = field<Obj>(body, 'Volumes', 'object');
  const binds = strList(hc, 'Binds') ?? [];
  const mounts = (field<Obj[]>(hc, 'Mounts', 'array') ?? []) as Obj[];
  // Config.Volumes names anonymous volumes; a bind or mount on the same path replaces it (clients
  // such as docker-compose send both for a named volume).
  const taken = new Set([...binds.map((b) => (b.split(':').length > 1 ? b.split(':')[1] : b)), ...mounts.map((m) => String(m.Target ?? ''))].map((p) => p.replace(/\/+$/, '') || '/'));
  f.volume = [...binds, ...Object.keys(volumes ?? {}).filter((p) => !taken.has(p.replace(/\/+$/, '') || '/'))];
  f.mount = mounts.map(mountSpec);
  const tmpfs = field<Record<string, string>>(hc, 'Tmpfs', 'object');
  f.tmpfs = Object.entries(tmpfs ?? {}).map(([dst, opts]) => (opts ? `${dst}:${opts}` : dst));
  f.volumesFrom = strList(hc, 'VolumesFrom');
  const netMode = field<string>(hc, 'NetworkMode', 'string');
  if (netMode && netMode !== 'default') f.network = netMode;
  const ports = field<Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>>(hc, 'PortBindings', 'object') ?? {};
  f.publish = [];
  for (const [cport, bindings] of Object.entries(ports)) {
    for (const b of bindings ?? [{}]) {
      const ip = b.HostIp ?? '';
      const hp = b.HostPort ?? '';
      f.publish.push(ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${hp}:${cport}` : hp ? `${hp}:${cport}` : cport);
    }
  }
  f.publishAll = !!field<boolean>(hc, 'PublishAllPorts', 'boolean');
  const restart = field<Obj>(hc, 'RestartPolicy', 'object');
  if (restart && restart.Name) f.restart = restart.Name === 'on-failure' && restart.MaximumRetryCount ? `on-failure:${restart.MaximumRetryCount}` : String(restart.Name);
  f.rm = !!field<boolean>(hc, 'AutoRemove', 'boolean');
  f.privileged = !!field<boolean>(hc, 'Privileged', 'boolean');
  f.readOnly = !!field<boolean>(hc, 'ReadonlyRootfs', 'boolean');
  f.capAdd = strList(hc, 'CapAdd');
  f.capDrop = strList(hc, 'CapDrop');
  f.securityOpt = strList(hc, 'SecurityOpt');
  f.ulimit = ((field<Obj[]>(hc, 'Ulimits', 'array') ?? []) as Obj[]).map((u) => `${u.Name}=${u.Soft}:${u.Hard}`);
  f.init = !!field<boolean>(hc, 'Init', 'boolean');
  const memory = num(hc, 'Memory');
  if (memory) f.memory = String(memory);
  const swap = num(hc, 'MemorySwap');
  if (swap) f.memorySwap = String(swap);
  const nano = num(hc, 'NanoCpus');
  if (nano) f.cpus = String(nano / 1e9);
  const shares = num(hc, 'CpuShares');
  if (shares) f.cpuShares = String(shares);
  const cpuset = field<string>(hc, 'CpusetCpus', 'string');
  if (cpuset) f.cpusetCpus = cpuset;
  const pids = num(hc, 'PidsLimit');
  if (pids) f.pidsLimit = String(pids);
  f.device = ((field<Obj[]>(hc, 'Devices', 'array') ?? []) as Obj[]).map((d) => `${d.PathOnHost}:${d.PathInContainer || d.PathOnHost}:${d.CgroupPermissions || 'rwm'}`);
  const log = field<Obj>(hc, 'LogConfig', 'object');
  if (log?.Type) f.logDriver = String(log.Type);
  f.logOpt = Object.entries((log?.Config as Record<string, string>) ?? {}).map(([k, v]) => `${k}=${v}`);
  f.addHost = strList(hc, 'ExtraHosts')?.map((h) => (h.includes(':') ? h : h.replace('=', ':')));
  f.dns = strList(hc, 'Dns');
  f.dnsSearch = strList(hc, 'DnsSearch');
  f.dnsOption = strList(hc, 'DnsOptions');
  // The run flags that map one to one onto HostConfig fields (docker's names).
  const str = (k: string) => field<string>(hc, k, 'string') || undefined;
  const int = (k: string) => {
    const v = num(hc, k);
    return v ? String(v) : undefined;
  };
  const throttles = (k: string) => ((field<Obj[]>(hc, k, 'array') ?? []) as Obj[]).map((t) => `${t.Path}:${t.Rate}`);
  const map = (k: string) => Object.entries(field<Record<string, string>>(hc, k, 'object') ?? {}).map(([key, v]) => `${key}=${v}`);
  Object.assign(f, {
    groupAdd: strList(hc, 'GroupAdd'),
    shmSize: int('ShmSize'),
    sysctl: map('Sysctls'),
    annotation: map('Annotations'),
    pid: str('PidMode'),
    ipc: str('IpcMode'),
    uts: str('UTSMode'),
    userns: str('UsernsMode'),
    cgroupns: str('CgroupnsMode'),
    blkioWeight: int('BlkioWeight'),
    deviceReadBps: throttles('BlkioDeviceReadBps'),
    deviceWriteBps: throttles('BlkioDeviceWriteBps'),
    deviceReadIops: throttles('BlkioDeviceReadIOps'),
    deviceWriteIops: throttles('BlkioDeviceWriteIOps'),
    oomKillDisable: !!field<boolean>(hc, 'OomKillDisable', 'boolean'),
    oomScoreAdj: int('OomScoreAdj'),
    memoryReservation: int('MemoryReservation'),
    cpuPeriod: int('CpuPeriod'),
    cpuQuota: int('CpuQuota'),
    cidfile: str('ContainerIDFile'),
  } satisfies Partial<RunFlags>);
  const mac = field<string>(body, 'MacAddress', 'string');
  if (mac) f.macAddress = mac;
  const endpoints = { ...(((body.NetworkingConfig as Obj | undefined)?.EndpointsConfig ?? {}) as Record<string, Obj | null>) };
  // API 1.44+ carries --mac-address in the endpoint of the container's network ("default" for the default mode).
  const macEp = endpoints[f.network ?? ''] ?? endpoints.default;
  const epMac = macEp ? field<string>(macEp, 'MacAddress', 'string') : undefined;
  if (epMac) f.macAddress = epMac;
  delete endpoints.default; // the docker CLI names the default network mode's endpoint "default"
  const userNet = (n?: string) => !!n && !['bridge', 'host', 'none', 'default'].includes(n) && !n.startsWith('container:');
  // The container's own name and short id are aliases Docker adds by itself: not dock aliases.
  const epAliases = (ep: Obj) => (strList(ep, 'Aliases') ?? []).filter((a) => a !== name);
  const epAddress = (ep: Obj) => ((ep.IPAMConfig as Obj | null | undefined)?.IPv4Address as string | undefined) || undefined;
  const ep = endpoints[f.network ?? ''] ?? (f.network ? undefined : Object.values(endpoints)[0]);
  if (!f.network && Object.keys(endpoints).length) f.network = Object.keys(endpoints)[0];
  if (ep && userNet(f.network)) {
    const aliases = epAliases(ep);
    if (aliases.length) f.networkAlias = aliases;
    f.ipv4Address = epAddress(ep);
  }
  // API 1.44+: several endpoints at create; the others are joined at start.
  const extra = Object.entries(endpoints).filter(([n]) => n !== f.network && userNet(n));
  if (extra.length) f.extraNetworks = extra.map(([n, e]) => ({ name: n, aliases: e ? epAliases(e) : [], ipv4Address: e ? epAddress(e) : undefined }));
  const cmd = strList(body, 'Cmd') ?? [];
  return { image, flags: f, command: cmd };
}

/** One HostConfig.Mounts entry as a --mount value. */
function mountSpec(m: Obj): string {
  const type = String(m.Type ?? 'volume');
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw badRequest(`mount type "${type}" is not supported: bind, volume or tmpfs`);
  if (typeof m.Target !== 'string' || !m.Target) throw badRequest('invalid mount config: Target is required');
  const parts = [`type=${type}`, `target=${m.Target}`];
  if (m.Source) parts.push(`source=${m.Source}`);
  if (m.ReadOnly) parts.push('readonly');
  const bind = m.BindOptions as Obj | undefined;
  if (type === 'bind' && bind?.Propagation) parts.push(`bind-propagation=${bind.Propagation}`);
  const vol = m.VolumeOptions as Obj | undefined;
  if (type === 'volume' && vol?.NoCopy) parts.push('volume-nocopy');
  const t = m.TmpfsOptions as Obj | undefined;
  if (type === 'tmpfs' && t?.SizeBytes) parts.push(`tmpfs-size=${t.SizeBytes}`);
  if (type === 'tmpfs' && t?.Mode) parts.push(`tmpfs-mode=${Number(t.Mode).toString(8)}`);
  for (const p of parts) if (p.includes(',')) throw badRequest(`invalid mount config: "${p}" has a comma`);
  return parts.join(',');
}

// ---- shapes -------------------------------------------------------------------------------------

/** dock's HostConfig record in Docker's shape (PortBindings as a map, Mounts as mount.Mount). */
export function apiHostConfig(engine: Engine, doc: ContainerDoc): Obj {
  const h = doc.HostConfig;
  const PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  if (h.PortBindings?.length) {
    for (const s of h.PortBindings) {
      for (const p of parsePortSpec(s)) (PortBindings[`${p.containerPort}/${p.proto}`] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: p.hostPort ? String(p.hostPort) : '' });
    }
  }
  return {
    Binds: h.Binds,
    LogConfig: h.LogConfig,
    NetworkMode: h.NetworkMode,
    PortBindings,
    RestartPolicy: h.RestartPolicy,
    AutoRemove: h.AutoRemove,
    VolumeDriver: '',
    VolumesFrom: h.VolumesFrom,
    CapAdd: h.CapAdd,
    CapDrop: h.CapDrop,
    Dns: h.Dns ?? [],
    DnsOptions: h.DnsOptions ?? [],
    DnsSearch: h.DnsSearch ?? [],
    ExtraHosts: h.ExtraHosts ?? [],
    Privileged: h.Privileged,
    PublishAllPorts: !!h.PublishAllPorts,
    ReadonlyRootfs: h.ReadonlyRootfs,
    SecurityOpt: h.SecurityOpt,
    Tmpfs: Object.keys(h.Tmpfs).length ? h.Tmpfs : undefined,
    Init: h.Init,
    Memory: h.Memory,
    MemorySwap: h.MemorySwap,
    NanoCpus: h.NanoCpus,
    CpuShares: h.CpuShares,
    CpusetCpus: h.CpusetCpus,
    PidsLimit: h.PidsLimit || null,
    Devices: h.Devices,
    Ulimits: h.Ulimits,
    ContainerIDFile: h.ContainerIDFile ?? '',
    GroupAdd: h.GroupAdd ?? null,
    ShmSize: h.ShmSize ?? 67108864,
    Sysctls: h.Sysctls && Object.keys(h.Sysctls).length ? h.Sysctls : undefined,
    PidMode: h.PidMode ?? '',
    IpcMode: h.IpcMode ?? 'private',
    UTSMode: h.UTSMode ?? '',
    UsernsMode: h.UsernsMode ?? '',
    CgroupnsMode: h.CgroupnsMode ?? (cgroupV2Host() ? 'private' : 'host'),
    Annotations: h.Annotations && Object.keys(h.Annotations).length ? h.Annotations : undefined,
    BlkioWeight: h.BlkioWeight ?? 0,
    BlkioDeviceReadBps: h.BlkioDeviceReadBps ?? [],
    BlkioDeviceWriteBps: h.BlkioDeviceWriteBps ?? [],
    BlkioDeviceReadIOps: h.BlkioDeviceReadIOps ?? [],
    BlkioDeviceWriteIOps: h.BlkioDeviceWriteIOps ?? [],
    OomKillDisable: h.OomKillDisable ?? false,
    OomScoreAdj: h.OomScoreAdj ?? 0,
    MemoryReservation: h.MemoryReservation ?? 0,
    CpuPeriod: h.CpuPeriod ?? 0,
    CpuQuota: h.CpuQuota ?? 0,
    Mounts: h.Mounts.map((m) => ({
      Type: m.Type,
      Source: m.Source,
      Target: m.Target,
      ReadOnly: m.ReadOnly,
      ...(m.Type === 'bind' && m.Propagation ? { BindOptions: { Propagation: m.Propagation } } : {}),
      ...(m.Type === 'volume' && m.NoCopy ? { VolumeOptions: { NoCopy: true } } : {}),
      ...(m.Type === 'tmpfs' && (m.TmpfsSize || m.TmpfsMode) ? { TmpfsOptions: { ...(m.TmpfsSize ? { SizeBytes: m.TmpfsSize } : {}), ...(m.TmpfsMode ? { Mode: m.TmpfsMode } : {}) } } : {}),
    })),
  };
}

function apiState(live: LiveState): string {
  return live.status;
}

/** GET /containers/json entry. */
function summary(engine: Engine, doc: ContainerDoc, live: LiveState): Obj {
  const ns = networkSettings(engine, doc);
  const Ports: Obj[] = [];
  for (const [k, binds] of Object.entries(ns.Ports)) {
    const [port, type] = k.split('/');
    if (!binds) Ports.push({ PrivatePort: Number(port), Type: type });
    else for (const b of binds) Ports.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return {
    Id: doc.Id,
    Names: [`/${doc.Name}`],
    Image: doc.Config.Image,
    ImageID: doc.ImageId,
    Command: [...(doc.Config.Entrypoint ?? []), ...(doc.Config.Cmd ?? [])].join(' '),
    Created: Math.floor(Date.parse(doc.Created) / 1000),
    Ports,
    Labels: doc.Config.Labels,
    State: apiState(live),
    Status: statusText(live),
    HostConfig: { NetworkMode: doc.HostConfig.NetworkMode },
    NetworkSettings: { Networks: ns.Networks },
    Mounts: doc.Mounts.map((m) => ({ Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination, ...(m.Driver ? { Driver: m.Driver } : {}), Mode: m.Mode, RW: m.RW, Propagation: m.Propagation })),
  };
}

// ---- attach before start ----------------------------------------------------------------------

/** Attaches waiting for their container's start: each resolves once the supervisor took it. */
const pendingAttaches = new Map<string, Array<() => Promise<void>>>();

async function startWithAttaches(engine: Engine, doc: ContainerDoc): Promise<void> {
  const { startContainer } = await import('../containers/start');
  const waiting = pendingAttaches.get(doc.Id) ?? [];
  pendingAttaches.delete(doc.Id);
  await startContainer(engine, doc, waiting.length ? { beforeStart: async () => void (await Promise.all(waiting.map((w) => w()))) } : {});
}

function find(ctx: Ctx): ContainerDoc {
  return ctx.engine.containers.find(ctx.params.id);
}

const isUp = (s: string) => s === 'running' || s === 'paused' || s === 'restarting';

// ---- routes -------------------------------------------------------------------------------------

export function registerContainers(r: Router): void {
  r.add('POST', '/containers/create', async (ctx) => {
    const body = await readJson(ctx);
    const name = ctx.query.get('name') || undefined;
    const { image, flags, command } = runFlagsFromBody(body, name);
    const { createContainer } = await import('../containers/create');
    const doc = await createContainer(ctx.engine, image, flags, command);
    sendJson(ctx, 201, { Id: doc.Id, Warnings: [] });
  });

  r.add('GET', '/containers/json', async (ctx) => {
    const { listContainers } = await import('../containers/inspect');
    let rows = listContainers(ctx.engine, { all: qBool(ctx, 'all'), filters: qFilters(ctx) });
    const limit = qInt(ctx, 'limit');
    if (limit !== undefined && limit > 0) rows = rows.slice(0, limit);
    sendJson(ctx, 200, rows.map(({ doc, live }) => summary(ctx.engine, doc, live)));
  });

  r.add('GET', '/containers/:id/json', async (ctx) => {
    const { inspectContainer } = await import('../containers/inspect');
    const doc = find(ctx);
    const i = inspectContainer(ctx.engine, doc);
    sendJson(ctx, 200, { ...i, Config: { ...i.Config, Entrypoint: i.Config.Entrypoint ?? [], Cmd: i.Config.Cmd ?? [] }, HostConfig: apiHostConfig(ctx.engine, doc), ExecIDs: null });
  });

  r.add('POST', '/containers/:id/start', async (ctx) => {
    const doc = find(ctx);
    if (liveState(ctx.engine, doc).status === 'running') return sendEmpty(ctx, 304);
    await startWithAttaches(ctx.engine, doc);
    sendEmpty(ctx);
  });

  r.add('POST', '/containers/:id/stop', async (ctx) => {
    const { stopContainer } = await import('../containers/stop');
    const doc = find(ctx);
    if (!isUp(liveState(ctx.engine, doc).status)) return sendEmpty(ctx, 304);
    const sig = ctx.query.get('signal');
    await stopContainer(ctx.engine, sig ? { ...doc, Config: { ...doc.Config, StopSignal: sig } } : doc, qInt(ctx, 't'));
    sendEmpty(ctx);
  });

  r.add('POST', '/containers/:id/restart', async (ctx) => {
    const { stopContainer } = await import('../containers/stop');
    const doc = find(ctx);
    const sig = ctx.query.get('signal');
    await stopContainer(ctx.engine, sig ? { ...doc, Config: { ...doc.Config, StopSignal: sig } } : doc, qInt(ctx, 't'));
    await startWithAttaches(ctx.engine, ctx.engine.containers.get(doc.Id) ?? doc);
    sendEmpty(ctx);
  });

  r.add('POST', '/containers/:id/kill', async (ctx) => {
    const { killContainer } = await import('../containers/stop');
    const doc = find(ctx);
    if (!isUp(liveState(ctx.engine, doc).status)) throw conflict(`cannot kill container: ${ctx.params.id}: container ${doc.Id} is not running`);
    await killContainer(ctx.engine, doc, ctx.query.get('signal') || undefined);
    sendEmpty(ctx);
  });

  for (const [verb, pause] of [['pause', true], ['unpause', false]] as const) {
    r.add('POST', `/containers/:id/${verb}`, async (ctx) => {
      const { pauseContainer } = await import('../containers/stop');
      await pauseContainer(ctx.engine, find(ctx), pause);
      sendEmpty(ctx);
    });
  }

  r.add('POST', '/containers/:id/rename', async (ctx) => {
    const name = ctx.query.get('name') ?? '';
    if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw badRequest(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const doc = find(ctx);
    ctx.engine.containers.rename(doc.Id, name.replace(/^\//, ''));
    sendEmpty(ctx);
  });

  r.add('DELETE', '/containers/:id', async (ctx) => {
    const { removeContainer } = await import('../containers/remove');
    if (qBool(ctx, 'link')) throw notImplemented('links are not supported');
    const doc = find(ctx);
    await removeContainer(ctx.engine, doc, { force: qBool(ctx, 'force'), volumes: qBool(ctx, 'v') });
    sendEmpty(ctx);
  });

  r.add('POST', '/containers/prune', async (ctx) => {
    if (qFilters(ctx).length) throw notImplemented('container prune filters are not supported');
    const { pruneContainers } = await import('../containers/remove');
    const r = await pruneContainers(ctx.engine);
    sendJson(ctx, 200, { ContainersDeleted: r.ids, SpaceReclaimed: r.bytes });
  });

  r.add('POST', '/containers/:id/wait', async (ctx) => {
    const { parseWaitCondition, waitCondition } = await import('../containers/wait');
    const condition = parseWaitCondition(ctx.query.get('condition'));
    const doc = find(ctx);
    // The answer's headers go out at once (the docker CLI waits for them before it starts the
    // container); the body comes with the exit.
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const code = await waitCondition(ctx.engine, doc, condition, ctx.signal);
    if (code !== null) res.end(JSON.stringify({ StatusCode: code }) + '\n');
  });

  r.add('POST', '/containers/:id/attach', async (ctx) => {
    const doc = find(ctx);
    const tty = doc.Config.Tty;
    const o = { stdin: qBool(ctx, 'stdin'), stdout: qBool(ctx, 'stdout'), stderr: qBool(ctx, 'stderr') };
    const stream = qBool(ctx, 'stream');
    const withLogs = qBool(ctx, 'logs');
    const slot = stream ? attachSlotFor(ctx, doc) : undefined; // before the answer: see reserveAttach
    const h = hijack(ctx, tty);
    const out = streamWriter(h.out, 1, tty);
    const err = streamWriter(h.out, 2, tty);
    ctx.signal.addEventListener('abort', () => h.end());
    try {
      if (withLogs && doc.HostConfig.LogConfig.Type !== 'none') {
        const { streamLogs } = await import('../containers/logs');
        await streamLogs(ctx.engine, doc, { stdout: o.stdout ? out : devNull(), stderr: o.stderr ? err : devNull() });
      }
      if (!stream) return;
      await attachStream(ctx, doc, o, h.input, out, err, slot);
    } finally {
      slot?.release();
      h.end();
    }
  });

  r.add('POST', '/containers/:id/resize', async (ctx) => {
    const doc = find(ctx);
    await resize(ctx, containerDir(ctx.engine.paths, doc.Id));
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/containers/:id/logs', async (ctx) => {
    const { streamLogs } = await import('../containers/logs');
    const doc = find(ctx);
    const stdout = qBool(ctx, 'stdout');
    const stderr = qBool(ctx, 'stderr');
    if (!stdout && !stderr) throw badRequest('you must choose at least one stream');
    const tty = doc.Config.Tty;
    const res = ctx.res!;
    const zero = (v: string | null) => (v && v !== '0' ? v : undefined);
    const opts = { follow: qBool(ctx, 'follow'), tail: ctx.query.get('tail') || 'all', since: zero(ctx.query.get('since')), until: zero(ctx.query.get('until')), timestamps: qBool(ctx, 'timestamps') };
    // Bad values fail before the answer starts.
    const { parseTime } = await import('../containers/logs');
    if (opts.since) parseTime(opts.since, 'since');
    if (opts.until) parseTime(opts.until, 'until');
    if (opts.tail !== 'all' && !/^\d+$/.test(opts.tail)) opts.tail = 'all';
    (await import('../containers/logs')).checkReadableLogs(doc);
    res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    res.flushHeaders();
    await streamLogs(ctx.engine, doc, { ...opts, stdout: stdout ? streamWriter(res, 1, tty) : devNull(), stderr: stderr ? streamWriter(res, 2, tty) : devNull(), signal: ctx.signal });
    res.end();
  });

  r.add('GET', '/containers/:id/top', async (ctx) => {
    const { topContainer } = await import('../containers/top');
    const psArgs = (ctx.query.get('ps_args') ?? '').split(/\s+/).filter(Boolean);
    const rows = topContainer(ctx.engine, find(ctx), psArgs);
    sendJson(ctx, 200, { Titles: rows[0], Processes: rows.slice(1) });
  });

  r.add('GET', '/containers/:id/stats', async (ctx) => {
    const { statsDocument } = await import('./stats');
    const doc = find(ctx);
    const stream = qBool(ctx, 'stream', true) && !qBool(ctx, 'one-shot');
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let prev = statsDocument(ctx.engine, doc, null);
    if (!stream) {
      // One sample with a cpu delta: the docker CLI computes the percentage from two readings.
      await sleep(qBool(ctx, 'one-shot') ? 0 : 1000);
      res.end(JSON.stringify(statsDocument(ctx.engine, doc, prev)) + '\n');
      return;
    }
    while (!ctx.signal.aborted) {
      await sleep(1000);
      if (ctx.signal.aborted) break;
      const cur = statsDocument(ctx.engine, doc, prev);
      res.write(JSON.stringify(cur) + '\n');
      prev = cur;
      const d = ctx.engine.containers.get(doc.Id);
      if (!d) break;
    }
    res.end();
  });

  r.add('GET', '/containers/:id/export', async (ctx) => {
    const { exportContainer } = await import('../containers/copy');
    const doc = find(ctx);
    ctx.res!.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await exportContainer(ctx.engine, doc, ctx.res!);
    ctx.res!.end();
  });

  r.add('HEAD', '/containers/:id/archive', async (ctx) => {
    const { statInContainer } = await import('../containers/copy');
    const st = await statInContainer(ctx.engine, find(ctx), archivePath(ctx));
    ctx.res!.writeHead(200, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(st)).toString('base64') });
    ctx.res!.end();
  });

  r.add('GET', '/containers/:id/archive', async (ctx) => {
    const { copyFromContainer, statInContainer } = await import('../containers/copy');
    const doc = find(ctx);
    const path = archivePath(ctx);
    const st = await statInContainer(ctx.engine, doc, path);
    ctx.res!.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(st)).toString('base64') });
    await copyFromContainer(ctx.engine, doc, path, ctx.res!);
    ctx.res!.end();
  });

  r.add('PUT', '/containers/:id/archive', async (ctx) => {
    const { copyToContainer } = await import('../containers/copy');
    // docker cp -a sends copyUIDGID=1; without it the files become root's, as dockerd makes them.
    await copyToContainer(ctx.engine, find(ctx), archivePath(ctx), ctx.req, { archive: qBool(ctx, 'copyUIDGID') });
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/containers/:id/changes', async (ctx) => {
    const { containerChanges } = await import('../containers/changes');
    sendJson(ctx, 200, await containerChanges(ctx.engine, find(ctx)));
  });

  r.add('POST', '/containers/:id/update', async (ctx) => {
    const { updateContainer } = await import('../containers/update');
    const { parseRestart } = await import('../containers/config');
    const body = await readJson(ctx);
    const num = (k: string) => field<number>(body, k, 'number');
    const restart = field<Obj>(body, 'RestartPolicy', 'object');
    const name = restart?.Name === undefined ? '' : String(restart.Name);
    const retries = Number(restart?.MaximumRetryCount ?? 0);
    // Docker's zero values mean "unchanged"; fields dock cannot change are refused, not ignored.
    for (const k of ['CpuRealtimePeriod', 'CpuRealtimeRuntime', 'KernelMemory', 'CpusetMems']) {
      if (body[k]) throw badRequest(`updating ${k} is not supported by dock`);
    }
    await updateContainer(ctx.engine, find(ctx), {
      Memory: num('Memory'),
      MemorySwap: num('MemorySwap'),
      NanoCpus: num('NanoCpus'),
      CpuShares: num('CpuShares'),
      CpusetCpus: field<string>(body, 'CpusetCpus', 'string'),
      PidsLimit: num('PidsLimit'),
      MemoryReservation: num('MemoryReservation'),
      CpuPeriod: num('CpuPeriod'),
      CpuQuota: num('CpuQuota'),
      BlkioWeight: num('BlkioWeight'),
      RestartPolicy: name ? parseRestart(name === 'on-failure' && retries ? `on-failure:${retries}` : name) : undefined,
    });
    sendJson(ctx, 200, { Warnings: [] });
  });

  // POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes= (the body, a container
  // config to merge, is not supported beyond an empty one).
  r.add('POST', '/commit', async (ctx) => {
    const { commitContainer } = await import('../containers/commit');
    const raw = (await readBody(ctx)).toString('utf8').trim();
    if (raw && raw !== 'null' && raw !== '{}') {
      let cfg: unknown;
      try {
        cfg = JSON.parse(raw);
      } catch (e) {
        throw badRequest(`invalid JSON: ${(e as Error).message}`);
      }
      if (cfg && typeof cfg === 'object' && Object.values(cfg).some((v) => v !== null && v !== '' && v !== false && !(Array.isArray(v) && !v.length) && !(typeof v === 'object' && !Object.keys(v as object).length))) {
        throw notImplemented('a container config in the commit body is not supported: use changes');
      }
    }
    const container = ctx.query.get('container');
    if (!container) throw badRequest('container is required');
    const doc = ctx.engine.containers.find(container);
    const repo = ctx.query.get('repo') || '';
    const tag = ctx.query.get('tag') || '';
    const id = await commitContainer(ctx.engine, doc, {
      reference: repo ? (tag ? `${repo}:${tag}` : repo) : undefined,
      comment: ctx.query.get('comment') || undefined,
      author: ctx.query.get('author') || undefined,
      changes: ctx.query.getAll('changes').filter(Boolean),
      pause: qBool(ctx, 'pause', true),
    });
    sendJson(ctx, 201, { Id: id });
  });
}

function archivePath(ctx: Ctx): string {
  const p = ctx.query.get('path');
  if (!p) throw badRequest('path is required');
  if (p.includes('\0')) throw badRequest('invalid path');
  return p;
}

function devNull(): NodeJS.WritableStream {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** Resizes the container's terminal through its supervisor (a resize frame on ctl.sock). */
export async function resize(ctx: Ctx, dir: string): Promise<void> {
  const h = qInt(ctx, 'h');
  const w = qInt(ctx, 'w');
  if (!h || !w || h < 0 || w < 0 || h > 65535 || w > 65535) throw badRequest('h and w must be positive integers');
  const { resizeTerminal } = await import('../containers/attach');
  await resizeTerminal(dir, h, w);
}

type Connect = (onReady?: () => void) => Promise<unknown>;

/**
 * A place among the attaches that a start through this service connects first, taken before the
 * client hears the upgrade answer: docker-py and the docker CLI send their start right after it,
 * while this side still sets up its streams (under load a quick process ran and exited unseen).
 * The start waits for `provide`; `release` (always called) lets it go if this attach never connects.
 */
function reserveAttach(id: string) {
  let provide!: (c: Connect) => void;
  const connector = new Promise<Connect>((r) => (provide = r));
  let session: Promise<unknown> | undefined;
  let taken!: () => void;
  const takenP = new Promise<void>((r) => (taken = r));
  let provided = false;
  const entry = async () => {
    const connect = await connector;
    await new Promise<void>((ok, fail) => {
      session = connect(ok);
      session.catch(fail);
      taken();
    });
  };
  pendingAttaches.set(id, [...(pendingAttaches.get(id) ?? []), entry]);
  const forget = () => {
    const left = (pendingAttaches.get(id) ?? []).filter((e) => e !== entry);
    if (left.length) pendingAttaches.set(id, left);
    else pendingAttaches.delete(id);
  };
  return {
    taken: takenP,
    session: () => session,
    forget,
    provide(c: Connect) {
      provided = true;
      provide(c);
    },
    release() {
      forget();
      if (!provided) this.provide(async (onReady) => void onReady?.());
    },
  };
}
type AttachSlot = ReturnType<typeof reserveAttach>;

/** Reserved before the upgrade answer when the container has not started (see reserveAttach). */
function attachSlotFor(ctx: Ctx, doc: ContainerDoc): AttachSlot | undefined {
  const status = liveState(ctx.engine, doc).status;
  return status === 'created' || status === 'exited' ? reserveAttach(doc.Id) : undefined;
}

/** Connects one attach to the container's supervisor now, or at its start if it is not running yet. */
async function attachStream(ctx: Ctx, doc: ContainerDoc, o: { stdin: boolean; stdout: boolean; stderr: boolean }, input: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream, reserved?: AttachSlot): Promise<void> {
  const { attach } = await import('../containers/attach');
  const dir = containerDir(ctx.engine.paths, doc.Id);
  const connect: Connect = (onReady) =>
    attach(dir, { ...o, stdin: o.stdin && doc.Config.OpenStdin, claim: false, stdinOnce: doc.Config.StdinOnce, tty: false, input, output: out, errors: err, onReady, signal: ctx.signal });
  const slot = reserved ?? attachSlotFor(ctx, doc);
  try {
    if (!slot?.session()) {
      const status = liveState(ctx.engine, doc).status;
      if (status === 'running' || status === 'paused') {
        // Started by someone else (a start through here waits for this slot before it starts).
        slot?.forget();
        await connect();
        return;
      }
      if (!slot) return;
    }
    // Not started yet: the start through this service connects it first; a start by someone else
    // (the dock CLI) is noticed by polling.
    slot.provide(connect);
    let session: Promise<unknown> | undefined;
    while (!(session = slot.session()) && !ctx.signal.aborted) {
      await Promise.race([slot.taken, sleep(200)]);
      if ((session = slot.session())) break;
      const cur = ctx.engine.containers.get(doc.Id);
      if (!cur) break;
      if (liveState(ctx.engine, cur).status === 'running') {
        slot.forget();
        session = connect();
        break;
      }
    }
    if (session) await session.catch(() => undefined);
  } finally {
    slot?.release();
  }
}

