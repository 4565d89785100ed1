// Merging compose files given with -f (the Compose Specification's merge rules): mappings merge
// key by key, scalars are replaced, sequences are appended; command, entrypoint and
// healthcheck.test are replaced; environment, labels, extra_hosts, sysctls, depends_on and
// networks merge as mappings whatever syntax each file uses; ports and the other lists drop
// duplicates; volumes, secrets and configs merge by their target. !reset removes a value,
// !override replaces it whole.

import { OVERRIDE, RESET } from './yaml';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const isReset = (v: unknown) => isObj(v) && v[RESET] === true;
const isOverride = (v: unknown) => isObj(v) && OVERRIDE in v;

/** Lists that become mappings KEY -> VALUE ("KEY=VALUE" or, for extra_hosts, "HOST:IP" too). */
const MAP_LISTS = new Set(['environment', 'labels', 'extra_hosts', 'sysctls', 'annotations']);
/** Lists of names that become mappings NAME -> null. */
const NAME_LISTS = new Set(['depends_on', 'networks']);
/** Replaced, never appended. */
const REPLACED = new Set(['command', 'entrypoint']);
/** A string here is a list of one. */
const STRING_OR_LIST = new Set(['dns', 'tmpfs', 'env_file', 'dns_search']);
/** Merged by target path. */
const BY_TARGET = new Set(['volumes', 'secrets', 'configs']);

/** A KEY=VALUE (or KEY:VALUE for extra_hosts) list as a mapping; a mapping as it is. */
export function listToMap(v: unknown, key: string): Obj {
  if (!Array.isArray(v)) return isObj(v) ? v : {};
  const out: Obj = {};
  for (const item of v) {
    const s = String(item);
    let i = s.indexOf('=');
    if (key === 'extra_hosts' && i < 0) i = s.indexOf(':');
    if (i < 0) out[s] = null;
    else out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

function namesToMap(v: unknown): Obj {
  if (!Array.isArray(v)) return isObj(v) ? v : {};
  return Object.fromEntries(v.map((n) => [String(n), null]));
}

/** The target path of a short or long volume/secret/config entry, its identity when merging. */
function targetOf(v: unknown, key: string): string {
  if (isObj(v)) return String(v.target ?? (key === 'volumes' ? '' : `/run/secrets/${String(v.source)}`));
  const s = String(v);
  if (key !== 'volumes') return s;
  const parts = s.split(':');
  return parts.length === 1 ? parts[0] : parts[1];
}

function mergeService(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (isReset(v)) {
      delete out[k];
    } else if (isOverride(v) || b === undefined || b === null) {
      out[k] = v;
    } else if (REPLACED.has(k)) {
      out[k] = v;
    } else if (MAP_LISTS.has(k)) {
      out[k] = mergeMaps(listToMap(b, k), listToMap(v, k));
    } else if (NAME_LISTS.has(k)) {
      out[k] = mergeMaps(namesToMap(b), namesToMap(v));
    } else if (BY_TARGET.has(k) && Array.isArray(b) && Array.isArray(v)) {
      const byTarget = new Map<string, unknown>();
      for (const x of [...b, ...v]) byTarget.set(targetOf(x, k), x);
      out[k] = [...byTarget.values()];
    } else if (STRING_OR_LIST.has(k)) {
      const asList = (x: unknown) => (Array.isArray(x) ? x : [x]);
      out[k] = mergeGeneric(asList(b), asList(v));
    } else if (k === 'healthcheck' && isObj(b) && isObj(v)) {
      out[k] = { ...b, ...v };
    } else if (k === 'build' && (typeof b === 'string' || typeof v === 'string')) {
      const asObj = (x: unknown) => (typeof x === 'string' ? { context: x } : (x as Obj));
      out[k] = mergeGeneric(asObj(b), asObj(v));
    } else {
      out[k] = mergeGeneric(b, v);
    }
  }
  return out;
}

function mergeMaps(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (isReset(v)) delete out[k];
    else out[k] = isOverride(v) || !isObj(out[k]) || !isObj(v) ? v : mergeGeneric(out[k], v);
  }
  return out;
}

/** Mappings key by key, sequences appended without duplicates, anything else replaced. */
function mergeGeneric(a: unknown, b: unknown): unknown {
  if (isReset(b)) return undefined;
  if (isOverride(b)) return b;
  if (isObj(a) && isObj(b)) return mergeMaps(a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    const seen = new Set(a.map((x) => JSON.stringify(x)));
    return [...a, ...b.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  return b;
}

/** Merges the override file `over` into `base` (both parsed, interpolated and validated). */
export function mergeFiles(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (isReset(v)) {
      delete out[k];
    } else if (k === 'services' && isObj(out.services) && isObj(v)) {
      const services: Obj = { ...out.services };
      for (const [name, svc] of Object.entries(v)) {
        if (isReset(svc)) delete services[name];
        else services[name] = isObj(services[name]) && isObj(svc) && !isOverride(svc) ? mergeService(services[name] as Obj, svc) : svc;
      }
      out.services = services;
    } else {
      out[k] = out[k] === undefined ? v : mergeGeneric(out[k], v);
    }
  }
  return out;
}

/** Unwraps !override values and drops !reset ones left in a single file or after merging. */
export function stripMarkers(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !isReset(x)).map(stripMarkers);
  if (!isObj(v)) return v;
  if (isOverride(v)) return stripMarkers(v[OVERRIDE]);
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (!isReset(x)) out[k] = stripMarkers(x);
  return out;
}
