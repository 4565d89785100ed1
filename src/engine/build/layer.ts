// A build step's layer: the overlay upper directory of the step, packed as an OCI layer tarball.
// Only upper/ is walked (it holds exactly what the step changed), never the whole tree:
//   - an overlay whiteout (a 0/0 character device) becomes `.wh.NAME`,
//   - a directory with trusted.overlay.opaque=y becomes the directory plus `.wh..wh..opq`,
//   - overlay's own trusted.overlay.* xattrs are dropped; other xattrs go in PAX records,
//   - hardlinks inside the layer are kept as tar hardlinks, sockets are skipped (tar has none).
// The tar is gzip-compressed into the blob store; its diffID (sha256 of the tar) and digest (of
// the gzip) are hashed on the way. The layer's snapshot is then unpacked from the blob by the
// store, so a built layer is exactly what a puller of the image gets.

import { createWriteStream, lstatSync, promises as fsp, readlinkSync, createReadStream, type Stats } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { getAttributeSync, listAttributesSync } from '@napi-rs/xattr';
import { MT } from '../registry/manifest';
import { HashingStream } from '../store/digest';
import type { Lease, ImageStore, LayerRecord } from '../store/store';
import { OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from '../store/unpack';

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && Number(st.rdev) === 0;
}

function devNumbers(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  return { major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)) };
}

interface Xattrs {
  /** Text values, written through tar-stream's PAX support. */
  pax?: Record<string, string>;
  /** Values that are not UTF-8 text (e.g. security.capability): written in a PAX header of ours. */
  binary: Array<[string, Buffer]>;
  opaque: boolean;
}

function xattrsOf(p: string): Xattrs {
  let names: string[];
  try {
    names = listAttributesSync(p);
  } catch {
    return { binary: [], opaque: false };
  }
  let opaque = false;
  const pax: Record<string, string> = {};
  const binary: Array<[string, Buffer]> = [];
  for (const n of names) {
    if (n === OVERLAY_OPAQUE_XATTR) {
      opaque = getAttributeSync(p, n)?.toString() === 'y';
      continue;
    }
    if (n.startsWith('trusted.overlay.')) continue;
    const v = getAttributeSync(p, n);
    if (!v) continue;
    const text = v.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(v) && !text.includes('\n')) pax[`SCHILY.xattr.${n}`] = text;
    else binary.push([n, v]);
  }
  return { ...(Object.keys(pax).length ? { pax } : {}), binary, opaque };
}

