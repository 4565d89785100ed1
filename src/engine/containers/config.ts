// `dock run`/`create` flags merged with the image's config the way Docker does it (moby's
// daemon/create.go and runconfig/opts): flags win, lists (Env, Labels, Volumes) merge by key,
// --entrypoint drops the image's Cmd unless a command is given.

import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import type { ImageConfig } from '../registry/manifest';
import { ContainerError, usage } from './errors';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../volumes/mounts';
import { parseAddHost, parsePortSpec } from '../network';
import type { ContainerConfig, DeviceMapping, HealthConfig, HostConfig, LogDriver, MountRequest, RestartPolicy, ThrottleDevice, Ulimit } from './types';

/** What the CLI collected; every value still a string as typed. */
export interface RunFlags {
  name?: string;
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  rm?: boolean;
  env?: string[];
  envFile?: string[];
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  volumesFrom?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  device?: string[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  readOnly?: boolean;
  securityOpt?: string[];
  ulimit?: string[];
  init?: boolean;
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  noHealthcheck?: boolean;
  label?: string[];
  stopSignal?: string;
  stopTimeout?: string;
  network?: string;
  /** -p/--publish specs, -P/--publish-all, --network-alias, --add-host, --dns. */
  publish?: string[];
  publishAll?: boolean;
  networkAlias?: string[];
  addHost?: string[];
  dns?: string[];
  /** --dns-search domains and --dns-option resolver options (resolv.conf on a bridge network). */
  dnsSearch?: string[];
  dnsOption?: string[];
  logOpt?: string[];
  /** --log-driver: json-file (default), local or none. */
  logDriver?: string;
  /** --cidfile (written by the client; recorded as HostConfig.ContainerIDFile). */
  cidfile?: string;
  groupAdd?: string[];
  shmSize?: string;
  sysctl?: string[];
  macAddress?: string;
  /** --pid, --ipc, --uts: host or container:NAME (--ipc also private, shareable, none). */
  pid?: string;
  ipc?: string;
  uts?: string;
  userns?: string;
  cgroupns?: string;
  annotation?: string[];
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
  blkioWeight?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  memoryReservation?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  // Structured values that the API and compose give, which no flag string carries well:
  /** The entrypoint as a list ([] or [""] clears the image's); resets the image's Cmd as --entrypoint does. */
  entrypointArgs?: string[];
  domainname?: string;
  /** Ports to expose ("80", "53/udp", "8000-8001"), added to the image's. */
  expose?: string[];
  /** A whole health check (Test ["CMD", ...] / ["CMD-SHELL", cmd] / ["NONE"]), instead of the --health-* flags. */
  healthConfig?: HealthConfig;
  /** A fixed IPv4 address on the --network (a user-defined one). */
  ipv4Address?: string;
  /** User-defined networks to join besides --network, each with its aliases and address. */
  extraNetworks?: Array<{ name: string; aliases?: string[]; ipv4Address?: string }>;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: "512m", "1g", "1024", "1.5g"; units in powers of 1024. */
export function parseBytes(v: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*$/i.exec(v);
  if (!m) throw usage(`invalid value "${v}" for ${flag}: want a size such as 512m or 1g`);
  return Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]);
}

/** Go's time.ParseDuration subset: "1h2m3.5s", "300ms", "10us"; returns nanoseconds. */
export function parseDuration(v: string, flag: string): number {
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const s = v.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || s.length === 0) throw usage(`invalid duration "${v}" for ${flag}: want e.g. 30s, 1m30s, 500ms`);
  return Math.round(total);
}

function parseIntFlag(v: string, flag: string, min = -Infinity): number {
  if (!/^-?\d+$/.test(v.trim())) throw usage(`invalid value "${v}" for ${flag}: not an integer`);
  const n = Number(v);
  if (n < min) throw usage(`invalid value "${v}" for ${flag}: must be at least ${min}`);
  return n;
}

