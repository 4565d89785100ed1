// `dock rmi` and `dock image prune`. Removing an image drops its names and record; its blobs and
// snapshots go in the garbage collection that follows, unless another image shares them.

import { familiarReference, parseReference, formatReference, repositoryName } from '../registry/reference';
import { ImageStore } from '../store/store';
import { ImageError } from './errors';
import { imageEvent } from './events';
import { findImage } from './lookup';

export interface RemoveReport {
  untagged: string[];
  deleted: string[];
}

/**
 * Removes what `text` names. By name: the tag goes, and the image too when it was its last name.
 * By id: the image with all its names (with several names, only with force, as Docker does).
 * An image used by a container is refused unless `force`; forced, it only loses its names.
 */
export async function removeImage(store: ImageStore, text: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<RemoveReport> {
  const { image } = findImage(store, text);
  const report = await removeFound(store, text, opts);
  for (const _ of report.untagged) imageEvent(store, 'untag', image.id);
  for (const id of report.deleted) imageEvent(store, 'delete', id);
  return report;
}

async function removeFound(store: ImageStore, text: string, opts: { force?: boolean; noPrune?: boolean }): Promise<RemoveReport> {
  const { image, ref } = findImage(store, text);
  const report: RemoveReport = { untagged: [], deleted: [] };
  const users = store.imageUsers(image.id);
  const inUse = () => new ImageError('EINUSE', `image ${text} is used by container ${users[0]}: remove the container first, or use -f`);
  const untagAll = () => {
    for (const t of image.tags) {
      store.untag(t);
      report.untagged.push(familiarReference(parseReference(t)));
    }
  };

  if (ref && (ref.tag !== undefined || ref.digest !== undefined)) {
    const name = formatReference(ref);
    const isTag = ref.tag !== undefined && image.tags.includes(name);
    const lastName = isTag ? image.tags.length === 1 : image.tags.length === 0;
    if (users.length && lastName && !opts.force) throw inUse();
    if (isTag) store.untag(name);
    else store.removeRepoDigest(`${repositoryName(ref)}@${ref.digest}`);
    report.untagged.push(familiarReference(ref));
    if (!lastName || users.length) return report;
  } else {
    if (users.length && !opts.force) throw inUse();
    if (image.tags.length > 1 && !opts.force) {
      throw new ImageError('EUSAGE', `image ${image.id.slice(7, 19)} is referenced in several repositories (${image.tags.map((t) => familiarReference(parseReference(t))).join(', ')}): use -f to remove all`);
    }
    if (users.length) {
      untagAll();
      return report;
    }
  }
  const rec = store.getImage(image.id)!;
  for (const t of rec.tags) report.untagged.push(familiarReference(parseReference(t)));
  for (const d of rec.repoDigests) {
    const at = d.indexOf('@');
    report.untagged.push(familiarReference({ ...parseReference(d.slice(0, at), { defaultTag: false }), digest: d.slice(at + 1) }));
  }
  store.deleteImage(image.id);
  report.deleted.push(image.id);
  if (!opts.noPrune) await store.gc();
  return report;
}

/** `dock image prune`: dangling images (no tag) not used by a container; with all, any unused. */
export async function pruneImages(store: ImageStore, opts: { all?: boolean } = {}): Promise<{ deleted: string[]; reclaimed: number }> {
  const deleted: string[] = [];
  for (const img of store.listImages()) {
    if (store.imageUsers(img.id).length) continue;
    if (!opts.all && img.tags.length) continue;
    store.deleteImage(img.id);
    imageEvent(store, 'delete', img.id);
    deleted.push(img.id);
  }
  const gc = await store.gc();
  return { deleted, reclaimed: gc.bytes };
}

