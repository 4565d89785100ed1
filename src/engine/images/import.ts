// `dock import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image. The
// layer is stored gzip-compressed; its diffID is hashed from the uncompressed stream on the way.

import { imageEvent } from './events';
import { createWriteStream, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { hostPlatform, ImageConfig, ImageManifest, MT } from '../registry/manifest';
import { formatReference, parseReference } from '../registry/reference';
import { decompressStream } from '../store/compression';
import { HashingStream } from '../store/digest';
import { StoreError } from '../store/errors';
import { ImageStore } from '../store/store';

export interface ImportOptions {
  /** Name for the image (repository[:tag]). */
  reference?: string;
  message?: string;
  /** Config changes: Cmd, Entrypoint, Env, WorkingDir, User, Labels. */
  config?: ImageConfig['config'];
  /** created_by text of the history entry. */
  createdBy?: string;
}

export async function importRootfs(store: ImageStore, input: Readable, opts: ImportOptions = {}): Promise<string> {
  const ref = opts.reference ? parseReference(opts.reference) : undefined;
  const tmp = join(store.blobs.ingestDir, `import-${process.pid}-${Date.now()}.tar.gz`);
  try {
    const { stream } = await decompressStream(input);
    const diff = new HashingStream();
    const blob = new HashingStream();
    try {
      await pipeline(stream, diff, createGzip({ level: 6 }), blob, createWriteStream(tmp));
    } catch (err) {
      throw new StoreError('EARCHIVE', `cannot read the tarball: ${(err as Error).message}`);
    }
    const diffId = diff.digest();
    const layerDigest = blob.digest();
    const now = new Date().toISOString();
    const p = hostPlatform();
    const config: ImageConfig = {
      architecture: p.architecture,
      os: p.os,
      ...(p.variant ? { variant: p.variant } : {}),
      created: now,
      config: opts.config ?? {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: now, created_by: opts.createdBy ?? 'dock import', ...(opts.message ? { comment: opts.message } : {}) }],
    };
    const configBody = Buffer.from(JSON.stringify(config));
    return await store.withLease(async (lease) => {
      lease.addBlob(layerDigest);
      if (!(await store.blobs.has(layerDigest))) await fsp.rename(tmp, store.blobs.path(layerDigest));
      const configDigest = await store.blobs.put(configBody);
      lease.addBlob(configDigest);
      await store.ensureSnapshot(layerDigest, diffId, lease);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: configDigest, size: configBody.length },
        layers: [{ mediaType: MT.ociLayerGzip, digest: layerDigest, size: blob.bytes }],
      };
      const mbody = Buffer.from(JSON.stringify(manifest));
      const manifestDigest = await store.blobs.put(mbody);
      lease.addBlob(manifestDigest);
      await store.putImage(
        {
          configDigest,
          configMediaType: MT.ociConfig,
          manifestDigest,
          manifestMediaType: MT.ociManifest,
          layers: [{ digest: layerDigest, diffId, mediaType: MT.ociLayerGzip, size: blob.bytes }],
          config,
          size: configBody.length + blob.bytes,
        },
        ref ? [formatReference(ref)] : [],
        [],
      );
      imageEvent(store, 'import', configDigest, ref ? formatReference(ref) : configDigest);
      return configDigest;
    });
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