export function parseRestart(v: string | undefined): RestartPolicy {
  if (!v || v === 'no') return { Name: 'no', MaximumRetryCount: 0 };
  const [name, count] = v.split(':', 2);
  if (name === 'always' || name === 'unless-stopped') {
    if (count !== undefined) throw usage(`invalid restart policy "${v}": maximum retry count cannot be used with ${name}`);
    return { Name: name, MaximumRetryCount: 0 };
  }
  if (name === 'on-failure') return { Name: 'on-failure', MaximumRetryCount: count === undefined ? 0 : parseIntFlag(count, '--restart', 0) };
  throw usage(`invalid restart policy "${v}": want no, always, unless-stopped or on-failure[:N]`);
}

export function parseUlimit(v: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v.trim());
  if (!m) throw usage(`invalid ulimit "${v}": want name=soft[:hard], e.g. nofile=1024:2048`);
  const known = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as'];
  if (!known.includes(m[1])) throw usage(`invalid ulimit "${v}": unknown resource ${m[1]}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw usage(`invalid ulimit "${v}": soft limit ${soft} is above the hard limit ${hard}`);
  return { Name: m[1], Soft: soft, Hard: hard };
}

export function parseDevice(v: string): DeviceMapping {
  const parts = v.split(':');
  const host = parts[0];
  let inCtr = host;
  let perms = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1])) perms = parts[1];
    else inCtr = parts[1];
  } else if (parts.length === 3) {
    inCtr = parts[1];
    perms = parts[2];
  } else if (parts.length > 3) throw usage(`invalid device "${v}": want HOST[:CONTAINER][:PERMISSIONS]`);
  if (!host.startsWith('/') || !inCtr.startsWith('/')) throw usage(`invalid device "${v}": paths must be absolute`);
  if (!/^[rwm]+$/.test(perms)) throw usage(`invalid device "${v}": permissions are a combination of r, w and m`);
  return { PathOnHost: host, PathInContainer: inCtr, CgroupPermissions: perms };
}

/** "KEY=VALUE" stays; "KEY" takes the value from dock's environment, or is dropped (Docker). */
function envEntry(e: string, out: string[]): void {
  if (e.includes('=')) {
    if (e.startsWith('=')) throw usage(`invalid environment variable "${e}": empty name`);
    out.push(e);
  } else if (e && process.env[e] !== undefined) out.push(`${e}=${process.env[e]}`);
}

/** An env file larger than this is not an env file (and /dev/zero must not fill the memory). */
const ENV_FILE_MAX = 1 << 20;

export function readEnvFile(path: string): string[] {
  let text: string;
  try {
    // Opened non-blocking and then checked: a FIFO would block, a device (/dev/zero) never end.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw usage(`cannot read env file ${path}: not a regular file`);
      if (st.size > ENV_FILE_MAX) throw usage(`cannot read env file ${path}: larger than ${ENV_FILE_MAX} bytes`);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof ContainerError) throw e;
    throw usage(`cannot read env file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    envEntry(line, out);
  }
  return out;
}

