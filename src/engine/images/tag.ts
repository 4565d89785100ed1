// `dock tag` / POST /images/{name}/tag: another name for an image already in the store.

import { parseReference, formatReference } from '../registry/reference';
import type { ImageStore } from '../store/store';
import { ImageError } from './errors';
import { imageEvent } from './events';
import { findImage } from './lookup';

export function tagImage(store: ImageStore, source: string, target: string): string {
  const { image } = findImage(store, source);
  const ref = parseReference(target);
  if (ref.digest) throw new ImageError('EUSAGE', `cannot tag with a digest: ${target}`);
  const name = formatReference(ref);
  store.tag(image.id, name);
  imageEvent(store, 'tag', image.id, name);
  return name;
}
