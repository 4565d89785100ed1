// Carrying a compose project out with dock's engine: the same functions the dock CLI calls for
// networks, volumes, images, builds and containers. `up` converges (planner.ts) in dependency
// order and waits for depends_on conditions; `down` removes, in reverse order, what `up` made
// (found by labels) and nothing else. A failed `up` removes the containers it created in that run;
// what was already there stays as it was.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../containers/engine';
import { createContainer } from '../containers/create';
import { startContainer } from '../containers/start';
import { stopContainer, killContainer, pauseContainer, waitStopped } from '../containers/stop';
import { removeContainer } from '../containers/remove';
import { liveState, type LiveState } from '../containers/status';
import { networkManager } from '../containers/network';
import type { ContainerDoc } from '../containers/types';
import { findImage } from '../images/lookup';
import type { ClientOptions } from '../registry/client';
import { ComposeError } from './errors';
import { startOrder } from './graph';
import { configHash, containerName, COMPOSE_VERSION, L } from './labels';
import type { LoadedProject } from './loader';
import type { Project, Service } from './model';
import { planService, type Existing } from './planner';
import { containerPlan, type ContainerContext } from './service-config';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Reporter {
  /** One line per resource and step: "Container p-web-1  Started". */
  event(kind: 'Network' | 'Volume' | 'Container' | 'Image', name: string, status: string): void;
  warn(message: string): void;
  /** Build output lines. */
  line?(text: string): void;
}

export const silentReporter: Reporter = { event() {}, warn() {} };

export interface ComposeRun {
  engine: Engine;
  loaded: LoadedProject;
  out: Reporter;
  registry?: ClientOptions;
}

// ---- what exists ---------------------------------------------------------------------------------

export function projectContainers(engine: Engine, project: string, o: { oneoff?: boolean | 'any' } = {}): ContainerDoc[] {
  return engine.containers
    .list()
    .filter((d) => d.Config.Labels[L.project] === project && (o.oneoff === 'any' || (d.Config.Labels[L.oneoff] === 'True') === !!o.oneoff))
    .sort((a, b) => a.Config.Labels[L.service].localeCompare(b.Config.Labels[L.service]) || Number(a.Config.Labels[L.number]) - Number(b.Config.Labels[L.number]));
}

export function serviceContainers(engine: Engine, project: string, service: string): ContainerDoc[] {
  return projectContainers(engine, project).filter((d) => d.Config.Labels[L.service] === service);
}

const existing = (d: ContainerDoc): Existing => ({ id: d.Id, name: d.Name, number: Number(d.Config.Labels[L.number]) || 0, hash: d.Config.Labels[L.hash] ?? '', imageId: d.ImageId });

export function replicasOf(s: Service): number {
  return s.deploy?.replicas ?? s.scale ?? 1;
}

/** Services named on the command line must exist (an inactive profile's too, it is enabled by naming it). */
export function checkServices(p: Project, names: string[]): void {
  for (const n of names) if (!p.services[n]) throw new ComposeError('ENOTFOUND', `no such service: ${n}`);
}

// ---- networks, volumes, files ----------------------------------------------------------------------

async function ensureNetworks(r: ComposeRun, keys: Set<string>): Promise<string[]> {
  const p = r.loaded.project;
  const nets = networkManager(r.engine);
  const made: string[] = [];
  for (const key of keys) {
    const n = p.networks[key];
    const found = nets.store.findNetwork(n.name);
    if (n.external) {
      if (!found || found.name !== n.name) throw new ComposeError('EMODEL', `network ${n.name} declared as external, but could not be found: create it with dock network create ${n.name}`);
      continue;
    }
    if (found && found.name === n.name) {
      const labels = JSON.parse(found.labels) as Record<string, string>;
      if (labels[L.project] !== p.name) r.out.warn(`a network with name ${n.name} exists but was not created for project "${p.name}": using it`);
      continue;
    }
    r.out.event('Network', n.name, 'Creating');
    const cfg = n.ipam?.config?.[0];
    await nets.createNetwork({
      name: n.name,
      subnet: cfg?.subnet,
      gateway: cfg?.gateway,
      internal: n.internal,
      options: n.driver_opts,
      labels: { ...(n.labels ?? {}), [L.project]: p.name, [L.network]: key, [L.version]: COMPOSE_VERSION },
    });
    made.push(n.name);
    r.out.event('Network', n.name, 'Created');
  }
  return made;
}

