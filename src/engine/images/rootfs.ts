// What the containers code needs from an image: its config, its manifest and the snapshot
// directories of its layers, ready to be overlay lowerdirs.

import { promises as fsp } from 'node:fs';
import type { ImageConfig, ImageManifest } from '../registry/manifest';
import { ImageStore } from '../store/store';
import { findImage } from './lookup';

export interface ResolvedImage {
  /** Image id (config digest). */
  id: string;
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
  /** Layer snapshot directories, bottom (base) layer first. */
  layers: Array<{ diffId: string; path: string }>;
  /** The same directories in overlayfs order: top layer first. */
  lowerdirs: string[];
}

/**
 * Resolves an image reference or id to its config, manifest and unpacked layers. A snapshot that
 * went missing is unpacked again from its blob.
 */
export async function resolveImage(store: ImageStore, reference: string): Promise<ResolvedImage> {
  const { image } = findImage(store, reference);
  const [manifest, config] = await Promise.all([store.readManifest(image), store.readConfig(image)]);
  const layers: Array<{ diffId: string; path: string }> = [];
  await store.withLease(async (lease) => {
    for (const l of image.layers) {
      await store.ensureSnapshot(l.digest, l.diffId, lease);
      layers.push({ diffId: l.diffId, path: store.snapshotPath(l.diffId) });
    }
  });
  for (const l of layers) await fsp.access(l.path);
  return { id: image.id, manifestDigest: image.manifestDigest, manifest, config, layers, lowerdirs: [...layers].reverse().map((l) => l.path) };
}
