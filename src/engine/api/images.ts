// /images/...: Docker's image routes over src/engine/images. Pull, push and load answer with
// Docker's JSON progress lines (chunked); an error after the answer started is an `errorDetail`
// line, as dockerd sends it.

import { ImageError } from '../images/errors';
import type { LayerStatus, ProgressSink } from '../images/progress';
import { LAYER_STATUS_TEXT } from '../images/progress';
import type { Credentials } from '../registry/auth';
import { familiarReference, parseReference } from '../registry/reference';
import { badRequest, notImplemented, toApiError } from './errors';
import { type Ctx, qBool, qFilters, type Router, sendJson } from './router';
import { jsonLines } from './streams';

/** Docker's progress messages for a pull or push. */
export function jsonProgress(lines: { write(o: unknown): void }): ProgressSink {
  return {
    message(text) {
      lines.write({ status: text });
    },
    layer(id: string, status: LayerStatus, bytes?: number, total?: number) {
      const detail = bytes !== undefined && total ? { current: bytes, total } : {};
      lines.write({ status: LAYER_STATUS_TEXT[status], progressDetail: detail, id });
    },
    close() {},
  };
}

/** X-Registry-Auth: base64url JSON {username, password, serveraddress}; empty means anonymous. */
export function registryAuth(ctx: Ctx): Credentials | undefined {
  const h = ctx.req.headers['x-registry-auth'];
  if (typeof h !== 'string' || !h) return undefined;
  try {
    const v = JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as { username?: string; password?: string };
    return v.username ? { username: v.username, password: v.password ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a streaming operation: progress lines, then the error (if any) as Docker's error line. The
 * answer starts with the first line: an error before it (a pull of an unknown image) is a plain
 * error answer with its status, as dockerd gives it (docker-py raises NotFound on it).
 */
async function streamed(ctx: Ctx, fn: (lines: ReturnType<typeof jsonLines>) => Promise<void>): Promise<void> {
  const lines = jsonLines(ctx, { lazy: true });
  try {
    await fn(lines);
  } catch (e) {
    if (!lines.started) throw e;
    const msg = toApiError(e).message;
    lines.write({ errorDetail: { message: msg }, error: msg });
  }
  lines.end();
}

function insecure(): string[] {
  return (process.env.DOCK_INSECURE_REGISTRIES ?? '').split(/[\s,]+/).filter(Boolean);
}

export function registerImages(r: Router): void {
  r.add('GET', '/images/json', async (ctx) => {
    const { imageSummaries } = await import('../images/inspect');
    const filters = qFilters(ctx);
    const ref = ctx.query.get('filter'); // the old form (API < 1.41)
    if (ref) filters.push(['reference', ref]);
    sendJson(ctx, 200, await imageSummaries(ctx.engine.images, filters));
  });

  r.add('POST', '/images/create', async (ctx) => {
    const from = ctx.query.get('fromImage');
    const src = ctx.query.get('fromSrc');
    if (src) return importImage(ctx, src);
    if (!from) throw badRequest('fromImage or fromSrc is required');
    const tag = ctx.query.get('tag');
    const text = tag ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
    parseReference(text); // a bad reference fails with 400 before the answer starts
    const platform = ctx.query.get('platform');
    const { pullImage } = await import('../images/pull');
    const { parsePlatform } = await import('../registry/manifest');
    const credentials = registryAuth(ctx);
    await streamed(ctx, async (lines) => {
      await pullImage(ctx.engine.images, text, {
        insecureRegistries: insecure(),
        ...(credentials ? { credentials } : {}),
        platform: platform ? parsePlatform(platform) : undefined,
        progress: jsonProgress(lines),
        // A client that goes away cancels the pull: nothing half-downloaded stays behind.
        signal: ctx.signal,
      });
    });
  });

  r.add('GET', '/images/search', async () => {
    throw notImplemented('image search is not available: dock has no index to search');
  });

  r.add('POST', '/images/load', async (ctx) => {
    const { loadImages } = await import('../images/archive');
    // quiet=1 (the docker CLI sends it when its output is not a terminal) drops progress only:
    // the "Loaded image" lines are the result, as dockerd sends them.
    await streamed(ctx, async (lines) => {
      const loaded = await loadImages(ctx.engine.images, ctx.req);
      for (const l of loaded) {
        if (l.tags.length) for (const t of l.tags) lines.write({ stream: `Loaded image: ${familiarReference(parseReference(t))}\n` });
        else lines.write({ stream: `Loaded image ID: ${l.id}\n` });
      }
    });
  });

  r.add('GET', '/images/get', async (ctx) => {
    const names = ctx.query.getAll('names');
    if (!names.length) throw badRequest('names is required');
    await saveTo(ctx, names);
  });

  r.add('POST', '/images/prune', async (ctx) => {
    const { pruneImages } = await import('../images/remove');
    const filters = qFilters(ctx);
    let all = false;
    for (const [k, v] of filters) {
      if (k === 'dangling') all = v === 'false' || v === '0';
      else throw notImplemented(`image prune filter "${k}" is not supported`);
    }
    const r = await pruneImages(ctx.engine.images, { all });
    sendJson(ctx, 200, { ImagesDeleted: r.deleted.map((d) => ({ Deleted: d })), SpaceReclaimed: r.reclaimed });
  });

  r.add('GET', '/images/:name*/json', async (ctx) => {
    const { inspectImage } = await import('../images/inspect');
    sendJson(ctx, 200, await inspectImage(ctx.engine.images, ctx.params.name));
  });

  r.add('GET', '/images/:name*/history', async (ctx) => {
    const { imageHistory } = await import('../images/inspect');
    const rows = await imageHistory(ctx.engine.images, ctx.params.name);
    const { findImage } = await import('../images/lookup');
    const tags = findImage(ctx.engine.images, ctx.params.name).image.tags.map((t) => familiarReference(parseReference(t)));
    sendJson(
      ctx,
      200,
      rows.map((h, i) => ({ Id: h.id, Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0, CreatedBy: h.createdBy, Tags: i === 0 ? tags : [], Size: h.size, Comment: h.comment })),
    );
  });

  r.add('GET', '/images/:name*/get', async (ctx) => saveTo(ctx, [ctx.params.name]));

  r.add('POST', '/images/:name*/tag', async (ctx) => {
    const { tagImage } = await import('../images/tag');
    const repo = ctx.query.get('repo');
    if (!repo) throw badRequest('repo is required');
    const tag = ctx.query.get('tag');
    tagImage(ctx.engine.images, ctx.params.name, tag ? `${repo}:${tag}` : repo);
    ctx.res!.writeHead(201);
    ctx.res!.end();
  });

  r.add('POST', '/images/:name*/push', async (ctx) => {
    const { pushImage } = await import('../images/push');
    const tag = ctx.query.get('tag');
    const text = tag ? `${ctx.params.name}:${tag}` : ctx.params.name;
    parseReference(text);
    const credentials = registryAuth(ctx);
    await streamed(ctx, async (lines) => {
      const r = await pushImage(ctx.engine.images, text, { insecureRegistries: insecure(), ...(credentials ? { credentials } : {}), progress: jsonProgress(lines) });
      lines.write({ status: `${tag ?? 'latest'}: digest: ${r.digest} size: ${r.size}` });
      lines.write({ progressDetail: {}, aux: { Tag: tag ?? 'latest', Digest: r.digest, Size: r.size } });
    });
  });

  r.add('DELETE', '/images/:name*', async (ctx) => {
    const { removeImage } = await import('../images/remove');
    const r = await removeImage(ctx.engine.images, ctx.params.name, { force: qBool(ctx, 'force'), noPrune: qBool(ctx, 'noprune') });
    sendJson(ctx, 200, [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))]);
  });
}

async function saveTo(ctx: Ctx, names: string[]): Promise<void> {
  const { saveImages } = await import('../images/archive');
  const { findImage } = await import('../images/lookup');
  for (const n of names) findImage(ctx.engine.images, n); // unknown names fail before the answer
  ctx.res!.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await saveImages(ctx.engine.images, names, ctx.res!, 'docker');
  ctx.res!.end();
}

/** POST /images/create?fromSrc=-: the body is a root filesystem tarball (docker import). */
async function importImage(ctx: Ctx, src: string): Promise<void> {
  if (src !== '-') throw notImplemented('importing from a URL is not supported: send the tarball as the body (fromSrc=-)');
  const { importRootfs } = await import('../images/import');
  const repo = ctx.query.get('repo');
  const tag = ctx.query.get('tag');
  const reference = repo ? (tag ? `${repo}:${tag}` : repo) : undefined;
  if (reference) parseReference(reference);
  const message = ctx.query.get('message') ?? undefined;
  if (ctx.query.getAll('changes').length) throw new ImageError('EUSAGE', 'changes are not supported by the API import yet');
  await streamed(ctx, async (lines) => {
    const id = await importRootfs(ctx.engine.images, ctx.req, { reference, message });
    lines.write({ status: id });
  });
}