/** Merges by variable name: later entries replace earlier ones in place (Docker's ReplaceOrAppendEnvValues). */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out = [...base];
  const idx = new Map(out.map((e, i) => [e.split('=')[0], i]));
  for (const e of extra) {
    const k = e.split('=')[0];
    const i = idx.get(k);
    if (i === undefined) {
      idx.set(k, out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}

function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    if (i === 0) throw usage(`invalid label "${l}": empty key`);
    if (i < 0) out[l] = '';
    else out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

function normalizeCaps(list: string[], flag: string): string[] {
  return list.map((c) => {
    const u = c.trim().toUpperCase();
    if (u === 'ALL') return 'ALL';
    if (!/^(CAP_)?[A-Z_]+$/.test(u)) throw usage(`invalid capability "${c}" for ${flag}`);
    return u.startsWith('CAP_') ? u : `CAP_${u}`;
  });
}

export interface BuiltConfig {
  config: ContainerConfig;
  hostConfig: HostConfig;
}

/** The container's Config and HostConfig from the image, the flags and the command line. */
export function buildConfig(image: ImageConfig, imageName: string, f: RunFlags, command: string[]): BuiltConfig {
  const ic = image.config ?? {};
  let entrypoint: string[] | null = ic.Entrypoint?.length ? [...ic.Entrypoint] : null;
  let cmd: string[] | null = ic.Cmd?.length ? [...ic.Cmd] : null;
  if (f.entrypoint !== undefined) {
    entrypoint = f.entrypoint === '' ? null : [f.entrypoint];
    cmd = null; // Docker: a new entrypoint resets the image's Cmd
  }
  if (f.entrypointArgs !== undefined) {
    entrypoint = f.entrypointArgs.filter((a, i) => i > 0 || a !== '').length ? [...f.entrypointArgs] : null;
    cmd = null;
  }
  if (command.length) cmd = [...command];
  if (!entrypoint?.length && !cmd?.length) throw new ContainerError('ENOCMD', 'no command specified: the image has no Cmd or Entrypoint and none was given');

  const env: string[] = [];
  for (const file of f.envFile ?? []) env.push(...readEnvFile(file));
  for (const e of f.env ?? []) envEntry(e, env);

  let health: HealthConfig | undefined = ic.Healthcheck as HealthConfig | undefined;
  if (f.healthConfig) {
    if (f.healthCmd || f.noHealthcheck) throw usage('a health check and --health-* options cannot both be given');
    health = { ...(health ?? {}), ...f.healthConfig, Test: f.healthConfig.Test.length ? f.healthConfig.Test : (health?.Test ?? []) };
    if (!health.Test.length) throw usage('the health check has no test and the image has none');
  } else if (f.noHealthcheck) {
    if (f.healthCmd) throw usage('--no-healthcheck conflicts with --health-* options');
    health = { Test: ['NONE'] };
  } else if (f.healthCmd || f.healthInterval || f.healthTimeout || f.healthRetries || f.healthStartPeriod) {
    health = { ...(health ?? { Test: [] }) };
    if (f.healthCmd) health.Test = ['CMD-SHELL', f.healthCmd];
    if (!health.Test?.length) throw usage('--health-* options need a health check: give --health-cmd (the image has none)');
    if (f.healthInterval) health.Interval = positiveDuration(f.healthInterval, '--health-interval');
    if (f.healthTimeout) health.Timeout = positiveDuration(f.healthTimeout, '--health-timeout');
    if (f.healthStartPeriod) health.StartPeriod = parseDuration(f.healthStartPeriod, '--health-start-period');
    if (f.healthRetries) health.Retries = parseIntFlag(f.healthRetries, '--health-retries', 0);
  }

  const tty = !!f.tty;
  const config: ContainerConfig = {
    Hostname: f.hostname ?? '',
    Domainname: f.domainname ?? '',
    User: f.user ?? ic.User ?? '',
    AttachStdin: !!f.interactive && !f.detach,
    AttachStdout: !f.detach,
    AttachStderr: !f.detach,
    Tty: tty,
    OpenStdin: !!f.interactive,
    StdinOnce: !!f.interactive && !f.detach,
    Env: mergeEnv(ic.Env ?? [], env),
    Cmd: cmd,
    Entrypoint: entrypoint,
    Image: imageName,
    Volumes: ic.Volumes && Object.keys(ic.Volumes).length ? { ...ic.Volumes } : null,
    WorkingDir: f.workdir ?? ic.WorkingDir ?? '',
    Labels: { ...(ic.Labels ?? {}), ...parseLabels(f.label ?? []) },
    StopSignal: f.stopSignal ?? ic.StopSignal,
    ...(f.stopTimeout !== undefined ? { StopTimeout: parseIntFlag(f.stopTimeout, '--stop-timeout', -1) } : {}),
    ...(health ? { Healthcheck: health } : {}),
    ...exposedPorts(ic.ExposedPorts, f.expose ?? []),
    ...(f.macAddress ? { MacAddress: parseMac(f.macAddress) } : {}),
  };
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) throw usage(`the working directory "${config.WorkingDir}" is invalid: it needs to be an absolute path`);

  const mounts: MountRequest[] = [];
  for (const v of f.volume ?? []) mounts.push(parseVolumeFlag(v));
  for (const m of f.mount ?? []) mounts.push(parseMountFlag(m));
  const tmpfs: Record<string, string> = {};
  for (const t of f.tmpfs ?? []) {
    const req = parseTmpfsFlag(t);
    tmpfs[req.Target] = req.TmpfsOptions ?? '';
  }
  const seen = new Set<string>();
  for (const t of [...mounts.map((m) => m.Target), ...Object.keys(tmpfs)]) {
    if (seen.has(t)) throw usage(`duplicate mount point: ${t}`);
    seen.add(t);
  }

  const network = parseNetworkFlags(f);
  const securityOpt = f.securityOpt ?? [];
  for (const s of securityOpt) {
    if (s === 'no-new-privileges' || s === 'no-new-privileges:true' || s === 'no-new-privileges=true' || s === 'no-new-privileges:false' || s === 'no-new-privileges=false') continue;
    if (/^seccomp[=:]/.test(s)) continue;
    if (/^(apparmor|label)[=:]/.test(s)) continue;
    throw usage(`invalid --security-opt "${s}": want seccomp=PROFILE|unconfined or no-new-privileges`);
  }

  let memory = f.memory ? parseBytes(f.memory, '--memory') : 0;
  if (memory && memory < 6 * 1024 * 1024) throw usage(`minimum memory limit allowed is 6MB (got ${f.memory})`);
  let memorySwap = 0;
  if (f.memorySwap) memorySwap = f.memorySwap === '-1' ? -1 : parseBytes(f.memorySwap, '--memory-swap');
  if (memorySwap > 0 && !memory) throw usage('you should always set --memory with --memory-swap');
  if (memorySwap > 0 && memorySwap < memory) throw usage('--memory-swap must be larger than --memory (it is memory plus swap)');
  if (!f.memory) memory = 0;
  let nanoCpus = 0;
  if (f.cpus !== undefined) {
    const c = Number(f.cpus);
    if (!Number.isFinite(c) || c <= 0) throw usage(`invalid value "${f.cpus}" for --cpus: a positive number of CPUs, e.g. 0.5`);
    nanoCpus = Math.round(c * 1e9);
  }
  if (f.cpusetCpus !== undefined && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(f.cpusetCpus)) throw usage(`invalid value "${f.cpusetCpus}" for --cpuset-cpus: e.g. 0-1 or 0,1`);

  const logDriver = parseLogDriver(f.logDriver);
  const logConfig: Record<string, string> = {};
  for (const o of f.logOpt ?? []) {
    const [k, v] = o.split('=', 2);
    if (logDriver === 'none') throw usage(`unknown log opt '${k}' for none log driver`);
    if (k === 'max-size') parseBytes(v ?? '', '--log-opt max-size');
    else if (k === 'max-file') parseIntFlag(v ?? '', '--log-opt max-file', 1);
    else throw usage(`unknown log opt '${k}' for ${logDriver} log driver: it takes max-size and max-file`);
    logConfig[k] = v;
  }
  const modes = namespaceModes(f);
  const cpuPeriod = f.cpuPeriod !== undefined ? parseIntFlag(f.cpuPeriod, '--cpu-period', 0) : 0;
  const cpuQuota = f.cpuQuota !== undefined ? parseIntFlag(f.cpuQuota, '--cpu-quota', -1) : 0;
  if (cpuPeriod && (cpuPeriod < 1000 || cpuPeriod > 1000000)) throw usage('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (cpuQuota > 0 && cpuQuota < 1000) throw usage('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (nanoCpus && (cpuPeriod || cpuQuota)) throw usage('Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set');
  const blkioWeight = f.blkioWeight !== undefined ? parseIntFlag(f.blkioWeight, '--blkio-weight', 0) : 0;
  if (blkioWeight && (blkioWeight < 10 || blkioWeight > 1000)) throw usage('range of blkio weight is from 10 to 1000');
  const memoryReservation = f.memoryReservation ? parseBytes(f.memoryReservation, '--memory-reservation') : 0;
  if (memory && memoryReservation > memory) throw usage('Minimum memory limit can not be less than memory reservation limit, see usage');
  const oomScoreAdj = f.oomScoreAdj !== undefined ? parseIntFlag(f.oomScoreAdj, '--oom-score-adj', -1000) : 0;
  if (oomScoreAdj > 1000) throw usage(`invalid value "${f.oomScoreAdj}" for --oom-score-adj: the range is -1000 to 1000`);
  const shmSize = f.shmSize ? parseBytes(f.shmSize, '--shm-size') : 0;
  if (f.shmSize && shmSize <= 0) throw usage('SHM size can not be less than 0');
  for (const g of f.groupAdd ?? []) if (!/^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/.test(g)) throw usage(`invalid group "${g}" for --group-add: a group name or id`);

  const hostConfig: HostConfig = {
    Binds: f.volume ?? [],
    Mounts: mounts,
    Tmpfs: tmpfs,
    VolumesFrom: f.volumesFrom ?? [],
    NetworkMode: network,
    RestartPolicy: parseRestart(f.restart),
    AutoRemove: !!f.rm,
    Privileged: !!f.privileged,
    ReadonlyRootfs: !!f.readOnly,
    CapAdd: normalizeCaps(f.capAdd ?? [], '--cap-add'),
    CapDrop: normalizeCaps(f.capDrop ?? [], '--cap-drop'),
    SecurityOpt: securityOpt,
    Ulimits: (f.ulimit ?? []).map(parseUlimit),
    Init: !!f.init,
    Memory: memory,
    MemorySwap: memorySwap,
    NanoCpus: nanoCpus,
    CpuShares: f.cpuShares !== undefined ? parseIntFlag(f.cpuShares, '--cpu-shares', 0) : 0,
    CpusetCpus: f.cpusetCpus ?? '',
    PidsLimit: f.pidsLimit !== undefined ? parseIntFlag(f.pidsLimit, '--pids-limit', -1) : 0,
    Devices: (f.device ?? []).map(parseDevice),
    LogConfig: { Type: logDriver, Config: logConfig },
    ...(f.cidfile ? { ContainerIDFile: f.cidfile } : {}),
    GroupAdd: f.groupAdd ?? [],
    ShmSize: shmSize || 64 * 1024 * 1024,
    Sysctls: parseSysctls(f.sysctl ?? [], network, modes.IpcMode ?? ''),
    ...modes,
    Annotations: parseKeyValues(f.annotation ?? [], '--annotation'),
    BlkioWeight: blkioWeight,
    BlkioDeviceReadBps: (f.deviceReadBps ?? []).map((v) => parseThrottle(v, '--device-read-bps', true)),
    BlkioDeviceWriteBps: (f.deviceWriteBps ?? []).map((v) => parseThrottle(v, '--device-write-bps', true)),
    BlkioDeviceReadIOps: (f.deviceReadIops ?? []).map((v) => parseThrottle(v, '--device-read-iops', false)),
    BlkioDeviceWriteIOps: (f.deviceWriteIops ?? []).map((v) => parseThrottle(v, '--device-write-iops', false)),
    OomKillDisable: !!f.oomKillDisable,
    OomScoreAdj: oomScoreAdj,
    MemoryReservation: memoryReservation,
    CpuPeriod: cpuPeriod,
    CpuQuota: cpuQuota,
    PortBindings: f.publish ?? [],
    PublishAllPorts: !!f.publishAll,
    ExtraHosts: f.addHost ?? [],
    Dns: f.dns ?? [],
    DnsSearch: f.dnsSearch ?? [],
    DnsOptions: f.dnsOption ?? [],
  };
  if (hostConfig.AutoRemove && hostConfig.RestartPolicy.Name !== 'no') throw usage('conflicting options: --restart and --rm');
  if (f.hostname && hostConfig.UTSMode === 'host') throw usage('Conflicting options: hostname and the UTS mode');
  if (f.macAddress && !(network !== 'none' && network !== 'host' && !network.startsWith('container:'))) throw usage('conflicting options: mac-address and the network mode');
  return { config, hostConfig };
}

/**
 * --network and what goes with it, checked for their syntax (create checks that the network
 * exists). The default is Docker's: the default bridge.
 */
function parseNetworkFlags(f: RunFlags): string {
  const network = f.network || 'bridge';
  if (network.startsWith('container:') && network.length === 'container:'.length) throw usage('invalid --network "container:": name the container, e.g. container:web');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(network) && !network.startsWith('container:')) throw usage(`invalid --network "${network}": none, host, bridge, container:NAME or a network's name`);
  const bridge = network !== 'none' && network !== 'host' && !network.startsWith('container:');
  // A bad port is said before a conflict with the network (docker checks the syntax first).
  for (const p of f.publish ?? []) parsePortSpec(p);
  if ((f.publish?.length || f.publishAll) && !bridge) throw usage(`conflicting options: port publishing and --network ${network}`);
  if (f.networkAlias?.length && (!bridge || network === 'bridge')) throw usage('--network-alias is only supported for containers on user-defined networks');
  if (f.ipv4Address && (!bridge || network === 'bridge')) throw usage('a fixed IPv4 address is only supported on user-defined networks');
  for (const n of f.extraNetworks ?? []) {
    if (!bridge || n.name === 'bridge' || n.name === network || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(n.name)) throw usage(`cannot also join network "${n.name}": only other user-defined networks can be added to a bridge container`);
  }
  for (const h of f.addHost ?? []) parseAddHost(h);
  for (const d of f.dns ?? []) if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(d) && !d.includes(':')) throw usage(`invalid --dns "${d}": an IP address`);
  // One resolv.conf word each: a space or a newline would write another line into the file.
  for (const d of f.dnsSearch ?? []) if (!/^(\.|[a-zA-Z0-9_]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?)$/.test(d)) throw usage(`invalid --dns-search "${d}": a domain name`);
  for (const o of f.dnsOption ?? []) if (!/^[a-zA-Z0-9_-]+(:[0-9]+)?$/.test(o)) throw usage(`invalid --dns-option "${o}": a resolver option such as ndots:2`);
  return network;
}

