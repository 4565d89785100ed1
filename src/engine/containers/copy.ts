// `dock cp` (both directions, as tar streams) and `dock export` (the whole root filesystem as tar).
// Paths in the container are resolved in its tree (symlinks stay inside it; mounts of volumes and
// binds map to their host directories). A stopped or created container's overlay is mounted for
// the copy; a running one is frozen for its duration, as docker does (CVE-2018-15664: a container
// swapping a directory for a symlink between our resolving a path and tar using it).
//
// docker cp's table (the CLI's forms): a file goes to a new name, over a file, or into a directory;
// a directory goes to a new name (created), or into a directory (SRC/. : its content); a `-` end is a
// tar stream whose entries are named after the source's last element. Renames are GNU tar
// --transform's of the top entry.

import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix, relative } from 'node:path';
import { cgroupsOf } from '../../runtime/status';
import { resolveImage } from '../images/rootfs';
import type { Engine } from './engine';
import { ContainerError } from './errors';
import { withLockAsync } from './lock';
import { containerDir } from './paths';
import { isMounted, mountOverlay, resolveInRoot, unmountOverlay } from './rootfs';
import { liveState } from './status';
import type { ContainerDoc } from './types';

export interface CopyOptions {
  /** -L: follow SRC_PATH when it is a symbolic link (the copy keeps the link's name). */
  followLink?: boolean;
  /** -a: keep the source's uid/gid (else: root in the container, the caller on the host). */
  archive?: boolean;
}

/**
 * Runs `fn` with the container's root filesystem mounted (mounting it for a stopped container) and
 * the container frozen when it runs, so that nothing in it can move a path we resolved.
 */
async function withRootfs<T>(engine: Engine, doc: ContainerDoc, fn: (rootfs: string) => Promise<T>): Promise<T> {
  const dir = containerDir(engine.paths, doc.Id);
  return withLockAsync(dir, async () => {
    const rootfs = join(dir, 'rootfs');
    const live = liveState(engine, engine.containers.get(doc.Id)!);
    const running = live.status === 'running' || live.status === 'paused';
    const mounted = isMounted(rootfs);
    if (!mounted) {
      const img = await resolveImage(engine.images, doc.ImageId);
      mountOverlay(dir, img.lowerdirs);
    }
    const freeze = live.status === 'running' ? cgroupsOf(engine.rt, live.runtime!) : null;
    try {
      freeze?.freeze();
      return await fn(rootfs);
    } finally {
      if (freeze) {
        try {
          freeze.thaw();
        } catch {
          /* the container died meanwhile */
        }
      }
      if (!mounted && !running) unmountOverlay(dir);
    }
  });
}

/** The container path, absolute and clean ("tmp/x/" -> "/tmp/x"), and what its spelling asserts. */
function containerPath(path: string): { clean: string; assertsDir: boolean; contentsOnly: boolean } {
  const abs = path.startsWith('/') ? path : `/${path}`;
  return { clean: posix.normalize(abs).replace(/(.)\/+$/, '$1'), assertsDir: /\/$|\/\.$/.test(abs) || abs === '/', contentsOnly: /\/\.$/.test(abs) };
}

const ENGINE_FILES = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'];

/** Host path of a container path: inside a volume or bind mount, or in the root filesystem; `follow`: the last element too. */
function hostPath(doc: ContainerDoc, rootfs: string, path: string, follow = true): string {
  const p = posix.normalize(path.startsWith('/') ? path : `/${path}`).replace(/(.)\/+$/, '$1');
  const mounts = [...doc.Mounts].filter((m) => m.Type !== 'tmpfs').sort((a, b) => b.Destination.length - a.Destination.length);
  for (const m of mounts) {
    if (p === m.Destination) return m.Source;
  }
  // The files the engine binds over the image's (start writes them beside the rootfs): the copy
  // sees what the container sees, as docker cp does.
  if (ENGINE_FILES.includes(p) && existsSync(join(dirname(rootfs), posix.basename(p)))) return join(dirname(rootfs), posix.basename(p));
  if (!follow && p !== '/') return join(hostPath(doc, rootfs, posix.dirname(p)), posix.basename(p));
  for (const m of mounts) {
    if (p.startsWith(m.Destination + '/')) return resolveInRoot(m.Source, p.slice(m.Destination.length));
  }
  return resolveInRoot(rootfs, p);
}

