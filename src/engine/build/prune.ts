// `dock builder prune`: forget the build cache (all of it, or entries unused for a while), remove
// the RUN --mount=type=cache directories and stale short links, then collect the layers and
// snapshots nothing refers to any more (the store's garbage collection, which spares everything a
// live build or pull holds a lease on).

import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageStore } from '../store/store';
import { BuildCache } from './cache';

export interface PruneResult {
  entries: number;
  cacheMounts: number;
  bytes: number;
}

function treeSize(p: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const q = join(d, n);
      const st = lstatSync(q);
      if (st.isDirectory()) walk(q);
      else total += st.size;
    }
  };
  try {
    walk(p);
  } catch {
    /* raced with a removal */
  }
  return total;
}

/** `olderThanMs`: only entries unused for that long (and cache mounts are kept). */
export async function pruneBuildCache(store: ImageStore, opts: { olderThanMs?: number } = {}): Promise<PruneResult> {
  const base = join(store.root, 'build');
  const entries = new BuildCache(store).prune(opts.olderThanMs === undefined ? undefined : Date.now() - opts.olderThanMs);
  let bytes = 0;
  let cacheMounts = 0;
  // Cache mounts go only with a full prune, and not while a build runs a step (it may use one).
  const running = existsSync(join(base, 'runtime')) && readdirSync(join(base, 'runtime')).length > 0;
  const mounts = join(base, 'cache-mounts');
  if (opts.olderThanMs === undefined && !running && existsSync(mounts)) {
    for (const n of readdirSync(mounts)) {
      bytes += treeSize(join(mounts, n));
      rmSync(join(mounts, n), { recursive: true, force: true });
      cacheMounts++;
    }
  }
  const gc = await store.gc();
  bytes += gc.bytes;
  // Short lowerdir links whose snapshot is gone.
  const links = join(base, 'l');
  if (existsSync(links)) {
    for (const n of readdirSync(links)) {
      try {
        statSync(readlinkSync(join(links, n)));
      } catch {
        rmSync(join(links, n), { force: true });
      }
    }
  }
  return { entries, cacheMounts, bytes };
}
