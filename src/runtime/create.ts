// `create`: build the container and leave its init blocked on the exec fifo.
// Every step registers its undo; a failure runs them in reverse so nothing is left behind.
import { statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseConfigFile } from '../oci/validate';
import type { Spec } from '../oci/types';
import { DEFAULT_ALLOWED_DEVICES, openCgroupManager } from './cgroups';
import type { CgroupManager, LinuxResources } from './cgroups/types';
import { cgroupError } from './cgroups/files';
import { SkiffError, configError } from './errors';
import { runHooks } from './hooks';
import { checkContainerId } from './ids';
import { callerPid, native } from './native';
import { pollUntil } from './poll';
import { buildCreatePlan } from './plan';
import { unknownCapabilities } from './capabilities';
import { cgroupMountPlanner } from './cgroup-mounts';
import { sendSeccompListener } from './seccomp-notify';
import { isRootless, writeIdMaps } from './userns';
import { processStartTime } from './procfs';
import { MSG_NAMES, Msg, STEP_NAMES } from './protocol';
import { writeFastState } from './fast-state';
import type { Runtime } from './runtime';
import { DEFAULT_ROOT, OCI_VERSION, type ContainerRecord, type OciState, writePidFile } from './state';

export interface CreateOptions {
  id: string;
  bundle?: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** config.json already read and validated by the caller (run), so it is not parsed twice. */
  spec?: Spec;
  /**
   * Start skiff-init somewhere else than as our child (dock: its supervisor spawns it, so that
   * the container's init is reparented to the supervisor). That process reaps stage 1.
   */
  spawnInit?: (initPath: string, fdTarget: number, preserveFds: number) => { pid: number; fd: number };
}