function ensureVolumes(r: ComposeRun, keys: Set<string>): string[] {
  const p = r.loaded.project;
  const made: string[] = [];
  for (const key of keys) {
    const v = p.volumes[key];
    const found = r.engine.volumes.get(v.name);
    if (v.external) {
      if (!found) throw new ComposeError('EMODEL', `external volume "${v.name}" not found: create it with dock volume create ${v.name}`);
      continue;
    }
    if (found) {
      if (found.Labels[L.project] !== p.name) r.out.warn(`volume "${v.name}" already exists but was not created by dock compose for project "${p.name}": using it`);
      continue;
    }
    r.out.event('Volume', v.name, 'Creating');
    r.engine.volumes.create({ name: v.name, labels: { ...(v.labels ?? {}), [L.project]: p.name, [L.volume]: key, [L.version]: COMPOSE_VERSION } });
    made.push(v.name);
    r.out.event('Volume', v.name, 'Created');
  }
  return made;
}

/** A secret or config file: its own file, or one written from the environment or inline content. */
function fileOf(r: ComposeRun): (kind: 'secrets' | 'configs', key: string) => string {
  return (kind, key) => {
    const o = r.loaded.project[kind][key];
    if (o.file) return o.file;
    const dir = join(r.engine.root, 'compose', r.loaded.project.name, kind);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, key);
    writeFileSync(path, o.content ?? r.loaded.source.environment[o.environment!] ?? '', { mode: 0o400 });
    return path;
  };
}

// ---- images ------------------------------------------------------------------------------------------

function imageIdOf(engine: Engine, ref: string): string | null {
  try {
    return findImage(engine.images, ref).image.id;
  } catch {
    return null;
  }
}

export function imageRef(p: Project, name: string): string {
  return p.services[name].image ?? `${p.name}-${name}`;
}

export async function buildService(r: ComposeRun, name: string): Promise<string> {
  const p = r.loaded.project;
  const s = p.services[name];
  const b = s.build;
  if (!b) throw new ComposeError('EUSAGE', `service ${name} has no build section`);
  const { build } = await import('../build/builder');
  const { openRuntime } = await import('../../runtime/runtime');
  const { readFileSync } = await import('node:fs');
  const dockerfilePath = b.dockerfile_inline !== undefined ? undefined : join(b.context, b.dockerfile ?? 'Dockerfile');
  let dockerfile: string;
  try {
    dockerfile = b.dockerfile_inline ?? readFileSync(dockerfilePath!, 'utf8');
  } catch {
    throw new ComposeError('ENOFILE', `services.${name}.build: cannot read the Dockerfile ${dockerfilePath}`);
  }
  const tag = imageRef(p, name);
  r.out.event('Image', tag, 'Building');
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.args ?? {})) {
    const val = v ?? r.loaded.source.environment[k];
    if (val !== undefined) args[k] = val;
  }
  const rt = openRuntime({ root: join(r.engine.root, 'build', 'runtime') });
  const res = await build(r.engine.images, rt, {
    root: r.engine.root,
    contextDir: b.context,
    dockerfile,
    dockerfilePath,
    tags: [tag],
    buildArgs: args,
    target: b.target,
    noCache: b.no_cache,
    network: b.network,
    labels: { ...(b.labels ?? {}), [L.project]: p.name, [L.service]: name },
    registry: r.registry,
    output: {
      step: (label, t, cached) => r.out.line?.(`${name} ${cached ? 'CACHED ' : ''}${label} ${t}`),
      line: (label, t) => r.out.line?.(`${name} ${label} | ${t}`),
      info: (t) => r.out.line?.(`${name} ${t}`),
      warn: (t) => r.out.warn(t),
    },
  });
  r.out.event('Image', tag, 'Built');
  return res.id;
}

