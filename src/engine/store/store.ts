// The image store under the engine root:
//
//   <root>/images/            OCI image layout: oci-layout, index.json, blobs/sha256/<hex>
//   <root>/images/ingest/     partial downloads (<hex>.partial, <hex>.lock)
//   <root>/images.db          SQLite (WAL): images, tags, repo digests, leases, image users
//   <root>/snapshots/<hex>/   each layer unpacked once (named by its diffID), an overlay lowerdir
//
// Safety with several processes and crashes:
//   - a blob or snapshot appears under its final name only complete and verified (rename(2));
//   - an image row is inserted only after checking, inside the write transaction, that all its
//     blobs and snapshots exist;
//   - content being written is held by a lease (a row naming a live pid) taken *before* checking
//     whether the content is already there, and garbage collection decides and deletes while it
//     holds the database's write lock, so it never removes what a live pull is about to use.

import { existsSync, promises as fsp, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobStore, pidAlive } from './blobs';
import { openDb, Db } from './db';
import { digestHex } from './digest';
import { StoreError } from './errors';
import { removeTree, unpackLayerFile } from './unpack';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../registry/manifest';
import { filesSize } from './usage';

export const DEFAULT_ROOT = '/var/lib/skiff';

export function engineRoot(explicit?: string): string {
  return explicit || process.env.DOCK_ROOT || DEFAULT_ROOT;
}

export interface LayerRecord {
  digest: string;
  diffId: string;
  mediaType: string;
  size: number;
}

export interface ImageRecord {
  id: string;
  manifestDigest: string;
  manifestMediaType: string;
  indexDigest: string | null;
  configMediaType: string;
  size: number;
  created: string | null;
  platform: Platform;
  addedAt: number;
  tags: string[];
  repoDigests: string[];
  layers: LayerRecord[];
}

export interface NewImage {
  configDigest: string;
  configMediaType: string;
  manifestDigest: string;
  manifestMediaType: string;
  indexDigest?: string;
  layers: LayerRecord[];
  config: ImageConfig;
  size: number;
}

interface ImageRow {
  id: string;
  manifest_digest: string;
  manifest_media_type: string;
  index_digest: string | null;
  config_media_type: string;
  size: number;
  created: string | null;
  os: string | null;
  architecture: string | null;
  variant: string | null;
  added_at: number;
}

export class Lease {
  constructor(
    private readonly store: ImageStore,
    readonly id: number,
  ) {}
  /** Protects a blob from garbage collection until the lease ends. */
  addBlob(digest: string): void {
    this.store.db.prepare(`INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, 'blob', ?)`).run(this.id, digest);
  }
  addSnapshot(diffId: string): void {
    this.store.db.prepare(`INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, 'snapshot', ?)`).run(this.id, diffId);
  }
  end(): void {
    this.store.db.prepare('DELETE FROM leases WHERE id = ?').run(this.id);
  }
}

export class ImageStore {
  readonly root: string;
  readonly blobs: BlobStore;
  readonly snapshotsDir: string;
  readonly db: Db;
  private readonly unpacking = new Map<string, Promise<void>>();

  private constructor(root: string, db: Db) {
    this.root = root;
    this.db = db;
    this.blobs = new BlobStore(join(root, 'images'));
    this.snapshotsDir = join(root, 'snapshots');
  }

  static async open(root: string = engineRoot()): Promise<ImageStore> {
    try {
      await fsp.mkdir(root, { recursive: true, mode: 0o711 });
      await fsp.mkdir(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StoreError('EIO', `cannot create the engine root ${root}: ${(err as Error).message}`, { cause: err });
    }
    const store = new ImageStore(root, openDb(join(root, 'images.db')));
    await store.blobs.init();
    return store;
  }

  close(): void {
    this.db.close();
  }

  // ---- leases -------------------------------------------------------------------------------

  beginLease(): Lease {
    const r = this.db.prepare('INSERT INTO leases (pid, started_at) VALUES (?, ?)').run(process.pid, Date.now());
    return new Lease(this, Number(r.lastInsertRowid));
  }

  async withLease<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = this.beginLease();
    try {
      return await fn(lease);
    } finally {
      lease.end();
    }
  }

