import { usageError } from './errors';

const ID_RE = /^[\w+\-.]+$/;

/** Container ids as runc accepts them: letters, digits, _ + - ., at most 1024 bytes, not . or .. */
export function checkContainerId(id: string | undefined): string {
  if (!id) throw usageError('container id cannot be empty');
  if (id.length > 1024) throw usageError(`invalid container id: longer than 1024 characters`);
  if (id === '.' || id === '..' || !ID_RE.test(id)) throw usageError(`invalid container id ${JSON.stringify(id)}: only letters, digits, "_", "+", "-" and "." are allowed`);
  return id;
}