export async function pullService(r: ComposeRun, name: string, o: { ignoreFailures?: boolean } = {}): Promise<void> {
  const s = r.loaded.project.services[name];
  if (!s.image) return;
  const { pullImage } = await import('../images/pull');
  r.out.event('Image', s.image, 'Pulling');
  try {
    await pullImage(r.engine.images, s.image, { ...r.registry });
  } catch (e) {
    if (o.ignoreFailures) {
      r.out.warn(`pulling ${s.image} failed: ${(e as Error).message}`);
      return;
    }
    throw new ComposeError('ERUNTIME', `service ${name}: pull access denied or image not found: ${s.image}: ${(e as Error).message}`, { cause: e });
  }
  r.out.event('Image', s.image, 'Pulled');
}

/** The image of each service, made ready: built, pulled, or found, per --build/--no-build and pull_policy. */
async function ensureImages(r: ComposeRun, names: string[], o: { build?: boolean; noBuild?: boolean }): Promise<Record<string, string>> {
  const p = r.loaded.project;
  const ids: Record<string, string> = {};
  for (const name of names) {
    const s = p.services[name];
    const ref = imageRef(p, name);
    let id = imageIdOf(r.engine, ref);
    const policy = s.pull_policy ?? 'missing';
    if (s.build && !o.noBuild && (o.build || policy === 'build' || !id)) id = await buildService(r, name);
    else if (s.image && (policy === 'always' || (!id && policy !== 'never'))) {
      if (!id || policy === 'always') {
        if (!s.image && !s.build) throw new ComposeError('EMODEL', `service ${name} has no image`);
        await pullService(r, name);
        id = imageIdOf(r.engine, ref);
      }
    }
    if (!id) throw new ComposeError('ENOTFOUND', `service ${name}: no such image: ${ref}${s.build ? ' (build it: dock compose build, or up without --no-build)' : policy === 'never' ? ' (pull_policy: never)' : ''}`);
    ids[name] = id;
  }
  return ids;
}

// ---- waiting -----------------------------------------------------------------------------------------

function live(engine: Engine, d: ContainerDoc): LiveState {
  return liveState(engine, engine.containers.get(d.Id) ?? d);
}

/** Waits for a depends_on condition on every container of `service`; fails when it cannot hold. */
async function waitCondition(r: ComposeRun, service: string, condition: string, timeoutMs: number): Promise<void> {
  if (condition === 'service_started') return;
  const deadline = Date.now() + timeoutMs;
  const docs = serviceContainers(r.engine, r.loaded.project.name, service);
  for (const d of docs) {
    r.out.event('Container', d.Name, 'Waiting');
    for (;;) {
      const st = live(r.engine, d);
      if (condition === 'service_healthy') {
        if (!d.Config.Healthcheck || d.Config.Healthcheck.Test[0] === 'NONE') throw new ComposeError('EDEPENDENCY', `dependency failed to start: container ${d.Name} has no healthcheck configured`);
        if (st.health?.Status === 'healthy') {
          r.out.event('Container', d.Name, 'Healthy');
          break;
        }
        if (st.health?.Status === 'unhealthy') throw new ComposeError('EDEPENDENCY', `dependency failed to start: container ${d.Name} is unhealthy`);
        if (st.status !== 'running' && st.status !== 'restarting') throw new ComposeError('EDEPENDENCY', `dependency failed to start: container ${d.Name} exited (${st.exitCode})`);
      } else {
        if (st.status === 'exited') {
          if (st.exitCode !== 0) throw new ComposeError('EDEPENDENCY', `service "${service}" didn't complete successfully: exit ${st.exitCode}`);
          r.out.event('Container', d.Name, 'Exited');
          break;
        }
      }
      if (Date.now() > deadline) throw new ComposeError('EDEPENDENCY', `dependency failed to start: container ${d.Name} did not become ${condition === 'service_healthy' ? 'healthy' : 'completed'} in ${Math.round(timeoutMs / 1000)}s`);
      await sleep(200);
    }
  }
}

