// Starting and stopping dock's two kinds of helper processes, the DNS server of a network and the
// port proxy of a container: detached (own session, no tie to the dock that started them), born in
// the host network namespace, their stderr in a log file, their pid and /proc start time recorded
// so that a recycled pid is never signalled.

import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isAlive, processStartTime } from '../../runtime/procfs';
import { NetworkError } from './errors';
import type { HostNetns } from './netns';

const READY_TIMEOUT_MS = 10_000;

/** dist/dock-dns.js or dist/dock-proxy.js, beside the bundled dock or from a source checkout. */
export function helperScript(name: 'dock-dns.js' | 'dock-proxy.js'): string {
  for (const p of [join(__dirname, name), join(__dirname, '..', '..', '..', 'dist', name)]) if (existsSync(p)) return p;
  throw new NetworkError('EDAEMON', `${name} is missing: run npm run build`);
}

export interface Daemon {
  pid: number;
  startTime: string;
  /** The words after "ready" on its first line. */
  ready: string[];
}

/** Starts `node script args` detached in the host netns; resolves once it says "ready". */
export async function startDaemon(ns: HostNetns, what: string, script: string, args: string[], logFile: string): Promise<Daemon> {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  let child;
  try {
    child = ns.spawn(process.execPath, [script, ...args], { detached: true, stdio: ['ignore', 'pipe', log] });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const timer = setTimeout(() => done(`error: no answer within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    const done = (l: string) => {
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.removeAllListeners('exit');
      resolve(l);
    };
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    });
    child.on('exit', (code, sig) => done(buf.trim() || `error: exited (${sig ?? code}) before it was ready, see ${logFile}`));
    child.on('error', (e) => done(`error: ${e.message}`));
  });
  child.stdout!.destroy();
  child.unref();
  if (!line.startsWith('ready') || !pid) {
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    const why = line.replace(/^error:\s*/, '');
    throw new NetworkError(/address already in use/.test(why) ? 'EPORTINUSE' : 'EDAEMON', `${what}: ${why}`);
  }
  const startTime = processStartTime(pid);
  if (!startTime) throw new NetworkError('EDAEMON', `${what}: exited right after it was ready, see ${logFile}`);
  return { pid, startTime, ready: line.split(/\s+/).slice(1) };
}

/** SIGTERM, then SIGKILL after a bounded wait; a no-op when that process is gone already. */
export async function stopDaemon(pid: number | null, startTime: string | null): Promise<void> {
  if (!pid || !startTime || !isAlive(pid, startTime)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid, startTime); i++) await new Promise((r) => setTimeout(r, 20));
  if (isAlive(pid, startTime)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 100 && isAlive(pid, startTime); i++) await new Promise((r) => setTimeout(r, 20));
  }
}

export function daemonAlive(pid: number | null, startTime: string | null): boolean {
  return !!pid && !!startTime && isAlive(pid, startTime);
}
