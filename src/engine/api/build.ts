// POST /build (the classic builder's route, which the docker CLI uses with DOCKER_BUILDKIT=0 and
// docker-compose 1.29 always): a tar context in the body, the output as Docker's JSON lines
// ({"stream": ...}), the image id as {"aux": {"ID": ...}}, an error as an errorDetail line.
// POST /build/prune empties the build cache.

import { BuildError } from '../build/errors';
import { badRequest, notImplemented, toApiError } from './errors';
import { type Ctx, qBool, readBody, type Router, sendJson } from './router';
import { jsonLines } from './streams';

/** Contexts are read whole (the builder unpacks them with tar); larger ones are refused. */
export const BUILD_CONTEXT_LIMIT = 512 << 20;

function jsonMap(ctx: Ctx, name: string): Record<string, string> {
  const raw = ctx.query.get(name);
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid ${name}: not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${name}: want an object`);
  const out: Record<string, string> = {};
  // A null value means "take it from the environment" on the client: it has resolved those.
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== null) out[k] = String(x);
  return out;
}

/**
 * What a BuildKit client (buildx's docker driver: /grpc and /session over h2c, /build?version=2)
 * is told. The docker CLI itself never gets there: /_ping says Builder-Version 1, so without
 * DOCKER_BUILDKIT it builds with the classic builder, and DOCKER_BUILDKIT=1 without buildx fails
 * in the CLI.
 */
export const NO_BUILDKIT = 'BuildKit is not supported by dock (no /grpc or /session): build with the classic builder (DOCKER_BUILDKIT=0, or docker build without buildx)';

export function registerBuild(r: Router): void {
  // Plain (not upgraded) requests to BuildKit's endpoints; upgraded ones are answered by the service.
  for (const path of ['/grpc', '/session']) {
    r.add('POST', path, async () => {
      throw notImplemented(NO_BUILDKIT);
    });
  }

  r.add('POST', '/build', async (ctx) => {
    if (ctx.query.get('remote')) throw notImplemented('remote build contexts are not supported: send the context as a tar body');
    if (ctx.query.get('version') === '2') throw notImplemented(NO_BUILDKIT);
    const tags = ctx.query.getAll('t');
    const opts = {
      dockerfile: ctx.query.get('dockerfile') || undefined,
      tags,
      buildArgs: jsonMap(ctx, 'buildargs'),
      labels: jsonMap(ctx, 'labels'),
      target: ctx.query.get('target') || undefined,
      noCache: qBool(ctx, 'nocache'),
      platform: ctx.query.get('platform') || undefined,
      network: ctx.query.get('networkmode') || undefined,
    };
    const quiet = qBool(ctx, 'q');
    const archive = await readBody(ctx, BUILD_CONTEXT_LIMIT);
    if (!archive.length) throw badRequest('the build context is empty: send a tar archive');
    const { buildFromArchive } = await import('../build/from-archive');
    const lines = jsonLines(ctx);
    const say = (s: string) => {
      if (!quiet) lines.write({ stream: s + '\n' });
    };
    let builder: import('../build/builder').Builder | undefined;
    const cancel = () => builder?.cancel();
    ctx.signal.addEventListener('abort', cancel);
    try {
      const res = await buildFromArchive(
        ctx.engine.images,
        archive,
        {
          ...opts,
          output: {
            step: (label, t, cached) => say(`${cached ? 'CACHED ' : ''}${label} ${t}`),
            line: (label, t) => say(`${label} | ${t}`),
            info: (t) => say(t),
            warn: (t) => say(`WARNING: ${t}`),
          },
        },
        (b) => (builder = b),
      );
      lines.write({ aux: { ID: res.id } });
      // Quiet: the image id is the whole output, as dockerd sends it (docker build -q prints it).
      if (quiet) lines.write({ stream: `${res.id}\n` });
      say(`Successfully built ${res.id.replace(/^sha256:/, '').slice(0, 12)}`);
      for (const t of tags) say(`Successfully tagged ${t.includes(':') ? t : `${t}:latest`}`);
    } catch (e) {
      const msg = e instanceof BuildError && e.code === 'ERUN' && e.exitCode ? `${e.message}` : toApiError(e).message;
      lines.write({ errorDetail: { message: msg, ...(e instanceof BuildError && e.exitCode ? { code: e.exitCode } : {}) }, error: msg });
    } finally {
      ctx.signal.removeEventListener('abort', cancel);
      lines.end();
    }
  });

  r.add('POST', '/build/prune', async (ctx) => {
    const { pruneBuildCache } = await import('../build/prune');
    const r = await pruneBuildCache(ctx.engine.images, {});
    sendJson(ctx, 200, { CachesDeleted: [], SpaceReclaimed: r.bytes });
  });
}