  // ---- snapshots ----------------------------------------------------------------------------

  snapshotPath(diffId: string): string {
    return join(this.snapshotsDir, digestHex(diffId));
  }

  async hasSnapshot(diffId: string): Promise<boolean> {
    try {
      return (await fsp.lstat(this.snapshotPath(diffId))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Unpacks a layer blob into its snapshot directory unless it is there already. The work is done
   * in a temporary directory renamed into place at the end; when two processes race, the second
   * rename fails on the non-empty directory and the loser drops its copy.
   */
  async ensureSnapshot(blobDigest: string, diffId: string, lease: Lease): Promise<'unpacked' | 'present'> {
    lease.addSnapshot(diffId);
    if (await this.hasSnapshot(diffId)) return 'present';
    const running = this.unpacking.get(diffId);
    if (running) {
      await running;
      return 'present';
    }
    const work = this.unpackInto(blobDigest, diffId);
    this.unpacking.set(diffId, work);
    try {
      await work;
    } finally {
      this.unpacking.delete(diffId);
    }
    return 'unpacked';
  }

  private async unpackInto(blobDigest: string, diffId: string): Promise<void> {
    const final = this.snapshotPath(diffId);
    const tmp = join(this.snapshotsDir, `.tmp-${digestHex(diffId).slice(0, 16)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    await fsp.mkdir(tmp, { mode: 0o755 });
    try {
      await unpackLayerFile(this.blobs.path(blobDigest), tmp, { expectedDiffId: diffId, label: blobDigest });
      try {
        await fsp.rename(tmp, final);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        await removeTree(tmp);
      }
    } catch (err) {
      await removeTree(tmp);
      throw err;
    }
  }

  // ---- images -------------------------------------------------------------------------------

  /**
   * Records an image with its tags and repo digests. Fails (and records nothing) when a blob or a
   * snapshot it needs is missing. Tags move from their previous image.
   */
  async putImage(img: NewImage, tags: string[], repoDigests: string[]): Promise<void> {
    const needBlobs = [img.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)];
    if (img.indexDigest) needBlobs.push(img.indexDigest);
    const needSnaps = img.layers.map((l) => l.diffId);
    const p = normalizePlatformOf(img.config);
    this.db
      .transaction(() => {
        // Existence is checked inside the write lock: garbage collection also takes it.
        for (const d of needBlobs) {
          if (!existsSync(this.blobs.path(d))) throw new StoreError('EBLOB', `cannot record the image: blob ${d} is missing from the store`);
        }
        for (const d of needSnaps) {
          if (!existsSync(this.snapshotPath(d))) throw new StoreError('EBLOB', `cannot record the image: layer ${d} is not unpacked`);
        }
        this.db
          .prepare(
            `INSERT INTO images (id, manifest_digest, manifest_media_type, index_digest, config_media_type, size, created, os, architecture, variant, added_at)
             VALUES (@id, @md, @mmt, @idx, @cmt, @size, @created, @os, @arch, @variant, @now)
             ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, manifest_media_type = excluded.manifest_media_type,
               index_digest = COALESCE(excluded.index_digest, images.index_digest), size = excluded.size`,
          )
          .run({
            id: img.configDigest,
            md: img.manifestDigest,
            mmt: img.manifestMediaType,
            idx: img.indexDigest ?? null,
            cmt: img.configMediaType,
            size: img.size,
            created: img.config.created ?? null,
            os: p.os,
            arch: p.architecture,
            variant: p.variant ?? null,
            now: Date.now(),
          });
        this.db.prepare('DELETE FROM image_layers WHERE image_id = ?').run(img.configDigest);
        const ins = this.db.prepare('INSERT INTO image_layers (image_id, idx, blob_digest, diff_id, media_type, size) VALUES (?, ?, ?, ?, ?, ?)');
        img.layers.forEach((l, i) => ins.run(img.configDigest, i, l.digest, l.diffId, l.mediaType, l.size));
        for (const t of tags) this.setTag(t, img.configDigest);
        for (const r of repoDigests) {
          this.db.prepare('INSERT INTO repo_digests (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id').run(r, img.configDigest);
        }
        this.writeLayoutIndex();
      })
      .immediate();
  }

  private setTag(name: string, imageId: string): void {
    this.db
      .prepare('INSERT INTO tags (name, image_id, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, updated_at = excluded.updated_at')
      .run(name, imageId, Date.now());
  }

  tag(imageId: string, name: string): void {
    this.db
      .transaction(() => {
        if (!this.db.prepare('SELECT 1 FROM images WHERE id = ?').get(imageId)) throw new StoreError('ENOIMAGE', `no such image: ${imageId}`);
        this.setTag(name, imageId);
        this.writeLayoutIndex();
      })
      .immediate();
  }

  /** Removes a tag; returns whether it existed. */
  untag(name: string): boolean {
    return this.db
      .transaction(() => {
        const r = this.db.prepare('DELETE FROM tags WHERE name = ?').run(name);
        if (r.changes) this.writeLayoutIndex();
        return r.changes > 0;
      })
      .immediate();
  }

  removeRepoDigest(name: string): boolean {
    return this.db.prepare('DELETE FROM repo_digests WHERE name = ?').run(name).changes > 0;
  }

  /** Deletes the image record (tags, digests, layers cascade). Content goes at the next gc. */
  deleteImage(id: string): void {
    this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
        this.writeLayoutIndex();
      })
      .immediate();
  }

  private rowToRecord(r: ImageRow): ImageRecord {
    const tags = (this.db.prepare('SELECT name FROM tags WHERE image_id = ? ORDER BY name').all(r.id) as Array<{ name: string }>).map((x) => x.name);
    const repoDigests = (this.db.prepare('SELECT name FROM repo_digests WHERE image_id = ? ORDER BY name').all(r.id) as Array<{ name: string }>).map((x) => x.name);
    const layers = (
      this.db.prepare('SELECT blob_digest, diff_id, media_type, size FROM image_layers WHERE image_id = ? ORDER BY idx').all(r.id) as Array<{
        blob_digest: string;
        diff_id: string;
        media_type: string;
        size: number;
      }>
    ).map((l) => ({ digest: l.blob_digest, diffId: l.diff_id, mediaType: l.media_type, size: l.size }));
    return {
      id: r.id,
      manifestDigest: r.manifest_digest,
      manifestMediaType: r.manifest_media_type,
      indexDigest: r.index_digest,
      configMediaType: r.config_media_type,
      size: r.size,
      created: r.created,
      platform: { os: r.os ?? '', architecture: r.architecture ?? '', ...(r.variant ? { variant: r.variant } : {}) },
      addedAt: r.added_at,
      tags,
      repoDigests,
      layers,
    };
  }

  getImage(id: string): ImageRecord | null {
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return r ? this.rowToRecord(r) : null;
  }

  listImages(): ImageRecord[] {
    const rows = this.db.prepare('SELECT * FROM images ORDER BY created DESC, added_at DESC').all() as ImageRow[];
    return rows.map((r) => this.rowToRecord(r));
  }

  imageIdByTag(name: string): string | null {
    const r = this.db.prepare('SELECT image_id FROM tags WHERE name = ?').get(name) as { image_id: string } | undefined;
    return r?.image_id ?? null;
  }

  imageIdByRepoDigest(name: string): string | null {
    const r = this.db.prepare('SELECT image_id FROM repo_digests WHERE name = ?').get(name) as { image_id: string } | undefined;
    return r?.image_id ?? null;
  }

  /** Images whose manifest or index has this digest. */
  imageIdsByManifestDigest(digest: string): string[] {
    return (this.db.prepare('SELECT id FROM images WHERE manifest_digest = ? OR index_digest = ?').all(digest, digest) as Array<{ id: string }>).map((r) => r.id);
  }

  /** Image ids starting with a hex prefix (with or without "sha256:"). */
  imageIdsByPrefix(prefix: string): string[] {
    const hex = prefix.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{1,64}$/.test(hex)) return [];
    return (this.db.prepare("SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id").all(`sha256:${hex}`, `sha256:${hex}g`) as Array<{ id: string }>).map((r) => r.id);
  }

  // ---- content reading ------------------------------------------------------------------------

  async readManifest(img: ImageRecord): Promise<ImageManifest> {
    return this.blobs.readJson<ImageManifest>(img.manifestDigest);
  }

  async readConfig(img: ImageRecord): Promise<ImageConfig> {
    return this.blobs.readJson<ImageConfig>(img.id);
  }

  // ---- blob sources (for cross-repository mounts when pushing) ---------------------------------

  addBlobSource(digest: string, registry: string, repository: string): void {
    this.db.prepare('INSERT OR IGNORE INTO blob_sources (digest, registry, repository) VALUES (?, ?, ?)').run(digest, registry, repository);
  }

  blobSources(digest: string, registry: string): string[] {
    return (this.db.prepare('SELECT repository FROM blob_sources WHERE digest = ? AND registry = ?').all(digest, registry) as Array<{ repository: string }>).map((r) => r.repository);
  }

  // ---- image users (containers) ----------------------------------------------------------------

  /** Called by the containers code when a container is made from an image. */
  addImageUser(containerId: string, imageId: string): void {
    this.db.prepare('INSERT INTO image_users (container_id, image_id) VALUES (?, ?) ON CONFLICT(container_id) DO UPDATE SET image_id = excluded.image_id').run(containerId, imageId);
  }

  removeImageUser(containerId: string): void {
    this.db.prepare('DELETE FROM image_users WHERE container_id = ?').run(containerId);
  }

  /**
   * A compressed blob some image of the store has for the layer `diffId` (so that a load of an
   * uncompressed copy can keep the compressed one); null when there is none.
   */
  compressedLayer(diffId: string): LayerRecord | null {
    const r = this.db.prepare('SELECT blob_digest, media_type, size FROM image_layers WHERE diff_id = ? AND blob_digest != diff_id LIMIT 1').get(diffId) as { blob_digest: string; media_type: string; size: number } | undefined;
    return r ? { digest: r.blob_digest, diffId, mediaType: r.media_type, size: r.size } : null;
  }

  imageUsers(imageId: string): string[] {
    return (this.db.prepare('SELECT container_id FROM image_users WHERE image_id = ?').all(imageId) as Array<{ container_id: string }>).map((r) => r.container_id);
  }

  // ---- garbage collection ----------------------------------------------------------------------

  /**
   * Removes blobs and snapshots that no image, no container, no build cache entry and no live lease refers to, and
   * ingest leftovers of dead processes. Decisions and deletions happen under the write lock.
   */
  async gc(): Promise<{ blobs: number; snapshots: number; bytes: number }> {
    // Leases of dead processes (a crashed pull) are dropped first.
    const leases = this.db.prepare('SELECT id, pid FROM leases').all() as Array<{ id: number; pid: number }>;
    for (const l of leases) if (!pidAlive(l.pid)) this.db.prepare('DELETE FROM leases WHERE id = ?').run(l.id);

    const blobFiles = await this.blobs.list();
    const snapDirs = (await fsp.readdir(this.snapshotsDir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
    let bytes = 0;
    const result = this.db
      .transaction(() => {
        const keepBlobs = new Set<string>();
        const keepSnaps = new Set<string>();
        for (const r of this.db.prepare('SELECT id, manifest_digest, index_digest FROM images').all() as Array<{ id: string; manifest_digest: string; index_digest: string | null }>) {
          keepBlobs.add(r.id);
          keepBlobs.add(r.manifest_digest);
          if (r.index_digest) keepBlobs.add(r.index_digest);
        }
        for (const r of this.db.prepare('SELECT blob_digest, diff_id FROM image_layers').all() as Array<{ blob_digest: string; diff_id: string }>) {
          keepBlobs.add(r.blob_digest);
          keepSnaps.add(r.diff_id);
        }
        for (const r of this.db.prepare('SELECT kind, key FROM lease_resources').all() as Array<{ kind: string; key: string }>) {
          (r.kind === 'blob' ? keepBlobs : keepSnaps).add(r.key);
        }
        // The build cache holds its layers until `builder prune` forgets it: removing an unrelated
        // image must not make every cached step of other builds run again.
        if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'build_cache'").get()) {
          for (const r of this.db.prepare('SELECT state FROM build_cache').all() as Array<{ state: string }>) {
            let layers: LayerRecord[] = [];
            try {
              layers = (JSON.parse(r.state) as { layers?: LayerRecord[] }).layers ?? [];
            } catch {
              continue; // a damaged entry protects nothing
            }
            for (const l of layers) {
              keepBlobs.add(l.digest);
              keepSnaps.add(l.diffId);
            }
          }
        }
        const deadBlobs = blobFiles.filter((d) => !keepBlobs.has(d));
        const deadSnaps = snapDirs.map((h) => `sha256:${h}`).filter((d) => !keepSnaps.has(d));
        for (const d of deadBlobs) {
          try {
            bytes += statSync(this.blobs.path(d)).size;
            rmSync(this.blobs.path(d), { force: true });
          } catch {
            /* gone already */
          }
        }
        // Snapshots are renamed out of the way inside the lock, and deleted after it.
        const trash: string[] = [];
        for (const d of deadSnaps) {
          const t = join(this.snapshotsDir, `.trash-${digestHex(d).slice(0, 16)}-${process.pid}-${Date.now()}`);
          try {
            renameSync(this.snapshotPath(d), t);
            trash.push(t);
          } catch {
            /* gone already */
          }
        }
        this.db.prepare('DELETE FROM blob_sources WHERE digest NOT IN (SELECT value FROM json_each(?))').run(JSON.stringify([...keepBlobs]));
        return { blobs: deadBlobs.length, snapshots: deadSnaps.length, trash };
      })
      .immediate();
    // What the snapshots took on disk is given back too (the blobs are only their compressed form).
    for (const t of result.trash) {
      bytes += filesSize(t);
      await removeTree(t);
    }
    // Leftover temporary snapshot dirs of dead processes.
    for (const n of await fsp.readdir(this.snapshotsDir).catch(() => [] as string[])) {
      const m = /^\.(tmp|trash)-[0-9a-f]{16}-(\d+)-/.exec(n);
      if (m && (m[1] === 'trash' || !pidAlive(Number(m[2])))) await removeTree(join(this.snapshotsDir, n));
    }
    await this.blobs.cleanIngest(24 * 3600 * 1000);
    return { blobs: result.blobs, snapshots: result.snapshots, bytes };
  }

  // ---- OCI layout index.json --------------------------------------------------------------------

  /** Rewrites images/index.json from the database; called inside write transactions. */
  private writeLayoutIndex(): void {
    const rows = this.db.prepare('SELECT id, manifest_digest, manifest_media_type FROM images ORDER BY id').all() as Array<{ id: string; manifest_digest: string; manifest_media_type: string }>;
    const manifests: Descriptor[] = [];
    for (const r of rows) {
      let size = 0;
      try {
        size = statSync(this.blobs.path(r.manifest_digest)).size;
      } catch {
        continue;
      }
      const tags = (this.db.prepare('SELECT name FROM tags WHERE image_id = ? ORDER BY name').all(r.id) as Array<{ name: string }>).map((t) => t.name);
      const base: Descriptor = { mediaType: r.manifest_media_type, digest: r.manifest_digest, size };
      if (tags.length === 0) manifests.push(base);
      for (const t of tags) manifests.push({ ...base, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': t.slice(t.lastIndexOf(':') + 1) } });
    }
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests };
    const p = join(this.blobs.dir, 'index.json');
    const tmp = `${p}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(index, null, 2) + '\n');
    renameSync(tmp, p);
  }
}


function normalizePlatformOf(c: ImageConfig): Platform {
  return { os: c.os ?? 'linux', architecture: c.architecture ?? 'amd64', ...(c.variant ? { variant: c.variant } : {}) };
}
