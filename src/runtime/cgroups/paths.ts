// Resolving linux.cgroupsPath to the path of the container's cgroup inside each hierarchy.
//
//   absent          → <parent>/<id>            (parent defaults to /skiff)
//   "/a/b"          → /a/b                     (absolute: from the hierarchy's root, like runc)
//   "a/b"           → <parent>/a/b
//   "slice:pfx:name" with systemd → handled by the systemd driver (see systemd.ts)
//
// Relative paths: runc resolves them under the cgroup of the runtime process itself. Skiff puts
// them under a fixed parent instead (`/skiff`, overridable): the runtime's own cgroup is often an
// internal node with processes (on v2 controllers cannot be delegated below it: EBUSY from
// cgroup.subtree_control), and `dock` runs the runtime in-process, so "own cgroup" would nest every
// container under whatever cgroup the engine happened to start in. A fixed parent gives the same
// answer from every caller.
//
// Every result is cleaned like runc's CleanPath: `..` can never climb above the hierarchy root.

import * as path from 'node:path';
import { cgroupError } from './files';

export const DEFAULT_PARENT = '/skiff';

/** Clean an absolute cgroup path: resolve `.`/`..` lexically without escaping `/`. */
export function cleanCgroupPath(p: string): string {
  return path.posix.normalize('/' + p).replace(/\/+$/, '') || '/';
}

export function isSystemdPath(p: string): boolean {
  return /^[^:/]*:[^:/]*:[^:/]+$/.test(p);
}

export function resolveCgroupPath(opts: { id: string; cgroupsPath?: string; parent?: string }): string {
  const parent = cleanCgroupPath(opts.parent ?? DEFAULT_PARENT);
  const p = opts.cgroupsPath;
  if (p !== undefined && p.includes('\0')) throw cgroupError('EINVAL', `invalid cgroupsPath ${JSON.stringify(p)}: contains a NUL byte`);
  let out: string;
  if (p === undefined || p === '') {
    const id = opts.id;
    if (!id || id.includes('/') || id === '.' || id === '..' || id.includes('\0')) {
      throw cgroupError('EINVAL', `invalid container id ${JSON.stringify(id)} for a cgroup name`);
    }
    out = cleanCgroupPath(`${parent}/${id}`);
  } else if (p.startsWith('/')) {
    out = cleanCgroupPath(p);
  } else {
    out = cleanCgroupPath(`${parent}/${p}`);
  }
  if (out === '/') throw cgroupError('EINVAL', `invalid cgroupsPath ${JSON.stringify(p)}: it names the root cgroup`);
  return out;
}
