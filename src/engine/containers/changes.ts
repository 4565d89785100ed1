// `dock diff` and GET /containers/{id}/changes: what the container changed in its filesystem, read
// from its overlay upper directory (only what it wrote is there) against the image's layers.
// Docker's kinds: 0 modified (C), 1 added (A), 2 deleted (D). An overlay whiteout (a 0/0 character
// device) is a deletion; an opaque directory hides everything below it in the image.
//
// The empty files and directories the runtime makes in the upper directory as mount points (for
// /proc, /etc/hostname, a volume's target the image lacks) are Docker's "init layer": not changes,
// and not committed.

import { existsSync, lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { getAttributeSync } from '@napi-rs/xattr';
import { resolveImage } from '../images/rootfs';
import { OVERLAY_OPAQUE_XATTR } from '../store/unpack';
import type { Engine } from './engine';
import { containerDir } from './paths';
import type { ContainerDoc } from './types';

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && Number(st.rdev) === 0;

function isOpaque(p: string): boolean {
  try {
    return getAttributeSync(p, OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
  } catch {
    return false;
  }
}

/** Mount destinations of the container's last spec and of its record, relative ("etc/hosts"). */
export function mountPointPaths(engine: Engine, doc: ContainerDoc): Set<string> {
  const out = new Set<string>();
  const add = (p: string) => out.add(p.replace(/^\/+|\/+$/g, ''));
  try {
    const spec = JSON.parse(readFileSync(join(containerDir(engine.paths, doc.Id), 'config.json'), 'utf8')) as { mounts?: Array<{ destination: string }> };
    for (const m of spec.mounts ?? []) add(m.destination);
  } catch {
    /* never started: no spec */
  }
  for (const m of doc.Mounts) add(m.Destination);
  for (const f of ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf']) add(f);
  return out;
}

/** A mount point the runtime made: an empty directory or empty file at a mount destination. */
export function isPlaceholder(mountPoints: Set<string>, rel: string, st: Stats, abs: string): boolean {
  if (!mountPoints.has(rel)) return false;
  if (st.isFile()) return st.size === 0;
  if (st.isDirectory()) return readdirSync(abs).length === 0;
  return false;
}

/**
 * Whether `rel` exists in the image: the layers are searched top-down as overlayfs does, a
 * whiteout or a non-directory on the way ends the search, an opaque directory stops it at its
 * layer. Symlinks on the way are not followed (they are files of the image, not host paths).
 */
export function inLayers(lowerdirs: string[], rel: string): boolean {
  const parts = rel.split('/');
  for (const layer of lowerdirs) {
    let cur = layer;
    let stop = false;
    for (let i = 0; i < parts.length; i++) {
      cur = join(cur, parts[i]);
      let st: Stats;
      try {
        st = lstatSync(cur);
      } catch {
        break; // not in this layer: a lower one may have it
      }
      if (isWhiteout(st)) return false;
      if (i === parts.length - 1) return true;
      if (!st.isDirectory()) return false;
      if (isOpaque(cur)) stop = true;
    }
    if (stop) return false;
  }
  return false;
}

function listLayer(dir: string, rel: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(join(dir, rel));
  } catch {
    return;
  }
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    out.push(r);
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) listLayer(dir, r, out);
  }
}

export async function containerChanges(engine: Engine, doc: ContainerDoc): Promise<Change[]> {
  const upper = join(containerDir(engine.paths, doc.Id), 'upper');
  if (!existsSync(upper)) return [];
  const { lowerdirs } = await resolveImage(engine.images, doc.ImageId);
  const mountPoints = mountPointPaths(engine, doc);
  const changes = new Map<string, Change['Kind']>();
  const walk = (rel: string) => {
    for (const n of readdirSync(rel ? join(upper, rel) : upper).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const abs = join(upper, r);
      const st = lstatSync(abs);
      if (isWhiteout(st)) {
        changes.set(r, 2);
        continue;
      }
      if (isPlaceholder(mountPoints, r, st, abs)) continue;
      const existed = inLayers(lowerdirs, r);
      changes.set(r, existed ? 0 : 1);
      if (!st.isDirectory()) continue;
      if (existed && isOpaque(abs)) {
        // Emptied and made again: what the image had below it and the upper lacks is gone.
        const below: string[] = [];
        for (const l of lowerdirs) listLayer(join(l, r), '', below);
        for (const b of new Set(below)) if (!existsSync(join(abs, b)) && inLayers(lowerdirs, `${r}/${b}`)) changes.set(`${r}/${b}`, 2);
      }
      walk(r);
    }
  };
  walk('');
  // A directory only copied up to hold a mount point (/etc for /etc/hostname) changed nothing.
  for (const [p, kind] of changes) {
    if (kind === 2) continue;
    const st = lstatSync(join(upper, p));
    if (!st.isDirectory()) continue;
    const hasChangeBelow = [...changes.keys()].some((q) => q.startsWith(`${p}/`));
    const holdsMount = [...mountPoints].some((m) => m.startsWith(`${p}/`));
    if (!hasChangeBelow && holdsMount) changes.delete(p);
  }
  return [...changes]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([p, Kind]) => ({ Path: `/${p}`, Kind }));
}

export const CHANGE_LETTER = ['C', 'A', 'D'] as const;