/** --wait: every container of the services running, and healthy where it has a health check. */
export async function waitRunning(r: ComposeRun, services: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of services) {
    for (const d of serviceContainers(r.engine, r.loaded.project.name, name)) {
      for (;;) {
        const st = live(r.engine, d);
        const hc = d.Config.Healthcheck && d.Config.Healthcheck.Test[0] !== 'NONE';
        if (st.status === 'running' && (!hc || st.health?.Status === 'healthy')) {
          r.out.event('Container', d.Name, hc ? 'Healthy' : 'Running');
          break;
        }
        if (st.health?.Status === 'unhealthy') throw new ComposeError('EDEPENDENCY', `container ${d.Name} is unhealthy`);
        if (st.status === 'exited' || st.status === 'dead') {
          if (st.exitCode === 0 && !hc) break;
          throw new ComposeError('EDEPENDENCY', `container ${d.Name} exited (${st.exitCode})`);
        }
        if (Date.now() > deadline) throw new ComposeError('EDEPENDENCY', `container ${d.Name} is not ${hc ? 'healthy' : 'running'} after ${Math.round(timeoutMs / 1000)}s`);
        await sleep(200);
      }
    }
  }
}

// ---- up ----------------------------------------------------------------------------------------------

export interface UpOptions {
  services?: string[];
  build?: boolean;
  noBuild?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  noDeps?: boolean;
  noStart?: boolean;
  scale?: Record<string, number>;
  removeOrphans?: boolean;
  /** Seconds to stop a container that is recreated or removed. */
  timeout?: number;
  /** How long to wait for a depends_on condition (ms). */
  dependencyTimeoutMs?: number;
}

