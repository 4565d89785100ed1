// Validation of what skiff reads: config.json (create/run), a process.json (exec --process) and a
// linux.resources document (update --resources). Two passes:
//
// 1. The JSON Schema (schemas/, compiled to standalone code at build time: nothing is compiled
//    here) checks shapes and types.
// 2. Semantic checks the schema cannot express, the ones runc and the spec make: supported
//    ociVersion, process.args and root.path present, absolute paths, namespaces not duplicated,
//    settings that need a namespace the config does not have, and so on. They only read the
//    document: checks that need the host (does this netns path exist, is SELinux on) belong to the
//    runtime.
//
// Every failure is one SkiffError (domain "config") with one line that names the JSON path (a JSON
// Pointer) and why, e.g. `invalid config.json: /process/args: must be a non-empty array`. Users,
// podman and containerd show that line as is, so each message says what is wrong in the user's
// terms and, where it helps, what was found.
import { readFileSync } from 'node:fs';
import { configError, osReason } from '../runtime/errors';
import { containsBigInt, JsonSyntaxError, parseJson } from './json';
import { MOUNT_OPTIONS } from './mount-options';
import { isRlimitType } from './rlimits';
import { OCI_VERSION } from './version';
import type {
  Hook,
  LinuxIDMapping,
  LinuxNamespaceType,
  LinuxResources,
  LinuxSeccomp,
  Process,
  Spec,
} from './types';
import {
  validateConfigSchema,
  validateProcessSchema,
  validateResourcesSchema,
  type SchemaError,
  type SchemaValidator,
} from './generated/validators';

export interface ValidateOptions {
  /** How the document is named in messages ("config.json", "process.json", "resources"). */
  name?: string;
}

export interface ValidateConfigOptions extends ValidateOptions {
  /** The config must have a process (create and run need one; the spec makes it optional). */
  requireProcess?: boolean;
}


/* ------------------------------------------------------------------------------------------ */
/* Public API                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** Check a parsed config.json (schema, then semantics) and return it typed. */
export function validateConfig(doc: unknown, opts: ValidateConfigOptions = {}): Spec {
  const name = opts.name ?? 'config.json';
  schemaCheck(validateConfigSchema, doc, name);
  const spec = doc as Spec;
  new ConfigChecker(name).config(spec, opts.requireProcess ?? false);
  return spec;
}

/** Check a parsed process document (the `process` object of config.json alone, for exec). */
export function validateProcess(doc: unknown, opts: ValidateOptions = {}): Process {
  const name = opts.name ?? 'process.json';
  schemaCheck(validateProcessSchema, doc, name);
  const process = doc as Process;
  new ConfigChecker(name).process(process, '');
  return process;
}

/** Check a parsed linux.resources document (for update). */
export function validateResources(doc: unknown, opts: ValidateOptions = {}): LinuxResources {
  const name = opts.name ?? 'resources';
  schemaCheck(validateResourcesSchema, doc, name);
  const resources = doc as LinuxResources;
  new ConfigChecker(name).resources(resources, '');
  return resources;
}

/** Parse JSON text; a syntax error becomes `invalid <name>: unexpected token ... at line L column C`. */
export function parseJsonText(text: string, name: string): unknown {
  try {
    return parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw configError('EJSON', `invalid ${name}: ${err.message}`, err);
    throw err;
  }
}

/** Read, parse and validate a bundle's config.json. */
export function parseConfigFile(path: string, opts: Omit<ValidateConfigOptions, 'name'> = {}): Spec {
  return validateConfig(parseJsonText(readDocument(path), 'config.json'), { ...opts, name: 'config.json' });
}

/** Read, parse and validate a process.json (`skiff exec --process`). */
export function parseProcessFile(path: string): Process {
  return validateProcess(parseJsonText(readDocument(path), 'process.json'));
}

/** Read, parse and validate a resources document (`skiff update --resources <file>`). */
export function parseResourcesFile(path: string): LinuxResources {
  return validateResources(parseJsonText(readDocument(path), 'resources'));
}