function run(cmd: string, args: string[], input?: NodeJS.ReadableStream, output?: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', output ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    if (input) {
      input.pipe(c.stdin!);
      c.stdin!.on('error', () => undefined); // tar gave up reading: its status says why
    }
    if (output) c.stdout!.pipe(output as NodeJS.WritableStream, { end: false });
    c.on('error', reject);
    // tar's complaints, one line: "Member name contains '..'"; its closing summary says nothing.
    const why = () => err.split('\n').map((l) => l.trim().replace(/^tar: /, '')).filter((l) => l && !/Exiting with failure status/.test(l)).join('; ');
    c.on('close', (code) => (code === 0 ? resolve() : reject(new ContainerError('EUSAGE', `${cmd}: ${why() || `exit status ${code}`}`))));
  });
}

/** A --transform renaming the archive's top entry `from` (and what is under it) to `to`; symlink targets untouched. */
function renameTop(from: string, to: string): string[] {
  if (from === to) return [];
  const re = from === '.' ? '\\.' : from.replace(/[\\^$.*[\],]/g, '\\$&');
  return [`--transform=s,^${re},${to.replace(/[\\&,]/g, '\\$&')},S`];
}

/** tar -c of `src` (a host path) as entries named `name` ("." : the content of a directory). */
function tarArgs(src: string, name: string, contentsOnly: boolean, extra: string[] = []): string[] {
  if (contentsOnly) return ['-c', '-f', '-', '--numeric-owner', ...extra, ...renameTop('.', name), '-C', src, '.'];
  return ['-c', '-f', '-', '--numeric-owner', ...extra, ...renameTop(basename(src), name), '-C', dirname(src), basename(src)];
}

/** The source of a copy out of a container: its host path, kind and the archive's top name. */
function containerSource(doc: ContainerDoc, rootfs: string, path: string, opts: CopyOptions): { host: string; isDir: boolean; name: string; contentsOnly: boolean } {
  const p = containerPath(path);
  const host = hostPath(doc, rootfs, p.clean, !!opts.followLink);
  let st;
  try {
    st = lstatSync(host);
  } catch {
    throw new ContainerError('ENOTFOUND', `could not find the file ${path} in container ${doc.Name}`);
  }
  if (p.assertsDir && !st.isDirectory()) throw new ContainerError('EUSAGE', `cannot copy ${path} from container ${doc.Name}: not a directory`);
  const contentsOnly = p.contentsOnly && st.isDirectory();
  return { host, isDir: st.isDirectory(), name: contentsOnly ? '.' : posix.basename(p.clean) === '' || p.clean === '/' ? '.' : posix.basename(p.clean), contentsOnly: contentsOnly || p.clean === '/' };
}

/** Container → tar on `out`: entries named after the path's last element (its content for PATH/.), as docker cp does. */
export async function copyFromContainer(engine: Engine, doc: ContainerDoc, path: string, out: NodeJS.WritableStream, opts: CopyOptions = {}): Promise<void> {
  await withRootfs(engine, doc, async (rootfs) => {
    const src = containerSource(doc, rootfs, path, opts);
    await run('tar', tarArgs(src.host, src.name, src.contentsOnly), undefined, out);
  });
}

/**
 * tar on `input` → an existing directory of the container (what the API's PUT .../archive and
 * `dock cp - CTR:DIR` do); owned by root unless `archive` (-a, the API's copyUIDGID).
 */
export async function copyToContainer(engine: Engine, doc: ContainerDoc, path: string, input: NodeJS.ReadableStream, opts: CopyOptions = {}): Promise<void> {
  await withRootfs(engine, doc, async (rootfs) => {
    const dest = hostPath(doc, rootfs, containerPath(path).clean);
    let st;
    try {
      st = statSync(dest);
    } catch {
      throw new ContainerError('ENOTFOUND', `could not find the directory ${path} in container ${doc.Name}`);
    }
    if (!st.isDirectory()) throw new ContainerError('EUSAGE', `cannot copy into ${path}: not a directory`);
    await extractInto(dest, input, opts.archive ? [] : ['--no-same-owner']);
  });
}

