// /containers/{id}/exec and /exec/{id}/...: exec instances live in the service's memory (as in
// dockerd: they are gone with it). Starting one runs `dock exec` itself, with the connection's
// streams as its stdio: the process must be the child of a short-lived waiter that owns its
// stdio (the runtime's exec joins the container from skiff-init and waits for the process as a
// subreaper), which the long-running service cannot be for many at once without taking over the
// signals and children of all of them.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { liveState } from '../containers/status';
import { badRequest, conflict, notFound } from './errors';
import { field, readJson, type Router, sendEmpty, sendJson, qInt } from './router';
import { hijack, streamWriter } from './streams';

interface ExecInstance {
  id: string;
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  env: string[];
  user: string;
  workdir: string;
  privileged: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  started: boolean;
  child?: ChildProcess;
}

const execs = new Map<string, ExecInstance>();
/** Finished instances are forgotten after a while (dockerd keeps them until the container goes). */
const KEEP_MS = 10 * 60_000;

function instance(id: string): ExecInstance {
  const e = execs.get(id);
  if (!e) throw notFound(`no such exec instance: ${id}`);
  return e;
}

export function registerExec(r: Router): void {
  r.add('POST', '/containers/:id/exec', async (ctx) => {
    const body = await readJson(ctx);
    const doc = ctx.engine.containers.find(ctx.params.id);
    const s = liveState(ctx.engine, doc).status;
    if (s === 'paused') throw conflict(`container ${doc.Id} is paused, unpause the container before exec`);
    if (s !== 'running') throw conflict(`container ${doc.Id} is not running`);
    const cmd = field<string[]>(body, 'Cmd', 'array');
    if (!cmd?.length || cmd.some((c) => typeof c !== 'string')) throw badRequest('no exec command specified');
    const env = field<string[]>(body, 'Env', 'array') ?? [];
    const workdir = field<string>(body, 'WorkingDir', 'string') ?? '';
    if (workdir && !workdir.startsWith('/')) throw badRequest(`the working directory "${workdir}" is invalid: it needs to be an absolute path`);
    const e: ExecInstance = {
      id: randomBytes(32).toString('hex'),
      containerId: doc.Id,
      cmd,
      tty: !!field<boolean>(body, 'Tty', 'boolean'),
      stdin: !!field<boolean>(body, 'AttachStdin', 'boolean'),
      stdout: !!field<boolean>(body, 'AttachStdout', 'boolean'),
      stderr: !!field<boolean>(body, 'AttachStderr', 'boolean'),
      env: env.filter((x) => typeof x === 'string' && x.includes('=')),
      user: field<string>(body, 'User', 'string') ?? '',
      workdir,
      privileged: !!field<boolean>(body, 'Privileged', 'boolean'),
      running: false,
      exitCode: null,
      pid: 0,
      started: false,
    };
    execs.set(e.id, e);
    sendJson(ctx, 201, { Id: e.id });
  });

  r.add('POST', '/exec/:id/start', async (ctx) => {
    const e = instance(ctx.params.id);
    const body = await readJson(ctx);
    if (e.started) throw conflict(`exec ${e.id} has already been started`);
    const detach = !!field<boolean>(body, 'Detach', 'boolean');
    const doc = ctx.engine.containers.get(e.containerId);
    if (!doc || liveState(ctx.engine, doc).status !== 'running') throw conflict(`container ${e.containerId} is not running`);
    e.started = true;
    const args = [...ctx.engine.self.slice(1), '--root', ctx.engine.root, 'exec'];
    if (detach) args.push('-d');
    if (e.stdin && !detach) args.push('-i');
    if (e.tty && !detach) args.push('-t');
    if (e.privileged) args.push('--privileged');
    if (e.user) args.push('-u', e.user);
    if (e.workdir) args.push('-w', e.workdir);
    for (const v of e.env) args.push('-e', v);
    args.push(e.containerId, ...e.cmd);
    // With a TTY, fd 3 carries the resizes (POST /exec/{id}/resize) to the exec's pty.
    const tty = e.tty && !detach;
    const child = spawn(ctx.engine.self[0], args, {
      stdio: tty ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DOCK_ROOT: ctx.engine.root, DOCK_EXEC_FOR_API: '1', ...(tty ? { SKIFF_WINSIZE_FD: '3' } : {}) },
    });
    e.child = child;
    e.running = true;
    e.pid = child.pid ?? 0;
    const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig ? 128 + 9 : 1))));
    void exited.then((code) => {
      e.running = false;
      e.exitCode = code;
      setTimeout(() => execs.delete(e.id), KEEP_MS).unref();
    });
    if (detach) {
      child.stdin!.end();
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      child.stdout!.resume();
      const code = await exited;
      if (code !== 0) throw conflict(err.trim().replace(/^dock: /, '') || `exec failed with status ${code}`);
      return sendEmpty(ctx, 200);
    }
    const h = hijack(ctx, e.tty);
    child.stdout!.pipe(streamWriter(h.out, 1, e.tty));
    child.stderr!.pipe(streamWriter(h.out, 2, e.tty));
    if (e.stdin) {
      h.input.on('data', (d: Buffer) => child.stdin!.write(d));
      // With a terminal the client's end of input is not the process's: Docker keeps the terminal
      // open until the process exits (ending it early could cut the last output short).
      h.input.on('end', () => {
        if (!e.tty) child.stdin!.end();
      });
      h.input.resume();
    } else child.stdin!.end();
    // The client going away ends the exec's input, as a closed terminal would; the process runs on.
    ctx.signal.addEventListener('abort', () => child.stdin!.end());
    await exited;
    h.end();
  });

  r.add('GET', '/exec/:id/json', async (ctx) => {
    const e = instance(ctx.params.id);
    sendJson(ctx, 200, {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode ?? 0, // an integer in Docker's definition; Running says it is not over
      ProcessConfig: { tty: e.tty, entrypoint: e.cmd[0], arguments: e.cmd.slice(1), privileged: e.privileged, user: e.user },
      OpenStdin: e.stdin,
      OpenStderr: e.stderr,
      OpenStdout: e.stdout,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: '',
      Pid: e.pid,
    });
  });

  r.add('POST', '/exec/:id/resize', async (ctx) => {
    const e = instance(ctx.params.id);
    const h = qInt(ctx, 'h');
    const w = qInt(ctx, 'w');
    if (!h || !w || h < 0 || w < 0 || h > 65535 || w > 65535) throw badRequest('h and w must be positive integers');
    if (!e.running || !e.child) throw conflict(`exec ${e.id} is not running`);
    const sizes = e.child.stdio[3] as NodeJS.WritableStream | null | undefined;
    // Without a TTY there is no window to size: dockerd accepts and ignores it too.
    if (sizes) sizes.write(`${h} ${w}\n`);
    sendEmpty(ctx, 200);
  });
}
