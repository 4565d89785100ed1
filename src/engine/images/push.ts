// `dock push`: the image's blobs (config and layers) go first, skipping those the registry has and
// mounting those known to exist in another repository of the same registry, then the manifest,
// byte for byte as stored, so the pushed digest is the local manifest digest.

import { RegistryClient, ClientOptions } from '../registry/client';
import { Descriptor, ImageManifest } from '../registry/manifest';
import { familiarName, formatReference, parseReference, repositoryName } from '../registry/reference';
import { shortId } from '../store/digest';
import { ImageStore } from '../store/store';
import { findImage } from './lookup';
import { ProgressSink, silentProgress } from './progress';

export interface PushOptions extends ClientOptions {
  progress?: ProgressSink;
  concurrency?: number;
}

export interface PushResult {
  reference: string;
  digest: string;
  size: number;
}

export async function pushImage(store: ImageStore, refText: string, opts: PushOptions = {}): Promise<PushResult> {
  const progress = opts.progress ?? silentProgress;
  const ref = parseReference(refText);
  const { image } = findImage(store, refText);
  const manifestBody = await store.blobs.read(image.manifestDigest);
  const manifest = JSON.parse(manifestBody.toString('utf8')) as ImageManifest;
  const client = new RegistryClient(ref.domain, opts);
  const repo = ref.path;
  progress.message(`The push refers to repository [${repositoryName(ref)}]`);

  const blobs: Descriptor[] = [];
  const seen = new Set<string>();
  for (const d of [...manifest.layers, manifest.config]) {
    if (!seen.has(d.digest)) {
      seen.add(d.digest);
      blobs.push(d);
    }
  }
  for (const d of blobs) progress.layer(shortId(d.digest), 'waiting', 0, d.size);
  const queue = [...blobs];
  const worker = async () => {
    while (queue.length) {
      const d = queue.shift()!;
      const id = shortId(d.digest);
      if (await client.hasBlob(repo, d.digest)) {
        progress.layer(id, 'exists', d.size, d.size);
        continue;
      }
      let mounted = false;
      for (const from of store.blobSources(d.digest, ref.domain)) {
        if (from === repo) continue;
        if (await client.mountBlob(repo, d.digest, from)) {
          mounted = true;
          progress.layer(id, 'mounted', d.size, d.size);
          break;
        }
      }
      if (!mounted) {
        progress.layer(id, 'uploading', 0, d.size);
        let last = 0;
        await client.uploadBlob(repo, d, store.blobs.path(d.digest), (n) => {
          if (Date.now() - last > 100) {
            last = Date.now();
            progress.layer(id, 'uploading', n, d.size);
          }
        });
        progress.layer(id, 'pushed', d.size, d.size);
      }
      store.addBlobSource(d.digest, ref.domain, repo);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 3, queue.length)) }, worker));

  const tag = ref.digest ?? ref.tag ?? 'latest';
  const digest = await client.putManifest(repo, ref.digest ? image.manifestDigest : tag, manifestBody, image.manifestMediaType);
  store.addBlobSource(image.manifestDigest, ref.domain, repo);
  store.db.prepare('INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?, ?)').run(`${repositoryName(ref)}@${digest}`, image.id);
  progress.message(`${ref.tag ?? familiarName(ref)}: digest: ${digest} size: ${manifestBody.length}`);
  return { reference: formatReference(ref), digest, size: manifestBody.length };
}
