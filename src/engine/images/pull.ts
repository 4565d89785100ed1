// `dock pull`: resolve a reference to one platform's manifest, fetch its config and layers
// (several at once, each verified while it streams, resumed after interruptions), unpack each
// layer once, then record the image. The image row is written last, in one transaction that
// checks all its content is present: a crash at any point leaves no image pointing at a missing
// blob, and the partial downloads stay to be resumed.

import { imageEvent } from './events';
import { RegistryClient, ClientOptions } from '../registry/client';
import { RegistryError } from '../registry/errors';
import { Descriptor, hostPlatform, ImageConfig, ImageManifest, isLayerMediaType, parseManifest, Platform, selectManifest, formatPlatform, normalizePlatform } from '../registry/manifest';
import { formatReference, parseReference, Reference, repositoryName, familiarReference } from '../registry/reference';
import { Lease, ImageStore, LayerRecord } from '../store/store';
import { shortId } from '../store/digest';
import { StoreError } from '../store/errors';
import { ProgressSink, silentProgress } from './progress';
import { parseJsonDocument } from '../../oci/json';

export interface PullOptions extends ClientOptions {
  platform?: Platform;
  progress?: ProgressSink;
  /** Layers downloaded at once. */
  concurrency?: number;
}

export interface PullResult {
  id: string;
  reference: string;
  /** Digest of what the reference resolved to (index or manifest), as in RepoDigests. */
  digest: string;
  manifestDigest: string;
  /** True when nothing had to be downloaded. */
  upToDate: boolean;
}

export async function pullImage(store: ImageStore, refText: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refText);
  const client = new RegistryClient(ref.domain, opts);
  return pullWithClient(store, client, ref, opts);
}

export async function pullWithClient(store: ImageStore, client: RegistryClient, ref: Reference, opts: PullOptions = {}): Promise<PullResult> {
  const progress = opts.progress ?? silentProgress;
  const want = opts.platform ?? hostPlatform();
  const label = formatReference(ref);
  const repo = ref.path;
  // Said once the registry has the reference (as dockerd): a reference it does not know fails
  // before any progress, so the API can still answer with the error's own status (404).
  let top = await client.getManifest(repo, ref.digest ?? ref.tag!);
  // dockerd names the repository by its path on the registry ("library/busybox", "team/app").
  progress.message(`${ref.tag ?? ref.digest}: Pulling from ${ref.path}`);
  let parsed = parseManifest(top.body, top.contentType, label);
  let indexDigest: string | undefined;
  let indexBody: Buffer | undefined;
  if (parsed.kind === 'index') {
    indexDigest = top.digest;
    indexBody = top.body;
    const desc = selectManifest(parsed.index, want, label);
    top = await client.getManifest(repo, desc.digest);
    parsed = parseManifest(top.body, top.contentType, `${label} (${formatPlatform(normalizePlatform(want))})`);
    if (parsed.kind !== 'image') throw new RegistryError('EMANIFEST', `${label}: the index points at another index, which is not supported`);
  }
  const manifest: ImageManifest = parsed.manifest;
  const manifestDigest = top.digest;
  for (const l of manifest.layers) {
    if (!isLayerMediaType(l.mediaType)) throw new RegistryError('EMANIFEST', `${label}: layer ${l.digest} has unsupported media type "${l.mediaType}"`);
  }

  const upToDate = { value: true };
  const result = await store.withLease(async (lease) => {
    // Leased before checking presence: a concurrent `image prune` cannot remove them meanwhile.
    for (const d of [manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest), ...(indexDigest ? [indexDigest] : [])]) lease.addBlob(d);
    if (indexBody) await store.blobs.put(indexBody, indexDigest);
    await store.blobs.put(top.body, manifestDigest);

    let configBody: Buffer;
    if (await store.blobs.has(manifest.config.digest)) configBody = await store.blobs.read(manifest.config.digest);
    else {
      configBody = await client.getBlob(repo, manifest.config, 16 << 20);
      await store.blobs.put(configBody, manifest.config.digest);
    }
    const config = parseConfig(configBody, label);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new RegistryError('EMANIFEST', `${label}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff_ids`);
    }

    const layers: LayerRecord[] = manifest.layers.map((l, i) => ({ digest: l.digest, diffId: diffIds[i], mediaType: l.mediaType, size: l.size }));
    await fetchLayers(store, client, repo, manifest.layers, diffIds, lease, progress, opts.concurrency ?? 3, upToDate);

    client.checkCancelled(); // a pull given up during the last unpack records nothing
    const tags = ref.tag ? [formatReference({ domain: ref.domain, path: ref.path, tag: ref.tag })] : [];
    const digest = indexDigest ?? manifestDigest;
    await store.putImage(
      {
        configDigest: manifest.config.digest,
        configMediaType: manifest.config.mediaType,
        manifestDigest,
        manifestMediaType: parsed.mediaType,
        indexDigest,
        layers,
        config,
        size: manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0),
      },
      tags,
      [`${repositoryName(ref)}@${digest}`],
    );
    for (const d of [manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest), ...(indexDigest ? [indexDigest] : [])]) {
      store.addBlobSource(d, ref.domain, ref.path);
    }
    return { id: manifest.config.digest, reference: formatReference(ref), digest, manifestDigest, upToDate: upToDate.value };
  });
  progress.message(`Digest: ${result.digest}`);
  progress.message(result.upToDate ? `Status: Image is up to date for ${formatReference(ref)}` : `Status: Downloaded newer image for ${formatReference(ref)}`);
  imageEvent(store, 'pull', familiarReference(ref), formatReference(ref));
  return result;
}