/** The image's EXPOSEd ports plus the asked ones, as "80/tcp" keys. */
function exposedPorts(image: Record<string, object> | undefined, extra: string[]): { ExposedPorts?: Record<string, object> } {
  const out: Record<string, object> = { ...(image ?? {}) };
  for (const e of extra) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(e.trim());
    if (!m) throw usage(`invalid port to expose "${e}": want PORT[-PORT][/tcp|udp]`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || hi < lo || hi - lo > 1000) throw usage(`invalid port to expose "${e}": out of range`);
    for (let p = lo; p <= hi; p++) out[`${p}/${m[3] ?? 'tcp'}`] = {};
  }
  return Object.keys(out).length ? { ExposedPorts: out } : {};
}

function positiveDuration(v: string, flag: string): number {
  const ns = parseDuration(v, flag);
  if (ns < 1e6) throw usage(`${flag} cannot be less than 1ms`);
  return ns;
}

/** --log-driver: what dock can write and read back. */
function parseLogDriver(v: string | undefined): LogDriver {
  if (v === undefined || v === '' || v === 'json-file') return 'json-file';
  if (v === 'local' || v === 'none') return v;
  throw usage(`failed to create the log driver "${v}": dock has json-file, local and none`);
}

/** KEY=VALUE pairs (--annotation): the key must not be empty. */
function parseKeyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw usage(`invalid argument "${kv}" for "${flag}" flag: want KEY=VALUE`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Docker's ValidateSysctl: only the sysctls of a namespace the container owns. */
const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

function parseSysctls(list: string[], network: string, ipcMode: string): Record<string, string> {
  const out = parseKeyValues(list, '--sysctl');
  for (const k of Object.keys(out)) {
    const ipc = IPC_SYSCTLS.includes(k) || k.startsWith('fs.mqueue.');
    if (!ipc && !k.startsWith('net.')) throw usage(`invalid argument "${k}=${out[k]}" for "--sysctl" flag: sysctl '${k}' is not allowed`);
    if (ipc && (ipcMode === 'host' || ipcMode.startsWith('container:'))) throw usage(`sysctl "${k}" is not allowed when joining another IPC namespace (--ipc ${ipcMode})`);
    if (!ipc && (network === 'host' || network.startsWith('container:'))) throw usage(`sysctl "${k}" not allowed in host network namespace`);
  }
  return out;
}

/** --pid/--ipc/--uts/--userns/--cgroupns as Docker names them in HostConfig (create resolves container:X). */
function namespaceModes(f: RunFlags): Pick<HostConfig, 'PidMode' | 'IpcMode' | 'UTSMode' | 'UsernsMode' | 'CgroupnsMode'> {
  const join = (v: string | undefined, flag: string, own: string[]): string => {
    if (v === undefined || v === '') return own[0] ?? '';
    if (v === 'host' || own.includes(v)) return v;
    if (v.startsWith('container:') && v.length > 'container:'.length) return v;
    throw usage(`invalid ${flag} mode "${v}": want ${[...own.filter(Boolean), 'host', 'container:NAME'].join(', ')}`);
  };
  const UTSMode = join(f.uts, '--uts', ['']);
  if (UTSMode.startsWith('container:')) throw usage('invalid --uts mode: container:NAME is not supported by docker either; want host');
  if (f.userns !== undefined && f.userns !== '' && f.userns !== 'host') throw usage(`invalid --userns mode "${f.userns}": dock runs without user namespace remapping, so only host is valid`);
  const cgroupns = f.cgroupns ?? '';
  if (cgroupns !== '' && cgroupns !== 'host' && cgroupns !== 'private') throw usage(`invalid --cgroupns mode "${cgroupns}": want host or private`);
  return {
    PidMode: join(f.pid, '--pid', ['']),
    IpcMode: join(f.ipc, '--ipc', ['private', 'shareable', 'none']),
    UTSMode,
    UsernsMode: f.userns ?? '',
    CgroupnsMode: cgroupns || (cgroupV2Host() ? 'private' : 'host'),
  };
}

/** Docker's default --cgroupns: private on cgroup v2, host on v1. */
export function cgroupV2Host(): boolean {
  try {
    readFileSync('/sys/fs/cgroup/cgroup.controllers');
    return true;
  } catch {
    return false;
  }
}

/** --device-read-bps /dev/sda:1mb, --device-read-iops /dev/sda:1000. */
function parseThrottle(v: string, flag: string, bytes: boolean): ThrottleDevice {
  const i = v.lastIndexOf(':');
  if (i <= 0 || !v.startsWith('/')) throw usage(`invalid argument "${v}" for "${flag}" flag: want DEVICE:${bytes ? 'RATE (e.g. /dev/sda:1mb)' : 'IOPS (e.g. /dev/sda:1000)'}`);
  const rate = bytes ? parseBytes(v.slice(i + 1), flag) : parseIntFlag(v.slice(i + 1), flag, 0);
  return { Path: v.slice(0, i), Rate: rate };
}

/** A unicast MAC address, as Docker checks --mac-address. */
function parseMac(v: string): string {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v)) throw usage(`invalid argument "${v}" for "--mac-address" flag: ${v} is not a valid mac address`);
  if (parseInt(v.slice(0, 2), 16) & 1) throw usage(`invalid argument "${v}" for "--mac-address" flag: ${v} is a multicast address`);
  return v.toLowerCase();
}
