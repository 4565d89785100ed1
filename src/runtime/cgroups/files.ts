// Reading and writing cgroup control files. Every write error names the file and the value, so a
// failed `apply` reads like: failed to write "1048576" to /sys/fs/cgroup/memory/skiff/x/memory.limit_in_bytes:
// device or resource busy.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { SkiffError, osReason } from '../errors';

export const cgroupError = (code: string, message: string, cause?: unknown) =>
  new SkiffError('cgroup', code, message, cause === undefined ? {} : { cause });

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` milliseconds (the manager API is synchronous, like runc's). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export function errnoOf(err: unknown): string | undefined {
  const c = (err as NodeJS.ErrnoException)?.code;
  return typeof c === 'string' ? c : undefined;
}

type WriteTracer = (file: string, value: string) => void;
let tracer: WriteTracer | undefined;
/** Observe every control-file write (for `--debug` logs and for tests); returns the previous tracer. */
export function setWriteTracer(t: WriteTracer | undefined): WriteTracer | undefined {
  const prev = tracer;
  tracer = t;
  return prev;
}

/**
 * Write one value to a control file. cgroupfs takes one value per write(2), so the file is
 * opened, written once, and closed; EINTR is retried.
 */
export function writeCgroupFile(dir: string, file: string, value: string | number): void {
  const full = path.join(dir, file);
  const data = String(value);
  tracer?.(full, data);
  for (let attempt = 0; ; attempt++) {
    try {
      // No O_CREAT: a control file exists, or its controller is missing (ENOENT). O_TRUNC is
      // ignored by cgroupfs, as with a shell's `echo > file`.
      const fd = fs.openSync(full, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
      try {
        fs.writeSync(fd, data);
      } finally {
        fs.closeSync(fd);
      }
      return;
    } catch (err) {
      if (errnoOf(err) === 'EINTR' && attempt < 5) continue;
      throw writeError(full, data, err);
    }
  }
}

export function writeError(full: string, data: string, err: unknown): SkiffError {
  const code = errnoOf(err) ?? 'EIO';
  return cgroupError(code, `failed to write ${JSON.stringify(data)} to ${full}: ${osReason(err)}`, err);
}

export function readCgroupFile(dir: string, file: string): string {
  const full = path.join(dir, file);
  try {
    return fs.readFileSync(full, 'utf8');
  } catch (err) {
    throw cgroupError(errnoOf(err) ?? 'EIO', `failed to read ${full}: ${osReason(err)}`, err);
  }
}

/** Like readCgroupFile but returns undefined when the file does not exist. */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw cgroupError(errnoOf(err) ?? 'EIO', `failed to read ${path.join(dir, file)}: ${osReason(err)}`, err);
  }
}

export function fileExists(dir: string, file: string): boolean {
  return fs.existsSync(path.join(dir, file));
}

/** 2^64-1 as a JS number: how "max" / unlimited is reported (imprecise by design, like JSON numbers). */
export const UINT64_MAX = 18446744073709551615;

/** Parse a single unsigned value; "max" becomes UINT64_MAX; negative values read as 0 (runc's ParseUint). */
export function parseUint(text: string, what: string): number {
  const t = text.trim();
  if (t === 'max') return UINT64_MAX;
  if (/^-\d+$/.test(t)) return 0;
  if (!/^\d+$/.test(t)) throw cgroupError('EPARSE', `unable to parse ${what}: ${JSON.stringify(t)} is not a number`);
  return Number(t);
}

export function readUint(dir: string, file: string): number {
  return parseUint(readCgroupFile(dir, file), path.join(dir, file));
}

export function readUintOptional(dir: string, file: string): number | undefined {
  const t = readOptional(dir, file);
  return t === undefined ? undefined : parseUint(t, path.join(dir, file));
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, cgroup.events) into a map. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) continue;
    const v = parts[1] === 'max' ? UINT64_MAX : Number(parts[1]);
    if (Number.isFinite(v)) out[parts[0]] = v;
  }
  return out;
}

/**
 * Pids of one cgroup.procs file; [] when the cgroup vanished meanwhile: ENOENT once it is removed,
 * ENODEV while it is being removed (systemd stops a scope whose last process died, e.g. during
 * `delete --force`, and takes its directory away under our read).
 */
export function readProcs(dir: string): number[] {
  const full = path.join(dir, 'cgroup.procs');
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENODEV') return [];
    throw cgroupError(code ?? 'EIO', `failed to read ${full}: ${osReason(err)}`, err);
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(l.trim()));
}

/** Sub-directories (child cgroups) of a cgroup directory. */
export function childCgroups(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}

export function readProcsRecursive(dir: string): number[] {
  const out = readProcs(dir);
  for (const child of childCgroups(dir)) out.push(...readProcsRecursive(child));
  return out;
}

/**
 * exec --cgroup's path, checked as runc checks it: joined to the container's cgroup it must stay
 * inside it ("a/../b" is fine, ".." or "a/../../x" is refused, never silently clamped).
 */
export function checkSubCgroup(sub: string): string {
  const rel = path.posix.normalize(sub.replace(/^\/+/, ''));
  if (sub === '' || sub.includes('\0') || rel === '..' || rel.startsWith('../')) {
    throw cgroupError('EINVAL', `bad sub cgroup path ${JSON.stringify(sub)}: it must stay inside the container's cgroup`);
  }
  return rel === '.' ? '' : rel;
}

