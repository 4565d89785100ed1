// `dock start`: mount the root filesystem, fill new volumes from the image, write the OCI config,
// make sure the supervisor runs, create the container through the runtime library with the
// supervisor spawning skiff-init (so that the container is its child), tell the supervisor the
// init's pid, then release the init.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringifyJson } from '../../oci/json';
import { create as runtimeCreate } from '../../runtime/create';
import { deleteContainer } from '../../runtime/delete';
import { start as runtimeStart } from '../../runtime/start';
import { supervisorPath } from '../../runtime/native';
import { resolveImage } from '../images/rootfs';
import { mergeEnv, parseBytes } from './config';
import { ensureVolumes } from './create';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { recordEvent } from '../events/log';
import { ContainerError } from './errors';
import { ContainerLock } from './lock';
import { SUN_PATH_MAX, containerDir } from './paths';
import { mountOverlay, resolveInRoot, resolveUser, unmountOverlay } from './rootfs';
import { buildSpec } from './spec';
import { detachNetworks, sharedNetns, setupNetwork } from './network';
import { liveState, runtimeRecord } from './status';
import { launchSupervisor, registerPid, spawnInitVia, supervisorAlive, supervisorStatus } from './supervisor';
import type { ContainerDoc, HealthState } from './types';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CGROUP2_SUPER_MAGIC = 0x63677270;
const NS = 1e9;

export interface StartOptions {
  /** Runs once the container exists and the supervisor knows it, before its process starts. */
  beforeStart?: () => Promise<void>;
  /** The caller holds the container's lock already (the exit handler restarting it). */
  locked?: boolean;
}

export async function startContainer(engine: Engine, target: ContainerDoc, opts: StartOptions = {}): Promise<ContainerDoc> {
  const dir = containerDir(engine.paths, target.Id);
  const lock = opts.locked ? null : await ContainerLock.acquireAsync(dir);
  try {
    const doc = engine.containers.get(target.Id);
    if (!doc) throw new ContainerError('ENOTFOUND', `no such container: ${target.Name}`);
    const live = liveState(engine, doc);
    if (live.status === 'running') return doc;
    if (live.status === 'paused') throw new ContainerError('ESTATE', `cannot start a paused container ${doc.Name}, try unpause instead`);
    if (live.status === 'removing') throw new ContainerError('ESTATE', `container ${doc.Name} is marked for removal and cannot be started`);
    return await startLocked(engine, doc, dir, opts);
  } finally {
    lock?.release();
  }
}

/** Removes what a previous run left in the runtime (state dir, cgroup) before a new run. */
export function clearRuntime(engine: Engine, id: string): void {
  if (runtimeRecord(engine, id) || existsSync(engine.rt.store.dir(id))) deleteContainer(engine.rt, id, true);
}

async function startLocked(engine: Engine, doc: ContainerDoc, dir: string, opts: StartOptions): Promise<ContainerDoc> {
  clearRuntime(engine, doc.Id);
  const tty = doc.Config.Tty;
  const consoleSocket = tty ? join(dir, 'console.sock') : undefined;
  if (consoleSocket && consoleSocket.length > SUN_PATH_MAX) {
    throw new ContainerError('EUSAGE', `the engine root ${engine.root} is too long for the console socket path (${consoleSocket.length} > ${SUN_PATH_MAX} bytes): use a shorter --root`);
  }
  let created = false;
  try {
    ensureVolumes(engine, doc);
    const image = await resolveImage(engine.images, doc.ImageId);
    const rootfs = mountOverlay(dir, image.lowerdirs);
    crashPoint('mounted');
    copyUpVolumes(engine, doc, rootfs);

    const user = resolveUser(rootfs, doc.Config.User, doc.HostConfig.GroupAdd ?? []);
    const args = [...(doc.Config.Entrypoint ?? []), ...(doc.Config.Cmd ?? [])];
    let env = mergeEnv([DEFAULT_PATH, `HOSTNAME=${doc.Config.Hostname}`, ...(tty ? ['TERM=xterm'] : [])], doc.Config.Env);
    if (!env.some((e) => e.startsWith('HOME='))) env = [...env, `HOME=${user.home}`];
    const cwd = doc.Config.WorkingDir || '/';
    const hostCwd = resolveInRoot(rootfs, cwd);
    if (!existsSync(hostCwd)) mkdirSync(hostCwd, { recursive: true, mode: 0o755 });

    const spec = buildSpec({
      doc,
      dir,
      rootfs,
      args,
      env,
      user,
      cwd,
      initBinary: supervisorPath(),
      cgroupsPath: `/dock/${doc.Id}`,
      cgroupV2: statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC,
      netnsPath: sharedNetns(engine, doc, dir),
      pidnsPath: joinedNamespace(engine, doc.HostConfig.PidMode, 'pid'),
      ipcnsPath: joinedNamespace(engine, doc.HostConfig.IpcMode, 'ipc'),
    });
    writeFileSync(join(dir, 'config.json'), stringifyJson(spec));

    await readySupervisor(engine, doc, dir, !!opts.locked);
    crashPoint('supervised');
    const rec = await runtimeCreate(engine.rt, { id: doc.Id, bundle: dir, consoleSocket, spawnInit: () => spawnInitVia(dir) });
    created = true;
    crashPoint('created');
    await setupNetwork(engine, doc, dir, rec.pid);
    registerPid(dir, rec.pid);
    const hc = doc.Config.Healthcheck;
    if (hc && hc.Test.length && hc.Test[0] !== 'NONE') {
      const h: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
      writeFileSync(join(dir, 'health.json'), JSON.stringify(h));
    }
    const updated = engine.containers.update(doc.Id, (d) => {
      d.State = { ...d.State, Pid: rec.pid, StartedAt: new Date().toISOString(), FinishedAt: '', ExitCode: 0, Error: '', ManualStop: false, Restarting: false };
    });
    if (opts.beforeStart) await opts.beforeStart();
    crashPoint('attached');
    runtimeStart(engine.rt, doc.Id);
    for (const m of doc.Mounts) {
      if (m.Type === 'volume' && m.Name) recordEvent(engine.images.db, 'volume', 'mount', m.Name, { container: doc.Id, destination: m.Destination, driver: 'local', propagation: m.Propagation, 'read/write': String(m.RW) });
    }
    containerEvent(engine, updated, 'start');
    return updated;
  } catch (e) {
    const msg = (e as Error).message;
    try {
      if (created || runtimeRecord(engine, doc.Id)) deleteContainer(engine.rt, doc.Id, true);
      await detachNetworks(engine, doc);
      unmountOverlay(dir);
      engine.containers.update(doc.Id, (d) => {
        d.State.Error = msg;
        if (d.State.StartedAt) d.State.FinishedAt = new Date().toISOString();
        d.State.ExitCode = 128;
      });
    } catch {
      /* the original error matters more */
    }
    if (e instanceof ContainerError) throw e;
    throw new ContainerError('ERUNTIME', `failed to start container ${doc.Name}: ${msg}`, { cause: e });
  }
}

