// `dock save` and `dock load`.
//
// save writes, by default, the archive `docker save` has written since Docker 25: an OCI image
// layout (oci-layout, index.json, blobs/sha256/...) whose manifests name uncompressed layers, plus
// the legacy manifest.json and repositories files. `docker load` and `podman load` read it as a
// docker-archive; OCI tools read it as an OCI layout. `--format oci` writes a plain OCI layout
// with the stored (compressed) blobs and manifests, byte for byte.
//
// load reads both kinds (and gzip/zstd-compressed archives), checks every digest and diffID, and
// records the images like a pull does.

import { imageEvent } from './events';
import { createReadStream, createWriteStream, existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { createHash } from 'node:crypto';
import { decompressStream, detectCompression } from '../store/compression';
import { digestHex, HashingStream, sha256 } from '../store/digest';
import { StoreError } from '../store/errors';
import { ImageRecord, ImageStore, LayerRecord } from '../store/store';
import { entryPath } from '../store/unpack';
import { Descriptor, hostPlatform, ImageConfig, ImageIndex, ImageManifest, MT, parseManifest, selectManifest } from '../registry/manifest';
import { familiarReference, formatReference, parseReference } from '../registry/reference';
import { RegistryError } from '../registry/errors';
import { findImage } from './lookup';
import { parseConfig } from './pull';
import { parseJsonDocument } from '../../oci/json';

export type ArchiveFormat = 'docker' | 'oci';

interface PackFile {
  name: string;
  path?: string;
  data?: Buffer;
  size: number;
}

async function writeTar(out: Writable, files: PackFile[]): Promise<void> {
  const pack = tarStream.pack();
  const done = pipeline(pack as unknown as Readable, out);
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        pack.entry({ name: d + '/', type: 'directory', mode: 0o755, mtime: new Date(0) });
      }
    }
    if (f.data) {
      pack.entry({ name: f.name, size: f.size, mode: 0o644, mtime: new Date(0) }, f.data);
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name: f.name, size: f.size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
      pipeline(createReadStream(f.path!), entry as unknown as Writable).catch(reject);
    });
  }
  pack.finalize();
  await done;
}

