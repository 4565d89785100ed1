// Read-only views of local images: the `dock images` rows, `dock image inspect` documents (shaped
// like Docker's) and `dock history`.

import { ImageError } from './errors';
import { familiarName, familiarReference, parseReference } from '../registry/reference';
import { ImageRecord, ImageStore } from '../store/store';
import { findImage } from './lookup';

export interface ImageRow {
  Repository: string;
  Tag: string;
  Digest: string;
  ID: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
  VirtualSize: number;
}

/** Go's units.HumanSizeWithPrecision: decimal units, `precision` significant digits (docker images: 3, prune: 4). */
export function humanSize(n: number, precision = 3): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  // %g: no trailing zeros after the point (and 100 stays 100).
  return i === 0 ? `${v}B` : `${Number(v.toPrecision(precision))}${u[i]}`;
}

export function timeAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const units: Array<[number, string]> = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  if (s < 1) return 'Less than a second ago';
  for (const [secs, name] of units) {
    const n = Math.floor(s / secs);
    if (n >= 1) return n === 1 ? `${name === 'hour' ? 'About an' : 'a'} ${name} ago`.replace(/^a /, '1 ').replace('1 minute', 'About a minute') : `${n} ${name}s ago`;
  }
  return `${s} seconds ago`;
}

/** One row per tag (and one `<none>` row for an image without tags), newest first. */
export function imageRows(store: ImageStore, opts: { all?: boolean; danglingOnly?: boolean } = {}): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of store.listImages()) {
    const base = {
      ID: img.id,
      CreatedAt: img.created ?? '',
      CreatedSince: timeAgo(img.created),
      Size: humanSize(img.size),
      VirtualSize: img.size,
    };
    const digestOf = (repo: string) => img.repoDigests.find((d) => d.startsWith(repo + '@'))?.split('@')[1] ?? '<none>';
    if (img.tags.length === 0) {
      const rd = img.repoDigests[0];
      const repo = rd ? familiarName(parseReference(rd.split('@')[0], { defaultTag: false })) : '<none>';
      rows.push({ Repository: repo, Tag: '<none>', Digest: rd ? rd.split('@')[1] : '<none>', ...base });
      continue;
    }
    if (opts.danglingOnly) continue;
    for (const t of img.tags) {
      const r = parseReference(t);
      rows.push({ Repository: familiarName(r), Tag: r.tag ?? '<none>', Digest: digestOf(`${r.domain}/${r.path}`), ...base });
    }
  }
  return rows;
}

/** docker's `reference=` filter: a glob where * stays within one path component. */
export function referencePattern(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.') + '$');
}

/** GET /images/json entries: one per image, narrowed by dangling=, reference=, label=. */
export async function imageSummaries(store: ImageStore, filters: Array<[string, string]> = []): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const img of store.listImages()) {
    const doc = await inspectRecord(store, img);
    const tags = doc.RepoTags as string[];
    const labels = ((doc.Config as { Labels?: Record<string, string> }).Labels ?? {}) as Record<string, string>;
    let keep = true;
    for (const [k, v] of filters) {
      if (k === 'dangling') keep &&= (tags.length === 0) === (v === 'true' || v === '1');
      else if (k === 'reference') {
        const re = referencePattern(v);
        keep &&= tags.some((t) => re.test(t) || re.test(t.slice(0, t.lastIndexOf(':'))));
      } else if (k === 'label') {
        const [lk, lv] = v.split('=', 2);
        keep &&= lk in labels && (lv === undefined || labels[lk] === lv);
      } else throw new ImageError('EUSAGE', `unsupported filter "${k}"`);
    }
    if (!keep) continue;
    out.push({
      Id: img.id,
      ParentId: '',
      RepoTags: tags,
      RepoDigests: doc.RepoDigests,
      Created: Math.floor(Date.parse((doc.Created as string) || new Date(img.addedAt).toISOString()) / 1000) || 0,
      Size: img.size,
      VirtualSize: img.size, // gone from API 1.44, required by older clients' definitions
      SharedSize: -1,
      Labels: labels,
      Containers: store.imageUsers(img.id).length,
    });
  }
  return out;
}

export async function inspectImage(store: ImageStore, text: string): Promise<Record<string, unknown>> {
  const { image } = findImage(store, text);
  return inspectRecord(store, image);
}

export async function inspectRecord(store: ImageStore, image: ImageRecord): Promise<Record<string, unknown>> {
  const config = await store.readConfig(image);
  return {
    Id: image.id,
    RepoTags: image.tags.map((t) => familiarReference(parseReference(t))),
    RepoDigests: image.repoDigests.map((d) => {
      const at = d.indexOf('@');
      return familiarName(parseReference(d.slice(0, at), { defaultTag: false })) + d.slice(at);
    }),
    Parent: '',
    Comment: (config.history ?? []).slice(-1)[0]?.comment ?? '',
    Created: config.created ?? '',
    Author: config.author ?? '',
    // Docker's image Config always has these keys (so that -f '{{.Config.User}}' prints "").
    Config: { User: '', Env: [], Cmd: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null, Volumes: null, ...(config.config ?? {}) },
    Architecture: config.architecture,
    Variant: config.variant,
    Os: config.os,
    Size: image.size,
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Descriptor: { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: (await store.blobs.size(image.manifestDigest).catch(() => 0)) },
    Metadata: { LastTagTime: new Date(image.addedAt).toISOString() },
    GraphDriver: { Name: 'overlay', Data: { LowerDir: image.layers.map((l) => store.snapshotPath(l.diffId)).reverse().join(':') } },
  };
}

export interface HistoryRow {
  id: string;
  created: string | null;
  createdBy: string;
  size: number;
  comment: string;
}

/** Newest first, as `docker history` prints it; layer sizes are the compressed blob sizes. */
export async function imageHistory(store: ImageStore, text: string): Promise<HistoryRow[]> {
  const { image } = findImage(store, text);
  const config = await store.readConfig(image);
  const layers = [...image.layers];
  const rows: HistoryRow[] = [];
  const hist = config.history && config.history.length ? config.history : layers.map(() => ({ created: config.created, created_by: '' }));
  let li = 0;
  for (const h of hist) {
    const empty = 'empty_layer' in h && h.empty_layer;
    const size = empty ? 0 : (layers[li++]?.size ?? 0);
    rows.push({ id: '<missing>', created: h.created ?? null, createdBy: h.created_by ?? '', size, comment: ('comment' in h && h.comment) || '' });
  }
  rows.reverse();
  if (rows.length) rows[0].id = image.id;
  return rows;
}
