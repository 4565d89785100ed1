// The engine context a dock command opens: the image store, the container and volume records (in
// the same SQLite database) and the runtime library with its state under <root>/runtime.

import { mkdirSync } from 'node:fs';
import { openRuntime, type Runtime } from '../../runtime/runtime';
import { ImageStore, engineRoot } from '../store/store';
import { VolumeStore } from '../volumes/store';
import { enginePaths, type EnginePaths } from './paths';
import { ContainerStore } from './store';

export interface Engine {
  root: string;
  paths: EnginePaths;
  images: ImageStore;
  containers: ContainerStore;
  volumes: VolumeStore;
  rt: Runtime;
  /** argv that runs this dock (node + script): the supervisor's exit and health commands use it. */
  self: string[];
  close(): void;
}

export async function openEngine(root?: string, opts: { debug?: boolean } = {}): Promise<Engine> {
  const r = engineRoot(root);
  const images = await ImageStore.open(r);
  const paths = enginePaths(r);
  for (const d of [paths.containers, paths.runtime, paths.volumes]) mkdirSync(d, { recursive: true, mode: 0o711 });
  const rt = openRuntime({ root: paths.runtime, debug: opts.debug });
  return {
    root: r,
    paths,
    images,
    containers: new ContainerStore(images.db),
    volumes: new VolumeStore(images.db, r),
    rt,
    self: [process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--inspect')), process.argv[1]],
    close: () => images.close(),
  };
}
