// Parsing of -v/--volume, --mount and --tmpfs into mount requests, with Docker's rules: -v with an
// absolute source is a bind (whose missing host directory is created), with a name a named volume,
// with one path an anonymous volume; --mount is explicit and a missing bind source is an error.

import { ContainerError } from '../containers/errors';
import type { MountRequest } from '../containers/types';

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const bad = (msg: string) => new ContainerError('EUSAGE', msg);

export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function checkTarget(t: string, flag: string, spec: string): string {
  if (!t.startsWith('/')) throw bad(`invalid ${flag} "${spec}": the mount destination "${t}" is not an absolute path`);
  if (t === '/') throw bad(`invalid ${flag} "${spec}": the mount destination cannot be "/"`);
  return t.replace(/\/+$/, '') || '/';
}

export function parseVolumeFlag(spec: string): MountRequest {
  const parts = spec.split(':');
  if (parts.length === 1) {
    return { Type: 'volume', Source: '', Target: checkTarget(parts[0], '--volume', spec), ReadOnly: false };
  }
  if (parts.length > 3) throw bad(`invalid --volume "${spec}": want SOURCE:DESTINATION[:OPTIONS]`);
  const [src, dst, opts = ''] = parts;
  const req: MountRequest = { Type: src.startsWith('/') ? 'bind' : 'volume', Source: src, Target: checkTarget(dst, '--volume', spec), ReadOnly: false };
  if (!src) throw bad(`invalid --volume "${spec}": empty source`);
  if (req.Type === 'volume' && !VOLUME_NAME_RE.test(src)) throw bad(`invalid --volume "${spec}": "${src}" is neither an absolute host path nor a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)`);
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro') req.ReadOnly = true;
    else if (o === 'rw') req.ReadOnly = false;
    else if (PROPAGATIONS.includes(o)) {
      if (req.Type !== 'bind') throw bad(`invalid --volume "${spec}": propagation applies to bind mounts only`);
      req.Propagation = o;
    } else if (o === 'nocopy') req.NoCopy = true;
    else if (o === 'z' || o === 'Z' || o === 'consistent' || o === 'cached' || o === 'delegated') continue;
    else throw bad(`invalid --volume "${spec}": unknown option "${o}"`);
  }
  if (req.Type === 'bind') req.CreateSource = true;
  return req;
}

export function parseMountFlag(spec: string): MountRequest {
  const kv = new Map<string, string | undefined>();
  for (const field of spec.split(',')) {
    if (!field) continue;
    const i = field.indexOf('=');
    kv.set(i < 0 ? field : field.slice(0, i).trim(), i < 0 ? undefined : field.slice(i + 1));
  }
  const type = kv.get('type') ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw bad(`invalid --mount "${spec}": type must be bind, volume or tmpfs`);
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  if (!target) throw bad(`invalid --mount "${spec}": target is required`);
  const req: MountRequest = { Type: type, Source: kv.get('source') ?? kv.get('src') ?? '', Target: checkTarget(target, '--mount', spec), ReadOnly: false };
  const truthy = (v: string | undefined, k: string) => {
    if (v === undefined || v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw bad(`invalid --mount "${spec}": ${k} takes true or false`);
  };
  for (const [k, v] of kv) {
    switch (k) {
      case 'type': case 'target': case 'destination': case 'dst': case 'source': case 'src':
        break;
      case 'readonly': case 'ro':
        req.ReadOnly = truthy(v, k);
        break;
      case 'bind-propagation':
        if (type !== 'bind' || !v || !PROPAGATIONS.includes(v)) throw bad(`invalid --mount "${spec}": bind-propagation is one of ${PROPAGATIONS.join(', ')} (bind mounts only)`);
        req.Propagation = v;
        break;
      case 'volume-nocopy':
        if (type !== 'volume') throw bad(`invalid --mount "${spec}": volume-nocopy applies to volumes only`);
        req.NoCopy = truthy(v, k);
        break;
      case 'volume-driver':
        if (v !== 'local') throw bad(`invalid --mount "${spec}": only the local volume driver exists`);
        break;
      case 'tmpfs-size':
        if (type !== 'tmpfs' || !v) throw bad(`invalid --mount "${spec}": tmpfs-size applies to tmpfs mounts only`);
        {
          const m = /^(\d+)([kmg]?)b?$/i.exec(v);
          if (!m) throw bad(`invalid --mount "${spec}": bad tmpfs-size "${v}"`);
          req.TmpfsSize = Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2].toLowerCase()];
        }
        break;
      case 'tmpfs-mode':
        if (type !== 'tmpfs' || !v || !/^[0-7]{1,4}$/.test(v)) throw bad(`invalid --mount "${spec}": tmpfs-mode is an octal mode (tmpfs mounts only)`);
        req.TmpfsMode = parseInt(v, 8);
        break;
      default:
        throw bad(`invalid --mount "${spec}": unknown key "${k}"`);
    }
  }
  if (type === 'bind') {
    if (!req.Source) throw bad(`invalid --mount "${spec}": a bind mount needs a source`);
    if (!req.Source.startsWith('/')) throw bad(`invalid --mount "${spec}": the bind source must be an absolute path`);
  }
  if (type === 'volume' && req.Source && !VOLUME_NAME_RE.test(req.Source)) throw bad(`invalid --mount "${spec}": invalid volume name "${req.Source}"`);
  if (type === 'tmpfs' && req.Source) throw bad(`invalid --mount "${spec}": a tmpfs mount takes no source`);
  return req;
}

/** --tmpfs /run[:rw,noexec,size=64m] */
export function parseTmpfsFlag(spec: string): MountRequest {
  const i = spec.indexOf(':');
  const target = i < 0 ? spec : spec.slice(0, i);
  const options = i < 0 ? '' : spec.slice(i + 1);
  for (const o of options.split(',').filter(Boolean)) {
    if (!/^(ro|rw|noexec|exec|nosuid|suid|nodev|dev|size=\d+[kmg%]?|mode=[0-7]{1,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmg]?)$/.test(o)) throw bad(`invalid --tmpfs "${spec}": unknown option "${o}"`);
  }
  return { Type: 'tmpfs', Source: '', Target: checkTarget(target, '--tmpfs', spec), ReadOnly: false, TmpfsOptions: options };
}
