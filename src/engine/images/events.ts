// Image events as dockerd logs them: the actor is the image id (the reference for a pull), `name`
// the familiar reference (or the id when there is none).

import { recordEvent } from '../events/log';
import { familiarReference, parseReference } from '../registry/reference';
import type { ImageStore } from '../store/store';

export function imageEvent(store: ImageStore, action: string, id: string, name = id): void {
  let familiar = name;
  try {
    if (!name.startsWith('sha256:')) familiar = familiarReference(parseReference(name));
  } catch {
    /* keep it as given */
  }
  recordEvent(store.db, 'image', action, id, { name: familiar });
}
