// A build whose context is a tar archive (POST /build; `dock build -` with a tarball on stdin): the
// archive is unpacked into a temporary directory, the Dockerfile is found inside it (resolved in
// that tree: a `../` or a symlink never reaches a host file), and the directory goes when done.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openRuntime } from '../../runtime/runtime';
import { resolveInRoot } from '../containers/rootfs';
import type { ImageStore } from '../store/store';
import { build, type Builder, type BuildOptions, type BuildResult } from './builder';
import { contextArchiveKind, extractContextArchive } from './context';
import { BuildError } from './errors';

export type ArchiveBuildOptions = Omit<BuildOptions, 'contextDir' | 'dockerfile' | 'dockerfilePath' | 'root'> & {
  /** Path of the Dockerfile inside the context (default "Dockerfile"). */
  dockerfile?: string;
  debug?: boolean;
};

export async function buildFromArchive(store: ImageStore, archive: Buffer, o: ArchiveBuildOptions, onBuilder?: (b: Builder) => void): Promise<BuildResult> {
  const kind = contextArchiveKind(archive.subarray(0, 512));
  if (kind === null) throw new BuildError('ECONTEXT', 'the build context is not a tar archive (plain, gzip, bzip2 or xz)');
  const dir = extractContextArchive(archive, kind);
  try {
    const name = o.dockerfile || 'Dockerfile';
    let path: string;
    let text: string;
    try {
      path = resolveInRoot(dir, name);
      text = readFileSync(path, 'utf8');
    } catch {
      throw new BuildError('ECONTEXT', `cannot read the Dockerfile ${name} in the build context: no such file`);
    }
    const rt = openRuntime({ root: join(store.root, 'build', 'runtime'), debug: o.debug });
    const { dockerfile: _d, debug: _g, ...rest } = o;
    return await build(store, rt, { ...rest, root: store.root, contextDir: dir, dockerfile: text, dockerfilePath: path }, onBuilder);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
