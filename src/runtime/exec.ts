// `exec`: run another process in a running container. The same skiff-init, in join mode: it
// enters every namespace of the container and its cgroup, then applies the process's own user,
// capabilities, rlimits, seccomp and no_new_privs.
import { resolve } from 'node:path';
import type { Process } from '../oci/types';
import { compileSeccompFor, warnUnknownCapabilities } from './create';
import { SkiffError, containerError, usageError } from './errors';
import { OwnConsole, waitForeground } from './foreground';
import { native } from './native';
import { buildExecPlan } from './plan';
import { MSG_NAMES, Msg, STEP_NAMES } from './protocol';
import type { Runtime } from './runtime';
import { sendSeccompListener } from './seccomp-notify';
import { isRootless } from './userns';
import { ociState, writePidFile } from './state';
import { cgroupsOf, containerStatus } from './status';
import { checkSubCgroup } from './cgroups/files';

export interface ExecOptions {
  id: string;
  /** The whole process (--process FILE); otherwise built from the container's own process. */
  process?: Process;
  args?: string[];
  tty?: boolean;
  consoleSocket?: string;
  detach?: boolean;
  pidFile?: string;
  env?: string[];
  cwd?: string;
  /** "uid[:gid]" */
  user?: string;
  additionalGids?: number[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  preserveFds?: number;
  /** A sub-cgroup of the container's cgroup to run in ("path" or "controller:path"). */
  cgroup?: string;
  ignorePaused?: boolean;
}

export async function exec(rt: Runtime, opts: ExecOptions): Promise<number> {
  if (opts.cgroup !== undefined) subCgroupOf(opts.cgroup); // refused before anything is touched
  const rec = rt.store.read(opts.id);
  const status = containerStatus(rt, rec);
  if (status === 'stopped') throw containerError('ESTATUS', 'cannot exec in a stopped container');
  if (status === 'paused' && !opts.ignorePaused) throw containerError('ESTATUS', 'cannot exec in a paused container (use --ignore-paused to override)');

  const proc = opts.process ?? processFromFlags(rec.config.process!, opts);
  warnUnknownCapabilities(rt, proc.capabilities);
  if (!proc.args?.length) throw usageError('exec needs a command (or --process FILE)');
  if (proc.terminal && opts.detach && !opts.consoleSocket) throw usageError('cannot allocate a terminal in detached mode without --console-socket');

  const n = native();
  if (!opts.detach) n.setSubreaper(); // the process becomes our child once stage 1 exits
  const console = proc.terminal && !opts.consoleSocket ? new OwnConsole() : undefined;
  try {
    const preserveFds = opts.preserveFds ?? 0;
    const seccomp = rec.config.linux?.seccomp ? await compileSeccompFor(rt, rec.config) : undefined;
    const plan = buildExecPlan(rec.config, proc, {
      initPid: rec.pid,
      consoleSocket: console?.path ?? (opts.consoleSocket ? resolve(opts.consoleSocket) : undefined),
      preserveFds,
      seccomp,
      sessionKeyring: `_ses.${rec.id}`, // the container's own: joined again, as runc's exec does
    });

    const init = n.spawnInit(rt.initPath, 3 + preserveFds, preserveFds);
    rt.log.debug(`exec ${rec.id}: skiff-init started as pid ${init.pid} to join init ${rec.pid}: ${JSON.stringify(proc.args)}`);
    let pid = 0;
    let execed = false;
    try {
      joinCgroup(rt, rec, init.pid, opts.cgroup);
      n.sendPlan(init.fd, plan);
      for (;;) {
        const msg = n.recvMsg(init.fd);
        if (!msg) break;
        rt.log.debug(`exec ${rec.id}: init says ${MSG_NAMES[msg.type] ?? msg.type}${msg.type === Msg.CHILD_PID ? ` ${msg.value}` : ''}`);
        if (msg.type === Msg.ERROR) throw new SkiffError('init', 'EINIT', msg.payload.toString('utf8') || STEP_NAMES[msg.step]);
        if (msg.type === Msg.CHILD_PID) {
          pid = msg.value;
          n.waitPidSync(init.pid, false);
        } else if (msg.type === Msg.SECCOMP_FD && msg.fd !== undefined) {
          sendSeccompListener(rec.config, msg.fd, pid, ociState(rec, 'running'));
          n.sendMsg(init.fd, Msg.SECCOMP_DONE, 0);
        } else if (msg.type === Msg.EXECED) {
          execed = true;
        } else {
          throw new SkiffError('init', 'EPROTO', `unexpected message ${msg.type} from exec init`);
        }
      }
      if (!execed) throw new SkiffError('init', 'EINIT', 'exec init exited before it ran the process');
    } catch (e) {
      for (const p of [pid, init.pid]) if (p > 0) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      try { n.waitPidSync(init.pid, false); } catch { /* reaped */ }
      if (pid > 0) try { n.waitPidSync(pid, false); } catch { /* not ours */ }
      throw e;
    } finally {
      n.close(init.fd);
    }
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    if (opts.detach) return 0;
    const master = console ? console.take() : -1;
    return await waitForeground(pid, master);
  } finally {
    console?.dispose();
  }
}

/** runc exec's rules: the container's process is the template; flags replace or add. */
function processFromFlags(base: Process, o: ExecOptions): Process {
  const p: Process = { ...structuredClone(base), args: o.args ?? [], terminal: !!o.tty };
  delete p.consoleSize;
  if (o.env?.length) p.env = [...(p.env ?? []), ...o.env];
  if (o.cwd) p.cwd = o.cwd;
  if (o.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(o.user);
    if (!m) throw usageError(`invalid --user ${JSON.stringify(o.user)}: want uid[:gid]`);
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] === undefined ? 0 : Number(m[2]) };
  }
  if (o.additionalGids?.length) p.user = { ...(p.user ?? { uid: 0, gid: 0 }), additionalGids: o.additionalGids };
  if (o.caps?.length) {
    const c = (p.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
      c[set] = [...new Set([...(c[set] ?? []), ...o.caps])];
    }
  }
  if (o.noNewPrivs) p.noNewPrivileges = true;
  if (o.apparmor) p.apparmorProfile = o.apparmor;
  if (o.processLabel) p.selinuxLabel = o.processLabel;
  return p;
}

/** runc's --cgroup: "path" for every hierarchy, or "controller:path" for one v1 controller. */
function joinCgroup(rt: Runtime, rec: Parameters<typeof cgroupsOf>[1], pid: number, sub?: string): void {
  // Created without any cgroup (rootless, nothing delegated): there is nothing to join.
  if (isRootless() && !Object.keys(rec.cgroupPaths ?? {}).length && !sub) return;
  const cg = cgroupsOf(rt, rec);
  if (!sub) return cg.addProcess(pid);
  const s = subCgroupOf(sub);
  cg.addProcess(pid, s.controller ? { [s.controller]: s.path } : s.path);
}

/** "path" or "controller:path"; the path may not leave the container's cgroup. */
function subCgroupOf(sub: string): { controller?: string; path: string } {
  const m = /^([^:/]+):(.*)$/.exec(sub);
  const path = m ? m[2] : sub;
  checkSubCgroup(path);
  return { controller: m?.[1], path };
}
