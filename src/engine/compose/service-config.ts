// One service of the model as the flags of `dock create` (RunFlags, the same input the CLI and the
// API give createContainer): the engine's own checks then apply to compose files too.

import type { RunFlags } from '../containers/config';
import type { HealthConfig } from '../containers/types';
import { parseDuration } from '../containers/config';
import { ComposeError } from './errors';
import { containerName, COMPOSE_VERSION, L } from './labels';
import type { Project, Service } from './model';

export interface ContainerPlan {
  name: string;
  image: string;
  flags: RunFlags;
  command: string[];
}

export interface ContainerContext {
  project: Project;
  service: string;
  number: number;
  hash: string;
  workingDir: string;
  configFiles: string[];
  imageId: string;
  oneoff?: boolean;
  /**
   * Anonymous volumes of the container this one replaces, by target: the new container mounts them
   * again (docker compose carries them over on recreate). Only targets that are still anonymous
   * volumes in the service or VOLUMEs of the image (the runner checks).
   */
  inherit?: Record<string, string>;
  /** Files of secrets/configs that come from the environment or inline content. */
  fileOf: (kind: 'secrets' | 'configs', key: string) => string;
}

const unsupported = (where: string, why: string) => new ComposeError('EUNSUPPORTED', `${where}: ${why}`);

function health(h: Service['healthcheck'], where: string): HealthConfig | undefined {
  if (!h) return undefined;
  if (h.disable) return { Test: ['NONE'] };
  const ns = (v: string | undefined, k: string) => (v === undefined ? undefined : parseDuration(v, `${where}.healthcheck.${k}`));
  return {
    Test: h.test ?? [],
    ...(h.interval !== undefined ? { Interval: ns(h.interval, 'interval') } : {}),
    ...(h.timeout !== undefined ? { Timeout: ns(h.timeout, 'timeout') } : {}),
    ...(h.start_period !== undefined ? { StartPeriod: ns(h.start_period, 'start_period') } : {}),
    ...(h.retries !== undefined ? { Retries: h.retries } : {}),
  };
}

/** The container network mode and networks of a service. */
function networking(c: ContainerContext, s: Service, f: RunFlags): void {
  const p = c.project;
  const mode = s.network_mode;
  if (mode) {
    f.network = mode.startsWith('service:') ? `container:${containerName(p.name, mode.slice(8), 1)}` : mode;
    return;
  }
  const entries = Object.entries(s.networks ?? {});
  entries.forEach(([key, cfg], i) => {
    const name = p.networks[key].name;
    // Reachable by the service's name on every network, as docker compose does.
    const aliases = [c.service, ...(cfg?.aliases ?? [])];
    if (i === 0) {
      f.network = name;
      f.networkAlias = aliases;
      if (cfg?.ipv4_address) f.ipv4Address = cfg.ipv4_address;
    } else (f.extraNetworks ??= []).push({ name, aliases, ...(cfg?.ipv4_address ? { ipv4Address: cfg.ipv4_address } : {}) });
  });
}

/** service:X (ipc, pid) is X's first container, as network_mode service:X. */
const joinMode = (p: Project, mode: string | undefined) => (mode?.startsWith('service:') ? `container:${containerName(p.name, mode.slice(8), 1)}` : mode);

/** Namespaces, kernel parameters and the finer resource controls. */
function tuning(c: ContainerContext, s: Service, f: RunFlags): void {
  const str = (v: number | undefined) => (v === undefined ? undefined : String(v));
  const kv = (m: Record<string, string> | undefined) => (m ? Object.entries(m).map(([k, v]) => `${k}=${v}`) : undefined);
  Object.assign(f, {
    sysctl: kv(s.sysctls),
    annotation: kv(s.annotations),
    shmSize: s.shm_size,
    groupAdd: s.group_add,
    ipc: joinMode(c.project, s.ipc),
    pid: joinMode(c.project, s.pid),
    uts: s.uts,
    userns: s.userns_mode,
    cgroupns: s.cgroup,
    macAddress: s.mac_address,
    memoryReservation: s.deploy?.resources?.reservations?.memory ?? s.mem_reservation,
    oomKillDisable: s.oom_kill_disable,
    oomScoreAdj: str(s.oom_score_adj),
    cpuPeriod: str(s.cpu_period),
    cpuQuota: str(s.cpu_quota),
    blkioWeight: str(s.blkio_config?.weight),
    deviceReadBps: s.blkio_config?.device_read_bps?.map((l) => `${l.path}:${l.rate}`),
    deviceWriteBps: s.blkio_config?.device_write_bps?.map((l) => `${l.path}:${l.rate}`),
    deviceReadIops: s.blkio_config?.device_read_iops?.map((l) => `${l.path}:${l.rate}`),
    deviceWriteIops: s.blkio_config?.device_write_iops?.map((l) => `${l.path}:${l.rate}`),
  } satisfies Partial<RunFlags>);
  for (const k of Object.keys(f) as Array<keyof RunFlags>) if (f[k] === undefined) delete f[k];
}

