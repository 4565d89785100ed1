// The engine context a dock command opens: the image store, the container and volume records (in
// the same SQLite database) and the runtime library with its state under <root>/runtime.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
    self: selfCommand(),
    close: () => images.close(),
  };
}

/**
 * How dock runs itself (a supervisor's exit and health commands, the API's exec, `dock exec`'s copy):
 * bin/dock when this is bin/dock.js, so that those calls go to the warm server too; otherwise as
 * this process was started.
 */
export function selfCommand(): string[] {
  const script = process.argv[1] ?? '';
  const front = join(dirname(script), 'dock');
  if (script.endsWith('/bin/dock.js') && existsSync(front)) return [front];
  return [process.execPath, ...process.execArgv.filter((a) => !a.startsWith('--inspect')), script];
}
