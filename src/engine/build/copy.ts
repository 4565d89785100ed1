// COPY and ADD into a step's mounted root, with Docker's rules:
//   - a directory source copies its contents; a file source lands in `dest/` when dest ends with
//     "/" or is an existing directory, else at dest itself; several sources need a dest ending in /;
//   - files from the context belong to root (or --chown); files from another stage or image keep
//     their owners (or --chown); --chmod applies to what is copied; mtimes are kept;
//   - paths inside the root are resolved as the container would (symlinks stay inside it);
//   - ADD extracts a local tar archive (plain, gzip, bzip2, xz, zstd) into dest.

import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  closeSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { resolveInRoot } from '../containers/rootfs';
import { detectCompression } from '../store/compression';
import { unpackLayerStream } from '../store/unpack';
import type { BuildContext } from './context';
import { BuildError } from './errors';

/** One thing to copy: a host path (file, dir or link) and the name it has at the destination. */
export interface CopyItem {
  /** Host path of the source. */
  host: string;
  /** Base name used when copied into a directory. */
  name: string;
  /** Keep the source's owners (COPY --from) instead of root. */
  keepOwner: boolean;
  /** Included descendants (relative), for context directories filtered by .dockerignore. */
  only?: (rel: string) => boolean;
  /** Inline content (heredoc). */
  data?: string;
}

export interface CopyOptions {
  chown?: { uid: number; gid: number };
  chmod?: number;
  /** ADD: extract local archives. */
  extract?: boolean;
}

const isDirDest = (dest: string) => dest.endsWith('/') || dest.endsWith('/.') || dest === '.';

/** Makes every missing directory of `dir` (a path in the container) and returns its host path. */
export function mkdirInRoot(rootfs: string, dir: string, owner?: { uid: number; gid: number }): string {
  const parts = dir.split('/').filter((p) => p && p !== '.');
  let cur = '/';
  for (const p of parts) {
    cur = posix.join(cur, p);
    const host = resolveInRoot(rootfs, cur);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) {
      mkdirSync(host, { mode: 0o755 });
      if (owner) lchownSync(host, owner.uid, owner.gid);
    } else if (!st.isDirectory()) {
      throw new BuildError('ESTEP', `cannot copy to ${dir}: ${cur} is not a directory`);
    }
  }
  return resolveInRoot(rootfs, dir || '/');
}

/** Copies items to `dest` (absolute container path) inside `rootfs`. */
export async function copyInto(rootfs: string, dest: string, items: CopyItem[], opts: CopyOptions): Promise<void> {
  if (items.length === 0) return;
  const destHost = resolveInRoot(rootfs, dest);
  const destSt = lstatSync(destHost, { throwIfNoEntry: false });
  const intoDir = isDirDest(dest) || items.length > 1 || (destSt?.isDirectory() ?? false);
  if (items.length > 1 && !isDirDest(dest) && !destSt?.isDirectory()) {
    throw new BuildError('ESTEP', `When using COPY with more than one source file, the destination must be a directory and end with a /`);
  }
  for (const item of items) {
    if (item.data !== undefined) {
      const target = intoDir ? posix.join(mkdirInRootPath(rootfs, dest, opts), item.name) : dest;
      if (!intoDir) mkdirInRoot(rootfs, posix.dirname(dest), undefined);
      const host = resolveInRoot(rootfs, target);
      rmSync(host, { recursive: true, force: true });
      writeFileSync(host, item.data, { mode: 0o644 });
      chmodSync(host, opts.chmod ?? 0o644);
      lchownSync(host, opts.chown?.uid ?? 0, opts.chown?.gid ?? 0);
      continue;
    }
    const st = lstatSync(item.host);
    if (opts.extract && st.isFile() && (await isArchive(item.host))) {
      const dir = mkdirInRootPath(rootfs, dest, opts);
      await extractArchive(item.host, rootfs, dir, opts);
      continue;
    }
    if (st.isDirectory()) {
      const dir = mkdirInRootPath(rootfs, dest, opts);
      copyTree(item, '', rootfs, dir, opts);
      continue;
    }
    const target = intoDir ? posix.join(mkdirInRootPath(rootfs, dest, opts), item.name) : dest;
    if (!intoDir) mkdirInRoot(rootfs, posix.dirname(dest), undefined);
    copyOne(item, item.host, st, rootfs, target, opts);
  }
}

function mkdirInRootPath(rootfs: string, dir: string, opts: CopyOptions): string {
  mkdirInRoot(rootfs, dir, opts.chown);
  return dir.replace(/\/+$/, '') || '/';
}

