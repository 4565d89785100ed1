// --cidfile, with docker's client semantics: a file that exists already is refused (another
// container may own it), the file is made before the container, and it is removed again when the
// create fails, so that a failed run leaves nothing behind.

import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { usage } from './errors';

export class CidFile {
  private constructor(
    private readonly path: string,
    private fd: number,
  ) {}

  /** O_EXCL: an existing file (or a symlink in its place) is never followed nor overwritten. */
  static open(path: string): CidFile {
    if (!path) throw usage('invalid --cidfile: an empty path');
    try {
      return new CidFile(path, openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw usage(`container ID file found, make sure the other container isn't running or delete ${path}`);
      throw usage(`failed to create the container ID file ${path}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  }

  write(id: string): void {
    try {
      writeSync(this.fd, id);
    } finally {
      this.close();
    }
  }

  /** The create failed: the file goes. */
  discard(): void {
    this.close();
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  private close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