export function containerPlan(c: ContainerContext, s: Service): ContainerPlan {
  const where = `services.${c.service}`;
  const p = c.project;
  const name = c.oneoff ? `${p.name}-${c.service}-run-${Math.random().toString(16).slice(2, 14)}` : (s.container_name ?? containerName(p.name, c.service, c.number));
  const labels: Record<string, string> = {
    ...(s.labels ?? {}),
    [L.project]: p.name,
    [L.service]: c.service,
    [L.number]: String(c.number),
    [L.oneoff]: c.oneoff ? 'True' : 'False',
    [L.hash]: c.hash,
    [L.workingDir]: c.workingDir,
    [L.configFiles]: c.configFiles.join(','),
    [L.version]: COMPOSE_VERSION,
    [L.image]: c.imageId,
    [L.dependsOn]: Object.entries(s.depends_on ?? {}).map(([d, o]) => `${d}:${o.condition}:${o.restart}`).join(','),
  };
  const f: RunFlags = {
    name,
    detach: true,
    label: Object.entries(labels).map(([k, v]) => `${k}=${v}`),
    env: Object.entries(s.environment ?? {}).map(([k, v]) => (v === null ? k : `${k}=${v}`)),
    interactive: s.stdin_open,
    tty: s.tty,
    user: s.user,
    workdir: s.working_dir,
    hostname: s.hostname,
    domainname: s.domainname,
    privileged: s.privileged,
    readOnly: s.read_only,
    init: s.init,
    capAdd: s.cap_add,
    capDrop: s.cap_drop,
    securityOpt: s.security_opt,
    device: s.devices,
    dns: s.dns,
    dnsSearch: s.dns_search,
    dnsOption: s.dns_opt,
    addHost: s.extra_hosts,
    restart: s.restart,
    stopSignal: s.stop_signal,
    expose: s.expose,
    healthConfig: health(s.healthcheck, where),
  };
  if (s.entrypoint !== undefined) f.entrypointArgs = s.entrypoint ?? [];
  if (s.stop_grace_period !== undefined) f.stopTimeout = String(Math.ceil(parseDuration(s.stop_grace_period, `${where}.stop_grace_period`) / 1e9));
  const limits = s.deploy?.resources?.limits;
  const memory = limits?.memory ?? s.mem_limit;
  if (memory !== undefined) f.memory = memory;
  if (s.memswap_limit !== undefined) f.memorySwap = s.memswap_limit;
  const cpus = limits?.cpus ?? s.cpus;
  if (cpus !== undefined) f.cpus = String(cpus);
  if (s.cpu_shares !== undefined) f.cpuShares = String(s.cpu_shares);
  if (s.cpuset !== undefined) f.cpusetCpus = s.cpuset;
  const pids = limits?.pids ?? s.pids_limit;
  if (pids !== undefined) f.pidsLimit = String(pids);
  if (s.ulimits) f.ulimit = Object.entries(s.ulimits).map(([k, v]) => (typeof v === 'number' ? `${k}=${v}` : `${k}=${v.soft}:${v.hard}`));
  if (s.logging) {
    if (s.logging.driver) f.logDriver = s.logging.driver;
    f.logOpt = Object.entries(s.logging.options ?? {}).map(([k, v]) => `${k}=${v}`);
  }
  tuning(c, s, f);

  // Ports: ingress and host publish the same way on one machine.
  f.publish = (s.ports ?? []).map((pt) => `${pt.host_ip ? `${pt.host_ip}:` : ''}${pt.published ?? ''}${pt.host_ip || pt.published ? ':' : ''}${pt.target}/${pt.protocol}`);

  // Mounts as --mount / -v specs; named volumes get their project name.
  const volume: string[] = [];
  const mount: string[] = [];
  const tmpfs: string[] = [...(s.tmpfs ?? [])];
  for (const v of s.volumes ?? []) {
    if (v.type === 'volume') {
      const src = v.source ? p.volumes[v.source].name : (c.inherit?.[v.target] ?? '');
      mount.push([`type=volume`, ...(src ? [`source=${src}`] : []), `target=${v.target}`, ...(v.read_only ? ['readonly'] : []), ...(v.volume?.nocopy ? ['volume-nocopy'] : [])].join(','));
    } else if (v.type === 'bind') {
      if (/[,:]/.test(v.source!) || /[,:]/.test(v.target)) throw unsupported(`${where}.volumes`, `a bind path with "," or ":" is not supported by dock (${v.source})`);
      if (v.bind?.create_host_path !== false) volume.push(`${v.source}:${v.target}:${[v.read_only ? 'ro' : 'rw', ...(v.bind?.propagation ? [v.bind.propagation] : [])].join(',')}`);
      else mount.push([`type=bind`, `source=${v.source}`, `target=${v.target}`, ...(v.read_only ? ['readonly'] : []), ...(v.bind?.propagation ? [`bind-propagation=${v.bind.propagation}`] : [])].join(','));
    } else {
      mount.push([`type=tmpfs`, `target=${v.target}`, ...(v.tmpfs?.size !== undefined ? [`tmpfs-size=${v.tmpfs.size}`] : []), ...(v.tmpfs?.mode !== undefined ? [`tmpfs-mode=${v.tmpfs.mode.toString(8)}`] : [])].join(','));
    }
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const r of s[kind] ?? []) mount.push(`type=bind,source=${c.fileOf(kind, r.source)},target=${r.target},readonly`);
  }
  // The image's VOLUMEs the old container had anonymous volumes for.
  const declared = new Set([...(s.volumes ?? []).map((v) => v.target), ...(s.tmpfs ?? []).map((x) => x.split(':')[0])]);
  for (const [target, name] of Object.entries(c.inherit ?? {})) if (!declared.has(target)) mount.push(`type=volume,source=${name},target=${target}`);
  f.volume = volume;
  f.mount = mount;
  f.tmpfs = tmpfs;
  networking(c, s, f);
  return { name, image: s.image ?? `${p.name}-${c.service}`, flags: f, command: s.command ?? [] };
}