export async function up(r: ComposeRun, o: UpOptions = {}): Promise<string[]> {
  const p = r.loaded.project;
  const targets = o.services?.length ? o.services : Object.keys(p.services);
  checkServices(p, targets);
  for (const [svc, n] of Object.entries(o.scale ?? {})) {
    checkServices(p, [svc]);
    if (!Number.isInteger(n) || n < 0) throw new ComposeError('EUSAGE', `invalid --scale ${svc}=${n}: a number of containers`);
  }
  const order = startOrder(p, targets, { noDeps: o.noDeps });

  // Orphans: containers of this project for services the model no longer has.
  const known = new Set([...Object.keys(p.services), ...Object.keys(r.loaded.source.disabled)]);
  const orphans = projectContainers(r.engine, p.name).filter((d) => !known.has(d.Config.Labels[L.service]));
  if (orphans.length && o.removeOrphans) {
    for (const d of orphans) await removeOne(r, d, o.timeout);
  } else if (orphans.length) {
    r.out.warn(`found orphan containers (${orphans.map((d) => d.Name).join(', ')}) for this project: if you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up`);
  }

  const netKeys = new Set(order.flatMap((n) => Object.keys(p.services[n].networks ?? {})));
  const volKeys = new Set(order.flatMap((n) => (p.services[n].volumes ?? []).filter((v) => v.type === 'volume' && v.source).map((v) => v.source!)));
  const images = await ensureImages(r, order, o);
  const madeNets = await ensureNetworks(r, netKeys);
  const madeVols = ensureVolumes(r, volKeys);
  const created: ContainerDoc[] = [];
  const changed = new Set<string>();
  const files = fileOf(r);
  const names = Object.fromEntries(Object.entries(p.networks).map(([k, n]) => [k, n.name]));
  try {
    for (const name of order) {
      const s = p.services[name];
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        if (!p.services[dep] || (o.noDeps && !order.includes(dep))) continue;
        await waitCondition(r, dep, cond.condition, o.dependencyTimeoutMs ?? 300_000);
      }
      const hash = configHash(s, names);
      const replicas = o.scale?.[name] ?? replicasOf(s);
      const plan = planService({ replicas, hash, imageId: images[name] }, serviceContainers(r.engine, p.name, name).map(existing), o);
      for (const c of plan.remove) await removeOne(r, r.engine.containers.get(c.id)!, o.timeout);
      if (plan.recreate.length || plan.create.length) changed.add(name);
      // depends_on restart: true — a dependency recreated in this run restarts the kept containers.
      const restartFor = Object.entries(s.depends_on ?? {}).filter(([dep, cond]) => cond.restart && changed.has(dep)).map(([dep]) => dep);
      if (restartFor.length && !o.noStart) {
        for (const k of plan.keep) {
          const doc = r.engine.containers.get(k.id)!;
          if (live(r.engine, doc).status !== 'running') continue;
          r.out.event('Container', doc.Name, 'Restarting');
          await stopContainer(r.engine, doc, o.timeout);
          await startContainer(r.engine, r.engine.containers.get(k.id)!);
          r.out.event('Container', doc.Name, 'Restarted');
        }
      }
      const ctx = { project: p, service: name, hash, workingDir: r.loaded.source.workingDir, configFiles: r.loaded.source.configFiles, imageId: images[name], fileOf: files };
      for (const c of plan.recreate) {
        const old = r.engine.containers.get(c.id)!;
        r.out.event('Container', old.Name, 'Recreate');
        await stopContainer(r.engine, old, o.timeout ?? old.Config.StopTimeout);
        // Its anonymous volumes are carried over to the new container, as docker compose does.
        const inherit = await inheritedVolumes(r, old, s, name);
        await removeContainer(r.engine, old, { force: true });
        const carried = new Set(Object.values(inherit));
        for (const m of old.Mounts) if (m.Type === 'volume' && m.Anonymous && m.Name && !carried.has(m.Name)) removeVolumeIfUnused(r, m.Name);
        let doc: ContainerDoc;
        try {
          doc = await createOne(r, { ...ctx, inherit }, s, c.number);
        } catch (e) {
          for (const v of carried) removeVolumeIfUnused(r, v);
          throw e;
        }
        // They stay anonymous volumes of the new container: `down -v` and `rm -v` remove them.
        if (carried.size) {
          r.engine.containers.update(doc.Id, (d) => {
            for (const m of d.Mounts) if (m.Type === 'volume' && m.Name && carried.has(m.Name)) m.Anonymous = true;
          });
        }
        created.push(doc);
        r.out.event('Container', doc.Name, 'Recreated');
      }
      for (const n of plan.create) {
        r.out.event('Container', containerName(p.name, name, n), 'Creating');
        const doc = await createOne(r, ctx, s, n);
        created.push(doc);
        r.out.event('Container', doc.Name, 'Created');
      }
      if (o.noStart) continue;
      for (const d of serviceContainers(r.engine, p.name, name)) {
        const st = live(r.engine, d).status;
        if (st === 'running' || st === 'restarting') {
          if (!created.some((c) => c.Id === d.Id)) r.out.event('Container', d.Name, 'Running');
          continue;
        }
        if (st === 'paused') continue;
        r.out.event('Container', d.Name, 'Starting');
        await startContainer(r.engine, d);
        r.out.event('Container', d.Name, 'Started');
      }
    }
  } catch (e) {
    // Never half-made: what this run created goes, with the networks and volumes it made.
    for (const d of created.reverse()) await removeContainer(r.engine, d, { force: true, volumes: true }).catch(() => undefined);
    for (const v of madeVols) {
      try {
        r.engine.volumes.remove(v, { force: true });
      } catch {
        /* in use by a container that was there before */
      }
    }
    const nets = networkManager(r.engine);
    for (const n of madeNets) await nets.removeNetwork(n).catch(() => undefined);
    throw e;
  }
  return order;
}

/**
 * The anonymous volumes of `old` that its replacement mounts again: those at a target that is still
 * an anonymous volume of the service, or a VOLUME of the new image not taken by another mount.
 */
