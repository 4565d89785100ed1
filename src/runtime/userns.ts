// User namespaces seen from the runtime: writing the container's uid/gid maps when the init asks
// (MSG_USERNS_READY), directly when we may, through newuidmap/newgidmap (shadow's setuid helpers,
// Debian package uidmap) when an unprivileged caller maps more than itself; and what "rootless"
// changes: where state lives.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkiffError } from './errors';

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** Not root: no cgroups unless delegated, maps through newuidmap, state under $XDG_RUNTIME_DIR. */
export function isRootless(): boolean {
  return process.geteuid?.() !== 0;
}

/**
 * Default --root: /run/skiff for root, $XDG_RUNTIME_DIR/skiff otherwise (as runc does), else
 * /run/user/UID/skiff: never a guessable directory under /tmp, which another user could make
 * first and so own the state (and the exec fifo) of our containers.
 */
export function defaultStateRoot(): string {
  if (!isRootless()) return '/run/skiff';
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg) return join(xdg, 'skiff');
  return join('/run/user', String(process.geteuid!()), 'skiff');
}

const usernsError = (message: string) => new SkiffError('init', 'EUSERNS', message);
const text = (maps: IdMapping[]) => maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');

/**
 * Write /proc/PID/{uid,gid}_map of the init's new user namespace. Root writes any map. An
 * unprivileged caller may itself write one line mapping its own id (after denying setgroups, for
 * gid_map); anything more goes through newuidmap/newgidmap, which check /etc/subuid, /etc/subgid.
 */
export function writeIdMaps(pid: number, uid: IdMapping[], gid: IdMapping[]): void {
  if (!isRootless()) {
    try {
      if (uid.length) writeFileSync(`/proc/${pid}/uid_map`, text(uid));
      if (gid.length) writeFileSync(`/proc/${pid}/gid_map`, text(gid));
    } catch (e) {
      throw usernsError(`write user namespace id maps: ${(e as Error).message}`);
    }
    return;
  }
  const self = (maps: IdMapping[], id: number) => maps.length === 1 && maps[0].size === 1 && maps[0].hostID === id;
  if (uid.length) {
    if (self(uid, process.geteuid!())) writeMap(pid, 'uid_map', uid);
    else helperMap('newuidmap', pid, uid, '/etc/subuid');
  }
  if (gid.length) {
    if (self(gid, process.getegid!())) {
      // An unprivileged gid_map needs setgroups denied first (user_namespaces(7)).
      writeMap(pid, 'setgroups', 'deny');
      writeMap(pid, 'gid_map', gid);
    } else {
      helperMap('newgidmap', pid, gid, '/etc/subgid');
    }
  }
}

function writeMap(pid: number, file: string, data: IdMapping[] | string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, typeof data === 'string' ? data : text(data));
  } catch (e) {
    throw usernsError(`rootless: write /proc/${pid}/${file}: ${(e as Error).message}`);
  }
}

function helperMap(helper: 'newuidmap' | 'newgidmap', pid: number, maps: IdMapping[], file: string): void {
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  try {
    execFileSync(helper, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number };
    if (err.code === 'ENOENT') {
      throw usernsError(`rootless: mapping more than your own ${helper === 'newuidmap' ? 'uid' : 'gid'} needs ${helper} (Debian package uidmap), which is not installed`);
    }
    const why = (err.stderr ?? '').trim().split('\n').pop() || `exited with status ${err.status}`;
    throw usernsError(`rootless: ${helper} ${args.join(' ')} failed (are the ranges in ${file} for this user?): ${why}`);
  }
}
