// Volumes of the local driver: a directory <root>/volumes/<name>/_data, a row in the engine
// database. Named volumes live until `volume rm`; anonymous ones (image VOLUME entries, `-v /path`)
// go with their container on `rm -v` or `--rm`. Which containers use a volume is read from the
// container records, so that there is one source of truth.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { filesSize } from '../store/usage';
import { join } from 'node:path';
import type { Db } from '../store/db';
import { recordEvent } from '../events/log';
import { ContainerError } from '../containers/errors';
import { migrateEngineTables } from '../containers/store';
import { VOLUME_NAME_RE } from './mounts';

export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
  /** dock's own field: made for one container. */
  Anonymous: boolean;
}

interface Row {
  name: string;
  driver: string;
  created_at: number;
  labels: string;
  options: string;
  anonymous: number;
}

export class VolumeStore {
  readonly dir: string;

  constructor(
    readonly db: Db,
    root: string,
  ) {
    migrateEngineTables(db);
    this.dir = join(root, 'volumes');
  }

  private toVolume(r: Row): Volume {
    return {
      Name: r.name,
      Driver: 'local',
      Mountpoint: this.dataPath(r.name),
      CreatedAt: new Date(r.created_at).toISOString(),
      Labels: JSON.parse(r.labels),
      Options: JSON.parse(r.options),
      Scope: 'local',
      Anonymous: !!r.anonymous,
    };
  }

  dataPath(name: string): string {
    return join(this.dir, name, '_data');
  }

  get(name: string): Volume | null {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return r ? this.toVolume(r) : null;
  }

  find(name: string): Volume {
    const v = this.get(name);
    if (!v) throw new ContainerError('ENOTFOUND', `no such volume: ${name}`);
    return v;
  }

  list(): Volume[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as Row[]).map((r) => this.toVolume(r));
  }

  /**
   * Creates a volume, or returns the existing one of that name (Docker: `volume create` of an
   * existing name is not an error). No name: an anonymous volume with a random 64-hex name.
   */
  create(opts: { name?: string; anonymous?: boolean; labels?: Record<string, string>; options?: Record<string, string>; driver?: string } = {}): Volume {
    if (opts.driver && opts.driver !== 'local') throw new ContainerError('EUSAGE', `volume driver "${opts.driver}" is not supported: only "local"`);
    if (opts.options && Object.keys(opts.options).length) throw new ContainerError('EUSAGE', 'driver options (-o) are not supported by the local driver of dock yet');
    const anonymous = opts.anonymous ?? !opts.name;
    const name = opts.name ?? randomBytes(32).toString('hex');
    if (!VOLUME_NAME_RE.test(name)) throw new ContainerError('EUSAGE', `invalid volume name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters`);
    mkdirSync(this.dataPath(name), { recursive: true, mode: 0o755 });
    const made = this.db
      .prepare('INSERT INTO volumes (name, driver, created_at, labels, options, anonymous) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING')
      .run(name, 'local', Date.now(), JSON.stringify(opts.labels ?? {}), JSON.stringify(opts.options ?? {}), anonymous ? 1 : 0);
    if (made.changes) recordEvent(this.db, 'volume', 'create', name, { driver: 'local' });
    return this.get(name)!;
  }

  /** Names of the containers whose mounts name this volume. */
  users(name: string): string[] {
    const rows = this.db.prepare("SELECT containers.id AS id FROM containers, json_each(containers.doc, '$.Mounts') AS m WHERE json_extract(m.value, '$.Type') = 'volume' AND json_extract(m.value, '$.Name') = ?").all(name) as Array<{ id: string }>;
    return [...new Set(rows.map((r) => r.id))];
  }

  remove(name: string, opts: { force?: boolean } = {}): void {
    const v = this.get(name);
    if (!v) {
      if (opts.force) return;
      throw new ContainerError('ENOTFOUND', `no such volume: ${name}`);
    }
    const users = this.users(name);
    if (users.length) throw new ContainerError('EINUSE', `remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
    rmSync(join(this.dir, name), { recursive: true, force: true });
    recordEvent(this.db, 'volume', 'destroy', name, { driver: 'local' });
  }

  /** Volumes narrowed as `docker volume ls --filter` does: dangling, name (substring), label, driver. */
  filter(filters: Array<readonly [string, string]>): Volume[] {
    let vols = this.list();
    for (const [k, v] of filters) {
      if (k === 'dangling') vols = vols.filter((x) => (this.users(x.Name).length === 0) === (v === 'true' || v === '1'));
      else if (k === 'name') vols = vols.filter((x) => x.Name.includes(v));
      else if (k === 'driver') vols = vols.filter((x) => x.Driver === v);
      else if (k === 'label') vols = vols.filter((x) => (v.includes('=') ? x.Labels[v.slice(0, v.indexOf('='))] === v.slice(v.indexOf('=') + 1) : v in x.Labels));
      else throw new ContainerError('EUSAGE', `unsupported filter "${k}"`);
    }
    return vols;
  }

  /** Removes unused volumes: anonymous ones, or every unused one with `all`. */
  prune(opts: { all?: boolean } = {}): { removed: string[]; bytes: number } {
    const removed: string[] = [];
    let bytes = 0;
    for (const v of this.list()) {
      if (!opts.all && !v.Anonymous) continue;
      if (this.users(v.Name).length) continue;
      bytes += diskUsage(join(this.dir, v.Name));
      this.remove(v.Name);
      removed.push(v.Name);
    }
    return { removed, bytes };
  }

  /** Volume directories without a record (a create that died half-way) are not volumes. */
  orphans(): string[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => !this.get(n));
  }
}

/** A volume's size: its files' bytes, as docker counts it. */
export const diskUsage = filesSize;
