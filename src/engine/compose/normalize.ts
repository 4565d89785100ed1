// From the merged, validated tree to the model (model.ts): one syntax per key, relative paths made
// absolute against the project directory, strings from interpolation turned into the numbers and
// booleans they stand for, references between services, networks, volumes, secrets and configs
// checked. Every error names its place (services.web.ports[0]).

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { parse as parseDotenvText } from 'dotenv';
import { isAbsolute, resolve } from 'node:path';
import { processWords } from '../build/shell-lex';
import { ComposeError } from './errors';
import { listToMap } from './merge';
import type { BlkioLimitKey, BuildConfig, DependsOn, FileObjectConfig, FileReference, Healthcheck, NetworkConfig, PortConfig, Project, Service, ServiceNetwork, ServiceVolume, VolumeConfig } from './model';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const bad = (where: string, why: string) => new ComposeError('ESCHEMA', `${where}: ${why}`);

export interface NormalizeContext {
  projectName: string;
  workingDir: string;
  env: Record<string, string>;
}

function bool(v: unknown, where: string): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (s === 'true' || s === 'yes' || s === '1') return true;
  if (s === 'false' || s === 'no' || s === '0') return false;
  throw bad(where, `must be a boolean, got "${String(v)}"`);
}

function num(v: unknown, where: string, integer = false): number {
  const n = typeof v === 'number' ? v : /^\s*-?\d+(\.\d+)?\s*$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw bad(where, `must be ${integer ? 'an integer' : 'a number'}, got "${String(v)}"`);
  return n;
}

/** Shell-like word splitting of a string command (quotes honoured, no expansion). */
export function splitCommand(s: string, where: string): string[] {
  try {
    return processWords(s, new Map(), { skipUnsetEnv: true });
  } catch (e) {
    throw bad(where, `cannot split "${s}" into words: ${(e as Error).message}`);
  }
}

function command(v: unknown, where: string): string[] | null {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(String);
  return splitCommand(String(v), where);
}

function scalarMap(v: unknown, key: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, x] of Object.entries(listToMap(v, key))) out[k] = x === null || x === undefined ? null : String(x);
  return out;
}

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : p;
}

function hostPath(p: string, ctx: NormalizeContext): string {
  const e = expandHome(p);
  return isAbsolute(e) ? resolve(e) : resolve(ctx.workingDir, e);
}

const isPathLike = (s: string) => s.startsWith('.') || s.startsWith('/') || s.startsWith('~');

// ---- ports -------------------------------------------------------------------------------------

function portRange(s: string, where: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw bad(where, `"${s}" is not a port or a range of ports`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi > 65535 || hi < lo) throw bad(where, `port ${s} is out of range 1-65535`);
  return [lo, hi];
}

function shortPort(spec: string, where: string): PortConfig[] {
  let rest = spec;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') throw bad(where, `unsupported protocol "${p}" in "${spec}": tcp or udp`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  if (rest.startsWith('[')) throw new ComposeError('EUNSUPPORTED', `${where}: IPv6 host addresses are not supported by dock ("${spec}")`);
  const parts = rest.split(':');
  if (parts.length > 3) throw bad(where, `invalid port "${spec}": want [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`);
  const target = parts[parts.length - 1];
  const published = parts.length >= 2 ? parts[parts.length - 2] : '';
  const hostIp = parts.length === 3 ? parts[0] : '';
  if (hostIp && !/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp)) throw bad(where, `invalid host address "${hostIp}" in "${spec}"`);
  const [tlo, thi] = portRange(target, where);
  let plo = 0;
  let phi = 0;
  if (published) [plo, phi] = portRange(published, where);
  const n = thi - tlo + 1;
  if (published && phi - plo + 1 !== n && n !== 1) throw bad(where, `"${spec}": the published range and the target range differ in size`);
  const out: PortConfig[] = [];
  for (let i = 0; i < n; i++) {
    const pub = !published ? undefined : n === 1 ? (plo === phi ? String(plo) : `${plo}-${phi}`) : String(plo + i);
    out.push({ mode: 'ingress', target: tlo + i, ...(pub !== undefined ? { published: pub } : {}), ...(hostIp ? { host_ip: hostIp } : {}), protocol });
  }
  return out;
}

