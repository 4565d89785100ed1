// Finds a local image from what a user typed, as Docker does: a name (busybox, busybox:1.36,
// host:5000/app@sha256:...), a full id (sha256:<hex> or <hex>) or a unique id prefix.

import { RegistryError } from '../registry/errors';
import { formatReference, parseReference, Reference, repositoryName } from '../registry/reference';
import { StoreError } from '../store/errors';
import { ImageRecord, ImageStore } from '../store/store';

export interface FoundImage {
  image: ImageRecord;
  /** The parsed name when the image was found by name. */
  ref?: Reference;
}

export function findImage(store: ImageStore, text: string): FoundImage {
  const t = text.trim();
  if (/^(sha256:)?[0-9a-f]{64}$/.test(t)) {
    const id = t.startsWith('sha256:') ? t : `sha256:${t}`;
    const img = store.getImage(id);
    if (img) return { image: img };
  }
  let ref: Reference | undefined;
  try {
    ref = parseReference(t);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
  }
  if (ref) {
    let id: string | null = null;
    if (ref.digest) {
      id = store.imageIdByRepoDigest(`${repositoryName(ref)}@${ref.digest}`);
      if (!id) {
        const byManifest = store.imageIdsByManifestDigest(ref.digest).filter((i) => {
          const img = store.getImage(i);
          return img?.repoDigests.some((r) => r.startsWith(repositoryName(ref!) + '@')) || img?.tags.some((x) => x.startsWith(repositoryName(ref!) + ':'));
        });
        id = byManifest[0] ?? null;
      }
    } else if (ref.tag) {
      id = store.imageIdByTag(formatReference(ref));
    }
    if (id) {
      const img = store.getImage(id);
      if (img) return { image: img, ref };
    }
  }
  if (/^(sha256:)?[0-9a-f]{1,63}$/.test(t)) {
    const ids = store.imageIdsByPrefix(t);
    if (ids.length > 1) throw new StoreError('EAMBIGUOUS', `image id prefix "${t}" matches ${ids.length} images`);
    if (ids.length === 1) return { image: store.getImage(ids[0])! };
  }
  throw new StoreError('ENOIMAGE', `no such image: ${text}`);
}
