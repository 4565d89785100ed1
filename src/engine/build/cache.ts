// The build cache: a step's result (the image config and layers after it) under a key that
// chains the parent's key, the instruction after substitution and, for COPY/ADD, the hash of
// the content it reads. The table lives in the engine's SQLite database beside the images
// (created here if missing; the images schema does not know it). A hit is used only when the
// blobs of its layers are still in the store: garbage collection may have taken them.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { ImageConfig } from '../registry/manifest';
import type { ImageStore, LayerRecord } from '../store/store';

export interface BuildState {
  config: ImageConfig;
  layers: LayerRecord[];
}

export function chainKey(parent: string, ...parts: string[]): string {
  const h = createHash('sha256').update(parent);
  for (const p of parts) h.update('\0').update(p);
  return 'sha256:' + h.digest('hex');
}

export class BuildCache {
  constructor(private readonly store: ImageStore) {
    store.db.exec(`CREATE TABLE IF NOT EXISTS build_cache (
      key TEXT PRIMARY KEY,     -- chained step key (chainKey)
      state TEXT NOT NULL,      -- JSON BuildState after the step
      used_at INTEGER NOT NULL  -- unix ms of the last build that made or reused it
    )`);
  }

  /**
   * The state stored under `key`, if its layer blobs are still there. `protect` is called with the
   * blobs before they are checked (a lease: garbage collection must not take them in between).
   */
  get(key: string, protect: (digests: string[]) => void = () => undefined): BuildState | null {
    const row = this.store.db.prepare('SELECT state FROM build_cache WHERE key = ?').get(key) as { state: string } | undefined;
    if (!row) return null;
    const state = JSON.parse(row.state) as BuildState;
    protect(state.layers.map((l) => l.digest));
    if (!state.layers.every((l) => existsSync(this.store.blobs.path(l.digest)))) return null;
    this.store.db.prepare('UPDATE build_cache SET used_at = ? WHERE key = ?').run(Date.now(), key);
    return state;
  }

  /** Forgets every entry, or those not used since `before` (unix ms); returns how many. */
  prune(before?: number): number {
    const r = before === undefined ? this.store.db.prepare('DELETE FROM build_cache').run() : this.store.db.prepare('DELETE FROM build_cache WHERE used_at < ?').run(before);
    return r.changes;
  }

  put(key: string, state: BuildState): void {
    this.store.db
      .prepare('INSERT INTO build_cache (key, state, used_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET state = excluded.state, used_at = excluded.used_at')
      .run(key, JSON.stringify(state), Date.now());
  }
}