function ports(v: unknown[], where: string): PortConfig[] {
  const out: PortConfig[] = [];
  v.forEach((p, i) => {
    const w = `${where}[${i}]`;
    if (typeof p === 'number') out.push({ mode: 'ingress', target: num(p, w, true), protocol: 'tcp' });
    else if (typeof p === 'string') out.push(...shortPort(p, w));
    else {
      const o = p as Obj;
      if (o.mode === 'host' && o.published === undefined) throw bad(w, 'mode host needs a published port');
      const target = num(o.target, `${w}.target`, true);
      const published = o.published === undefined || o.published === '' ? undefined : String(o.published);
      if (published !== undefined) portRange(published, `${w}.published`);
      out.push({ mode: (o.mode as 'host' | 'ingress') ?? 'ingress', target, ...(published !== undefined ? { published } : {}), ...(o.host_ip ? { host_ip: String(o.host_ip) } : {}), protocol: (o.protocol as 'tcp' | 'udp') ?? 'tcp' });
    }
  });
  return out;
}

// ---- volumes -----------------------------------------------------------------------------------

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

function checkTarget(t: string, where: string): string {
  if (!t.startsWith('/')) throw bad(where, `the mount target "${t}" is not an absolute path`);
  return t.replace(/\/+$/, '') || '/';
}

function shortVolume(spec: string, where: string, ctx: NormalizeContext): ServiceVolume {
  const parts = spec.split(':');
  if (parts.length === 1) return { type: 'volume', target: checkTarget(parts[0], where) };
  if (parts.length > 3) throw bad(where, `invalid volume "${spec}": want SOURCE:TARGET[:MODE]`);
  const [src, dst, mode = ''] = parts;
  if (!src) throw bad(where, `invalid volume "${spec}": empty source`);
  const bind = isPathLike(src);
  const v: ServiceVolume = bind ? { type: 'bind', source: hostPath(src, ctx), target: checkTarget(dst, where), bind: { create_host_path: true } } : { type: 'volume', source: src, target: checkTarget(dst, where), volume: {} };
  for (const o of mode.split(',').filter(Boolean)) {
    if (o === 'ro') v.read_only = true;
    else if (o === 'rw') v.read_only = false;
    else if (o === 'nocopy') {
      if (v.type !== 'volume') throw bad(where, `"nocopy" applies to volumes, not to a bind mount ("${spec}")`);
      v.volume = { nocopy: true };
    } else if (PROPAGATIONS.includes(o)) {
      if (v.type !== 'bind') throw bad(where, `propagation "${o}" applies to bind mounts only ("${spec}")`);
      v.bind = { ...v.bind, propagation: o };
    } else if (o === 'z' || o === 'Z' || o === 'cached' || o === 'delegated' || o === 'consistent') continue;
    else throw bad(where, `unknown volume mode "${o}" in "${spec}"`);
  }
  if (v.read_only === false) delete v.read_only;
  return v;
}

