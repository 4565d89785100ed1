// Unpacks one layer tarball into a directory that overlayfs can use as a lowerdir as it is:
//   - `.wh.NAME` becomes an overlay whiteout (a 0/0 character device named NAME),
//   - `.wh..wh..opq` becomes the `trusted.overlay.opaque=y` xattr on its directory,
//   - hardlinks, symlinks, devices, fifos, xattrs, owners, modes and mtimes are kept,
//   - an entry that would land outside the directory (`..`, or a path through a symlink) is
//     refused: the layer is rejected as a whole.
// The uncompressed stream is hashed on the way and compared to the layer's diffID.
//
// Node has no mknod(2): device nodes, fifos and whiteouts are collected while the tar streams and
// made at the end with one `sh` running coreutils' mknod, so a layer costs one process spawn
// whatever its number of whiteouts. Their metadata is then applied from here like any entry.

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  promises as fsp,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { setAttributeSync } from '@napi-rs/xattr';
import { decompressStream, Compression } from './compression';
import { HashingStream } from './digest';
import { StoreError } from './errors';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

// tar-stream decodes PAX record values as UTF-8, which mangles binary xattr values such as
// security.capability. The extractor's long-header hook is wrapped so that SCHILY.xattr.* values
// are decoded again from the raw record bytes, as latin1 (one char per byte), and turned back
// into bytes when applied. The unpack tests check a binary capability survives.
function decodePaxXattrs(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = parseInt(buf.subarray(0, i).toString('latin1'), 10);
    if (!len || len > buf.length) break;
    const rec = buf.subarray(i + 1, len - 1);
    const eq = rec.indexOf(61); // '='
    if (eq > 0) {
      const key = rec.subarray(0, eq).toString('utf8');
      if (key.startsWith('SCHILY.xattr.')) out[key] = rec.subarray(eq + 1).toString('latin1');
    }
    buf = buf.subarray(len);
  }
  return out;
}

interface ExtractInternals {
  _header?: { type?: string };
  _pax?: Record<string, string> | null;
  _paxGlobal?: Record<string, string> | null;
  _decodeLongHeader?: (buf: Buffer) => void;
}

function keepBinaryXattrs(extract: tarStream.Extract): void {
  const ex = extract as unknown as ExtractInternals;
  const orig = ex._decodeLongHeader;
  if (typeof orig !== 'function') return;
  ex._decodeLongHeader = function (this: ExtractInternals, buf: Buffer) {
    orig.call(this, buf);
    const type = this._header?.type;
    if (type === 'pax-header' && this._pax) Object.assign(this._pax, decodePaxXattrs(buf));
    else if (type === 'pax-global-header' && this._paxGlobal) Object.assign(this._paxGlobal, decodePaxXattrs(buf));
  };
}

export interface UnpackOptions {
  /** When given, the uncompressed stream must hash to it. */
  expectedDiffId?: string;
  /** Name used in error messages (usually the blob digest). */
  label?: string;
}

export interface UnpackResult {
  diffId: string;
  compression: Compression;
  /** Uncompressed size of the tar stream. */
  size: number;
}

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  xattrs: Array<[string, Buffer]>;
}

interface Special extends Meta {
  path: string;
  kind: 'c' | 'b' | 'p';
  major: number;
  minor: number;
}

const layerError = (label: string, why: string) => new StoreError('ELAYER', `layer ${label}: ${why}`);

/** Normalises a tar entry name to a path relative to the layer root, refusing any `..`. */
export function entryPath(name: string, label = 'layer'): string {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw layerError(label, `entry "${name}" escapes the layer root`);
    parts.push(p);
  }
  return parts.join('/');
}

function xattrsOf(header: tarStream.Header): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  const pax = (header as { pax?: Record<string, string> }).pax;
  if (!pax) return out;
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith('SCHILY.xattr.')) out.push([k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'latin1')]);
  }
  return out;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Unpacks a layer read from `src` (compressed or not) into `dest`, which must exist and be empty. */
