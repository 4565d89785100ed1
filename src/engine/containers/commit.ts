// `dock commit` and POST /commit: a new image from a container — the image's layers plus one layer
// packed from the container's overlay upper directory (the build's layer packer: whiteouts and
// opaque directories as in any layer; the runtime's empty mount points left out), and the
// container's config with Docker's `--change` instructions applied. The container is paused while
// its upper directory is read (Docker's default), so the layer is one moment of it.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseDockerfileText, typeInstruction, type Instruction } from '../build/dockerfile';
import { commitLayer } from '../build/layer';
import { imageEvent } from '../images/events';
import { findImage } from '../images/lookup';
import { MT, type ImageConfig, type ImageManifest } from '../registry/manifest';
import { formatReference, parseReference } from '../registry/reference';
import { isPlaceholder, mountPointPaths } from './changes';
import type { Engine } from './engine';
import { ContainerError, usage } from './errors';
import { containerEvent } from './events';
import { containerDir } from './paths';
import { liveState } from './status';
import { pauseContainer } from './stop';
import type { ContainerDoc } from './types';

export interface CommitOptions {
  /** REPOSITORY[:TAG] of the new image. */
  reference?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions (`-c 'CMD ["sh"]'`): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL. */
  changes?: string[];
  /** Freeze a running container while its layer is read (default true). */
  pause?: boolean;
}

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL']);

type Cfg = NonNullable<ImageConfig['config']>;

/** Applies --change instructions to an image config (moby's dockerfile.BuildFromConfig subset). */
export function applyChanges(cfg: Cfg, changes: string[]): Cfg {
  const out: Cfg = structuredClone(cfg);
  for (const text of changes) {
    const parsed = parseDockerfileText(text);
    for (const raw of parsed.instructions) {
      const keyword = raw.keyword.toUpperCase();
      if (!ALLOWED.has(keyword)) throw usage(`${keyword.toLowerCase()} is not a valid change command`);
      let ins: Instruction;
      try {
        ins = typeInstruction(raw, parsed.escape);
      } catch (e) {
        throw usage(`invalid change "${text}": ${(e as Error).message}`);
      }
      applyOne(out, ins);
    }
  }
  return out;
}

function applyOne(cfg: Cfg, ins: Instruction): void {
  const shell = (c: { json: true; args: string[] } | { json: false; text: string }) => (c.json ? c.args : ['/bin/sh', '-c', c.text]);
  switch (ins.kind) {
    case 'ENV': {
      let env = [...(cfg.Env ?? [])];
      for (const { key, value } of ins.pairs) env = [...env.filter((e) => e.split('=')[0] !== key), `${key}=${value}`];
      cfg.Env = env;
      break;
    }
    case 'LABEL':
      cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(ins.pairs.map((p) => [p.key, p.value])) };
      break;
    case 'USER':
      cfg.User = ins.value;
      break;
    case 'STOPSIGNAL':
      cfg.StopSignal = ins.value;
      break;
    case 'WORKDIR':
      cfg.WorkingDir = posix.resolve(cfg.WorkingDir || '/', ins.value);
      break;
    case 'EXPOSE': {
      const ports = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of ins.ports) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw usage(`invalid containerPort: ${p}`);
        ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      }
      cfg.ExposedPorts = ports;
      break;
    }
    case 'VOLUME':
      cfg.Volumes = { ...(cfg.Volumes ?? {}), ...Object.fromEntries(ins.paths.filter(Boolean).map((p) => [p, {}])) };
      break;
    case 'CMD':
      cfg.Cmd = shell(ins.cmd);
      break;
    case 'ENTRYPOINT':
      cfg.Entrypoint = shell(ins.cmd);
      break;
    case 'ONBUILD':
      cfg.OnBuild = [...((cfg.OnBuild as string[] | undefined) ?? []), ins.trigger];
      break;
    default:
      throw usage(`${ins.kind.toLowerCase()} is not a valid change command`);
  }
}

/** Commits the container; returns the new image's id. */
export async function commitContainer(engine: Engine, doc: ContainerDoc, o: CommitOptions = {}): Promise<string> {
  const tag = o.reference ? formatReference(parseReference(o.reference)) : undefined;
  if (tag && parseReference(o.reference!).digest) throw usage(`refusing to create a tag with a digest reference: ${o.reference}`);
  const { image } = findImage(engine.images, doc.ImageId);
  const base = await engine.images.readConfig(image);
  const c = doc.Config;
  const fromContainer: Cfg = {
    ...(base.config ?? {}),
    User: c.User,
    Env: c.Env,
    Cmd: c.Cmd,
    Entrypoint: c.Entrypoint,
    WorkingDir: c.WorkingDir,
    Labels: c.Labels,
    ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
    ...(c.Volumes ? { Volumes: c.Volumes } : {}),
    ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
    ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
  };
  const cfg = applyChanges(fromContainer, o.changes ?? []);

  const dir = containerDir(engine.paths, doc.Id);
  const live = liveState(engine, doc);
  const freeze = o.pause !== false && live.status === 'running';
  const mountPoints = mountPointPaths(engine, doc);
  const upperDir = join(dir, 'upper');
  const empty = mkdtempSync(join(engine.images.root, 'images', 'ingest', 'commit-'));
  if (freeze) await pauseContainer(engine, doc, true);
  try {
    return await engine.images.withLease(async (lease) => {
      let layer;
      try {
        const upper = existsSync(upperDir) ? upperDir : empty; // never started: an empty layer, as Docker's
        layer = await commitLayer(engine.images, upper, lease, (rel, st) => isPlaceholder(mountPoints, rel, st, join(upper, rel)));
      } finally {
        if (freeze) await pauseContainer(engine, doc, false).catch(() => undefined);
      }
      const now = new Date().toISOString();
      const config: ImageConfig = {
        ...base,
        created: now,
        ...(o.author ? { author: o.author } : {}),
        config: cfg,
        rootfs: { type: 'layers', diff_ids: [...image.layers.map((l) => l.diffId), layer.diffId] },
        history: [...(base.history ?? []), { created: now, created_by: [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])].join(' '), ...(o.author ? { author: o.author } : {}), ...(o.comment ? { comment: o.comment } : {}) }],
      };
      if (o.comment) config.comment = o.comment;
      else delete config.comment;
      const body = Buffer.from(JSON.stringify(config));
      const configDigest = await engine.images.blobs.put(body);
      lease.addBlob(configDigest);
      const layers = [...image.layers, layer];
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: configDigest, size: body.length },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      };
      const mbody = Buffer.from(JSON.stringify(manifest));
      const manifestDigest = await engine.images.blobs.put(mbody);
      lease.addBlob(manifestDigest);
      await engine.images.putImage(
        { configDigest, configMediaType: MT.ociConfig, manifestDigest, manifestMediaType: MT.ociManifest, layers, config, size: body.length + layers.reduce((a, l) => a + l.size, 0) },
        tag ? [tag] : [],
        [],
      );
      containerEvent(engine, doc, 'commit', { comment: o.comment ?? '', imageID: configDigest, imageRef: tag ?? '' });
      if (tag) imageEvent(engine.images, 'tag', configDigest, tag);
      return configDigest;
    });
  } catch (e) {
    if (e instanceof ContainerError) throw e;
    throw new ContainerError('ERUNTIME', `cannot commit container ${doc.Name}: ${(e as Error).message}`, { cause: e });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}
