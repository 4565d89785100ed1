// The container's root filesystem: an overlay of the image's layer snapshots (lowerdirs) with one
// upper/work pair per container; and reading files of that tree the way the container would see
// them (symlinks resolved with the rootfs as "/", never escaping to the host).

import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { native } from '../../runtime/native';
import { ContainerError } from './errors';

/** Whether `dir` is a mount point (in our mount namespace). */
export function isMounted(dir: string): boolean {
  const want = dir.replace(/\/+$/, '');
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] && unescapeMountPath(f[4]) === want) return true;
  }
  return false;
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Mounts the overlay at <dir>/rootfs. lowerdirs are top layer first. Long lowerdir lists exceed the
 * one-page mount data limit with absolute paths, so the mount is then made from the snapshots'
 * common parent with relative names (as containerd and Docker do), through `mount -o` run there;
 * otherwise directly with mount(2) (no process to spawn).
 */
export function mountOverlay(dir: string, lowerdirs: string[]): string {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['rootfs', 'upper', 'work']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  if (isMounted(rootfs)) return rootfs;
  if (lowerdirs.length === 0) throw new ContainerError('EMOUNT', 'the image has no layers');
  const rest = `upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`;
  const direct = `lowerdir=${lowerdirs.join(':')},${rest}`;
  if (Buffer.byteLength(direct) < MOUNT_DATA_MAX) {
    try {
      native().mountOverlay(rootfs, direct);
    } catch (e) {
      throw new ContainerError('EMOUNT', `mount the container's overlay root filesystem: ${(e as Error).message}`);
    }
    return rootfs;
  }
  const parent = posix.dirname(lowerdirs[0]);
  const relative = lowerdirs.every((l) => posix.dirname(l) === parent);
  const lower = relative ? lowerdirs.map((l) => posix.basename(l)).join(':') : lowerdirs.join(':');
  const data = `lowerdir=${lower},${rest}`;
  try {
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', data, rootfs], { cwd: relative ? parent : undefined, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const why = ((e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message).trim();
    throw new ContainerError('EMOUNT', `mount the container's overlay root filesystem: ${why}`);
  }
  return rootfs;
}

/** The kernel copies at most one page of mount options. */
const MOUNT_DATA_MAX = 4096;

/** Unmounts <dir>/rootfs if mounted (lazily when busy: a process may still hold it briefly). */
export function unmountOverlay(dir: string): void {
  const rootfs = join(dir, 'rootfs');
  if (!isMounted(rootfs)) return;
  try {
    native().umount(rootfs, false);
  } catch {
    native().umount(rootfs, true);
  }
}

/**
 * The host path of `path` inside `root`, with every symlink resolved as the container would
 * resolve it (absolute targets and ".." stop at `root`). The last component need not exist.
 */
export function resolveInRoot(root: string, path: string): string {
  const parts = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, p);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      done.push(p);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) throw new ContainerError('EMOUNT', `too many levels of symbolic links in ${path}`);
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    done.push(p);
  }
  return join(root, ...done);
}

/** Reads a file of the container's tree; null when it does not exist. */
export function readInRoot(root: string, path: string): string | null {
  try {
    return readFileSync(resolveInRoot(root, path), 'utf8');
  } catch {
    return null;
  }
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/**
 * Docker's user resolution (moby's user.GetExecUser): "name", "uid", "name:group", "uid:gid",
 * looked up in the image's /etc/passwd and /etc/group. Numeric ids need no entry; names do.
 * A named user also gets the groups that list it in /etc/group.
 */
export function resolveUser(root: string, spec: string, groupAdd: string[] = []): ResolvedUser {
  const passwd = parseColonFile(readInRoot(root, '/etc/passwd'));
  const group = parseColonFile(readInRoot(root, '/etc/group'));
  const [userPart, groupPart] = spec === '' ? ['0', undefined] : spec.split(':', 2);
  let uid: number;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  const numeric = (s: string) => /^\d+$/.test(s);
  const pw = passwd.find((f) => (numeric(userPart) ? f[2] === userPart : f[0] === userPart));
  if (pw) {
    name = pw[0];
    uid = Number(pw[2]);
    gid = Number(pw[3]);
    home = pw[5] || '/';
  } else if (numeric(userPart)) {
    uid = Number(userPart);
  } else {
    throw new ContainerError('EUSAGE', `unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (groupPart !== undefined && groupPart !== '') {
    const gr = group.find((f) => (numeric(groupPart) ? f[2] === groupPart : f[0] === groupPart));
    if (gr) gid = Number(gr[2]);
    else if (numeric(groupPart)) gid = Number(groupPart);
    else throw new ContainerError('EUSAGE', `unable to find group ${groupPart}: no matching entries in group file`);
  }
  const additionalGids: number[] = [];
  if (name && groupPart === undefined) {
    for (const g of group) {
      const members = (g[3] ?? '').split(',').filter(Boolean);
      const id = Number(g[2]);
      if (members.includes(name) && id !== gid && !additionalGids.includes(id)) additionalGids.push(id);
    }
  }
  // --group-add: names from the image's /etc/group, or numbers (moby's GetAdditionalGroupsPath).
  for (const g of groupAdd) {
    const gr = group.find((f) => f[0] === g) ?? (numeric(g) ? [g, '', g] : undefined);
    if (!gr) throw new ContainerError('EUSAGE', `unable to find group ${g}: no matching entries in group file`);
    const id = Number(gr[2]);
    if (!additionalGids.includes(id)) additionalGids.push(id);
  }
  if (uid > 0xfffffffe || gid > 0xfffffffe || additionalGids.some((g) => g > 0xfffffffe)) throw new ContainerError('EUSAGE', `invalid user ${spec}: ids must be below 2^32-1`);
  return { uid, gid, additionalGids, home };
}

function parseColonFile(text: string | null): string[][] {
  if (!text) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}
