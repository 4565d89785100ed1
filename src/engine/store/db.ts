// The metadata database: image records, tags, repo digests, leases and who uses which image.
// SQLite in WAL mode so that several `dock` processes read while one writes; every write is a
// BEGIN IMMEDIATE transaction and waits (busy_timeout) for the others rather than failing.

import Database from 'better-sqlite3';
import { StoreError } from './errors';

const SCHEMA_VERSION = 1;

const MIGRATIONS: string[] = [
  // 1: first schema
  `
  CREATE TABLE images (
    id TEXT PRIMARY KEY,                 -- config digest, Docker's image id
    manifest_digest TEXT NOT NULL,       -- the single-platform manifest kept in the blob store
    manifest_media_type TEXT NOT NULL,
    index_digest TEXT,                   -- the index / manifest list it was chosen from, if any
    config_media_type TEXT NOT NULL,
    size INTEGER NOT NULL,               -- compressed size: config + layers
    created TEXT,                        -- the config's "created"
    os TEXT, architecture TEXT, variant TEXT,
    added_at INTEGER NOT NULL            -- unix ms
  );
  CREATE TABLE image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    blob_digest TEXT NOT NULL,
    diff_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (image_id, idx)
  );
  CREATE INDEX image_layers_diff ON image_layers(diff_id);
  CREATE INDEX image_layers_blob ON image_layers(blob_digest);
  CREATE TABLE tags (
    name TEXT PRIMARY KEY,               -- docker.io/library/busybox:latest
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE repo_digests (
    name TEXT PRIMARY KEY,               -- docker.io/library/busybox@sha256:...
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
  );
  CREATE INDEX repo_digests_image ON repo_digests(image_id);
  CREATE TABLE blob_sources (             -- where a blob is known to exist (for cross-repo mounts)
    digest TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    PRIMARY KEY (digest, registry, repository)
  );
  CREATE TABLE image_users (              -- containers made from an image (written by containers code)
    container_id TEXT PRIMARY KEY,
    image_id TEXT NOT NULL
  );
  CREATE INDEX image_users_image ON image_users(image_id);
  CREATE TABLE leases (                    -- content being written by a live process: not collected
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL
  );
  CREATE TABLE lease_resources (
    lease_id INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                  -- 'blob' | 'snapshot'
    key TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, key)
  );
  `,
];

export type Db = Database.Database;

/**
 * better-sqlite3's compiled addon, named directly: its JavaScript is bundled into dist/dock.js (one
 * module in the code cache instead of a dozen files resolved and compiled at every start), and its
 * default lookup (the `bindings` package) would search from the bundle's directory instead.
 */
function sqliteAddon(): string {
  return require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
}

export function openDb(path: string): Db {
  let db: Db;
  try {
    db = new Database(path, { timeout: 30_000, nativeBinding: sqliteAddon() });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 30000');
  } catch (err) {
    throw new StoreError('EDB', `cannot open the image database ${path}: ${(err as Error).message}`, { cause: err });
  }
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StoreError('EDB', `the image database has schema version ${current}, newer than this dock (${SCHEMA_VERSION})`);
  }
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const v = db.pragma('user_version', { simple: true }) as number;
    for (let i = v; i < SCHEMA_VERSION; i++) db.exec(MIGRATIONS[i]);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
