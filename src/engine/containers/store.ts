// Container and volume records, in the engine's SQLite database (images.db, WAL) beside the images.
// The image schema owns `PRAGMA user_version`; these tables keep their own version in
// `dock_schema`, so that either side can migrate without the other.
//
// Writes are BEGIN IMMEDIATE transactions: two dock processes creating the same name serialize in
// SQLite and the second gets "name in use" from the UNIQUE constraint, never a half-made record.

import type { Db } from '../store/db';
import { recordEvent } from '../events/log';
import { ContainerError } from './errors';
import type { ContainerDoc } from './types';

const COMPONENT = 'containers';
const MIGRATIONS: string[] = [
  `
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,                  -- 64 hex digits
    name TEXT NOT NULL UNIQUE,            -- without the leading "/"
    image_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,          -- unix ms
    doc TEXT NOT NULL                     -- ContainerDoc as JSON
  );
  CREATE TABLE volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    labels TEXT NOT NULL,                 -- JSON object
    options TEXT NOT NULL,                -- JSON object
    anonymous INTEGER NOT NULL
  );
  `,
];

export function migrateEngineTables(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS dock_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const get = () => (db.prepare('SELECT version FROM dock_schema WHERE component = ?').get(COMPONENT) as { version: number } | undefined)?.version ?? 0;
  if (get() === MIGRATIONS.length) return;
  db.transaction(() => {
    const v = get();
    if (v > MIGRATIONS.length) throw new ContainerError('ERUNTIME', `the container tables have schema version ${v}, newer than this dock (${MIGRATIONS.length})`);
    for (let i = v; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]);
    db.prepare('INSERT INTO dock_schema (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version').run(COMPONENT, MIGRATIONS.length);
  }).immediate();
}

export class ContainerStore {
  constructor(readonly db: Db) {
    migrateEngineTables(db);
  }

  /** Inserts a new container; fails with ENAMEINUSE when the name is taken. */
  insert(doc: ContainerDoc): void {
    try {
      this.db
        .prepare('INSERT INTO containers (id, name, image_id, created_at, doc) VALUES (?, ?, ?, ?, ?)')
        .run(doc.Id, doc.Name, doc.ImageId, Date.parse(doc.Created), JSON.stringify(doc));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && /name/.test((e as Error).message)) {
        const other = this.byName(doc.Name);
        throw new ContainerError('ENAMEINUSE', `the container name "/${doc.Name}" is already in use by container "${other?.Id ?? '?'}": remove or rename that container to reuse the name`);
      }
      throw e;
    }
  }

  get(id: string): ContainerDoc | null {
    const r = this.db.prepare('SELECT doc FROM containers WHERE id = ?').get(id) as { doc: string } | undefined;
    return r ? (JSON.parse(r.doc) as ContainerDoc) : null;
  }

  byName(name: string): ContainerDoc | null {
    const r = this.db.prepare('SELECT doc FROM containers WHERE name = ?').get(name.replace(/^\//, '')) as { doc: string } | undefined;
    return r ? (JSON.parse(r.doc) as ContainerDoc) : null;
  }

  /** Docker's lookup order: full id, exact name, unique id prefix. */
  find(text: string): ContainerDoc {
    const t = text.trim();
    if (/^[0-9a-f]{64}$/.test(t)) {
      const d = this.get(t);
      if (d) return d;
    }
    const byName = this.byName(t);
    if (byName) return byName;
    if (/^[0-9a-f]{1,63}$/.test(t)) {
      const rows = this.db.prepare('SELECT doc FROM containers WHERE id >= ? AND id < ?').all(t, `${t}g`) as Array<{ doc: string }>;
      if (rows.length > 1) throw new ContainerError('EAMBIGUOUS', `container id prefix "${t}" matches ${rows.length} containers`);
      if (rows.length === 1) return JSON.parse(rows[0].doc) as ContainerDoc;
    }
    throw new ContainerError('ENOTFOUND', `no such container: ${text}`);
  }

  list(): ContainerDoc[] {
    return (this.db.prepare('SELECT doc FROM containers ORDER BY created_at DESC, id').all() as Array<{ doc: string }>).map((r) => JSON.parse(r.doc) as ContainerDoc);
  }

  /** Read-modify-write of one record inside a write transaction; returns the new record. */
  update(id: string, fn: (doc: ContainerDoc) => void): ContainerDoc {
    return this.db
      .transaction(() => {
        const doc = this.get(id);
        if (!doc) throw new ContainerError('ENOTFOUND', `no such container: ${id}`);
        fn(doc);
        this.db.prepare('UPDATE containers SET doc = ?, name = ? WHERE id = ?').run(JSON.stringify(doc), doc.Name, id);
        return doc;
      })
      .immediate();
  }

  rename(id: string, name: string): void {
    try {
      let oldName = '';
      const doc = this.update(id, (d) => {
        oldName = d.Name;
        d.Name = name;
      });
      recordEvent(this.db, 'container', 'rename', id, { ...doc.Config.Labels, image: doc.Config.Image, name, oldName: `/${oldName}` });
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        const other = this.byName(name);
        throw new ContainerError('ENAMEINUSE', `the container name "/${name}" is already in use by container "${other?.Id ?? '?'}"`);
      }
      throw e;
    }
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }
}