/** One PAX record: "<length> <key>=<value>\n", the length counting itself, in bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A ustar header of type 'x' (PAX extended header) followed by `body`, padded to 512 bytes. */
export function paxHeaderBlock(body: Buffer, mtime: Date): Buffer {
  const h = Buffer.alloc(512);
  const oct = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';
  h.write('PaxHeaders/entry', 0, 'ascii');
  h.write(oct(0o644, 8), 100, 'ascii');
  h.write(oct(0, 8), 108, 'ascii');
  h.write(oct(0, 8), 116, 'ascii');
  h.write(oct(body.length, 12), 124, 'ascii');
  h.write(oct(Math.floor(mtime.getTime() / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // the checksum counts itself as spaces
  h.write('x', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  const pad = (512 - (body.length % 512)) % 512;
  return Buffer.concat([h, body, Buffer.alloc(pad)]);
}

/** Whether an upper directory holds any change. */
export async function hasChanges(upper: string): Promise<boolean> {
  return (await fsp.readdir(upper)).length > 0;
}

/** Writes the tar of `upper` to `out` (a writable stream); entries `skip` names are left out. */
export async function packUpper(upper: string, pack: tarStream.Pack, skip?: (rel: string, st: Stats) => boolean): Promise<void> {
  const links = new Map<string, string>();
  const entry = (header: Partial<tarStream.Header> & { name: string }, body?: Buffer | string) =>
    new Promise<void>((resolve, reject) => {
      pack.entry(header as tarStream.Header, body ?? "", (err) => (err ? reject(err) : resolve()));
    });
  const walk = async (rel: string): Promise<void> => {
    const names = (await fsp.readdir(rel ? join(upper, rel) : upper)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const p = join(upper, r);
      const st = lstatSync(p);
      if (skip?.(r, st)) continue;
      const common = { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777, mtime: st.mtime };
      if (isWhiteout(st)) {
        await entry({ ...common, name: rel ? `${rel}/${WHITEOUT_PREFIX}${n}` : `${WHITEOUT_PREFIX}${n}`, type: 'file', size: 0, mode: 0o644 });
        continue;
      }
      if (st.isSocket()) continue;
      if (st.nlink > 1 && !st.isDirectory()) {
        // A second name of an inode in this layer: a hardlink entry (the first carries the xattrs).
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first) {
          await entry({ ...common, name: r, type: 'link', linkname: first });
          continue;
        }
        links.set(key, r);
      }
      const { pax: textPax, binary: bin, opaque } = xattrsOf(p);
      const binary = st.isSymbolicLink() ? [] : bin; // a link's own xattrs are user.* text at most
      let pax = textPax;
      let name = st.isDirectory() ? r + '/' : r;
      if (binary.length) {
        // tar-stream writes PAX values as UTF-8 text, which would mangle binary values: the whole
        // extended header is written here as its own entry, path included, and the entry that
        // follows gets a plain short name (readers take the PAX path).
        const records = [paxRecord('path', Buffer.from(name))];
        for (const [k, v] of Object.entries(textPax ?? {})) records.push(paxRecord(k, Buffer.from(v)));
        for (const [k, v] of binary) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
        const body = Buffer.concat(records);
        // tar-stream takes a body only for files: the header block goes into the stream as
        // bytes, between two entries (the pack is idle: every entry above was awaited).
        (pack as unknown as { push(b: Buffer): boolean }).push(paxHeaderBlock(body, st.mtime));
        pax = undefined;
        name = `pax-named-${n.replace(/[^\x20-\x7e]/g, '_')}`.slice(0, 98) + (st.isDirectory() ? '/' : '');
      }
      if (st.isDirectory()) {
        await entry({ ...common, name, type: 'directory', ...(pax ? { pax } : {}) });
        if (opaque) await entry({ ...common, name: `${r}/${OPAQUE_WHITEOUT}`, type: 'file', size: 0, mode: 0o644 });
        await walk(r);
        continue;
      }
      if (st.isSymbolicLink()) {
        await entry({ ...common, name, type: 'symlink', linkname: readlinkSync(p), ...(pax ? { pax } : {}) });
      } else if (st.isFile()) {
        await new Promise<void>((resolve, reject) => {
          const e = pack.entry({ ...common, name, type: 'file', size: st.size, ...(pax ? { pax } : {}) } as tarStream.Header, (err) => (err ? reject(err) : resolve()));
          pipeline(createReadStream(p), e).catch(reject);
        });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const { major, minor } = devNumbers(Number(st.rdev));
        await entry({ ...common, name, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major, devminor: minor });
      } else if (st.isFIFO()) {
        await entry({ ...common, name, type: 'fifo' });
      }
    }
  };
  await walk('');
  pack.finalize();
}

/**
 * Packs `upper` into a gzip layer blob in the store and unpacks its snapshot; the lease keeps both
 * from garbage collection until the image that uses them is recorded.
 */
export async function commitLayer(store: ImageStore, upper: string, lease: Lease, skip?: (rel: string, st: Stats) => boolean): Promise<LayerRecord> {
  const tmp = join(store.blobs.ingestDir, `build-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.tar.gz`);
  try {
    const pack = tarStream.pack();
    const diff = new HashingStream();
    const blob = new HashingStream();
    await Promise.all([packUpper(upper, pack, skip), pipeline(pack as unknown as Readable, diff, createGzip({ level: 6 }), blob, createWriteStream(tmp))]);
    const digest = blob.digest();
    const diffId = diff.digest();
    lease.addBlob(digest);
    if (!(await store.blobs.has(digest))) await fsp.rename(tmp, store.blobs.path(digest));
    await store.ensureSnapshot(digest, diffId, lease);
    return { digest, diffId, mediaType: MT.ociLayerGzip, size: blob.bytes };
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