async function inheritedVolumes(r: ComposeRun, old: ContainerDoc, s: Service, service: string): Promise<Record<string, string>> {
  const anonymous = old.Mounts.filter((m) => m.Type === 'volume' && m.Anonymous && m.Name);
  if (!anonymous.length) return {};
  const serviceMounts = new Map((s.volumes ?? []).map((v) => [v.target, v]));
  const tmpfs = new Set((s.tmpfs ?? []).map((x) => x.split(':')[0]));
  let imageVolumes: Record<string, object> = {};
  try {
    imageVolumes = (await r.engine.images.readConfig(findImage(r.engine.images, imageRef(r.loaded.project, service)).image)).config?.Volumes ?? {};
  } catch {
    /* no image: createContainer says so */
  }
  const imageTargets = new Set(Object.keys(imageVolumes).map((t) => t.replace(/\/+$/, '') || '/'));
  const out: Record<string, string> = {};
  for (const m of anonymous) {
    const v = serviceMounts.get(m.Destination);
    const keep = v ? v.type === 'volume' && !v.source : imageTargets.has(m.Destination) && !tmpfs.has(m.Destination);
    if (keep) out[m.Destination] = m.Name!;
  }
  return out;
}

/** An anonymous volume no container uses any more goes (as `rm -v` does). */
function removeVolumeIfUnused(r: ComposeRun, name: string): void {
  try {
    r.engine.volumes.remove(name, { force: true });
  } catch {
    /* still used by another container (--volumes-from): Docker keeps it too */
  }
}

async function createOne(r: ComposeRun, ctx: Omit<ContainerContext, 'number'>, s: Service, number: number): Promise<ContainerDoc> {
  const plan = containerPlan({ ...ctx, number }, s);
  return createContainer(r.engine, plan.image, plan.flags, plan.command);
}

async function removeOne(r: ComposeRun, d: ContainerDoc, timeout?: number): Promise<void> {
  r.out.event('Container', d.Name, 'Stopping');
  await stopContainer(r.engine, d, timeout);
  r.out.event('Container', d.Name, 'Removing');
  await removeContainer(r.engine, d, { force: true, volumes: true });
  r.out.event('Container', d.Name, 'Removed');
}

// ---- down and the other verbs --------------------------------------------------------------------------

export interface DownOptions {
  volumes?: boolean;
  rmi?: 'local' | 'all';
  removeOrphans?: boolean;
  timeout?: number;
}

/** The project's containers in stop order: dependents first (the reverse of the start order). */
function stopOrderOf(p: Project, docs: ContainerDoc[]): ContainerDoc[] {
  const order = startOrder(p, Object.keys(p.services));
  const rank = (d: ContainerDoc) => {
    const i = order.indexOf(d.Config.Labels[L.service]);
    return i < 0 ? Infinity : i;
  };
  return [...docs].sort((a, b) => rank(b) - rank(a));
}