/** Extracts a tar stream into `dir` of the container, with the archive's owners unless `extra` says otherwise. */
function extractInto(dir: string, input: NodeJS.ReadableStream, extra: string[]): Promise<void> {
  // GNU tar refuses ../ members, creates the archive's symlinks last (so that a member cannot be
  // written through one), and replaces rather than follows a symlink the container put where the
  // archive has a directory (no --keep-directory-symlink). --no-overwrite-dir keeps directory modes.
  // The container is frozen meanwhile (withRootfs), so it cannot swap `dir` for a symlink.
  return run('tar', ['-x', '-f', '-', '--numeric-owner', '--no-overwrite-dir', ...extra, '-C', dir], input);
}

/** What exists at a destination path (following symlinks, as docker does for destinations). */
interface DestInfo {
  exists: boolean;
  isDir: boolean;
  parentIsDir: boolean;
}

/**
 * docker cp's table: the directory to extract into and the top entry's new name. `what` names the
 * destination in errors.
 */
export function copyPlan(src: { isDir: boolean; name: string; contentsOnly: boolean }, dest: DestInfo & { path: string; assertsDir: boolean }, what: string): { into: 'dest' | 'parent'; rename?: string } {
  const base = posix.basename(dest.path.replace(/\/+$/, '')) || '/';
  if (!dest.exists) {
    if (dest.assertsDir) throw new ContainerError('ENOTFOUND', `no such directory: ${what} (a destination ending in / must exist)`);
    if (!dest.parentIsDir) throw new ContainerError('ENOTFOUND', `no such directory: the parent of ${what}`);
    return { into: 'parent', rename: base };
  }
  if (dest.isDir) return { into: 'dest', rename: src.contentsOnly ? undefined : src.name };
  if (src.isDir) throw new ContainerError('EUSAGE', `cannot copy a directory to a file: ${what}`);
  if (dest.assertsDir) throw new ContainerError('EUSAGE', `${what} is not a directory`);
  return { into: 'parent', rename: base };
}

function destInfo(stat: (p: string) => { isDirectory(): boolean } | null, path: string, parent: string): DestInfo {
  const st = stat(path);
  const pst = st ? null : stat(parent);
  return { exists: !!st, isDir: !!st?.isDirectory(), parentIsDir: !!st || !!pst?.isDirectory() };
}

const statOrNull = (p: string) => {
  try {
    return statSync(p);
  } catch {
    return null;
  }
};