/** Copies a directory's (included) contents to container dir `to`. */
function copyTree(item: CopyItem, rel: string, rootfs: string, to: string, opts: CopyOptions): void {
  const src = rel ? join(item.host, rel) : item.host;
  for (const n of readdirSync(src).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    if (item.only && !item.only(r)) continue;
    const p = join(item.host, r);
    const st = lstatSync(p);
    const target = posix.join(to, n);
    if (st.isDirectory()) {
      const host = resolveInRoot(rootfs, target);
      const have = lstatSync(host, { throwIfNoEntry: false });
      if (have && !have.isDirectory()) rmSync(host, { force: true });
      if (!have || !have.isDirectory()) mkdirSync(host, { mode: 0o755 });
      copyTree(item, r, rootfs, target, opts);
      applyMeta(host, st, item, opts, false);
    } else {
      copyOne(item, p, st, rootfs, target, opts);
    }
  }
}

function copyOne(item: CopyItem, src: string, st: Stats, rootfs: string, target: string, opts: CopyOptions): void {
  // The last component is not followed: an existing link at the target is replaced.
  const host = join(resolveInRoot(rootfs, posix.dirname(target)), posix.basename(target));
  const have = lstatSync(host, { throwIfNoEntry: false });
  if (have) rmSync(host, { recursive: true, force: true });
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), host);
    applyMeta(host, st, item, opts, true);
  } else if (st.isFile()) {
    copyFileSync(src, host);
    applyMeta(host, st, item, opts, false);
  }
  // Devices, fifos and sockets in a build context are skipped, as BuildKit does.
}

function applyMeta(host: string, st: Stats, item: CopyItem, opts: CopyOptions, link: boolean): void {
  const uid = opts.chown?.uid ?? (item.keepOwner ? st.uid : 0);
  const gid = opts.chown?.gid ?? (item.keepOwner ? st.gid : 0);
  lchownSync(host, uid, gid);
  if (!link) chmodSync(host, opts.chmod ?? st.mode & 0o7777);
  lutimesSync(host, st.atime, st.mtime);
}

// ---- ADD of local archives ---------------------------------------------------------------------

function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

type ArchiveKind = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'tar';

function archiveKind(b: Buffer): ArchiveKind | null {
  const c = detectCompression(b);
  if (c === 'gzip' || c === 'zstd') return c;
  if (b.length >= 3 && b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.length >= 262 && b.toString('latin1', 257, 262) === 'ustar') return 'tar';
  return null;
}

/** A tar archive, possibly compressed (its decompressed start is checked for a tar header). */
export async function isArchive(path: string): Promise<boolean> {
  const kind = archiveKind(head(path, 512));
  if (!kind) return false;
  if (kind === 'tar') return true;
  const start = await decompressedHead(path, kind, 512);
  return start.length >= 262 && start.toString('latin1', 257, 262) === 'ustar';
}

function decompressedStream(path: string, kind: ArchiveKind): Readable {
  if (kind === 'bzip2' || kind === 'xz') {
    const child = spawn(kind === 'xz' ? 'xz' : 'bzip2', ['-dc', path], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', (e) => child.stdout.destroy(new BuildError('ESTEP', `ADD: cannot decompress ${path} (${kind}): ${e.message}`)));
    return child.stdout;
  }
  return createReadStream(path); // gzip and zstd: unpackLayerStream decompresses them itself
}

async function decompressedHead(path: string, kind: ArchiveKind, n: number): Promise<Buffer> {
  const { decompressStream } = await import('../store/compression');
  const src = decompressedStream(path, kind);
  const { stream } = kind === 'gzip' || kind === 'zstd' ? await decompressStream(src) : { stream: src };
  const chunks: Buffer[] = [];
  let have = 0;
  try {
    for await (const c of stream) {
      chunks.push(c as Buffer);
      have += (c as Buffer).length;
      if (have >= n) break;
    }
  } catch {
    return Buffer.alloc(0);
  } finally {
    stream.destroy();
    src.destroy();
  }
  return Buffer.concat(chunks);
}

async function extractArchive(path: string, rootfs: string, destDir: string, opts: CopyOptions): Promise<void> {
  const kind = archiveKind(head(path, 512))!;
  const tmp = mkdtempSync(join(tmpdir(), 'dock-add-'));
  try {
    await unpackLayerStream(decompressedStream(path, kind), tmp, { label: `ADD ${posix.basename(path)}` });
    copyTree({ host: tmp, name: '', keepOwner: true }, '', rootfs, destDir, opts);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Sources of a context COPY: each named entry with the filter of its included descendants. */
export function contextItems(ctx: BuildContext, rels: string[]): CopyItem[] {
  return rels.map((rel) => {
    const base = rel === '' ? '' : rel.slice(rel.lastIndexOf('/') + 1);
    return {
      host: ctx.abs(rel),
      name: base,
      keepOwner: false,
      only: (sub: string) => !ctx.isIgnored(rel ? `${rel}/${sub}` : sub),
    };
  });
}