function longVolume(o: Obj, where: string, ctx: NormalizeContext): ServiceVolume {
  const type = o.type as ServiceVolume['type'];
  if (o.target === undefined) throw bad(where, 'target is required');
  const v: ServiceVolume = { type, target: checkTarget(String(o.target), `${where}.target`) };
  if (o.source !== undefined && o.source !== '') {
    if (type === 'tmpfs') throw bad(`${where}.source`, 'a tmpfs mount has no source');
    v.source = type === 'bind' ? hostPath(String(o.source), ctx) : String(o.source);
  } else if (type === 'bind') throw bad(where, 'a bind mount needs a source');
  if (o.read_only !== undefined && bool(o.read_only, `${where}.read_only`)) v.read_only = true;
  const b = o.bind as Obj | undefined;
  if (b && type !== 'bind') throw bad(`${where}.bind`, `only for type bind, this mount is ${type}`);
  if (type === 'bind') v.bind = { create_host_path: b?.create_host_path === undefined ? true : bool(b.create_host_path, `${where}.bind.create_host_path`), ...(b?.propagation ? { propagation: String(b.propagation) } : {}) };
  const vol = o.volume as Obj | undefined;
  if (vol && type !== 'volume') throw bad(`${where}.volume`, `only for type volume, this mount is ${type}`);
  if (type === 'volume') v.volume = vol?.nocopy !== undefined && bool(vol.nocopy, `${where}.volume.nocopy`) ? { nocopy: true } : {};
  const t = o.tmpfs as Obj | undefined;
  if (t && type !== 'tmpfs') throw bad(`${where}.tmpfs`, `only for type tmpfs, this mount is ${type}`);
  if (t) {
    v.tmpfs = {};
    if (t.size !== undefined) v.tmpfs.size = typeof t.size === 'number' ? t.size : bytes(String(t.size), `${where}.tmpfs.size`);
    if (t.mode !== undefined) v.tmpfs.mode = typeof t.mode === 'number' ? t.mode : parseInt(String(t.mode), 8);
  }
  return v;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
function bytes(s: string, where: string): number {
  const m = /^(\d+)([bkmg]?)b?$/i.exec(s.trim());
  if (!m) throw bad(where, `"${s}" is not a size such as 64m`);
  return Number(m[1]) * UNITS[m[2].toLowerCase()];
}

// ---- one service -------------------------------------------------------------------------------

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

function service(name: string, raw: Obj, ctx: NormalizeContext): Service {
  const w = `services.${name}`;
  const s: Service = {};
  const str = (k: string) => (raw[k] === undefined ? undefined : String(raw[k]));
  if (raw.image !== undefined) s.image = String(raw.image);
  if (raw.build !== undefined) {
    const b: Obj = typeof raw.build === 'string' ? { context: raw.build } : (raw.build as Obj);
    const out: BuildConfig = { context: hostPath(String(b.context ?? '.'), ctx) };
    if (b.dockerfile !== undefined) out.dockerfile = String(b.dockerfile);
    if (b.dockerfile_inline !== undefined) out.dockerfile_inline = String(b.dockerfile_inline);
    if (out.dockerfile && out.dockerfile_inline) throw bad(`${w}.build`, 'dockerfile and dockerfile_inline cannot both be given');
    if (b.args !== undefined) out.args = scalarMap(b.args, 'args');
    if (b.target !== undefined) out.target = String(b.target);
    if (b.labels !== undefined) out.labels = scalarMap(b.labels, 'labels') as Record<string, string>;
    if (b.no_cache !== undefined) out.no_cache = bool(b.no_cache, `${w}.build.no_cache`);
    if (b.network !== undefined) out.network = String(b.network);
    s.build = out;
  }
  if (!s.image && !s.build) throw bad(w, 'has neither an image nor a build context specified: at least one must be given');
  if (raw.command !== undefined) s.command = command(raw.command, `${w}.command`);
  if (raw.entrypoint !== undefined) s.entrypoint = command(raw.entrypoint, `${w}.entrypoint`);

  // env_file first, environment over it; a bare KEY takes its value from the environment.
  const env: Record<string, string | null> = {};
  if (raw.env_file !== undefined) {
    const files = Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
    files.forEach((f, i) => {
      const entry = typeof f === 'string' ? { path: f, required: true } : (f as Obj);
      const path = hostPath(String(entry.path), ctx);
      const required = entry.required === undefined ? true : bool(entry.required, `${w}.env_file[${i}].required`);
      Object.assign(env, readEnvFileOf(path, required, `${w}.env_file[${i}]`));
    });
  }
  if (raw.environment !== undefined) Object.assign(env, scalarMap(raw.environment, 'environment'));
  for (const [k, v] of Object.entries(env)) if (v === null && ctx.env[k] !== undefined) env[k] = ctx.env[k];
  if (Object.keys(env).length) s.environment = env;

  if (raw.ports !== undefined) s.ports = ports(raw.ports as unknown[], `${w}.ports`);
  if (raw.expose !== undefined) {
    s.expose = (raw.expose as unknown[]).map((e, i) => {
      const t = String(e);
      if (!/^\d+(-\d+)?(\/(tcp|udp))?$/.test(t)) throw bad(`${w}.expose[${i}]`, `"${t}" is not a port[/protocol]`);
      return t;
    });
  }
  if (raw.volumes !== undefined) {
    const seen = new Set<string>();
    s.volumes = (raw.volumes as unknown[]).map((v, i) => {
      const vw = `${w}.volumes[${i}]`;
      const out = typeof v === 'string' ? shortVolume(v, vw, ctx) : longVolume(v as Obj, vw, ctx);
      if (seen.has(out.target)) throw bad(vw, `duplicate mount target ${out.target}`);
      seen.add(out.target);
      return out;
    });
  }
  if (raw.tmpfs !== undefined) s.tmpfs = Array.isArray(raw.tmpfs) ? raw.tmpfs.map(String) : [String(raw.tmpfs)];

  if (raw.network_mode !== undefined) {
    s.network_mode = String(raw.network_mode);
    if (raw.networks !== undefined) throw bad(w, "network_mode and networks cannot be combined");
    if (!/^(none|host|bridge|service:.+|container:.+)$/.test(s.network_mode)) throw bad(`${w}.network_mode`, `"${s.network_mode}" is not none, host, bridge, service:NAME or container:NAME`);
  } else {
    const nets: Record<string, ServiceNetwork | null> = {};
    const given = raw.networks === undefined ? { default: null } : Array.isArray(raw.networks) ? Object.fromEntries(raw.networks.map((n) => [String(n), null])) : (raw.networks as Obj);
    for (const [n, cfg] of Object.entries(given)) {
      if (!isObj(cfg)) {
        nets[n] = null;
        continue;
      }
      const sn: ServiceNetwork = {};
      if (cfg.aliases !== undefined) sn.aliases = (cfg.aliases as unknown[]).map(String);
      if (cfg.ipv4_address !== undefined) sn.ipv4_address = String(cfg.ipv4_address);
      nets[n] = Object.keys(sn).length ? sn : null;
    }
    s.networks = nets;
  }

  if (raw.depends_on !== undefined) {
    const deps: Record<string, DependsOn> = {};
    const given = Array.isArray(raw.depends_on) ? Object.fromEntries(raw.depends_on.map((n) => [String(n), {}])) : (raw.depends_on as Obj);
    for (const [d, cfg] of Object.entries(given)) {
      const c = (cfg ?? {}) as Obj;
      deps[d] = {
        condition: (c.condition as DependsOn['condition']) ?? 'service_started',
        required: c.required === undefined ? true : bool(c.required, `${w}.depends_on.${d}.required`),
        restart: c.restart === undefined ? false : bool(c.restart, `${w}.depends_on.${d}.restart`),
      };
    }
    s.depends_on = deps;
  }
  if (raw.healthcheck !== undefined) {
    const h = raw.healthcheck as Obj;
    const out: Healthcheck = {};
    if (h.disable !== undefined && bool(h.disable, `${w}.healthcheck.disable`)) out.disable = true;
    if (h.test !== undefined) out.test = Array.isArray(h.test) ? h.test.map(String) : ['CMD-SHELL', String(h.test)];
    if (out.test && !['CMD', 'CMD-SHELL', 'NONE'].includes(out.test[0])) throw bad(`${w}.healthcheck.test`, `a list test starts with CMD, CMD-SHELL or NONE, not "${out.test[0]}"`);
    for (const k of ['interval', 'timeout', 'start_period'] as const) if (h[k] !== undefined) out[k] = String(h[k]);
    if (h.retries !== undefined) out.retries = num(h.retries, `${w}.healthcheck.retries`, true);
    s.healthcheck = out;
  }
  if (raw.restart !== undefined) {
    s.restart = String(raw.restart);
    if (!RESTART.test(s.restart)) throw bad(`${w}.restart`, `"${s.restart}" is not no, always, unless-stopped or on-failure[:N]`);
  }
  if (raw.deploy !== undefined && raw.deploy !== null) {
    const d = raw.deploy as Obj;
    s.deploy = {};
    if (d.replicas !== undefined) s.deploy.replicas = num(d.replicas, `${w}.deploy.replicas`, true);
    const lim = (d.resources as Obj | undefined)?.limits as Obj | undefined;
    if (lim) {
      s.deploy.resources = { limits: {} };
      const l = s.deploy.resources.limits!;
      if (lim.cpus !== undefined) l.cpus = num(lim.cpus, `${w}.deploy.resources.limits.cpus`);
      if (lim.memory !== undefined) l.memory = String(lim.memory);
      if (lim.pids !== undefined) l.pids = num(lim.pids, `${w}.deploy.resources.limits.pids`, true);
    }
    const res = (d.resources as Obj | undefined)?.reservations as Obj | undefined;
    if (res) {
      s.deploy.resources = { ...s.deploy.resources, reservations: {} };
      if (res.memory !== undefined) s.deploy.resources.reservations!.memory = String(res.memory);
    }
  }
  if (raw.scale !== undefined) s.scale = num(raw.scale, `${w}.scale`, true);
  for (const k of ['mem_limit', 'memswap_limit'] as const) if (raw[k] !== undefined) s[k] = String(raw[k]);
  if (raw.cpus !== undefined) s.cpus = num(raw.cpus, `${w}.cpus`);
  if (raw.cpu_shares !== undefined) s.cpu_shares = num(raw.cpu_shares, `${w}.cpu_shares`, true);
  if (raw.pids_limit !== undefined) s.pids_limit = num(raw.pids_limit, `${w}.pids_limit`, true);
  for (const k of ['cpuset', 'user', 'working_dir', 'hostname', 'domainname', 'container_name', 'stop_signal', 'stop_grace_period'] as const) {
    const v = str(k);
    if (v !== undefined) s[k] = v;
  }
  if (raw.labels !== undefined) s.labels = Object.fromEntries(Object.entries(scalarMap(raw.labels, 'labels')).map(([k, v]) => [k, v ?? '']));
  if (raw.extra_hosts !== undefined) {
    s.extra_hosts = Object.entries(listToMap(raw.extra_hosts, 'extra_hosts')).map(([h, ip], i) => {
      if (ip === null) throw bad(`${w}.extra_hosts[${i}]`, `"${h}" is not HOST:IP`);
      return `${h}:${String(ip)}`;
    });
  }
  for (const k of ['dns', 'dns_search'] as const) if (raw[k] !== undefined) s[k] = Array.isArray(raw[k]) ? (raw[k] as unknown[]).map(String) : [String(raw[k])];
  if (raw.dns_opt !== undefined) s.dns_opt = (raw.dns_opt as unknown[]).map(String);
  for (const k of ['cap_add', 'cap_drop', 'devices', 'security_opt', 'profiles'] as const) if (raw[k] !== undefined) s[k] = (raw[k] as unknown[]).map(String);
  for (const k of ['privileged', 'read_only', 'init', 'stdin_open', 'tty'] as const) if (raw[k] !== undefined) s[k] = bool(raw[k], `${w}.${k}`);
  if (raw.ulimits !== undefined) {
    s.ulimits = {};
    for (const [k, v] of Object.entries(raw.ulimits as Obj)) {
      s.ulimits[k] = isObj(v) ? { soft: num(v.soft, `${w}.ulimits.${k}.soft`, true), hard: num(v.hard, `${w}.ulimits.${k}.hard`, true) } : num(v, `${w}.ulimits.${k}`, true);
    }
  }
  if (raw.logging !== undefined) {
    const l = raw.logging as Obj;
    s.logging = { ...(l.driver ? { driver: String(l.driver) } : {}), ...(l.options ? { options: Object.fromEntries(Object.entries(l.options as Obj).map(([k, v]) => [k, String(v)])) } : {}) };
  }
  if (raw.pull_policy !== undefined) s.pull_policy = raw.pull_policy === 'if_not_present' ? 'missing' : (raw.pull_policy as Service['pull_policy']);
  for (const k of ['secrets', 'configs'] as const) {
    if (raw[k] === undefined) continue;
    s[k] = (raw[k] as unknown[]).map((r): FileReference => {
      const o = typeof r === 'string' ? { source: r } : (r as Obj);
      if (o.uid !== undefined || o.gid !== undefined || o.mode !== undefined) throw new ComposeError('EUNSUPPORTED', `${w}.${k}: uid, gid and mode are not supported by dock (the file is mounted read-only as it is)`);
      const source = String(o.source);
      const target = o.target === undefined ? (k === 'secrets' ? `/run/secrets/${source}` : `/${source}`) : String(o.target);
      return { source, target: k === 'secrets' && !target.startsWith('/') ? `/run/secrets/${target}` : target };
    });
  }
  namespacesAndTuning(raw, s, w);
  return s;
}

const BLKIO_LIMITS: BlkioLimitKey[] = ['device_read_bps', 'device_read_iops', 'device_write_bps', 'device_write_iops'];

/** Kernel tuning and namespace keys (the engine's --sysctl, --shm-size, --ipc, ... flags). */
function namespacesAndTuning(raw: Obj, s: Service, w: string): void {
  if (raw.sysctls !== undefined) s.sysctls = Object.fromEntries(Object.entries(scalarMap(raw.sysctls, 'sysctls')).map(([k, v]) => [k, v ?? '']));
  if (raw.annotations !== undefined) s.annotations = Object.fromEntries(Object.entries(scalarMap(raw.annotations, 'annotations')).map(([k, v]) => [k, v ?? '']));
  if (raw.shm_size !== undefined) {
    s.shm_size = String(raw.shm_size);
    bytes(s.shm_size, `${w}.shm_size`);
  }
  if (raw.mem_reservation !== undefined) s.mem_reservation = String(raw.mem_reservation);
  if (raw.group_add !== undefined) s.group_add = (raw.group_add as unknown[]).map(String);
  for (const k of ['ipc', 'pid', 'mac_address'] as const) if (raw[k] !== undefined && raw[k] !== null) s[k] = String(raw[k]);
  for (const k of ['ipc', 'pid'] as const) {
    const v = s[k];
    if (v?.startsWith('service:') && v.length === 8) throw bad(`${w}.${k}`, '"service:" needs a service name');
  }
  if (raw.uts !== undefined) s.uts = raw.uts as 'host';
  if (raw.userns_mode !== undefined) s.userns_mode = raw.userns_mode as 'host';
  if (raw.cgroup !== undefined) s.cgroup = raw.cgroup as 'host' | 'private';
  if (raw.oom_kill_disable !== undefined) s.oom_kill_disable = bool(raw.oom_kill_disable, `${w}.oom_kill_disable`);
  for (const k of ['oom_score_adj', 'cpu_period', 'cpu_quota'] as const) if (raw[k] !== undefined) s[k] = num(raw[k], `${w}.${k}`, true);
  if (raw.blkio_config !== undefined) {
    const b = raw.blkio_config as Obj;
    const out: NonNullable<Service['blkio_config']> = {};
    if (b.weight !== undefined) out.weight = num(b.weight, `${w}.blkio_config.weight`, true);
    for (const k of BLKIO_LIMITS) {
      if (b[k] === undefined) continue;
      out[k] = (b[k] as Obj[]).map((l, i) => {
        const lw = `${w}.blkio_config.${k}[${i}]`;
        const rate = k.endsWith('_bps') && typeof l.rate === 'string' ? bytes(l.rate, `${lw}.rate`) : num(l.rate, `${lw}.rate`, true);
        return { path: String(l.path), rate };
      });
    }
    s.blkio_config = out;
  }
}

/** An env_file: KEY=VALUE lines (quotes, `export`, comments); a missing optional one is skipped. */
function readEnvFileOf(path: string, required: boolean, where: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ComposeError('ENOFILE', `${where}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  return parseDotenv(text);
}

export function parseDotenv(text: string): Record<string, string> {
  return parseDotenvText(text);
}

// ---- the project -------------------------------------------------------------------------------

export function normalizeProject(tree: Obj, ctx: NormalizeContext): Project {
  const services: Record<string, Service> = {};
  for (const [name, raw] of Object.entries((tree.services ?? {}) as Obj)) services[name] = service(name, (raw ?? {}) as Obj, ctx);

  const networks: Record<string, NetworkConfig> = {};
  for (const [key, raw] of Object.entries((tree.networks ?? {}) as Obj)) {
    const n = (raw ?? {}) as Obj;
    const w = `networks.${key}`;
    const external = n.external === undefined ? false : bool(n.external, `${w}.external`);
    const cfg: NetworkConfig = { name: n.name !== undefined ? String(n.name) : external ? key : `${ctx.projectName}_${key}` };
    if (external) {
      cfg.external = true;
      for (const k of ['driver', 'driver_opts', 'ipam', 'internal', 'labels']) if (n[k] !== undefined) throw bad(`${w}.${k}`, 'an external network takes no other settings');
    } else {
      if (n.driver !== undefined) cfg.driver = 'bridge';
      if (n.driver_opts !== undefined) cfg.driver_opts = Object.fromEntries(Object.entries(n.driver_opts as Obj).map(([k, v]) => [k, String(v)]));
      if (n.ipam !== undefined) {
        const ipam = n.ipam as Obj;
        const config = (ipam.config as Obj[] | undefined) ?? [];
        if (config.length > 1) throw new ComposeError('EUNSUPPORTED', `${w}.ipam.config: dock gives a network one subnet, this one has ${config.length}`);
        cfg.ipam = { ...(ipam.driver ? { driver: String(ipam.driver) } : {}), ...(config.length ? { config: config.map((c) => ({ ...(c.subnet ? { subnet: String(c.subnet) } : {}), ...(c.gateway ? { gateway: String(c.gateway) } : {}) })) } : {}) };
      }
      if (n.internal !== undefined && bool(n.internal, `${w}.internal`)) cfg.internal = true;
      if (n.labels !== undefined) cfg.labels = scalarMap(n.labels, 'labels') as Record<string, string>;
    }
    networks[key] = cfg;
  }
  const usesDefault = Object.values(services).some((s) => s.networks && 'default' in s.networks);
  if (usesDefault && !networks.default) networks.default = { name: `${ctx.projectName}_default` };

  const volumes: Record<string, VolumeConfig> = {};
  for (const [key, raw] of Object.entries((tree.volumes ?? {}) as Obj)) {
    const v = (raw ?? {}) as Obj;
    const w = `volumes.${key}`;
    const external = v.external === undefined ? false : bool(v.external, `${w}.external`);
    const cfg: VolumeConfig = { name: v.name !== undefined ? String(v.name) : external ? key : `${ctx.projectName}_${key}` };
    if (external) {
      cfg.external = true;
      if (v.driver !== undefined || v.labels !== undefined) throw bad(w, 'an external volume takes no other settings');
    } else {
      if (v.driver !== undefined) cfg.driver = 'local';
      if (v.labels !== undefined) cfg.labels = scalarMap(v.labels, 'labels') as Record<string, string>;
    }
    volumes[key] = cfg;
  }

  const files = (kind: 'secrets' | 'configs') => {
    const out: Record<string, FileObjectConfig> = {};
    for (const [key, raw] of Object.entries((tree[kind] ?? {}) as Obj)) {
      const o = (raw ?? {}) as Obj;
      const w = `${kind}.${key}`;
      const sources = ['file', 'environment', 'content'].filter((k) => o[k] !== undefined);
      if (sources.length !== 1) throw bad(w, `give exactly one of file, environment${kind === 'configs' ? ' or content' : ''}`);
      const cfg: FileObjectConfig = { name: o.name !== undefined ? String(o.name) : `${ctx.projectName}_${key}` };
      if (o.file !== undefined) cfg.file = hostPath(String(o.file), ctx);
      if (o.environment !== undefined) {
        cfg.environment = String(o.environment);
        if (ctx.env[cfg.environment] === undefined) throw bad(`${w}.environment`, `the variable ${cfg.environment} is not set`);
      }
      if (o.content !== undefined) cfg.content = String(o.content);
      out[key] = cfg;
    }
    return out;
  };
  const project: Project = { name: ctx.projectName, services, networks, volumes, secrets: files('secrets'), configs: files('configs') };
  checkReferences(project);
  return project;
}

/** Every name a service uses must be declared: volumes, networks, secrets, configs, services. */
function checkReferences(p: Project): void {
  for (const [name, s] of Object.entries(p.services)) {
    const w = `services.${name}`;
    for (const [i, v] of (s.volumes ?? []).entries()) {
      if (v.type === 'volume' && v.source && !p.volumes[v.source]) throw new ComposeError('EMODEL', `${w}.volumes[${i}]: service "${name}" refers to undefined volume ${v.source}: declare it under the top-level volumes`);
    }
    for (const n of Object.keys(s.networks ?? {})) {
      if (!p.networks[n]) throw new ComposeError('EMODEL', `${w}.networks: service "${name}" refers to undefined network ${n}`);
    }
    for (const k of ['secrets', 'configs'] as const) {
      for (const r of s[k] ?? []) if (!p[k][r.source]) throw new ComposeError('EMODEL', `${w}.${k}: service "${name}" refers to undefined ${k.slice(0, -1)} ${r.source}`);
    }
    const mode = s.network_mode;
    if (mode?.startsWith('service:') && !p.services[mode.slice(8)]) throw new ComposeError('EMODEL', `${w}.network_mode: service "${name}" refers to undefined service ${mode.slice(8)}`);
    const replicas = s.deploy?.replicas ?? s.scale;
    if (s.container_name && replicas !== undefined && replicas > 1) throw new ComposeError('EMODEL', `${w}: container_name "${s.container_name}" cannot be used with ${replicas} replicas (names are unique)`);
  }
}
