// `dock system prune`: docker's order — stopped containers, unused networks, (with volumes)
// unused anonymous volumes, dangling (with all: unused) images, the build cache — each through
// the engine function its own prune command uses, with the space each really gave back.

import { pruneBuildCache } from '../build/prune';
import type { Engine } from '../containers/engine';
import { networkManager } from '../containers/network';
import { pruneContainers } from '../containers/remove';
import { pruneImages } from '../images/remove';

export interface SystemPruneResult {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
  buildCacheEntries: number;
  /** Bytes reclaimed, all kinds together. */
  bytes: number;
}

export async function pruneSystem(engine: Engine, o: { all?: boolean; volumes?: boolean } = {}): Promise<SystemPruneResult> {
  const containers = await pruneContainers(engine);
  const networks = await networkManager(engine).pruneNetworks();
  const volumes = o.volumes ? engine.volumes.prune({ all: false }) : { removed: [], bytes: 0 };
  const images = await pruneImages(engine.images, { all: o.all });
  const cache = await pruneBuildCache(engine.images, {});
  return {
    containers: containers.ids,
    networks,
    volumes: volumes.removed,
    images: images.deleted,
    buildCacheEntries: cache.entries,
    bytes: containers.bytes + volumes.bytes + images.reclaimed + cache.bytes,
  };
}

/** docker's warning for the prune, by flags. */
export function systemPruneWarning(o: { all?: boolean; volumes?: boolean }): string {
  const lines = ['all stopped containers', 'all networks not used by at least one container'];
  if (o.volumes) lines.push('all anonymous volumes not used by at least one container');
  lines.push(o.all ? 'all images without at least one container associated to them' : 'all dangling images');
  lines.push(o.all ? 'all build cache' : 'unused build cache');
  return `This will remove:\n${lines.map((l) => `  - ${l}\n`).join('')}`;
}