export async function create(rt: Runtime, opts: CreateOptions): Promise<ContainerRecord> {
  const id = checkContainerId(opts.id);
  const bundle = resolve(opts.bundle ?? '.');
  const spec = opts.spec ?? parseConfigFile(resolve(bundle, 'config.json'), { requireProcess: true });
  const rootfs = resolve(bundle, spec.root?.path ?? 'rootfs');
  checkRootfs(rootfs);
  rt.log.debug(`create ${id}: bundle ${bundle}, rootfs ${rootfs}`);
  warnUnknownCapabilities(rt, spec.process?.capabilities);

  const store = rt.store;
  const lock = store.claim(id);
  const undo: (() => void)[] = [() => store.remove(id)];
  try {
    const fifo = store.fifoPath(id);
    native().mkfifo(fifo, 0o622);

    const cg: CgroupManager = openCgroupManager({
      id,
      cgroupsPath: cgroupsPath(rt, spec, id),
      systemd: rt.systemdCgroup,
      annotations: spec.annotations,
      rootless: isRootless(),
      onWarning: (m: string) => rt.log.warn(m),
    });
    // Written before anything is made: a create killed half way (SIGKILL during a hook) leaves a
    // record that list shows (creating while we live, stopped after) and delete -f reads to
    // remove the cgroups. The init runs in its own mount namespace: it leaves no host mounts.
    const provisional = (): ContainerRecord => ({
      ociVersion: OCI_VERSION, id, pid: 0, initStartTime: '', bundle, rootfs, created: new Date().toISOString(),
      annotations: spec.annotations, cgroupPaths: cg.paths(), cgroupsPath: cgroupsPath(rt, spec, id),
      systemdCgroup: rt.systemdCgroup, owner: userInfo().username, config: spec,
      creator: { pid: callerPid(), startTime: processStartTime(callerPid()) ?? '' },
    });
    store.write(provisional());
    // A frozen cgroup (or a child of a frozen one) would freeze the init before it says a word.
    if (cg.isFrozen()) throw cgroupError('EFROZEN', `cgroup ${cg.path} is frozen: thaw it before creating a container in it`);
    cg.create();
    undo.push(() => cg.destroy());
    if (cg.isFrozen()) throw cgroupError('EFROZEN', `cgroup ${cg.path} is frozen (a parent is): thaw it before creating a container in it`);
    rt.log.debug(`create ${id}: cgroup ${cg.path} (v${cg.version})`);
    const others = cg.pids().length;
    if (others) rt.log.warn(`container's cgroup is not empty: ${others} process(es) found`); // runc 1.1's warning
    if (spec.linux?.resources) cg.apply(effectiveResources(spec));

    const seccomp = spec.linux?.seccomp ? await compileSeccompFor(rt, spec) : undefined;
    const preserve = preservedFds(opts);
    const { plan, userns } = buildCreatePlan(withListenFds(withNotifySocket(spec)), {
      bundle,
      rootfs,
      fifoPath: fifo,
      consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
      preserveFds: preserve,
      sessionKeyring: opts.noNewKeyring ? undefined : `_ses.${id}`,
      noPivot: !!opts.noPivot,
      cgroupMounts: cgroupMountPlanner(cg, spec),
      seccomp,
    });

    const n = native();
    // Stage 2 is orphaned when stage 1 exits: as subreaper we can tell how it ended if it dies
    // early. Once create returns, it is reparented as it would have been (to our own subreaper,
    // e.g. conmon or containerd's shim, or to pid 1).
    n.setSubreaper();
    const init = opts.spawnInit ? opts.spawnInit(rt.initPath, 3 + preserve, preserve) : n.spawnInit(rt.initPath, 3 + preserve, preserve);
    const ourChild = !opts.spawnInit;
    let containerPid = 0;
    undo.push(() => {
      // Kill whatever part of the init is alive, and reap what is ours.
      for (const pid of [containerPid, init.pid]) if (pid > 0) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      if (ourChild) reapBounded(init.pid);
      n.close(init.fd);
    });
    rt.log.debug(`create ${id}: skiff-init started as pid ${init.pid}, plan of ${plan.length} bytes`);
    cg.addProcess(init.pid);
    n.sendPlan(init.fd, plan);

    const state = (status: OciState['status']): OciState => ({
      ociVersion: OCI_VERSION,
      id,
      status,
      pid: containerPid,
      bundle,
      ...(spec.annotations && Object.keys(spec.annotations).length ? { annotations: spec.annotations } : {}),
    });

    for (;;) {
      const msg = n.recvMsg(init.fd, INIT_ANSWER_MS);
      if (!msg) throw new SkiffError('init', 'EINIT', `container init ${howItEnded(containerPid || init.pid)} before it was ready`);
      if (msg.type === Msg.ERROR) {
        const detail = msg.payload.toString('utf8') || STEP_NAMES[msg.step] || 'unknown step';
        throw new SkiffError('init', 'EINIT', detail);
      }
      rt.log.debug(`create ${id}: init says ${MSG_NAMES[msg.type] ?? msg.type}${msg.type === Msg.CHILD_PID ? ` ${msg.value}` : ''}`);
      if (msg.type === Msg.USERNS_READY && userns) {
        writeIdMaps(init.pid, userns.uidMappings, userns.gidMappings);
        n.sendMsg(init.fd, Msg.USERNS_MAPPED, 0);
      } else if (msg.type === Msg.CHILD_PID) {
        containerPid = msg.value;
        if (ourChild) reapBounded(init.pid); // stage 1 exits after reporting
      } else if (msg.type === Msg.HOOKS) {
        const hooks = spec.hooks ?? {};
        runHooks('prestart', hooks.prestart, state('creating'), bundle);
        runHooks('createRuntime', hooks.createRuntime, state('creating'), bundle);
        const payload = Buffer.from(`${JSON.stringify(state('creating'))}\0${JSON.stringify(state('created'))}`);
        n.sendMsg(init.fd, Msg.HOOKS_DONE, 0, payload);
      } else if (msg.type === Msg.SECCOMP_FD && msg.fd !== undefined) {
        sendSeccompListener(spec, msg.fd, containerPid, state('creating'));
        n.sendMsg(init.fd, Msg.SECCOMP_DONE, 0);
      } else if (msg.type === Msg.CREATED) {
        break;
      } else {
        throw new SkiffError('init', 'EPROTO', `unexpected message ${msg.type} from container init`);
      }
    }
    n.close(init.fd);

    const startTime = processStartTime(containerPid);
    if (!startTime) throw new SkiffError('init', 'EINIT', 'container init exited before it was ready');
    const rec: ContainerRecord = {
      ociVersion: OCI_VERSION,
      id,
      pid: containerPid,
      initStartTime: startTime,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      cgroupPaths: cg.paths(),
      cgroupsPath: cgroupsPath(rt, spec, id),
      systemdCgroup: rt.systemdCgroup,
      owner: userInfo().username,
      config: spec,
    };
    store.write(rec);
    writeFastState(store.dir(id), rec, cg.freezerProbe(), cg.removalPlan());
    if (opts.pidFile) writePidFile(opts.pidFile, containerPid);
    rt.log.debug(`create ${id}: created, init pid ${containerPid}`);
    return rec;
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch (e) {
        rt.log.warn(`cleanup after failed create: ${(e as Error).message}`);
      }
    }
    throw err;
  } finally {
    lock.release();
  }
}

/**
 * The longest skiff waits for one answer of its init (a bounded wait: a stuck init must not hang
 * its caller). Hooks run in between are not counted: they have their own timeouts.
 */
export const INIT_ANSWER_MS = 120_000;

/** Reap a child we killed or that is exiting, waiting at most ~5 s (one frozen cannot die). */
export function reapBounded(pid: number): void {
  const n = native();
  pollUntil(() => {
    try {
      return n.waitPidSync(pid, true) !== null;
    } catch {
      return true; // not ours, or already reaped
    }
  }, 5000);
}

/**
 * The config's device rules, then what every container needs and its own linux.devices (as runc
 * does): engines send only "deny all" and expect the runtime to allow its default nodes.
 */