export function parseConfig(body: Buffer, label: string): ImageConfig {
  let c: ImageConfig;
  try {
    c = parseJsonDocument(body.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new RegistryError('EMANIFEST', `${label}: the image config is not valid JSON: ${(err as Error).message}`);
  }
  if (!c || typeof c !== 'object' || !c.rootfs || !Array.isArray(c.rootfs.diff_ids)) {
    throw new RegistryError('EMANIFEST', `${label}: the image config has no rootfs.diff_ids`);
  }
  for (const d of c.rootfs.diff_ids) {
    if (typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d)) throw new RegistryError('EMANIFEST', `${label}: the image config has a malformed diff_id "${String(d)}"`);
  }
  return c;
}

async function fetchLayers(
  store: ImageStore,
  client: RegistryClient,
  repo: string,
  layers: Descriptor[],
  diffIds: string[],
  lease: Lease,
  progress: ProgressSink,
  concurrency: number,
  upToDate: { value: boolean },
): Promise<void> {
  const work = new Map<string, { desc: Descriptor; diffId: string }>();
  layers.forEach((d, i) => {
    if (!work.has(d.digest)) work.set(d.digest, { desc: d, diffId: diffIds[i] });
  });
  for (const { desc } of work.values()) progress.layer(shortId(desc.digest), 'waiting', 0, desc.size);

  const queue = [...work.values()];
  const unpacks: Array<Promise<void>> = [];
  let failure: unknown = null;
  const worker = async () => {
    while (queue.length && !failure) {
      const { desc, diffId } = queue.shift()!;
      const id = shortId(desc.digest);
      try {
        lease.addSnapshot(diffId);
        const haveBlob = await store.blobs.has(desc.digest);
        const haveSnap = await store.hasSnapshot(diffId);
        if (haveBlob && haveSnap) {
          progress.layer(id, 'exists', desc.size, desc.size);
          continue;
        }
        upToDate.value = false;
        if (!haveBlob) await downloadLayer(store, client, repo, desc, progress);
        // Unpacking goes on while the next layers download.
        unpacks.push(
          (async () => {
            progress.layer(id, 'extracting', desc.size, desc.size);
            await store.ensureSnapshot(desc.digest, diffId, lease);
            progress.layer(id, 'complete', desc.size, desc.size);
          })().catch((err) => {
            progress.layer(id, 'failed');
            failure ??= err;
          }),
        );
      } catch (err) {
        progress.layer(id, 'failed');
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
  await Promise.all(unpacks);
  if (failure) throw failure;
}

async function downloadLayer(store: ImageStore, client: RegistryClient, repo: string, desc: Descriptor, progress: ProgressSink): Promise<void> {
  const id = shortId(desc.digest);
  for (;;) {
    client.checkCancelled();
    const ingest = await store.blobs.openIngest(desc.digest);
    if (!ingest) {
      // Another process downloads this blob: wait for it to land (or for its lock to go).
      await new Promise((r) => setTimeout(r, 200));
      if (await store.blobs.has(desc.digest)) return;
      continue;
    }
    try {
      if (await store.blobs.has(desc.digest)) return;
      progress.layer(id, 'downloading', ingest.offset, desc.size);
      let last = 0;
      await client.downloadBlob(repo, desc, ingest, (n) => {
        const now = Date.now();
        if (now - last > 100 || n === desc.size) {
          last = now;
          progress.layer(id, 'downloading', n, desc.size);
        }
      });
      progress.layer(id, 'verifying', desc.size, desc.size);
      try {
        await ingest.commit(desc.size);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'EDIGEST') {
          throw new RegistryError('EDIGEST', `${err.message} (corrupted in the registry or on the way; the partial download was discarded)`);
        }
        throw err;
      }
      progress.layer(id, 'downloaded', desc.size, desc.size);
      return;
    } catch (err) {
      // A cancelled pull (its API client went away) leaves no partial download; one interrupted
      // by the network keeps it, to be resumed.
      if (err instanceof RegistryError && err.code === 'ECANCELED') await ingest.discard();
      throw err;
    } finally {
      await ingest.release();
    }
  }
}
