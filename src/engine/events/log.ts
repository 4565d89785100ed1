// The engine's event log (what `dock events` and the API's GET /events read): one row per event in
// the engine's SQLite database, written by whichever dock process did the thing (CLI, API service,
// a supervisor's exit or health command). SQLite's write lock orders the writers; the row id is the
// order readers follow. The table is bounded: the oldest rows go once it holds more than MAX_EVENTS.
//
// Recording never fails the operation it reports: a full disk or a busy database costs the event,
// not the container.

import type { Db } from '../store/db';

/** Docker's events.Message (API 1.50), with the deprecated status/id/from of containers and images. */
export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Seconds and nanoseconds since the epoch. */
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'builder' | 'daemon';

export const MAX_EVENTS = 10_000;

const migrated = new WeakSet<Db>();

function ensureTable(db: Db): void {
  if (migrated.has(db)) return;
  // Its own table with IF NOT EXISTS: nothing else depends on it, so it needs no schema version.
  db.exec(`CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us INTEGER NOT NULL,             -- microseconds since the epoch
    doc TEXT NOT NULL                     -- EngineEvent as JSON, without time/timeNano
  )`);
  migrated.add(db);
}

/** Appends one event; a failure is reported on stderr and swallowed. */
export function recordEvent(db: Db, type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
  try {
    ensureTable(db);
    const doc: Omit<EngineEvent, 'time' | 'timeNano'> = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local' };
    if (type === 'container' || type === 'image') {
      // Docker still sends these (deprecated) fields for the two oldest event types.
      doc.status = action;
      doc.id = id;
      if (type === 'container' && attributes.image) doc.from = attributes.image;
    }
    const r = db.prepare('INSERT INTO events (time_us, doc) VALUES (?, ?)').run(nowMicros(), JSON.stringify(doc));
    const seq = Number(r.lastInsertRowid);
    if (seq % 100 === 0) db.prepare('DELETE FROM events WHERE seq <= ?').run(seq - MAX_EVENTS);
  } catch (e) {
    process.stderr.write(`dock: warning: the ${type} ${action} event was not recorded: ${(e as Error).message}\n`);
  }
}

let lastMicros = 0;
/** Microseconds, strictly increasing within a process (two events never share a time). */
function nowMicros(): number {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastMicros = Math.max(us, lastMicros + 1);
  return lastMicros;
}

export interface StoredEvent {
  seq: number;
  event: EngineEvent;
}

function toEvent(row: { seq: number; time_us: number; doc: string }): StoredEvent {
  const doc = JSON.parse(row.doc) as EngineEvent;
  doc.time = Math.floor(row.time_us / 1e6);
  doc.timeNano = row.time_us * 1000;
  return { seq: row.seq, event: doc };
}

/** Events after `afterSeq` (in order), at most `limit`; with `sinceUs`, only those at or after it. */
export function readEvents(db: Db, o: { afterSeq?: number; sinceUs?: number; limit?: number } = {}): StoredEvent[] {
  ensureTable(db);
  const rows = db
    .prepare('SELECT seq, time_us, doc FROM events WHERE seq > ? AND time_us >= ? ORDER BY seq LIMIT ?')
    .all(o.afterSeq ?? 0, o.sinceUs ?? 0, o.limit ?? 1000) as Array<{ seq: number; time_us: number; doc: string }>;
  return rows.map(toEvent);
}

/** The sequence number of the newest event (0 when there is none): live streams start after it. */
export function lastSeq(db: Db): number {
  ensureTable(db);
  return (db.prepare('SELECT MAX(seq) AS s FROM events').get() as { s: number | null }).s ?? 0;
}
