// `run`: create + start, and in the foreground wait for the container, forward signals, give
// it skiff's terminal when it asks for one, and exit with its status.
import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReadStream } from 'node:tty';
import { parseConfigFile } from '../oci/validate';
import { type CreateOptions, create } from './create';
import { deleteContainer } from './delete';
import { native } from './native';
import type { Runtime } from './runtime';
import { start } from './start';

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGCONT'];

export async function run(rt: Runtime, opts: RunOptions): Promise<number> {
  const n = native();
  if (!opts.detach) n.setSubreaper(); // the container's init becomes our child once stage 1 exits

  // A terminal with nobody to hand the pty to: skiff holds the master itself.
  let consoleDir: string | undefined;
  let listenFd = -1;
  const wantsTty = !opts.consoleSocket && !opts.detach && !!parseConfigFile(resolve(opts.bundle ?? '.', 'config.json')).process?.terminal;
  if (wantsTty) {
    consoleDir = mkdtempSync(join(tmpdir(), 'skiff-console-'));
    listenFd = n.unixListen(join(consoleDir, 'console.sock'));
  }
  let master = -1;
  let rec;
  try {
    rec = await create(rt, { ...opts, consoleSocket: consoleDir ? join(consoleDir, 'console.sock') : opts.consoleSocket });
    if (listenFd >= 0) {
      const conn = n.unixAccept(listenFd, 5000);
      master = n.recvFd(conn).fd;
      n.close(conn);
    }
  } finally {
    if (listenFd >= 0) n.close(listenFd);
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  }

  try {
    start(rt, rec.id);
  } catch (e) {
    if (master >= 0) n.close(master);
    deleteContainer(rt, rec.id, true);
    throw e;
  }
  if (opts.detach) return 0;

  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(rec.pid, sig);
    } catch {
      /* already gone */
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  const pty = master >= 0 ? attachTerminal(master) : undefined;

  const status = await n.waitPid(rec.pid);
  await pty?.finish();
  for (const s of FORWARDED) process.off(s, forward);
  reapOrphans();
  if (!opts.keep) deleteContainer(rt, rec.id, true);
  return status.exitCode;
}

/** Reap processes reparented to us (we are a subreaper) after the container's init exited. */
function reapOrphans(): void {
  try {
    while (native().waitPidSync(-1, true)) {
      /* keep reaping */
    }
  } catch {
    /* ECHILD: none left */
  }
}

/** Connect the pty master to our terminal: raw mode, both directions, window size changes. */
function attachTerminal(master: number) {
  const n = native();
  const stdin = process.stdin;
  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const resize = () => {
    if (process.stdout.isTTY) n.setWinsize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  process.stdout.on('resize', resize);
  const stream = new ReadStream(master);
  const closed = new Promise<void>((done) => {
    stream.on('data', (d: Buffer) => process.stdout.write(d));
    stream.on('error', () => done()); // EIO once the last slave fd closes
    stream.on('close', () => done());
  });
  const onInput = (d: Buffer) => {
    try {
      writeSync(master, d);
    } catch {
      /* container gone */
    }
  };
  stdin.on('data', onInput);
  return {
    async finish() {
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500))]);
      stdin.off('data', onInput);
      stdin.pause();
      if (raw) stdin.setRawMode(false);
      process.stdout.off('resize', resize);
      stream.destroy();
    },
  };
}