/** `dock cp CTR:SRC HOSTDEST`: docker cp's table, the host side owned by the caller unless -a. */
export async function copyContainerToHost(engine: Engine, doc: ContainerDoc, path: string, hostDest: string, opts: CopyOptions = {}): Promise<void> {
  const target = posix.resolve(hostDest);
  const assertsDir = /\/$|\/\.$/.test(hostDest);
  await withRootfs(engine, doc, async (rootfs) => {
    const src = containerSource(doc, rootfs, path, opts);
    const plan = copyPlan(src, { ...destInfo(statOrNull, target, dirname(target)), path: target, assertsDir }, hostDest);
    const dir = plan.into === 'dest' ? target : dirname(target);
    const rename = plan.rename ?? '.';
    const own = opts.archive ? ['--same-owner'] : ['--no-same-owner'];
    // Made with the top entry already renamed: the host tar only extracts.
    const make = spawn('tar', tarArgs(src.host, src.contentsOnly && plan.into === 'dest' ? '.' : rename, src.contentsOnly), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    make.stderr!.on('data', (d) => (err += d));
    const made = new Promise<number>((r) => make.on('close', (c) => r(c ?? 1)));
    await run('tar', ['-x', '-f', '-', '--numeric-owner', ...own, '-C', dir], make.stdout!);
    if ((await made) !== 0) throw new ContainerError('EUSAGE', `tar: ${err.trim().split('\n')[0] || 'reading the container failed'}`);
  });
}

/** `dock cp HOSTSRC CTR:DEST`: docker cp's table, owned by root in the container unless -a. */
export async function copyHostToContainer(engine: Engine, doc: ContainerDoc, hostSrc: string, path: string, opts: CopyOptions = {}): Promise<void> {
  let src = posix.resolve(hostSrc);
  const contentsOnly = /\/\.$/.test(hostSrc);
  const name = basename(src);
  let st;
  try {
    st = lstatSync(src);
    if (st.isSymbolicLink() && opts.followLink) {
      src = realpathSync(src);
      st = statSync(src);
    }
  } catch {
    throw new ContainerError('ENOTFOUND', `could not find the file ${hostSrc}`);
  }
  if (/\/$|\/\.$/.test(hostSrc) && !st.isDirectory()) throw new ContainerError('EUSAGE', `cannot copy ${hostSrc}: not a directory`);
  const p = containerPath(path);
  await withRootfs(engine, doc, async (rootfs) => {
    const dest = hostPath(doc, rootfs, p.clean);
    const parent = p.clean === '/' ? dest : hostPath(doc, rootfs, posix.dirname(p.clean));
    const plan = copyPlan({ isDir: st.isDirectory(), name, contentsOnly: contentsOnly && st.isDirectory() }, { ...destInfo(statOrNull, dest, parent), path: p.clean, assertsDir: p.assertsDir }, `${doc.Name}:${path}`);
    // Over an existing file: the file the path resolves to (a symlink's target in the container, a
    // bind-mounted file's source such as /etc/hosts), which is what the container sees.
    const overFile = plan.into === 'parent' && statOrNull(dest) !== null;
    if (overFile && st.isFile() && dirname(dest) === dirname(rootfs)) {
      // A file the engine binds (/etc/hosts...): rewritten in place, since the container's bind
      // mount holds its inode (tar would put a new file beside it, unseen).
      writeFileSync(dest, readFileSync(src));
      return;
    }
    const dir = plan.into === 'dest' ? dest : overFile ? dirname(dest) : parent;
    const rename = overFile ? basename(dest) : plan.rename ?? '.';
    const own = opts.archive ? [] : ['--owner=0', '--group=0'];
    const make = spawn('tar', tarArgs(src, rename, contentsOnly && st.isDirectory(), own), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    make.stderr!.on('data', (d) => (err += d));
    const made = new Promise<number>((r) => make.on('close', (c) => r(c ?? 1)));
    await extractInto(dir, make.stdout!, []);
    if ((await made) !== 0) throw new ContainerError('EUSAGE', `tar: ${err.trim().split('\n')[0] || `reading ${hostSrc} failed`}`);
  });
}

export async function exportContainer(engine: Engine, doc: ContainerDoc, out: NodeJS.WritableStream): Promise<void> {
  await withRootfs(engine, doc, async (rootfs) => {
    await run('tar', ['-c', '-f', '-', '--numeric-owner', '--xattrs', '-C', rootfs, '.'], undefined, out);
  });
}

/** What `docker cp` asks before a copy (HEAD .../archive): the path's stat, Go's FileMode bits. */
export async function statInContainer(engine: Engine, doc: ContainerDoc, path: string): Promise<{ name: string; size: number; mode: number; mtime: string; linkTarget: string }> {
  return withRootfs(engine, doc, async (rootfs) => {
    // The path itself (a symlink is reported as one, with its target resolved in the container, as
    // dockerd does: the client's -L asks for that target).
    const p = hostPath(doc, rootfs, containerPath(path).clean, false);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      throw new ContainerError('ENOTFOUND', `could not find the file ${path} in container ${doc.Name}`);
    }
    // Go's os.FileMode: permission bits, plus ModeDir (1<<31) and ModeSymlink (1<<27).
    let mode = st.mode & 0o7777;
    if (st.isDirectory()) mode = (mode | 2 ** 31) >>> 0;
    if (st.isSymbolicLink()) mode = (mode | 2 ** 27) >>> 0;
    let linkTarget = '';
    if (st.isSymbolicLink()) {
      const resolved = hostPath(doc, rootfs, containerPath(path).clean);
      linkTarget = resolved === rootfs || resolved.startsWith(rootfs + '/') ? '/' + relative(rootfs, resolved) : readlinkSync(p);
    }
    return { name: basename(path.replace(/\/+$/, '')) || '/', size: st.size, mode, mtime: st.mtime.toISOString(), linkTarget };
  });
}