/** Writes the images named by `names` as one archive to `out`. */
export async function saveImages(store: ImageStore, names: string[], out: Writable, format: ArchiveFormat = 'docker'): Promise<void> {
  const found = names.map((n) => ({ name: n, ...findImage(store, n) }));
  const images = new Map<string, { image: ImageRecord; tags: string[] }>();
  for (const f of found) {
    const e = images.get(f.image.id) ?? { image: f.image, tags: [] };
    if (f.ref?.tag && !e.tags.includes(formatReference(f.ref))) e.tags.push(formatReference(f.ref));
    images.set(f.image.id, e);
  }
  const tmp = await fsp.mkdtemp(join(store.root, 'images', 'ingest', 'save-'));
  try {
    const files = new Map<string, PackFile>();
    const add = (f: PackFile) => files.set(f.name, f);
    const index: ImageIndex = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
    const legacy: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const { image, tags } of images.values()) {
      const configBlob = await store.blobs.read(image.id);
      add({ name: `blobs/sha256/${digestHex(image.id)}`, data: configBlob, size: configBlob.length });
      let manifestDesc: Descriptor;
      const layerPaths: string[] = [];
      if (format === 'oci') {
        const m = await store.blobs.read(image.manifestDigest);
        add({ name: `blobs/sha256/${digestHex(image.manifestDigest)}`, data: m, size: m.length });
        for (const l of image.layers) add({ name: `blobs/sha256/${digestHex(l.digest)}`, path: store.blobs.path(l.digest), size: l.size });
        manifestDesc = { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: m.length };
      } else {
        // Uncompressed layers named by their diffID, as Docker 25+ writes them.
        const layers: Descriptor[] = [];
        for (const l of image.layers) {
          const p = join(tmp, digestHex(l.diffId));
          let size: number;
          if (!files.has(`blobs/sha256/${digestHex(l.diffId)}`)) {
            const { stream } = await decompressStream(store.blobs.stream(l.digest));
            const h = new HashingStream();
            await pipeline(stream, h, createWriteStream(p));
            if (h.digest() !== l.diffId) throw new StoreError('EDIGEST', `layer ${l.digest} in the store does not match its diffID ${l.diffId}`);
            size = h.bytes;
            add({ name: `blobs/sha256/${digestHex(l.diffId)}`, path: p, size });
          } else size = files.get(`blobs/sha256/${digestHex(l.diffId)}`)!.size;
          layers.push({ mediaType: MT.ociLayer, digest: l.diffId, size });
          layerPaths.push(`blobs/sha256/${digestHex(l.diffId)}`);
        }
        const manifest: ImageManifest = { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: image.id, size: configBlob.length }, layers };
        const body = Buffer.from(JSON.stringify(manifest));
        const d = sha256(body);
        add({ name: `blobs/sha256/${digestHex(d)}`, data: body, size: body.length });
        manifestDesc = { mediaType: MT.ociManifest, digest: d, size: body.length };
      }
      const names = tags.length ? tags : [];
      if (names.length === 0) index.manifests.push(manifestDesc);
      for (const t of names) {
        const r = parseReference(t);
        index.manifests.push({ ...manifestDesc, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': r.tag ?? 'latest' } });
        const repo = familiarReference({ ...r, tag: undefined });
        repositories[repo] = { ...(repositories[repo] ?? {}), [r.tag ?? 'latest']: digestHex(image.id) };
      }
      legacy.push({ Config: `blobs/sha256/${digestHex(image.id)}`, RepoTags: names.map((t) => familiarReference(parseReference(t))), Layers: layerPaths });
    }
    const json = (name: string, v: unknown) => {
      const data = Buffer.from(JSON.stringify(v));
      add({ name, data, size: data.length });
    };
    json('oci-layout', { imageLayoutVersion: '1.0.0' });
    json('index.json', index);
    if (format === 'docker') {
      json('manifest.json', legacy);
      if (Object.keys(repositories).length) json('repositories', repositories);
    }
    await writeTar(out, [...files.values()]);
    for (const id of images.keys()) imageEvent(store, 'save', id);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/** Reads an archive (docker-archive or OCI layout, maybe compressed) and records its images. */
export async function loadImages(store: ImageStore, input: Readable): Promise<Array<{ id: string; tags: string[] }>> {
  const tmp = await fsp.mkdtemp(join(store.root, 'images', 'ingest', 'load-'));
  try {
    const { stream } = await decompressStream(input);
    const extract = tarStream.extract();
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (h, body, next) => {
        (async () => {
          const rel = entryPath(h.name, 'archive');
          if (h.type === 'file' && rel) {
            await fsp.mkdir(join(tmp, rel, '..'), { recursive: true });
            await pipeline(body as unknown as Readable, createWriteStream(join(tmp, rel)));
          } else (body as unknown as Readable).resume();
        })().then(() => next(), (e) => extract.destroy(e));
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    await Promise.all([pipeline(stream, extract as unknown as Writable), done]).catch((err) => {
      throw err instanceof StoreError ? err : new StoreError('EARCHIVE', `cannot read the archive: ${(err as Error).message}`);
    });
    const has = (p: string) => fsp.access(join(tmp, p)).then(() => true, () => false);
    const loaded = (await has('manifest.json')) ? await loadDockerArchive(store, tmp) : (await has('index.json')) ? await loadOciLayout(store, tmp) : null;
    if (loaded) {
      for (const l of loaded) imageEvent(store, 'load', l.id, l.tags[0]);
      return loaded;
    }
    throw new StoreError('EARCHIVE', 'the archive has neither manifest.json (docker-archive) nor index.json (OCI layout)');
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: 'sha256:' + h.digest('hex'), size };
}

/** Moves a file of the archive into the blob store, checking its digest when one is expected. */
async function ingestFile(store: ImageStore, path: string, expected?: string): Promise<{ digest: string; size: number }> {
  const r = await hashFile(path);
  if (expected && r.digest !== expected) throw new StoreError('EDIGEST', `archive blob ${expected} hashes to ${r.digest}`);
  if (!(await store.blobs.has(r.digest))) {
    const fh = await fsp.open(path, 'r+');
    await fh.sync();
    await fh.close();
    await fsp.rename(path, store.blobs.path(r.digest));
  }
  return r;
}

async function readJsonFile<T>(path: string, what: string): Promise<T> {
  try {
    return parseJsonDocument(await fsp.readFile(path, 'utf8')) as T;
  } catch (err) {
    throw new StoreError('EARCHIVE', `cannot read ${what} of the archive: ${(err as Error).message}`);
  }
}

/**
 * When the image `id` is in the store with all its blobs and layers, gives it the archive's names
 * and returns it (the caller ingests nothing); else null.
 */
function keepExisting(store: ImageStore, id: string, tags: string[]): { id: string; tags: string[] } | null {
  const rec = store.getImage(id);
  if (!rec) return null;
  const blobs = [rec.id, rec.manifestDigest, ...rec.layers.map((l) => l.digest)];
  if (!blobs.every((d) => existsSync(store.blobs.path(d))) || !rec.layers.every((l) => existsSync(store.snapshotPath(l.diffId)))) return null;
  for (const t of tags) store.tag(rec.id, t);
  return { id: rec.id, tags };
}

async function loadDockerArchive(store: ImageStore, dir: string) {
  const entries = await readJsonFile<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(join(dir, 'manifest.json'), 'manifest.json');
  const out: Array<{ id: string; tags: string[] }> = [];
  for (const e of entries) {
    const cfgPath = join(dir, entryPath(e.Config, 'archive'));
    const configBody = await fsp.readFile(cfgPath).catch(() => {
      throw new StoreError('EARCHIVE', `the archive lacks the config ${e.Config}`);
    });
    const config = parseConfig(configBody, e.Config);
    if (config.rootfs.diff_ids.length !== e.Layers.length) throw new StoreError('EARCHIVE', `${e.Config}: ${e.Layers.length} layers for ${config.rootfs.diff_ids.length} diff_ids`);
    const tags = (e.RepoTags ?? []).map((t) => formatReference(parseReference(t)));
    // An image already in the store (the same config, so the same layers) keeps its record: its
    // compressed layers and manifest, which push uploads. The archive's uncompressed copies are
    // not ingested; only the names are added.
    const known = keepExisting(store, sha256(configBody), tags);
    if (known) {
      out.push(known);
      continue;
    }
    out.push(
      await store.withLease(async (lease) => {
        const configDigest = await store.blobs.put(configBody);
        lease.addBlob(configDigest);
        const layers: LayerRecord[] = [];
        const seen = new Map<string, LayerRecord>();
        for (let i = 0; i < e.Layers.length; i++) {
          const lp = join(dir, entryPath(e.Layers[i], 'archive'));
          let rec = seen.get(lp);
          // A layer the store already has compressed (a shared base) keeps that blob: the archive's
          // uncompressed copy would double its size and what push uploads. Leased before the check.
          const known = rec ? null : store.compressedLayer(config.rootfs.diff_ids[i]);
          if (known) {
            lease.addBlob(known.digest);
            if (await store.blobs.has(known.digest)) rec = known;
          }
          if (!rec) {
            const head = Buffer.alloc(4);
            const fh = await fsp.open(lp, 'r').catch(() => {
              throw new StoreError('EARCHIVE', `the archive lacks the layer ${e.Layers[i]}`);
            });
            await fh.read(head, 0, 4, 0);
            await fh.close();
            const c = detectCompression(head);
            const { digest, size } = await hashFile(lp);
            lease.addBlob(digest);
            await ingestFile(store, lp, digest);
            rec = {
              digest,
              diffId: config.rootfs.diff_ids[i],
              size,
              mediaType: c === 'gzip' ? MT.dockerLayerGzip : c === 'zstd' ? 'application/vnd.docker.image.rootfs.diff.tar.zstd' : 'application/vnd.docker.image.rootfs.diff.tar',
            };
            seen.set(lp, rec);
          }
          await store.ensureSnapshot(rec.digest, config.rootfs.diff_ids[i], lease);
          layers.push({ ...rec, diffId: config.rootfs.diff_ids[i] });
        }
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: MT.dockerManifest,
          config: { mediaType: MT.dockerConfig, digest: configDigest, size: configBody.length },
          layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
        };
        const mbody = Buffer.from(JSON.stringify(manifest));
        const manifestDigest = await store.blobs.put(mbody);
        lease.addBlob(manifestDigest);
        await store.putImage(
          { configDigest, configMediaType: MT.dockerConfig, manifestDigest, manifestMediaType: MT.dockerManifest, layers, config, size: configBody.length + layers.reduce((a, l) => a + l.size, 0) },
          tags,
          [],
        );
        return { id: configDigest, tags };
      }),
    );
  }
  return out;
}

async function loadOciLayout(store: ImageStore, dir: string) {
  const index = await readJsonFile<ImageIndex>(join(dir, 'index.json'), 'index.json');
  const blob = (d: string) => join(dir, 'blobs', 'sha256', digestHex(d));
  const out: Array<{ id: string; tags: string[] }> = [];
  for (const top of index.manifests ?? []) {
    await store.withLease(async (lease) => {
      let desc = top;
      let body = await fsp.readFile(blob(desc.digest)).catch(() => {
        throw new StoreError('EARCHIVE', `the archive lacks the manifest ${desc.digest}`);
      });
      if (sha256(body) !== desc.digest) throw new StoreError('EDIGEST', `archive manifest ${desc.digest} hashes to ${sha256(body)}`);
      let parsed = parseManifest(body, desc.mediaType, desc.digest);
      if (parsed.kind === 'index') {
        desc = selectManifest(parsed.index, hostPlatform(), desc.digest);
        body = await fsp.readFile(blob(desc.digest));
        if (sha256(body) !== desc.digest) throw new StoreError('EDIGEST', `archive manifest ${desc.digest} hashes to ${sha256(body)}`);
        parsed = parseManifest(body, desc.mediaType, desc.digest);
        if (parsed.kind !== 'image') throw new RegistryError('EMANIFEST', `${desc.digest}: nested indexes are not supported`);
      }
      const manifest = parsed.manifest;
      const ann = top.annotations ?? {};
      const name = ann['io.containerd.image.name'] ?? (ann['org.opencontainers.image.ref.name']?.includes('/') || ann['org.opencontainers.image.ref.name']?.includes(':') ? ann['org.opencontainers.image.ref.name'] : undefined);
      const tags = name ? [formatReference(parseReference(name))] : [];
      const known = keepExisting(store, manifest.config.digest, tags);
      if (known) {
        out.push(known);
        return;
      }
      const manifestDigest = await store.blobs.put(body, desc.digest);
      lease.addBlob(manifestDigest);
      const configBody = await fsp.readFile(blob(manifest.config.digest));
      const config: ImageConfig = parseConfig(configBody, manifest.config.digest);
      await store.blobs.put(configBody, manifest.config.digest);
      lease.addBlob(manifest.config.digest);
      const layers: LayerRecord[] = [];
      for (let i = 0; i < manifest.layers.length; i++) {
        const l = manifest.layers[i];
        lease.addBlob(l.digest);
        if (!(await store.blobs.has(l.digest))) await ingestFile(store, blob(l.digest), l.digest);
        await store.ensureSnapshot(l.digest, config.rootfs.diff_ids[i], lease);
        layers.push({ digest: l.digest, diffId: config.rootfs.diff_ids[i], mediaType: l.mediaType, size: l.size });
      }
      await store.putImage(
        { configDigest: manifest.config.digest, configMediaType: manifest.config.mediaType, manifestDigest, manifestMediaType: parsed.mediaType, layers, config, size: manifest.config.size + layers.reduce((a, l) => a + l.size, 0) },
        tags,
        [],
      );
      out.push({ id: manifest.config.digest, tags });
    });
  }
  return out;
}
