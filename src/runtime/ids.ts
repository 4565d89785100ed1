// The one check of a container id. Every verb that takes an id reaches the file system only
// through StateStore.dir(), which applies it; create and run call it first so that a bad id is
// reported before the config. An id becomes a directory name (<root>/<id>) and a cgroup name,
// so it must be one path component: never "", ".", "..", a "/" or a name longer than NAME_MAX.
import { usageError } from './errors';

/** NAME_MAX: a longer id could never be a directory name (mkdir would fail with ENAMETOOLONG). */
export const MAX_ID_LENGTH = 255;

const ID_RE = /^[A-Za-z0-9_+\-.]+$/;

/** Container ids as runc accepts them: letters, digits, _ + - ., not . or .., at most 255 bytes. */
export function checkContainerId(id: string | undefined): string {
  if (typeof id !== 'string' || id === '') throw usageError('invalid container id: it cannot be empty');
  if (id.length > MAX_ID_LENGTH) throw usageError(`invalid container id: ${id.length} characters long, at most ${MAX_ID_LENGTH} are allowed`);
  if (id === '.' || id === '..' || !ID_RE.test(id)) {
    throw usageError(`invalid container id ${JSON.stringify(id)}: only letters, digits, "_", "+", "-" and "." are allowed, and not "." or ".."`);
  }
  return id;
}
