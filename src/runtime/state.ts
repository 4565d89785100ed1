// The runtime's state store: <root>/<id>/state.json, written atomically (write, rename)
// under a per-container lock (flock on the container's directory).
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseJson, stringifyJson } from '../oci/json';
import type { Spec } from '../oci/types';
import { SkiffError, containerError, osReason } from './errors';
import { checkContainerId } from './ids';
import { native } from './native';
import { isAlive } from './procfs';

export const OCI_VERSION = '1.3.0';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** What skiff keeps about a container, beyond the OCI state it prints. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** Host pid of the container's init. */
  pid: number;
  /** Its start time (/proc/PID/stat field 22): a recycled pid never passes for the container. */
  initStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  /** Cgroup directories per hierarchy ("" key for cgroup2), for delete, exec, ps, pause. */
  cgroupPaths: Record<string, string>;
  cgroupsPath?: string;
  systemdCgroup?: boolean;
  owner: string;
  config: Spec;
  /**
   * Only while create runs: the creating process. A record written before create made anything,
   * so that a create killed half way is listed (creating, then stopped) and delete -f removes it.
   */
  creator?: { pid: number; startTime: string };
}

export interface OciState {
  ociVersion: string;
  id: string;
  status: Status;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export const DEFAULT_ROOT = '/run/skiff';

export class StateStore {
  constructor(readonly root: string) {}

  /** The one door from an id to the file system: the id is checked here, before any use. */
  dir(id: string): string {
    return join(this.root, checkContainerId(id));
  }

  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Make the container's directory, failing if the id is taken, and lock it. */
  claim(id: string): Lock {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw containerError('EEXIST', `container with id ${id} already exists`);
      throw e;
    }
    return Lock.acquire(this.dir(id), id);
  }

  /** Lock an existing container; fails if it does not exist (or vanished while we waited). */
  lock(id: string): Lock {
    return Lock.acquire(this.dir(id), id);
  }

  read(id: string): ContainerRecord {
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), 'state.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw e;
    }
    try {
      return parseJson(text) as ContainerRecord;
    } catch {
      throw new SkiffError('state', 'ECORRUPT', `container ${id}: state.json is corrupt`);
    }
  }

  write(rec: ContainerRecord): void {
    // stringifyJson: config.json may hold uint64 values (rlimits, seccomp masks) parsed as bigint.
    writeFileAtomic(join(this.dir(rec.id), 'state.json'), stringifyJson(rec));
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  ids(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && isContainerId(d.name))
        .map((d) => d.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** The container's status, derived from its init process and exec fifo, never stored. */
  status(rec: ContainerRecord, isPaused: () => boolean = () => false): Status {
    if (rec.creator) return isAlive(rec.creator.pid, rec.creator.startTime) ? 'creating' : 'stopped';
    if (!isAlive(rec.pid, rec.initStartTime)) return 'stopped';
    // A created container can be paused too (runc allows it): frozen, it is "paused" until resumed.
    if (isPaused()) return 'paused';
    return existsSync(this.fifoPath(rec.id)) ? 'created' : 'running';
  }
}

export function ociState(rec: ContainerRecord, status: Status): OciState {
  const s: OciState = { ociVersion: rec.ociVersion, id: rec.id, status, bundle: rec.bundle };
  s.pid = status === 'stopped' ? 0 : rec.pid; // runc prints pid 0 for a stopped container
  if (rec.annotations && Object.keys(rec.annotations).length) s.annotations = rec.annotations;
  return s;
}

function isContainerId(name: string): boolean {
  try {
    return checkContainerId(name) === name;
  } catch {
    return false; // not ours (a stray directory someone made in the root)
  }
}

function notFound(id: string): SkiffError {
  return containerError('ENOTFOUND', `container ${id} does not exist`);
}

export class Lock {
  private constructor(private fd: number) {}

  static acquire(dir: string, id: string): Lock {
    let fd: number;
    try {
      fd = openSync(dir, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw e;
    }
    native().flock(fd, true, true);
    // The holder before us may have deleted the container: then our directory is gone.
    const held = fstatSync(fd);
    let now;
    try {
      now = statSync(dir);
    } catch {
      now = undefined;
    }
    if (!now || now.ino !== held.ino || held.nlink === 0) {
      closeSync(fd);
      throw notFound(id);
    }
    return new Lock(fd);
  }

  release(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** --pid-file: the pid, written atomically; a failure names the file and the reason, no raw errno text. */
export function writePidFile(path: string, pid: number): void {
  const abs = resolve(path);
  try {
    writeFileAtomic(abs, String(pid));
  } catch (e) {
    throw new SkiffError('container', 'EPIDFILE', `cannot write pid file ${abs}: ${osReason(e)}`);
  }
}

/**
 * Write then rename, so that readers see the old or the new file, never half of one. No fsync (as
 * runc): the state describes processes that a crash ends too, and it lives on a tmpfs (/run); on a
 * disk root an fsync per write was the largest wait of `skiff run`.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
