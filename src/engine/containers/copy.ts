// `dock cp` (both directions, as tar streams) and `dock export` (the whole root filesystem as tar).
// Paths in the container are resolved in its tree (symlinks stay inside it; mounts of volumes and
// binds map to their host directories). A stopped container's overlay is mounted for the copy.

import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { resolveImage } from '../images/rootfs';
import type { Engine } from './engine';
import { ContainerError } from './errors';
import { withLockAsync } from './lock';
import { containerDir } from './paths';
import { isMounted, mountOverlay, resolveInRoot, unmountOverlay } from './rootfs';
import { liveState } from './status';
import type { ContainerDoc } from './types';

/** Runs `fn` with the container's root filesystem mounted (mounting it for a stopped container). */
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
    try {
      return await fn(rootfs);
    } finally {
      if (!mounted && !running) unmountOverlay(dir);
    }
  });
}

/** Host path of a container path: inside a volume or bind mount, or in the root filesystem. */
function hostPath(doc: ContainerDoc, rootfs: string, path: string): string {
  const p = posix.normalize(path.startsWith('/') ? path : `/${path}`);
  const mounts = [...doc.Mounts].filter((m) => m.Type !== 'tmpfs').sort((a, b) => b.Destination.length - a.Destination.length);
  for (const m of mounts) {
    if (p === m.Destination || p.startsWith(m.Destination + '/')) return resolveInRoot(m.Source, p.slice(m.Destination.length));
  }
  return resolveInRoot(rootfs, p);
}

function run(cmd: string, args: string[], input?: NodeJS.ReadableStream, output?: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', output ? 'pipe' : 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    if (input) input.pipe(c.stdin!);
    if (output) c.stdout!.pipe(output as NodeJS.WritableStream, { end: false });
    c.on('error', reject);
    // tar's complaints, one line: "Member name contains '..'"; its closing summary says nothing.
    const why = () => err.split('\n').map((l) => l.trim()).filter((l) => l && !/Exiting with failure status/.test(l)).join('; ');
    c.on('close', (code) => (code === 0 ? resolve() : reject(new ContainerError('EUSAGE', `${cmd}: ${why() || `exit status ${code}`}`))));
  });
}

/** Container → tar on `out` (the path's last element as the archive's top entry, as docker cp does). */
export async function copyFromContainer(engine: Engine, doc: ContainerDoc, path: string, out: NodeJS.WritableStream): Promise<void> {
  await withRootfs(engine, doc, async (rootfs) => {
    const src = hostPath(doc, rootfs, path);
    if (!existsSync(src)) throw new ContainerError('ENOTFOUND', `could not find the file ${path} in container ${doc.Name}`);
    const name = path.endsWith('/.') ? '.' : basename(src);
    await run('tar', ['-c', '-f', '-', '-C', name === '.' ? src : dirname(src), name], undefined, out);
  });
}

/** tar on `input` → a directory of the container. */
export async function copyToContainer(engine: Engine, doc: ContainerDoc, path: string, input: NodeJS.ReadableStream): Promise<void> {
  await withRootfs(engine, doc, async (rootfs) => {
    const dest = hostPath(doc, rootfs, path);
    let st;
    try {
      st = statSync(dest);
    } catch {
      throw new ContainerError('ENOTFOUND', `could not find the directory ${path} in container ${doc.Name}`);
    }
    if (!st.isDirectory()) throw new ContainerError('EUSAGE', `cannot copy into ${path}: not a directory`);
    // GNU tar refuses ../ members, creates the archive's symlinks last (so that a member cannot be
    // written through one), and replaces rather than follows a symlink the container put where the
    // archive has a directory (no --keep-directory-symlink). --no-overwrite-dir keeps directory modes.
    // Left: a running container can still race the extraction (rename a directory meanwhile).
    await run('tar', ['-x', '-f', '-', '-C', dest, '--no-overwrite-dir'], input);
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
    const { lstatSync, readlinkSync } = await import('node:fs');
    const p = hostPath(doc, rootfs, path);
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
    return { name: basename(path.replace(/\/+$/, '')) || '/', size: st.size, mode, mtime: st.mtime.toISOString(), linkTarget: st.isSymbolicLink() ? readlinkSync(p) : '' };
  });
}