function effectiveResources(spec: Spec): LinuxResources {
  const res = spec.linux!.resources!;
  if (!res.devices?.length) return res;
  const own = (spec.linux?.devices ?? []).filter((d) => d.type !== 'p').map((d) => ({
    allow: true,
    type: d.type === 'u' ? 'c' : (d.type as 'c' | 'b'),
    major: Number(d.major ?? -1),
    minor: Number(d.minor ?? -1),
    access: 'rwm',
  }));
  // linux.devices are allowed first, so that the config's own rules can still narrow them
  // (e.g. read-only access); the nodes every container needs come last and always win.
  return { ...res, devices: [...own, ...res.devices, ...DEFAULT_ALLOWED_DEVICES] };
}

/**
 * The container's cgroup when config.json names none: /skiff/<id> for the default state root, and
 * /skiff/<hash of the root>/<id> for any other, so that two runtimes with separate roots never
 * share (and kill) each other's cgroups when their containers have the same id.
 */
function cgroupsPath(rt: Runtime, spec: Spec, id: string): string | undefined {
  if (spec.linux?.cgroupsPath || rt.systemdCgroup) return spec.linux?.cgroupsPath;
  if (resolve(rt.root) === DEFAULT_ROOT) return undefined;
  return `/skiff/${createHash('sha256').update(resolve(rt.root)).digest('hex').slice(0, 12)}/${id}`;
}

/**
 * Socket activation, as runc does it: LISTEN_FDS=N in skiff's environment passes fds 3..3+N-1 on
 * (besides --preserve-fds), and the container's process is told LISTEN_FDS=N, LISTEN_PID=1.
 */
function listenFds(): number {
  const n = Number(process.env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function preservedFds(opts: CreateOptions): number {
  return Math.max(opts.preserveFds ?? 0, listenFds());
}

function withListenFds(spec: Spec): Spec {
  const n = listenFds();
  if (!n || !spec.process) return spec;
  const env = (spec.process.env ?? []).filter((e) => !/^LISTEN_(FDS|PID)=/.test(e));
  return { ...spec, process: { ...spec.process, env: [...env, `LISTEN_FDS=${n}`, 'LISTEN_PID=1'] } };
}

/** Where the caller's NOTIFY_SOCKET appears inside the container (as runc and crun put it). */
const NOTIFY_DEST = '/run/notify/notify.sock';

/**
 * sd_notify readiness (podman, systemd units): the caller's NOTIFY_SOCKET, a unix datagram socket
 * on the host, is bind-mounted into the container and named in its environment, so READY=1 from
 * the container reaches the listener directly. Abstract sockets (@name) cannot be mounted: skipped.
 */
function withNotifySocket(spec: Spec): Spec {
  const host = process.env.NOTIFY_SOCKET;
  if (!host || !host.startsWith('/') || !spec.process) return spec;
  return {
    ...spec,
    mounts: [...(spec.mounts ?? []), { destination: NOTIFY_DEST, type: 'bind', source: host, options: ['bind', 'nosuid', 'noexec', 'nodev'] }],
    process: { ...spec.process, env: [...(spec.process.env ?? []).filter((e) => !e.startsWith('NOTIFY_SOCKET=')), `NOTIFY_SOCKET=${NOTIFY_DEST}`] },
  };
}

/** runc's warning for capability names it skips (unknown to it, or newer than the kernel). */
export function warnUnknownCapabilities(rt: Runtime, caps: Parameters<typeof unknownCapabilities>[0]): void {
  const unknown = unknownCapabilities(caps);
  if (unknown.length) rt.log.warn(`ignoring unknown or unavailable capabilities: [${unknown.join(' ')}]`);
}

/** "exited with status N" / "was killed by signal N", for an init that died on its own. */
function howItEnded(pid: number): string {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 200; i++) {
    let st;
    try {
      st = native().waitPidSync(pid, true);
    } catch {
      return 'exited'; // not our child (already reaped)
    }
    if (st) return st.signal ? `was killed by signal ${st.signal}` : `exited with status ${st.exitCode}`;
    Atomics.wait(pause, 0, 0, 5);
  }
  return 'closed its socket';
}

function checkRootfs(rootfs: string): void {
  let st;
  try {
    st = statSync(rootfs);
  } catch {
    throw configError('EROOTFS', `rootfs (${JSON.stringify(rootfs)}) does not exist`);
  }
  if (!st.isDirectory()) throw configError('EROOTFS', `rootfs (${JSON.stringify(rootfs)}) is not a directory`);
}

export async function compileSeccompFor(rt: Runtime, spec: Spec): Promise<{ program: Buffer; flags: number }> {
  const { compileSeccomp } = await import('./seccomp');
  const out = compileSeccomp(spec.linux!.seccomp!);
  if (rt.debug) {
    const { disassemble } = await import('./seccomp');
    rt.log.debug(`seccomp program (${out.program.length / 8} instructions):\n${disassemble(out.program)}`);
  }
  return { program: out.program, flags: out.flags };
}