/** The directory of an existing sub-cgroup of `dir` (exec --cgroup). */
export function subCgroupDir(dir: string, sub: string): string {
  const rel = checkSubCgroup(sub);
  const target = rel ? path.join(dir, rel) : dir;
  if (!fs.existsSync(target)) throw cgroupError('ENOENT', `sub-cgroup ${target} does not exist`);
  return target;
}

/** Write a pid to cgroup.procs, retrying EINVAL (the task may still be in TASK_NEW), as runc does. */
export function writeProc(dir: string, pid: number): void {
  for (let attempt = 0; ; attempt++) {
    try {
      writeCgroupFile(dir, 'cgroup.procs', pid);
      return;
    } catch (err) {
      const e = err as SkiffError;
      if (e.code === 'EINVAL' && attempt < 5) {
        sleepSync(30);
        continue;
      }
      throw cgroupError(e.code, `failed to add pid ${pid} to cgroup ${dir}: ${osReason(e.cause ?? e)}`, e);
    }
  }
}

/**
 * Remove a cgroup directory and its child cgroups, deepest first. cgroupfs directories hold only
 * control files, which rmdir(2) removes with the directory. EBUSY is retried until `deadline`
 * (processes just killed take a moment to leave; the kernel releases a css asynchronously); if
 * processes are still listed then, the error names them. destroy kills nothing. A missing
 * directory is fine.
 */
export function removeCgroupDir(dir: string, deadline = Date.now() + 2000): void {
  for (const child of childCgroups(dir)) removeCgroupDir(child, deadline);
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT') return;
      if (code === 'EBUSY' && Date.now() < deadline) {
        sleepSync(Math.min(delay, Math.max(1, deadline - Date.now())));
        continue;
      }
      const left = code === 'EBUSY' ? readProcs(dir) : [];
      if (left.length > 0) {
        const list = left.slice(0, 10).join(', ') + (left.length > 10 ? ', ...' : '');
        throw cgroupError('EBUSY', `failed to remove cgroup ${dir}: processes are still in it (pids ${list})`, err);
      }
      throw cgroupError(code ?? 'EIO', `failed to remove cgroup ${dir}: ${osReason(err)}`, err);
    }
  }
}

/**
 * mkdir -p, returning the directories it created (outermost first), for undo on failure. A parent
 * may vanish between the existence check and the mkdir (another container's destroy removing an
 * empty shared parent, see removeEmptyParents): ENOENT starts the walk again, a few times.
 */
export function mkdirAll(dir: string): string[] {
  const made: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const missing: string[] = [];
    let cur = dir;
    while (!fs.existsSync(cur)) {
      missing.unshift(cur);
      const parent = path.dirname(cur);
      if (parent === cur) break;
      cur = parent;
    }
    let raced = false;
    for (const d of missing) {
      try {
        fs.mkdirSync(d, 0o755);
        made.push(d);
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') continue;
        if (errnoOf(err) === 'ENOENT' && attempt < 5) {
          raced = true;
          break;
        }
        throw cgroupError(errnoOf(err) ?? 'EIO', `failed to create cgroup ${d}: ${osReason(err)}`, err);
      }
    }
    if (!raced) return made;
  }
}

/**
 * After a cgroup was removed: remove its ancestors inside `top` (skiff's parent cgroup, `/skiff` by
 * default, created on demand by create), deepest first, while they are empty. `top` itself goes
 * too. Other containers share these parents: EBUSY (the kernel's answer for a cgroup with children
 * or processes), ENOTEMPTY, ENOENT (someone else removed it) or EACCES/EPERM end the walk quietly;
 * a parent that is still used simply stays. `cgPath` and `top` are cgroup paths ("/skiff/a").
 */
export function removeEmptyParents(hierarchyRoot: string, cgPath: string, top: string): void {
  for (const dir of emptyParentChain(hierarchyRoot, cgPath, top)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return; // in use (EBUSY/ENOTEMPTY), gone already (ENOENT) or not ours to remove
    }
  }
}

/** The directories removeEmptyParents tries, innermost first; it stops at the first that fails. */
export function emptyParentChain(hierarchyRoot: string, cgPath: string, top: string): string[] {
  const inside = (p: string) => p === top || p.startsWith(top === '/' ? '/' : top + '/');
  if (top === '/' || !inside(cgPath)) return [];
  const out: string[] = [];
  for (let p = path.posix.dirname(cgPath); inside(p); p = path.posix.dirname(p)) out.push(path.join(hierarchyRoot, p));
  return out;
}