/**
 * Fault injection for the crash tests: DOCK_CRASH_AT=<step> makes this dock die with SIGKILL at that
 * step of start, as a killed or crashed dock would, to prove that `ps -a` and `rm -f` handle it.
 */
export function crashPoint(step: string): void {
  if (process.env.DOCK_CRASH_AT === step) crash.now();
}

/** How this dock dies there; a call served by the warm server kills its caller instead (src/cli/dock-serve.ts). */
export const crash = { now: (): void => void process.kill(process.pid, 'SIGKILL') };

/** --pid/--ipc container:X: X's namespace of that type (X must run). */
function joinedNamespace(engine: Engine, mode: string | undefined, type: 'pid' | 'ipc'): string | undefined {
  if (!mode?.startsWith('container:')) return undefined;
  const ref = mode.slice('container:'.length);
  const other = engine.containers.get(ref);
  if (!other) throw new ContainerError('ENOTFOUND', `cannot join the ${type} namespace of container ${ref.slice(0, 12)}: no such container`);
  const live = liveState(engine, other);
  if (live.status !== 'running' && live.status !== 'paused') throw new ContainerError('ESTATE', `cannot join the ${type} namespace of container ${other.Name}: it is not running`);
  return `/proc/${live.pid}/ns/${type}`;
}

/** The rotation of each log driver: json-file's (none unless asked), local's (20m, 5 files). */
function logRotation(doc: ContainerDoc): { maxSize?: number; maxFiles?: number } {
  const { Type, Config } = doc.HostConfig.LogConfig;
  const local = Type === 'local';
  const size = Config['max-size'] ?? (local ? '20m' : undefined);
  const files = Config['max-file'] ?? (local ? '5' : undefined);
  return { maxSize: size ? parseBytes(size, 'max-size') : undefined, maxFiles: files ? Number(files) : undefined };
}

export function supervisorOptions(engine: Engine, doc: ContainerDoc, dir: string) {
  const hc = doc.Config.Healthcheck;
  const health = hc && hc.Test.length && hc.Test[0] !== 'NONE';
  const log = logRotation(doc);
  const interval = (hc?.Interval || 30 * NS) / 1e6;
  const timeout = (hc?.Timeout || 30 * NS) / 1e6;
  const base = [...engine.self, '--root', engine.root, 'container'];
  return {
    dir,
    tty: doc.Config.Tty,
    stdin: doc.Config.OpenStdin,
    logMaxSize: log.maxSize,
    logMaxFiles: log.maxFiles,
    noLog: doc.HostConfig.LogConfig.Type === 'none',
    exitCommand: [...base, '_exited', doc.Id],
    ...(health ? { healthCommand: [...base, '_health', doc.Id], healthIntervalMs: interval, healthDeadlineMs: timeout + 10_000 } : {}),
  };
}

/**
 * Docker's copy-up: a volume that is empty when first mounted over a directory of the image gets
 * that directory's content (owners, modes, links and xattrs kept), unless nocopy was asked.
 */
function copyUpVolumes(engine: Engine, doc: ContainerDoc, rootfs: string): void {
  for (const m of doc.Mounts) {
    if (m.Type !== 'volume' || !m.Name || m.Mode.split(',').includes('nocopy')) continue;
    const data = engine.volumes.dataPath(m.Name);
    if (readdirSync(data).length) continue;
    const src = resolveInRoot(rootfs, m.Destination);
    let st;
    try {
      st = statSync(src);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    if (readdirSync(src).length) execFileSync('cp', ['-a', '--', `${src}/.`, `${data}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

/**
 * Makes sure a supervisor will take this run's spawn request. One that reports the previous run's
 * exit leaves as soon as its exit command is done, possibly between a check and our request: give
 * it a moment to go, then launch a fresh one. Its exit command may instead wait for the lock we
 * hold (then it cannot leave before we are done, and is kept after the moment), or be the caller
 * itself (a restart policy: `locked`), which keeps it too.
 */
async function readySupervisor(engine: Engine, doc: ContainerDoc, dir: string, locked: boolean): Promise<void> {
  const status = supervisorStatus(dir);
  if (status === null) {
    await launchSupervisor(supervisorOptions(engine, doc, dir));
    return;
  }
  if (locked || !status.startsWith('exited')) return;
  for (const deadline = Date.now() + 2000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
    if (!supervisorAlive(dir)) {
      await launchSupervisor(supervisorOptions(engine, doc, dir));
      return;
    }
  }
}
