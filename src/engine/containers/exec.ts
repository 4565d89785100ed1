// `dock exec`: another process in a running container, through the runtime library's exec (the
// same skiff-init in join mode). The container's own process is the template; -u names are
// resolved in the container's /etc/passwd, -e adds to its environment, -w sets the directory.

import type { Process } from '../../oci/types';
import { exec as runtimeExec } from '../../runtime/exec';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { randomBytes } from 'node:crypto';
import { ContainerError, startFailure } from './errors';
import { mergeEnv } from './config';
import { containerDir } from './paths';
import { resolveUser } from './rootfs';
import { liveState } from './status';
import type { ContainerDoc } from './types';
import { join } from 'node:path';

export interface ExecOptions {
  tty?: boolean;
  interactive?: boolean;
  detach?: boolean;
  env?: string[];
  user?: string;
  workdir?: string;
  privileged?: boolean;
}

export async function execInContainer(engine: Engine, doc: ContainerDoc, args: string[], o: ExecOptions): Promise<number> {
  const live = liveState(engine, doc);
  if (live.status === 'paused') throw new ContainerError('ESTATE', `container ${doc.Name} is paused, unpause the container before exec`);
  if (live.status !== 'running' || !live.runtime) throw new ContainerError('ESTATE', `container ${doc.Name} is not running`);
  if (!args.length) throw new ContainerError('EUSAGE', 'exec needs a command');
  const base = live.runtime.config.process!;
  const proc: Process = { ...structuredClone(base), args, terminal: !!o.tty };
  delete proc.consoleSize;
  if (o.env?.length) proc.env = mergeEnv(proc.env ?? [], o.env.map((e) => (e.includes('=') ? e : `${e}=${process.env[e] ?? ''}`)));
  if (o.workdir) {
    if (!o.workdir.startsWith('/')) throw new ContainerError('EUSAGE', `the working directory "${o.workdir}" is invalid: it needs to be an absolute path`);
    proc.cwd = o.workdir;
  }
  if (o.user) {
    const u = resolveUser(join(containerDir(engine.paths, doc.Id), 'rootfs'), o.user);
    proc.user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length ? { additionalGids: u.additionalGids } : {}) };
  }
  if (o.privileged) {
    const { CAPABILITIES } = await import('../../oci/capabilities');
    proc.capabilities = { bounding: [...CAPABILITIES], effective: [...CAPABILITIES], permitted: [...CAPABILITIES] };
  }
  if (o.tty && o.detach) throw new ContainerError('EUSAGE', 'cannot use -t with -d in dock exec (nothing would hold the terminal)');
  const execID = randomBytes(32).toString('hex');
  const cmd = args.join(' ');
  containerEvent(engine, doc, `exec_create: ${cmd}`, { execID });
  containerEvent(engine, doc, `exec_start: ${cmd}`, { execID });
  try {
    const code = await runtimeExec(engine.rt, { id: doc.Id, process: proc, detach: o.detach });
    if (!o.detach) containerEvent(engine, doc, 'exec_die', { execID, exitCode: String(code) });
    return code;
  } catch (e) {
    // In Docker's words, with docker exec's status (126/127) as the error's exitStatus.
    const f = startFailure(e);
    throw Object.assign(new ContainerError('ERUNTIME', f.message, { cause: e }), { exitStatus: f.status });
  }
}
