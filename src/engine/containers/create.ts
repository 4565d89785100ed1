// `dock create`: the record (name reserved in SQLite first), the container's directory and its
// volumes. Nothing runs yet; `start` mounts the root filesystem and runs it.

import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { findImage } from '../images/lookup';
import { StoreError } from '../store/errors';
import { buildConfig, type RunFlags } from './config';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { ContainerError, usage } from './errors';
import { randomName } from './names';
import { containerDir } from './paths';
import { DEFAULT_NETWORK } from '../network';
import { networkManager } from './network';
import type { ContainerDoc, MountPoint } from './types';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export async function createContainer(engine: Engine, imageRef: string, flags: RunFlags, command: string[]): Promise<ContainerDoc> {
  let found;
  try {
    found = findImage(engine.images, imageRef);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'ENOIMAGE') {
      throw new ContainerError('ENOTFOUND', `no such image: ${imageRef} (pull it first: dock pull ${imageRef})`);
    }
    throw e;
  }
  const imageConfig = await engine.images.readConfig(found.image);
  const { config, hostConfig } = buildConfig(imageConfig, imageRef, flags, command);

  if (flags.name !== undefined && !NAME_RE.test(flags.name)) {
    throw usage(`invalid container name "${flags.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const id = randomBytes(32).toString('hex');
  // --uts host: the host's name (Docker records it as the container's hostname too).
  if (hostConfig.UTSMode === 'host') config.Hostname = hostname();
  if (!config.Hostname) config.Hostname = id.slice(0, 12);
  // --pid/--ipc container:X name X by its id from here on (as --network container:X).
  for (const k of ['PidMode', 'IpcMode'] as const) {
    const mode = hostConfig[k];
    if (mode?.startsWith('container:')) hostConfig[k] = `container:${engine.containers.find(mode.slice('container:'.length)).Id}`;
  }

  const mounts = resolveMounts(engine, config.Volumes, hostConfig);
  const networks = resolveNetworks(engine, hostConfig.NetworkMode, flags.networkAlias ?? [], flags.ipv4Address);
  for (const n of flags.extraNetworks ?? []) Object.assign(networks, resolveNetworks(engine, n.name, n.aliases ?? [], n.ipv4Address));
  if (hostConfig.NetworkMode.startsWith('container:')) hostConfig.NetworkMode = Object.keys(networks)[0];
  if (config.MacAddress) networks[Object.keys(networks)[0]].MacAddress = config.MacAddress;

  const doc: ContainerDoc = {
    Id: id,
    Name: (flags.name ?? '').replace(/^\//, '') || uniqueName(engine),
    Created: new Date().toISOString(),
    ImageId: found.image.id,
    Config: config,
    HostConfig: hostConfig,
    Mounts: mounts,
    State: { Pid: 0, StartedAt: '', FinishedAt: '', ExitCode: 0, Error: '', RestartCount: 0, ManualStop: false, Restarting: false, Removing: false },
    Networks: networks,
  };
  // The name is reserved here: a racing create of the same name fails on the UNIQUE constraint.
  engine.containers.insert(doc);
  engine.images.addImageUser(id, found.image.id);
  try {
    const dir = containerDir(engine.paths, id);
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    writeEtcFiles(dir, doc);
    ensureVolumes(engine, doc);
  } catch (e) {
    const { removeContainer } = await import('./remove');
    await removeContainer(engine, doc, { force: true, volumes: true }).catch(() => undefined);
    throw e;
  }
  containerEvent(engine, doc, 'create');
  return doc;
}

/**
 * The record's Networks: none, host and container:X as they are (X must exist); "bridge" or a
 * user-defined network must exist too (an unknown network fails here, before anything is made).
 */
function resolveNetworks(engine: Engine, mode: string, aliases: string[], ipv4Address?: string): ContainerDoc['Networks'] {
  if (mode === 'none' || mode === 'host') return { [mode]: { Mode: mode } };
  if (mode.startsWith('container:')) {
    const other = engine.containers.find(mode.slice('container:'.length));
    return { [`container:${other.Id}`]: { Mode: `container:${other.Id}` } };
  }
  const n = mode === DEFAULT_NETWORK ? { name: DEFAULT_NETWORK } : networkManager(engine).find(mode);
  return { [n.name]: { Mode: 'bridge', ...(aliases.length ? { Aliases: [...aliases] } : {}), ...(ipv4Address ? { IPv4Address: ipv4Address } : {}), HostNetns: process.env.DOCK_HOST_NETNS ?? '' } };
}

function uniqueName(engine: Engine): string {
  for (let i = 0; i < 20; i++) {
    const n = randomName(i > 5);
    if (!engine.containers.byName(n)) return n;
  }
  return `dock_${randomBytes(6).toString('hex')}`;
}

/**
 * -v, --mount, --tmpfs, --volumes-from and the image's VOLUMEs into mount points. Named volumes
 * keep their name; anonymous ones get a random name now, so that the record says everything.
 */
function resolveMounts(engine: Engine, imageVolumes: Record<string, object> | null, hc: ContainerDoc['HostConfig']): MountPoint[] {
  const out: MountPoint[] = [];
  const taken = new Set<string>();
  for (const m of hc.Mounts) {
    taken.add(m.Target);
    if (m.Type === 'bind') {
      if (!existsSync(m.Source)) {
        if (!m.CreateSource) throw new ContainerError('EMOUNT', `invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
        mkdirSync(m.Source, { recursive: true, mode: 0o755 });
      }
      out.push({ Type: 'bind', Source: m.Source, Destination: m.Target, Mode: m.ReadOnly ? 'ro' : '', RW: !m.ReadOnly, Propagation: m.Propagation ?? 'rprivate' });
    } else if (m.Type === 'volume') {
      const name = m.Source || randomBytes(32).toString('hex');
      out.push({
        Type: 'volume',
        Name: name,
        Source: engine.volumes.dataPath(name),
        Destination: m.Target,
        Driver: 'local',
        Mode: [m.ReadOnly ? 'ro' : '', m.NoCopy ? 'nocopy' : ''].filter(Boolean).join(',') || 'z',
        RW: !m.ReadOnly,
        Propagation: '',
        ...(m.Source ? {} : { Anonymous: true }),
      });
    } else {
      const opts = [m.TmpfsSize ? `size=${m.TmpfsSize}` : '', m.TmpfsMode !== undefined ? `mode=${m.TmpfsMode.toString(8)}` : ''].filter(Boolean).join(',');
      out.push({ Type: 'tmpfs', Source: '', Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: '', TmpfsOptions: opts });
    }
  }
  for (const [target, options] of Object.entries(hc.Tmpfs)) {
    taken.add(target);
    const ro = options.split(',').includes('ro');
    out.push({ Type: 'tmpfs', Source: '', Destination: target, Mode: '', RW: !ro, Propagation: '', TmpfsOptions: options.split(',').filter((o) => o !== 'ro' && o !== 'rw').join(',') });
  }
  for (const spec of hc.VolumesFrom) {
    const [ref, mode] = spec.split(':', 2);
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw usage(`invalid --volumes-from "${spec}": mode must be ro or rw`);
    const other = engine.containers.find(ref);
    for (const m of other.Mounts) {
      if (m.Type === 'tmpfs' || taken.has(m.Destination)) continue;
      taken.add(m.Destination);
      const rw = mode === undefined ? m.RW : mode === 'rw';
      const { Anonymous: _a, ...rest } = m;
      out.push({ ...rest, RW: rw, Mode: rw ? '' : 'ro' });
    }
  }
  for (const target of Object.keys(imageVolumes ?? {})) {
    const t = target.replace(/\/+$/, '') || '/';
    if (taken.has(t)) continue;
    taken.add(t);
    const name = randomBytes(32).toString('hex');
    out.push({ Type: 'volume', Name: name, Source: engine.volumes.dataPath(name), Destination: t, Driver: 'local', Mode: '', RW: true, Propagation: '', Anonymous: true });
  }
  return out;
}

/** Creates the volume records and directories the container names (idempotent). */
export function ensureVolumes(engine: Engine, doc: ContainerDoc): void {
  for (const m of doc.Mounts) {
    if (m.Type !== 'volume' || !m.Name) continue;
    if (!engine.volumes.get(m.Name)) engine.volumes.create({ name: m.Name, anonymous: !!m.Anonymous });
    else mkdirSync(engine.volumes.dataPath(m.Name), { recursive: true });
  }
}

/** /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, bind-mounted by the spec. */
export function writeEtcFiles(dir: string, doc: ContainerDoc): void {
  const host = doc.Config.Hostname;
  writeFileSync(join(dir, 'hostname'), host + '\n');
  const hostNet = doc.HostConfig.NetworkMode === 'host';
  if (hostNet && existsSync('/etc/hosts')) copyFileSync('/etc/hosts', join(dir, 'hosts'));
  else writeFileSync(join(dir, 'hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t${host}\n`);
  if (existsSync('/etc/resolv.conf')) copyFileSync('/etc/resolv.conf', join(dir, 'resolv.conf'));
  else writeFileSync(join(dir, 'resolv.conf'), '');
}
