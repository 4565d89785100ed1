// config.json mounts -> the mount records of the plan.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Mount } from '../oci/types';
import { MS, PROPAGATION_FLAGS, parseMountOptions } from '../oci/mount-options';
import { configError } from './errors';
import { MOUNT_EXTRA_IDMAP, MOUNT_EXTRA_IDMAP_RECURSIVE, MOUNT_EXTRA_SOURCE_IS_FILE, MOUNT_EXTRA_TMPCOPYUP, MOUNT_KIND_BIND } from './protocol';

export interface PlannedMount {
  source: string;
  destination: string;
  fstype: string;
  data: string;
  flags: number;
  propagation: number;
  attrSet: bigint;
  attrClr: bigint;
  kind: number;
  extra: number;
  /** Id-mapped bind mount: uid_map/gid_map text of the user namespace the mount is idmapped with. */
  idmap?: { uidMap: string; gidMap: string };
}

interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

const mapText = (maps: IdMapping[]) => maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');

export function propagationFlags(value: string, field: string): number {
  const f = PROPAGATION_FLAGS[value];
  if (f === undefined) throw configError('EPROPAGATION', `invalid config.json: ${field}: unknown propagation ${JSON.stringify(value)}`);
  return f;
}

/**
 * `containerMaps`: the container's own uid/gid mappings (a new user namespace), which an
 * `idmap`/`ridmap` mount without mappings of its own uses (runtime-spec 1.1+, as runc does).
 */
export function planMount(m: Mount, bundle: string, field: string, containerMaps?: { uid: IdMapping[]; gid: IdMapping[] }): PlannedMount {
  // runc takes a relative destination as relative to the container's root: so does skiff.
  if (!isAbsolute(m.destination)) m = { ...m, destination: `/${m.destination}` };
  const opts = parseMountOptions(m.options ?? []);
  const bind = m.type === 'bind' || (opts.flags & MS.BIND) !== 0;
  let source = m.source ?? m.type ?? 'none';
  let extra = opts.tmpcopyup ? MOUNT_EXTRA_TMPCOPYUP : 0;
  if (bind) {
    if (!m.source) throw configError('EMOUNT', `invalid config.json: ${field}/source: a bind mount needs a source`);
    source = isAbsolute(m.source) ? m.source : resolve(bundle, m.source);
    try {
      if (!statSync(source).isDirectory()) extra |= MOUNT_EXTRA_SOURCE_IS_FILE;
    } catch {
      // A missing source fails in the init with the kernel's reason, like any other mount.
    }
  }
  // An id-mapped mount: mappings of its own (uidMappings/gidMappings), or idmap/ridmap with the
  // container's. The kernel can only idmap a detached bind mount (open_tree + mount_setattr).
  let idmap: PlannedMount['idmap'];
  if (opts.idmap || m.uidMappings || m.gidMappings) {
    if (!bind) throw configError('EMOUNT', `invalid config.json: ${field}: only bind mounts can be id-mapped (type ${JSON.stringify(m.type)})`);
    const uid = m.uidMappings ?? containerMaps?.uid;
    const gid = m.gidMappings ?? containerMaps?.gid;
    if (!uid?.length || !gid?.length) {
      throw configError('EMOUNT', `invalid config.json: ${field}: an id-mapped mount needs uidMappings and gidMappings, on the mount or for a new user namespace`);
    }
    idmap = { uidMap: mapText(uid), gidMap: mapText(gid) };
    extra |= MOUNT_EXTRA_IDMAP;
    if (opts.idmap?.recursive) extra |= MOUNT_EXTRA_IDMAP_RECURSIVE;
  }
  return {
    ...(idmap ? { idmap } : {}),
    source,
    destination: m.destination,
    fstype: bind ? '' : m.type ?? '',
    data: opts.data.join(','),
    flags: opts.flags | (bind ? MS.BIND : 0),
    // Several propagation options: the last one wins, as the kernel would leave it.
    propagation: opts.propagation.length ? opts.propagation[opts.propagation.length - 1] : 0,
    attrSet: BigInt(opts.recursive?.set ?? 0),
    attrClr: BigInt(opts.recursive?.clear ?? 0),
    kind: bind ? MOUNT_KIND_BIND : 0,
    extra,
  };
}