function readDocument(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw configError('EREAD', `read ${path}: is a directory`, err);
    throw configError(code === 'ENOENT' ? 'ENOENT' : 'EREAD', `open ${path}: ${osReason(err)}`, err);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Schema pass                                                                                  */
/* ------------------------------------------------------------------------------------------ */

function schemaCheck(validator: SchemaValidator, doc: unknown, name: string): void {
  if (validator(doc)) return;
  let errors = validator.errors;
  // The generated code knows only JS numbers: a bigint (an integer beyond 2^53, see json.ts) is
  // "not an integer" to it. Check again with each bigint replaced by a number that falls on the
  // same side of the schema's 64-bit bounds; the message still shows the exact value.
  if (containsBigInt(doc)) {
    if (validator(withBigIntsAsNumbers(doc))) return;
    errors = validator.errors;
  }
  const error = errors?.[0];
  throw configError('ESCHEMA', `invalid ${name}: ${error ? describeSchemaError(error, doc) : 'does not match its schema'}`);
}

const TWO_63 = 2n ** 63n;
const TWO_64 = 2n ** 64n;
// Doubles that compare as the schema needs: just above 2^63 (fails int64's maximum, which as a
// double is 2^63), and far outside every bound.
const ABOVE_INT64 = 2 ** 63 + 2048;
const OUT_OF_RANGE = 1e300;

function bigIntAsNumber(v: bigint): number {
  if (v >= TWO_64) return OUT_OF_RANGE;
  if (v < -TWO_63) return -OUT_OF_RANGE;
  if (v >= TWO_63) return Math.max(Number(v), ABOVE_INT64);
  return Number(v);
}

function withBigIntsAsNumbers(value: unknown): unknown {
  if (typeof value === 'bigint') return bigIntAsNumber(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(withBigIntsAsNumbers);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withBigIntsAsNumbers(v);
  return out;
}

/** Friendly words for the patterns of the schemas. */
const PATTERN_WORDS: Record<string, string> = {
  '^RLIMIT_[A-Z]+$': 'must be an RLIMIT_* name',
  '^[1-9][0-9]*[KMG]B$': 'must be a page size like "2MB" (a number, then KB, MB or GB)',
  '^[cbup]$': 'must be "c", "b", "u" or "p"',
  '^MB:[^\\n]*$': 'must be one line starting with "MB:"',
  '^[0-9, -]*$': 'must be a CPU list like "0-3,7"',
};

function describeSchemaError(error: SchemaError, doc: unknown): string {
  const p = error.params;
  switch (error.keyword) {
    case 'required':
      return `${error.instancePath}/${escapePointer(String(p.missingProperty))}: is required`;
    case 'type': {
      const type = String(p.type);
      const article = /^[aeiou]/.test(type) ? 'an' : 'a';
      return `${error.instancePath || '/'}: must be ${article} ${type}, got ${show(dataAt(doc, error.instancePath))}`;
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[] | undefined) ?? [];
      return `${error.instancePath}: must be one of ${allowed.join(', ')}, got ${show(dataAt(doc, error.instancePath))}`;
    }
    case 'minimum':
    case 'maximum': {
      const limit = Number(p.limit);
      const data = dataAt(doc, error.instancePath);
      if (error.keyword === 'minimum' && limit === 0) return `${error.instancePath}: must not be negative, got ${show(data)}`;
      const words: Record<string, string> = { '>=': 'at least', '>': 'greater than', '<=': 'at most', '<': 'less than' };
      return `${error.instancePath}: must be ${words[String(p.comparison)] ?? String(p.comparison)} ${showLimit(limit)}, got ${show(data)}`;
    }
    case 'pattern': {
      const pattern = String(p.pattern);
      const words = PATTERN_WORDS[pattern] ?? `must match ${pattern}`;
      return `${error.instancePath}: ${words}, got ${show(dataAt(doc, error.instancePath))}`;
    }
    case 'minItems':
      return `${error.instancePath}: must not be empty`;
    default:
      return `${error.instancePath || '/'}: does not match the schema (${error.keyword})`;
  }
}

/** The schema's 64-bit bounds are doubles (2^63, 2^64); print them as the integers they stand for. */
function showLimit(limit: number): string {
  if (limit === 2 ** 64) return '18446744073709551615';
  if (limit === 2 ** 63) return '9223372036854775807';
  if (limit === -(2 ** 63)) return '-9223372036854775808';
  return String(limit);
}

function dataAt(doc: unknown, pointer: string): unknown {
  let cur = doc;
  if (pointer === '') return cur;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** A value as messages show it: strings quoted (and cut when long), containers by kind. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/* ------------------------------------------------------------------------------------------ */
/* Semantic pass                                                                                */
/* ------------------------------------------------------------------------------------------ */

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** sysctls the kernel namespaces with IPC (runc's list), besides fs.mqueue.*. */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

const TIME_CLOCKS = new Set(['monotonic', 'boottime']);

const ERRNO_ACTIONS = new Set(['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE']);

/** A CPU or memory-node list: "0-3,7", or empty. */
const CPU_LIST = /^\s*(?:\d+(?:-\d+)?(?:\s*,\s*\d+(?:-\d+)?)*)?\s*$/;

const isAbsolute = (p: string): boolean => p.startsWith('/');
const big = (v: number | bigint): bigint => BigInt(v);

class ConfigChecker {
  constructor(private readonly name: string) {}

  private fail(pointer: string, why: string): never {
    throw configError('EINVAL', `invalid ${this.name}: ${pointer || '/'}: ${why}`);
  }

  private absolute(pointer: string, path: string | undefined): void {
    if (path === undefined) return;
    if (!isAbsolute(path)) this.fail(pointer, `must be an absolute path, got ${show(path)}`);
  }

  private noNul(pointer: string, s: string | undefined): void {
    if (s !== undefined && s.includes('\0')) this.fail(pointer, 'must not contain a NUL byte');
  }

  config(spec: Spec, requireProcess: boolean): void {
    this.version(spec.ociVersion);
    if (!spec.root) this.fail('/root', 'is required');
    if (spec.root.path === '') this.fail('/root/path', 'must not be empty');
    this.noNul('/root/path', spec.root.path);
    if (spec.process) this.process(spec.process, '/process');
    else if (requireProcess) this.fail('/process', 'is required to create a container');

    const namespaces = this.namespaces(spec);
    const has = (t: LinuxNamespaceType) => namespaces.has(t);

    if (spec.hostname && !has('uts')) this.fail('/hostname', 'cannot be set without a "uts" namespace');
    if (spec.domainname && !has('uts')) this.fail('/domainname', 'cannot be set without a "uts" namespace');
    this.mounts(spec, has('user'));
    this.hooks(spec);
    if (spec.linux) this.linux(spec, namespaces);
  }

  private version(v: string): void {
    const m = SEMVER.exec(v);
    if (!m) this.fail('/ociVersion', `must be a SemVer version like "${OCI_VERSION}", got ${show(v)}`);
    if (m[1] !== '1') this.fail('/ociVersion', `unsupported version ${show(v)}: skiff runs configs of version 1.x (up to ${OCI_VERSION})`);
  }

  /** Namespace type -> its entry (path or not). Checks duplicates and paths. */
  private namespaces(spec: Spec): Map<LinuxNamespaceType, { path?: string; index: number }> {
    const seen = new Map<LinuxNamespaceType, { path?: string; index: number }>();
    (spec.linux?.namespaces ?? []).forEach((ns, i) => {
      const at = `/linux/namespaces/${i}`;
      const first = seen.get(ns.type);
      if (first) this.fail(`${at}/type`, `duplicate namespace ${show(ns.type)}, already at /linux/namespaces/${first.index}`);
      // An empty path means a new namespace, as with runc (Go's omitempty writes no path at all).
      const path = ns.path || undefined;
      if (path !== undefined) {
        this.absolute(`${at}/path`, path);
        this.noNul(`${at}/path`, path);
      }
      seen.set(ns.type, { path, index: i });
    });
    return seen;
  }

  process(p: Process, at: string): void {
    if (!Array.isArray(p.args) || p.args.length === 0) this.fail(`${at}/args`, 'must be a non-empty array');
    if (p.args[0] === '') this.fail(`${at}/args/0`, 'must name the program to run');
    p.args.forEach((arg, i) => this.noNul(`${at}/args/${i}`, arg));
    if (!isAbsolute(p.cwd)) this.fail(`${at}/cwd`, `must be an absolute path, got ${show(p.cwd)}`);
    this.noNul(`${at}/cwd`, p.cwd);
    (p.env ?? []).forEach((kv, i) => {
      const eq = kv.indexOf('=');
      if (eq === 0 || kv === '') this.fail(`${at}/env/${i}`, `variable name must not be empty, got ${show(kv)}`);
      this.noNul(`${at}/env/${i}`, kv);
    });
    // Unknown capability names are not refused: runc ignores them with a warning (a config made
    // for a newer kernel or runtime still runs), and so does skiff (unknownCapabilities).
    const rlimits = new Map<string, number>();
    (p.rlimits ?? []).forEach((r, i) => {
      if (!isRlimitType(r.type)) this.fail(`${at}/rlimits/${i}/type`, `unknown rlimit ${show(r.type)}`);
      const first = rlimits.get(r.type);
      if (first !== undefined) this.fail(`${at}/rlimits/${i}/type`, `duplicate rlimit ${show(r.type)}, already at ${at}/rlimits/${first}`);
      rlimits.set(r.type, i);
      if (big(r.soft) > big(r.hard)) this.fail(`${at}/rlimits/${i}`, `soft limit ${r.soft} is greater than hard limit ${r.hard}`);
    });
    if (p.oomScoreAdj !== undefined && (p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000)) {
      this.fail(`${at}/oomScoreAdj`, `must be between -1000 and 1000, got ${p.oomScoreAdj}`);
    }
    if (p.ioPriority?.priority !== undefined && (p.ioPriority.priority < 0 || p.ioPriority.priority > 7)) {
      this.fail(`${at}/ioPriority/priority`, `must be between 0 and 7, got ${p.ioPriority.priority}`);
    }
    const s = p.scheduler;
    if (s) {
      const sat = `${at}/scheduler`;
      if (s.nice !== undefined && (s.nice < -20 || s.nice > 19)) this.fail(`${sat}/nice`, `must be between -20 and 19, got ${s.nice}`);
      const realtime = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
      if (realtime) {
        const prio = s.priority ?? 0;
        if (prio < 1 || prio > 99) this.fail(`${sat}/priority`, `must be between 1 and 99 for ${s.policy}, got ${prio}`);
      } else if (s.priority) {
        this.fail(`${sat}/priority`, `can only be set for SCHED_FIFO and SCHED_RR, not ${s.policy}`);
      }
      if (s.policy === 'SCHED_DEADLINE') {
        const runtime = big(s.runtime ?? 0);
        const deadline = big(s.deadline ?? 0);
        const period = big(s.period ?? 0);
        if (runtime === 0n) this.fail(`${sat}/runtime`, 'is required for SCHED_DEADLINE');
        if (deadline !== 0n && runtime > deadline) this.fail(`${sat}/runtime`, `must not exceed deadline (${deadline})`);
        if (period !== 0n && (deadline === 0n ? runtime : deadline) > period) this.fail(`${sat}/period`, 'must not be less than deadline and runtime');
      } else {
        for (const f of ['runtime', 'deadline', 'period'] as const) {
          if (s[f] !== undefined && big(s[f]) !== 0n) this.fail(`${sat}/${f}`, `can only be set for SCHED_DEADLINE, not ${s.policy}`);
        }
      }
    }
  }

  private mounts(spec: Spec, userns: boolean): void {
    (spec.mounts ?? []).forEach((m, i) => {
      const at = `/mounts/${i}`;
      if (m.destination === '') this.fail(`${at}/destination`, 'must not be empty');
      this.noNul(`${at}/destination`, m.destination);
      this.noNul(`${at}/source`, m.source);
      this.noNul(`${at}/type`, m.type);
      (m.options ?? []).forEach((o, j) => this.noNul(`${at}/options/${j}`, o));
      const hasUid = m.uidMappings !== undefined;
      const hasGid = m.gidMappings !== undefined;
      if (hasUid !== hasGid) this.fail(hasUid ? `${at}/gidMappings` : `${at}/uidMappings`, 'is required with ' + (hasUid ? 'uidMappings' : 'gidMappings') + ' (an id-mapped mount needs both)');
      if (m.uidMappings) this.idMappings(`${at}/uidMappings`, m.uidMappings);
      if (m.gidMappings) this.idMappings(`${at}/gidMappings`, m.gidMappings);
      const idmapOption = (m.options ?? []).findIndex((o) => MOUNT_OPTIONS[o]?.kind === 'idmap');
      if (idmapOption >= 0 && !hasUid && !userns) {
        this.fail(`${at}/options/${idmapOption}`, `${show(m.options![idmapOption])} needs uidMappings and gidMappings on the mount or a "user" namespace`);
      }
    });
  }

  private hooks(spec: Spec): void {
    if (!spec.hooks) return;
    for (const [kind, hooks] of Object.entries(spec.hooks) as [string, Hook[] | undefined][]) {
      (hooks ?? []).forEach((hook, i) => {
        this.absolute(`/hooks/${kind}/${i}/path`, hook.path);
        this.noNul(`/hooks/${kind}/${i}/path`, hook.path);
        // The schema bounds it below only; keep the typed number a number (json.ts makes huge ones bigints).
        if (typeof hook.timeout === 'bigint') this.fail(`/hooks/${kind}/${i}/timeout`, `is too large, got ${hook.timeout}`);
      });
    }
  }

  private idMappings(at: string, maps: LinuxIDMapping[]): void {
    maps.forEach((m, i) => {
      if (m.size === 0) this.fail(`${at}/${i}/size`, 'must be greater than 0');
      for (const side of ['containerID', 'hostID'] as const) {
        if (m[side] + m.size > 2 ** 32) this.fail(`${at}/${i}`, `${side} + size goes beyond the 32-bit id range`);
        for (let j = 0; j < i; j++) {
          const o = maps[j];
          if (m[side] < o[side] + o.size && o[side] < m[side] + m.size) this.fail(`${at}/${i}`, `${side} range overlaps ${at}/${j}`);
        }
      }
    });
  }

  private linux(spec: Spec, ns: Map<LinuxNamespaceType, { path?: string; index: number }>): void {
    const linux = spec.linux!;
    const has = (t: LinuxNamespaceType) => ns.has(t);

    // user namespace mappings
    const uid = linux.uidMappings ?? [];
    const gid = linux.gidMappings ?? [];
    if (!has('user')) {
      if (uid.length) this.fail('/linux/uidMappings', 'needs a "user" namespace in /linux/namespaces');
      if (gid.length) this.fail('/linux/gidMappings', 'needs a "user" namespace in /linux/namespaces');
    } else if (ns.get('user')!.path === undefined) {
      if (!uid.length) this.fail('/linux/uidMappings', 'is required to create a new user namespace');
      if (!gid.length) this.fail('/linux/gidMappings', 'is required to create a new user namespace');
    }
    this.idMappings('/linux/uidMappings', uid);
    this.idMappings('/linux/gidMappings', gid);

    // paths that only a private mount namespace can hide or protect
    for (const field of ['maskedPaths', 'readonlyPaths'] as const) {
      const paths = linux[field] ?? [];
      if (paths.length && !has('mount')) this.fail(`/linux/${field}`, 'need a "mount" namespace');
      paths.forEach((p, i) => this.absolute(`/linux/${field}/${i}`, p));
    }

    // time namespace
    if (linux.timeOffsets) {
      if (!has('time')) this.fail('/linux/timeOffsets', 'need a "time" namespace in /linux/namespaces');
      if (ns.get('time')!.path !== undefined) {
        this.fail('/linux/timeOffsets', 'can only be set for a new time namespace, not one joined by path');
      }
      for (const [clock, offset] of Object.entries(linux.timeOffsets)) {
        const at = `/linux/timeOffsets/${escapePointer(clock)}`;
        if (!TIME_CLOCKS.has(clock)) this.fail(at, `unknown clock ${show(clock)} (must be "monotonic" or "boottime")`);
        if (offset.nanosecs !== undefined && offset.nanosecs >= 1e9) this.fail(`${at}/nanosecs`, `must be less than 1000000000, got ${offset.nanosecs}`);
      }
    }

    this.sysctl(linux.sysctl, ns);

    // devices
    const devicePaths = new Map<string, number>();
    (linux.devices ?? []).forEach((d, i) => {
      const at = `/linux/devices/${i}`;
      this.absolute(`${at}/path`, d.path);
      this.noNul(`${at}/path`, d.path);
      const first = devicePaths.get(d.path);
      if (first !== undefined) this.fail(`${at}/path`, `duplicate device ${show(d.path)}, already at /linux/devices/${first}`);
      devicePaths.set(d.path, i);
      if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) {
        this.fail(at, `major and minor are required for a device of type ${show(d.type)}`);
      }
    });

    // network devices moved into the container
    for (const [host, dev] of Object.entries(linux.netDevices ?? {})) {
      const at = `/linux/netDevices/${escapePointer(host)}`;
      if (!validInterfaceName(host)) this.fail(at, `invalid network interface name ${show(host)}`);
      if (dev.name !== undefined && !validInterfaceName(dev.name)) this.fail(`${at}/name`, `invalid network interface name ${show(dev.name)}`);
    }

    if (linux.resources) this.resources(linux.resources, '/linux/resources');
    if (linux.seccomp) this.seccomp(linux.seccomp);

    if (linux.intelRdt?.closID !== undefined) {
      const id = linux.intelRdt.closID;
      if (id === '' || id === '.' || id === '..' || id.includes('/')) this.fail('/linux/intelRdt/closID', `invalid resctrl group name ${show(id)}`);
    }
    if (linux.personality && linux.personality.domain === undefined) this.fail('/linux/personality/domain', 'is required');

    const mp = linux.memoryPolicy;
    if (mp) {
      if (mp.mode === undefined) this.fail('/linux/memoryPolicy/mode', 'is required');
      if (mp.nodes !== undefined && !CPU_LIST.test(mp.nodes)) this.fail('/linux/memoryPolicy/nodes', `must be a node list like "0-3,7", got ${show(mp.nodes)}`);
      const nodes = (mp.nodes ?? '').trim() !== '';
      if ((mp.mode === 'MPOL_DEFAULT' || mp.mode === 'MPOL_LOCAL') && nodes) this.fail('/linux/memoryPolicy/nodes', `must be empty for ${mp.mode}`);
      if ((mp.mode === 'MPOL_BIND' || mp.mode === 'MPOL_INTERLEAVE' || mp.mode === 'MPOL_WEIGHTED_INTERLEAVE' || mp.mode === 'MPOL_PREFERRED_MANY') && !nodes) {
        this.fail('/linux/memoryPolicy/nodes', `is required for ${mp.mode}`);
      }
      const flags = mp.flags ?? [];
      if (flags.includes('MPOL_F_STATIC_NODES') && flags.includes('MPOL_F_RELATIVE_NODES')) {
        this.fail('/linux/memoryPolicy/flags', 'MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other');
      }
    }
  }

  /** runc's rules: only sysctls the kernel namespaces, and only with that namespace. */
  private sysctl(sysctl: Record<string, string> | undefined, ns: Map<LinuxNamespaceType, unknown>): void {
    for (const raw of Object.keys(sysctl ?? {})) {
      const at = `/linux/sysctl/${escapePointer(raw)}`;
      const key = sysctlDotted(raw);
      if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
        if (!ns.has('ipc')) this.fail(at, 'cannot be set without an "ipc" namespace (it would change the host)');
        continue;
      }
      if (key.startsWith('net.')) {
        // A joined network namespace may be the host's: the runtime checks that by path.
        if (!ns.has('network')) this.fail(at, 'cannot be set without a "network" namespace (it would change the host)');
        continue;
      }
      if (ns.has('uts') && key === 'kernel.domainname') continue;
      if (ns.has('uts') && key === 'kernel.hostname') this.fail(at, 'conflicts with /hostname: set that instead');
      this.fail(at, 'is not namespaced by the kernel (it would change the host)');
    }
  }

  resources(r: LinuxResources, at: string): void {
    (r.devices ?? []).forEach((d, i) => {
      const dat = `${at}/devices/${i}`;
      if (d.type !== undefined && d.type !== 'a' && d.type !== 'b' && d.type !== 'c') {
        this.fail(`${dat}/type`, `must be "a", "b" or "c", got ${show(d.type)}`);
      }
      // runc reads r, w and m out of the string and ignores other letters ("rwa" is common).
      if (d.access !== undefined && typeof d.access !== 'string') {
        this.fail(`${dat}/access`, `must be a string of "r", "w" and "m", got ${show(d.access)}`);
      }
    });
    const mem = r.memory;
    if (mem) {
      if (mem.swappiness !== undefined && big(mem.swappiness) > 100n) this.fail(`${at}/memory/swappiness`, `must be between 0 and 100, got ${mem.swappiness}`);
      if (mem.limit !== undefined && mem.swap !== undefined && big(mem.limit) > 0n && big(mem.swap) > 0n && big(mem.swap) < big(mem.limit)) {
        this.fail(`${at}/memory/swap`, `memory+swap limit ${mem.swap} must not be less than the memory limit ${mem.limit}`);
      }
    }
    const cpu = r.cpu;
    if (cpu) {
      if (cpu.burst !== undefined && cpu.quota !== undefined && big(cpu.quota) > 0n && big(cpu.burst) > big(cpu.quota)) {
        this.fail(`${at}/cpu/burst`, `must not be larger than quota (${cpu.quota}), got ${cpu.burst}`);
      }
      if (cpu.cpus !== undefined && !CPU_LIST.test(cpu.cpus)) this.fail(`${at}/cpu/cpus`, `must be a CPU list like "0-3,7", got ${show(cpu.cpus)}`);
      if (cpu.mems !== undefined && !CPU_LIST.test(cpu.mems)) this.fail(`${at}/cpu/mems`, `must be a memory node list like "0-1", got ${show(cpu.mems)}`);
    }
    (r.blockIO?.weightDevice ?? []).forEach((d, i) => {
      if (d.weight === undefined && d.leafWeight === undefined) this.fail(`${at}/blockIO/weightDevice/${i}`, 'needs weight or leafWeight');
    });
    for (const [dev, limits] of Object.entries(r.rdma ?? {})) {
      if (limits.hcaHandles === undefined && limits.hcaObjects === undefined) {
        this.fail(`${at}/rdma/${escapePointer(dev)}`, 'needs hcaHandles or hcaObjects');
      }
    }
    for (const file of Object.keys(r.unified ?? {})) {
      if (file === '' || file === '.' || file === '..' || file.includes('/') || file.includes('\0')) {
        this.fail(`${at}/unified/${escapePointer(file)}`, 'must be the name of a file in the cgroup directory, not a path');
      }
    }
  }

  private seccomp(s: LinuxSeccomp): void {
    const at = '/linux/seccomp';
    if (s.defaultAction === 'SCMP_ACT_NOTIFY') this.fail(`${at}/defaultAction`, 'SCMP_ACT_NOTIFY cannot be the default action');
    if (s.defaultErrnoRet !== undefined && !ERRNO_ACTIONS.has(s.defaultAction)) {
      this.fail(`${at}/defaultErrnoRet`, `only applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${s.defaultAction}`);
    }
    if (s.listenerMetadata !== undefined && !s.listenerPath) this.fail(`${at}/listenerMetadata`, 'needs listenerPath');
    (s.syscalls ?? []).forEach((rule, i) => {
      const rat = `${at}/syscalls/${i}`;
      rule.names.forEach((n, j) => {
        if (n === '') this.fail(`${rat}/names/${j}`, 'must not be empty');
      });
      if (rule.errnoRet !== undefined && !ERRNO_ACTIONS.has(rule.action)) {
        this.fail(`${rat}/errnoRet`, `only applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${rule.action}`);
      }
      if (rule.action === 'SCMP_ACT_NOTIFY') {
        if (!s.listenerPath) this.fail(`${rat}/action`, `SCMP_ACT_NOTIFY needs ${at}/listenerPath`);
        // The runtime's own writes after the filter is loaded would wait on the agent forever.
        const w = rule.names.indexOf('write');
        if (w >= 0) this.fail(`${rat}/names/${w}`, 'SCMP_ACT_NOTIFY cannot be used for the write syscall');
      }
      (rule.args ?? []).forEach((arg, j) => {
        if (arg.index > 5) this.fail(`${rat}/args/${j}/index`, `must be between 0 and 5 (a syscall has 6 arguments), got ${arg.index}`);
      });
    });
  }
}

/** "net/ipv4/conf/eth0.100/forwarding" -> "net.ipv4.conf.eth0/100.forwarding" (sysctl.d(5)). */
function sysctlDotted(key: string): string {
  const first = key.search(/[./]/);
  if (first < 0 || key[first] === '.') return key;
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** dev_valid_name() of the kernel: 1 to 15 bytes, not "." or "..", no "/", ":" or whitespace. */
function validInterfaceName(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name) < 16 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}
