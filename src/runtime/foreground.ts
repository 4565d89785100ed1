// What `run` and `exec` share in the foreground: a console socket of our own when the process
// wants a terminal and nobody else takes the pty, signal forwarding, and waiting for the exit.
import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import { native, servingCaller } from './native';
import { HandoverError } from './remote';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGCONT'];

/** A listening console socket in a private temp dir; `take()` receives the pty master. */
export class OwnConsole {
  private readonly dir: string;
  readonly path: string;
  private listenFd: number;

  constructor() {
    // The terminal is the caller's: the warm server cannot relay it, the CLI on Node does.
    if (servingCaller()) throw new HandoverError('a terminal of its own');
    this.dir = mkdtempSync(join(tmpdir(), 'skiff-console-'));
    this.path = join(this.dir, 'console.sock');
    this.listenFd = native().unixListen(this.path);
  }

  /** The init connected and sent the master before it reported ready: this does not wait long. */
  take(): number {
    const n = native();
    const conn = n.unixAccept(this.listenFd, 5000);
    try {
      return n.recvFd(conn).fd;
    } finally {
      n.close(conn);
    }
  }

  dispose(): void {
    if (this.listenFd >= 0) native().close(this.listenFd);
    this.listenFd = -1;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Wait for `pid` (our child: we are its subreaper) while forwarding signals to it and, with a
 * pty master, relaying our terminal. Resolves with its exit status (128+N for signal N).
 */
export async function waitForeground(pid: number, master = -1): Promise<number> {
  const n = native();
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  for (const s of FORWARDED) process.on(s, forward);
  const pty = master >= 0 ? attachTerminal(master) : undefined;
  try {
    const status = await n.waitPid(pid);
    await pty?.finish();
    return status.exitCode;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    reapOrphans();
  }
}

/** Reap processes reparented to us (we are a subreaper) after the one we waited for exited. */
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
  const sizes = winsizeChannel(master);
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
      /* the process is gone */
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
      sizes?.destroy();
      stream.destroy();
    },
  };
}

/**
 * Window sizes from whoever started us without a terminal of its own (dock's API service for an
 * exec with a TTY): SKIFF_WINSIZE_FD names a pipe of "ROWS COLS" lines, each applied to the pty.
 */
function winsizeChannel(master: number): Socket | undefined {
  const fd = Number(process.env.SKIFF_WINSIZE_FD);
  if (!Number.isInteger(fd) || fd < 3) return undefined;
  let sock: Socket;
  try {
    sock = new Socket({ fd, readable: true, writable: false });
  } catch {
    return undefined;
  }
  let buf = '';
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const m = /^(\d{1,5}) (\d{1,5})$/.exec(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (m) native().setWinsize(master, Number(m[1]), Number(m[2]));
    }
  });
  sock.on('error', () => undefined);
  return sock;
}