export async function down(r: ComposeRun, o: DownOptions = {}): Promise<void> {
  const p = r.loaded.project;
  const known = new Set([...Object.keys(p.services), ...Object.keys(r.loaded.source.disabled)]);
  let docs = projectContainers(r.engine, p.name, { oneoff: 'any' });
  const orphans = docs.filter((d) => !known.has(d.Config.Labels[L.service]));
  if (orphans.length && !o.removeOrphans) {
    r.out.warn(`found orphan containers (${orphans.map((d) => d.Name).join(', ')}) for this project: run down with --remove-orphans to remove them`);
    docs = docs.filter((d) => known.has(d.Config.Labels[L.service]));
  }
  const ordered = stopOrderOf(p, docs);
  // Stop all first (dependents before what they depend on), then remove.
  for (const d of ordered) {
    const st = live(r.engine, d).status;
    if (st === 'running' || st === 'paused' || st === 'restarting') {
      r.out.event('Container', d.Name, 'Stopping');
      await stopContainer(r.engine, d, o.timeout);
      r.out.event('Container', d.Name, 'Stopped');
    }
  }
  for (const d of ordered) {
    r.out.event('Container', d.Name, 'Removing');
    // Anonymous volumes stay without -v, as with docker compose.
    await removeContainer(r.engine, d, { force: true, volumes: !!o.volumes });
    r.out.event('Container', d.Name, 'Removed');
  }
  const nets = networkManager(r.engine);
  for (const row of nets.store.networks()) {
    const labels = JSON.parse(row.labels) as Record<string, string>;
    if (labels[L.project] !== p.name) continue;
    r.out.event('Network', row.name, 'Removing');
    await nets.removeNetwork(row.name);
    r.out.event('Network', row.name, 'Removed');
  }
  if (o.volumes) {
    for (const v of r.engine.volumes.list()) {
      if (v.Labels[L.project] !== p.name) continue;
      r.out.event('Volume', v.Name, 'Removing');
      r.engine.volumes.remove(v.Name);
      r.out.event('Volume', v.Name, 'Removed');
    }
  }
  rmSync(join(r.engine.root, 'compose', p.name), { recursive: true, force: true });
  if (o.rmi) {
    const { removeImage } = await import('../images/remove');
    const refs = new Set<string>();
    for (const [name, s] of Object.entries(p.services)) if (o.rmi === 'all' || !s.image) refs.add(imageRef(p, name));
    for (const ref of refs) {
      if (!imageIdOf(r.engine, ref)) continue;
      r.out.event('Image', ref, 'Removing');
      try {
        await removeImage(r.engine.images, ref, {});
        r.out.event('Image', ref, 'Removed');
      } catch (e) {
        r.out.warn(`image ${ref}: ${(e as Error).message}`);
      }
    }
  }
}

/** The containers of the named services (all when none), in start order. */
export function containersOf(r: ComposeRun, services: string[] = [], o: { oneoff?: boolean | 'any' } = {}): ContainerDoc[] {
  const p = r.loaded.project;
  checkServices(p, services);
  const want = services.length ? new Set(services) : null;
  const order = startOrder(p, Object.keys(p.services));
  return projectContainers(r.engine, p.name, o)
    .filter((d) => !want || want.has(d.Config.Labels[L.service]))
    .sort((a, b) => order.indexOf(a.Config.Labels[L.service]) - order.indexOf(b.Config.Labels[L.service]));
}

export async function stop(r: ComposeRun, services: string[], timeout?: number): Promise<void> {
  const p = r.loaded.project;
  for (const d of stopOrderOf(p, containersOf(r, services))) {
    r.out.event('Container', d.Name, 'Stopping');
    await stopContainer(r.engine, d, timeout);
    r.out.event('Container', d.Name, 'Stopped');
  }
}

export async function start(r: ComposeRun, services: string[]): Promise<void> {
  const docs = containersOf(r, services);
  if (!docs.length) throw new ComposeError('ENOTFOUND', `no containers to start${services.length ? ` for ${services.join(', ')}` : ''}: run dock compose up first`);
  for (const d of docs) {
    const s = r.loaded.project.services[d.Config.Labels[L.service]];
    for (const [dep, cond] of Object.entries(s?.depends_on ?? {})) if (r.loaded.project.services[dep]) await waitCondition(r, dep, cond.condition, 300_000);
    r.out.event('Container', d.Name, 'Starting');
    await startContainer(r.engine, d);
    r.out.event('Container', d.Name, 'Started');
  }
}

export async function restart(r: ComposeRun, services: string[], timeout?: number): Promise<void> {
  await stop(r, services, timeout);
  await start(r, services);
}

export async function kill(r: ComposeRun, services: string[], signal?: string): Promise<void> {
  for (const d of containersOf(r, services)) {
    const st = live(r.engine, d).status;
    if (st !== 'running' && st !== 'paused') continue;
    r.out.event('Container', d.Name, 'Killing');
    await killContainer(r.engine, d, signal);
    r.out.event('Container', d.Name, 'Killed');
  }
}

