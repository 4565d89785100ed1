// A RUN step's container, run through the runtime library in this process (create, start, wait,
// delete), not through the skiff CLI nor dock's supervisor: the build holds the container for
// the step's duration and nothing else needs it afterwards.
//
// Its stdout and stderr are one pipe (a FIFO in the step directory, handed to skiff-init as fds 1
// and 2), read here and streamed line by line; stdin is /dev/null. The config is the runtime's
// default spec adapted as Docker adapts it for builds: Docker's default capabilities and seccomp
// profile, no terminal, the step's network (step-network.ts: its own namespace, connected between
// create and start, or dock's own for `host`), the image's user, working directory and environment.

import { closeSync, constants, openSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { defaultSpec } from '../../oci/spec-default';
import type { LinuxSeccomp, Mount, Spec } from '../../oci/types';
import { create } from '../../runtime/create';
import { deleteContainer } from '../../runtime/delete';
import { native } from '../../runtime/native';
import type { Runtime } from '../../runtime/runtime';
import { start } from '../../runtime/start';
import { defaultDockerProfile, dockerProfileToOci } from '../../runtime/seccomp/docker-profile';
import { DEFAULT_CAPS } from '../containers/spec';
import { BuildError } from './errors';
import type { StepNetworkSession } from './step-network';

export interface RunInContainerOptions {
  rt: Runtime;
  id: string;
  /** Directory for config.json and the output FIFO. */
  dir: string;
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  mounts: Mount[];
  /** The step's network (its /etc/hosts and /etc/resolv.conf are among `mounts`). */
  network: StepNetworkSession;
  onLine: (line: string) => void;
  /** Called with the container's pid once it runs (to kill it when the build is cancelled). */
  onStart?: (pid: number) => void;
}

let seccompCache: LinuxSeccomp | undefined;

export function buildSpec(o: RunInContainerOptions): Spec {
  const spec = defaultSpec();
  const caps = [...DEFAULT_CAPS];
  seccompCache ??= dockerProfileToOci(defaultDockerProfile(), { capabilities: caps }) as LinuxSeccomp;
  spec.process = {
    terminal: false,
    user: { uid: o.user.uid, gid: o.user.gid, ...(o.user.additionalGids.length ? { additionalGids: o.user.additionalGids } : {}) },
    args: o.args,
    env: o.env,
    cwd: o.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    // No rlimits: the step inherits dock's (as a Docker build inherits the daemon's).
    noNewPrivileges: false,
  };
  spec.root = { path: o.rootfs, readonly: false };
  spec.hostname = 'buildkitsandbox';
  spec.mounts = [...(spec.mounts ?? []), ...o.mounts];
  spec.linux = { ...spec.linux!, seccomp: seccompCache };
  if (!o.network.ownNamespace) spec.linux.namespaces = (spec.linux.namespaces ?? []).filter((n) => n.type !== 'network');
  return spec;
}

/** Runs the step's process; resolves with its exit status (128+N when killed by signal N). */
export async function runInContainer(o: RunInContainerOptions): Promise<number> {
  const n = native();
  writeFileSync(join(o.dir, 'config.json'), JSON.stringify(buildSpec(o)));
  const fifo = join(o.dir, 'output.fifo');
  rmSync(fifo, { force: true });
  n.mkfifo(fifo, 0o600);
  const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  let writeFd = -1;
  let nullFd = -1;
  let initPid = 0;
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  let pending = '';
  const output = new Promise<void>((resolve) => {
    reader.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        o.onLine(pending.slice(0, i).replace(/\r$/, ''));
        pending = pending.slice(i + 1);
      }
    });
    reader.on('end', () => resolve());
    reader.on('close', () => resolve());
    reader.on('error', () => resolve());
  });
  const reapStage1 = () => {
    if (initPid > 0) {
      try {
        n.waitPidSync(initPid, false);
      } catch {
        /* already reaped */
      }
      initPid = 0;
    }
  };
  let created = false;
  try {
    writeFd = openSync(fifo, constants.O_WRONLY);
    nullFd = openSync('/dev/null', constants.O_RDONLY);
    const rec = await create(o.rt, {
      id: o.id,
      bundle: o.dir,
      spawnInit: (path, target, preserve) => {
        const r = n.spawnInit(path, target, preserve, [nullFd, writeFd, writeFd]);
        initPid = r.pid;
        return r;
      },
    });
    created = true;
    // Our copies of the write end go: the pipe ends when the container's processes are gone.
    closeSync(writeFd);
    writeFd = -1;
    reapStage1(); // skiff-init's first stage exits once it reported the container's pid
    await o.network.attach(rec.pid);
    start(o.rt, rec.id);
    o.onStart?.(rec.pid);
    const status = await n.waitPid(rec.pid);
    await output;
    if (pending) o.onLine(pending);
    return status.exitCode;
  } catch (e) {
    if (e instanceof BuildError) throw e;
    throw new BuildError('ESTEP', `cannot run the step's container: ${(e as Error).message}`, { cause: e });
  } finally {
    try {
      await o.network.detach();
    } catch (e) {
      o.rt.log.warn(`release the network of build container ${o.id}: ${(e as Error).message}`);
    }
    if (writeFd >= 0) closeSync(writeFd);
    if (nullFd >= 0) closeSync(nullFd);
    reapStage1();
    reader.destroy();
    if (created) {
      try {
        deleteContainer(o.rt, o.id, true);
      } catch (e) {
        o.rt.log.warn(`remove build container ${o.id}: ${(e as Error).message}`);
      }
    }
    rmSync(fifo, { force: true });
  }
}