export async function unpackLayerStream(src: Readable, dest: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const label = opts.label ?? 'layer';
  const { compression, stream } = await decompressStream(src);
  const hasher = new HashingStream();
  const extract = tarStream.extract();
  keepBinaryXattrs(extract);

  const checkedDirs = new Set<string>(['']); // relative dirs known to be real directories
  const dirMeta = new Map<string, Meta>(); // metadata to apply to directories at the end
  const specials = new Map<string, Special>(); // made in one batch after the stream
  const deferredLinks: Array<{ target: string; path: string }> = []; // hardlinks to specials
  const opaque = new Set<string>();

  const abs = (rel: string) => (rel === '' ? dest : join(dest, rel));

  // Makes sure every component of `rel` is a real directory of this layer (created if missing),
  // never a symlink: writing through one would land outside the snapshot.
  const ensureDir = async (rel: string): Promise<void> => {
    if (checkedDirs.has(rel)) return;
    await ensureDir(dirname(rel) === '.' ? '' : dirname(rel));
    const p = abs(rel);
    let st = lstatSync(p, { throwIfNoEntry: false });
    if (st && st.isSymbolicLink()) throw layerError(label, `entry path goes through the symlink "/${rel}"`);
    if (st && !st.isDirectory()) {
      if (specials.has(rel)) specials.delete(rel);
      await fsp.rm(p, { force: true });
      st = undefined;
    }
    if (!st) mkdirSync(p, { mode: 0o755 });
    checkedDirs.add(rel);
  };

  const clear = async (rel: string) => {
    specials.delete(rel);
    const p = abs(rel);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      await fsp.rm(p, { recursive: true, force: true });
      for (const d of [...checkedDirs]) if (d === rel || d.startsWith(rel + '/')) checkedDirs.delete(d);
      for (const d of [...dirMeta.keys()]) if (d === rel || d.startsWith(rel + '/')) dirMeta.delete(d);
    } else {
      unlinkSync(p);
    }
  };

  // Metadata calls are synchronous: they are short, and a trip through libuv's thread pool for
  // each of them costs more than the call itself when a layer has thousands of small files.
  const setXattrs = (p: string, m: Meta, isLink: boolean) => {
    for (const [k, v] of m.xattrs) {
      try {
        setAttributeSync(p, k, v);
      } catch (err) {
        // user.* xattrs are not allowed on symlinks; anything else is a real failure.
        if (!(isLink && k.startsWith('user.'))) throw layerError(label, `cannot set xattr ${k} on "${p.slice(dest.length)}": ${(err as Error).message}`);
      }
    }
  };
  const applyMeta = async (p: string, m: Meta, isLink: boolean) => {
    lchownSync(p, m.uid, m.gid);
    if (!isLink) chmodSync(p, m.mode & 0o7777);
    setXattrs(p, m, isLink);
    lutimesSync(p, m.mtime, m.mtime);
  };
  const SMALL_FILE = 4 << 20;
  const writeSmallFile = async (p: string, body: Readable, size: number, m: Meta) => {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fchownSync(fd, m.uid, m.gid);
      fchmodSync(fd, m.mode & 0o7777);
      setXattrs(p, m, false);
      futimesSync(fd, m.mtime, m.mtime);
    } finally {
      closeSync(fd);
    }
  };

  const onEntry = async (header: tarStream.Header, body: Readable): Promise<void> => {
    const rel = entryPath(header.name, label);
    const meta: Meta = {
      mode: header.mode ?? 0o644,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      mtime: header.mtime ?? new Date(0),
      xattrs: xattrsOf(header),
    };
    if (rel === '') {
      if (header.type === 'directory') dirMeta.set('', meta);
      body.resume();
      return;
    }
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    const base = slash < 0 ? rel : rel.slice(slash + 1);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      body.resume();
      await ensureDir(parent);
      if (base === OPAQUE_WHITEOUT) {
        opaque.add(parent);
        return;
      }
      if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // aufs metadata (.wh..wh.plnk etc.)
      const target = join(parent, base.slice(WHITEOUT_PREFIX.length));
      entryPath(target, label);
      await clear(target);
      specials.set(target, { path: target, kind: 'c', major: 0, minor: 0, ...meta, mode: 0, xattrs: [] });
      return;
    }

    await ensureDir(parent);
    const p = abs(rel);
    switch (header.type) {
      case 'directory': {
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) await clear(rel);
        if (!st || !st.isDirectory()) mkdirSync(p, { mode: 0o700 });
        checkedDirs.add(rel);
        dirMeta.set(rel, meta);
        body.resume();
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await clear(rel);
        if ((header.size ?? 0) <= SMALL_FILE) {
          await writeSmallFile(p, body, header.size ?? 0, meta);
          return;
        }
        await pipeline(body, createWriteStream(p, { flags: 'wx', mode: 0o600 }));
        await applyMeta(p, meta, false);
        return;
      }
      case 'symlink': {
        body.resume();
        await clear(rel);
        symlinkSync(header.linkname ?? '', p);
        await applyMeta(p, meta, true);
        return;
      }
      case 'link': {
        body.resume();
        const target = entryPath(header.linkname ?? '', label);
        if (target === '') throw layerError(label, `hardlink "${header.name}" points at the layer root`);
        const tslash = target.lastIndexOf('/');
        const tparent = tslash < 0 ? '' : target.slice(0, tslash);
        if (!checkedDirs.has(tparent)) throw layerError(label, `hardlink "${header.name}" points at "${header.linkname}", which is not in this layer`);
        if (target === rel) return;
        await clear(rel);
        if (specials.has(target)) {
          deferredLinks.push({ target, path: rel });
          return;
        }
        try {
          await fsp.link(abs(target), p);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw layerError(label, `hardlink "${header.name}" points at "${header.linkname}", which is not in this layer`);
          throw err;
        }
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        body.resume();
        await clear(rel);
        const kind = header.type === 'fifo' ? 'p' : header.type === 'block-device' ? 'b' : 'c';
        specials.set(rel, { path: rel, kind, major: header.devmajor ?? 0, minor: header.devminor ?? 0, ...meta });
        return;
      }
      default:
        // pax global headers and unknown GNU extensions carry no file.
        body.resume();
        return;
    }
  };

  const sink = new Writable({
    write(chunk, _enc, cb) {
      if (!extract.write(chunk)) extract.once('drain', () => cb());
      else cb();
    },
    final(cb) {
      (extract as unknown as { end(): void }).end();
      cb();
    },
  });

  const extracted = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      onEntry(header, body as unknown as Readable).then(
        () => next(),
        (err) => {
          body.resume();
          extract.destroy(err);
        },
      );
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });

  try {
    await Promise.all([pipeline(stream, hasher, sink), extracted]);
  } catch (err) {
    src.destroy();
    stream.destroy();
    if (err instanceof StoreError) throw err;
    throw layerError(label, `cannot unpack: ${(err as Error).message}`);
  }

  const diffId = hasher.digest();
  if (opts.expectedDiffId && diffId !== opts.expectedDiffId) {
    throw new StoreError('EDIGEST', `layer ${label}: uncompressed content is ${diffId}, the image config says ${opts.expectedDiffId}`);
  }

  if (specials.size) {
    const script = [...specials.values()]
      .map((s) => `mknod -m 0 ${shq(abs(s.path))} ${s.kind}${s.kind === 'p' ? '' : ` ${s.major} ${s.minor}`}`)
      .join('\n');
    const r = spawnSync('sh', ['-e'], { input: script, encoding: 'utf8' });
    if (r.status !== 0) throw layerError(label, `cannot make device nodes: ${(r.stderr || r.error?.message || '').trim()}`);
    for (const s of specials.values()) await applyMeta(abs(s.path), s, false);
    for (const l of deferredLinks) await fsp.link(abs(l.target), abs(l.path));
  }
  for (const d of opaque) setAttributeSync(abs(d), OVERLAY_OPAQUE_XATTR, 'y');
  // Directories last, deepest first, so that creating their children does not move their mtime.
  const dirs = [...dirMeta.keys()].sort((a, b) => b.length - a.length);
  for (const d of dirs) await applyMeta(abs(d), dirMeta.get(d)!, false);

  return { diffId, compression, size: hasher.bytes };
}

export async function unpackLayerFile(blobPath: string, dest: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  return unpackLayerStream(createReadStream(blobPath, { highWaterMark: 1 << 20 }), dest, opts);
}

/** Removes a directory tree that may contain read-only directories and device nodes. */
export async function removeTree(p: string): Promise<void> {
  await fsp.rm(p, { recursive: true, force: true, maxRetries: 2 });
}