export async function pause(r: ComposeRun, services: string[], on: boolean): Promise<void> {
  for (const d of containersOf(r, services)) {
    await pauseContainer(r.engine, d, on);
    r.out.event('Container', d.Name, on ? 'Paused' : 'Unpaused');
  }
}

/** `rm`: stopped containers only, unless stop is asked. */
export async function rm(r: ComposeRun, services: string[], o: { stop?: boolean; volumes?: boolean; timeout?: number } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const d of containersOf(r, services, { oneoff: 'any' })) {
    const st = live(r.engine, d).status;
    if (st === 'running' || st === 'paused' || st === 'restarting') {
      if (!o.stop) continue;
      await stopContainer(r.engine, d, o.timeout);
    }
    r.out.event('Container', d.Name, 'Removing');
    await removeContainer(r.engine, d, { force: true, volumes: o.volumes });
    r.out.event('Container', d.Name, 'Removed');
    removed.push(d.Name);
  }
  return removed;
}

/** One container of a service by its number (exec, port, run's network). */
export function serviceContainer(r: ComposeRun, service: string, index = 1): ContainerDoc {
  checkServices(r.loaded.project, [service]);
  const d = serviceContainers(r.engine, r.loaded.project.name, service).find((c) => Number(c.Config.Labels[L.number]) === index);
  if (!d) throw new ComposeError('ENOTFOUND', `service "${service}" is not running container #${index}`);
  return d;
}

/**
 * `run`: a one-off container of the service (labels oneoff=True, name <project>-<service>-run-<id>),
 * its dependencies up first unless noDeps. The caller starts it (attached or detached).
 */
export async function createRun(r: ComposeRun, service: string, o: { command?: string[]; env?: string[]; noDeps?: boolean; rm?: boolean; entrypoint?: string[]; user?: string; workdir?: string; tty?: boolean; interactive?: boolean; name?: string; publish?: boolean }): Promise<ContainerDoc> {
  const p = r.loaded.project;
  checkServices(p, [service]);
  const s = p.services[service];
  const deps = startOrder(p, [service]).filter((n) => n !== service);
  if (!o.noDeps && deps.length) await up(r, { services: deps, noRecreate: true });
  const images = await ensureImages(r, [service], {});
  const netKeys = new Set(Object.keys(s.networks ?? {}));
  await ensureNetworks(r, netKeys);
  ensureVolumes(r, new Set((s.volumes ?? []).filter((v) => v.type === 'volume' && v.source).map((v) => v.source!)));
  const names = Object.fromEntries(Object.entries(p.networks).map(([k, n]) => [k, n.name]));
  const plan = containerPlan({ project: p, service, number: 1, hash: configHash(s, names), workingDir: r.loaded.source.workingDir, configFiles: r.loaded.source.configFiles, imageId: images[service], oneoff: true, fileOf: fileOf(r) }, { ...s, ...(o.publish ? {} : { ports: undefined }) });
  const f = { ...plan.flags, detach: false, rm: o.rm, restart: o.rm ? undefined : plan.flags.restart, interactive: o.interactive ?? plan.flags.interactive, tty: o.tty ?? plan.flags.tty, env: [...(plan.flags.env ?? []), ...(o.env ?? [])] };
  if (o.name) f.name = o.name;
  if (o.user) f.user = o.user;
  if (o.workdir) f.workdir = o.workdir;
  if (o.entrypoint) f.entrypointArgs = o.entrypoint;
  return createContainer(r.engine, plan.image, f, o.command?.length ? o.command : o.entrypoint ? [] : plan.command);
}

/** Waits until every one of `docs` has stopped (for `up` attached and --abort-on-container-exit). */
export async function waitAnyExit(r: ComposeRun, docs: ContainerDoc[], signal?: AbortSignal): Promise<ContainerDoc | null> {
  while (!signal?.aborted) {
    for (const d of docs) {
      const st = live(r.engine, d).status;
      if (st === 'exited' || st === 'dead') return d;
    }
    await sleep(250);
  }
  return null;
}

export { waitStopped };
