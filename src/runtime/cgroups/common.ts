// Pieces both drivers share: signalling every process of a cgroup, and the OOM watcher.

import * as fs from 'node:fs';
import { constants } from 'node:os';
import type { OomWatch } from './types';
import { cgroupError, errnoOf } from './files';

export function signalNumber(signal: NodeJS.Signals | number | string): number {
  if (typeof signal === 'number') return signal;
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals;
  const n = constants.signals[name];
  if (n === undefined) throw cgroupError('EINVAL', `unknown signal ${JSON.stringify(signal)}`);
  return n;
}

/** The part of a manager killAll needs. */
export interface Signallable {
  pids(recursive?: boolean): number[];
  canFreeze(): boolean;
  isFrozen(): boolean;
  freeze(): void;
  thaw(): void;
  warn(message: string): void;
}

/**
 * Send a signal to every process of the cgroup and its descendants. The cgroup is frozen while the
 * pids are listed and signalled, so a process cannot fork a child that escapes the list (runc's
 * signalAllProcesses). After SIGKILL the cgroup is always thawed: v1-frozen tasks only die once they
 * run again. For other signals a cgroup that was paused before stays paused.
 */
export function signalAll(m: Signallable, signal: NodeJS.Signals | number): void {
  const signo = signalNumber(signal);
  const wasFrozen = m.canFreeze() && m.isFrozen();
  let froze = false;
  if (m.canFreeze() && !wasFrozen) {
    try {
      m.freeze();
      froze = true;
    } catch (err) {
      m.warn(`cannot freeze the cgroup before signalling its processes (continuing unfrozen): ${(err as Error).message}`);
    }
  }
  try {
    for (const pid of m.pids(true)) {
      try {
        process.kill(pid, signo);
      } catch (err) {
        if (errnoOf(err) !== 'ESRCH') throw cgroupError(errnoOf(err) ?? 'EIO', `cannot send signal ${signo} to pid ${pid}: ${(err as Error).message}`, err);
      }
    }
  } finally {
    if (froze || (wasFrozen && signo === constants.signals.SIGKILL)) m.thaw();
  }
}

/**
 * Run `check` every `intervalMs` and, when `watchFile` is given, whenever inotify reports that file
 * modified (cgroup v2 notifies modifications of memory.events). Neither keeps the process alive.
 */
export function pollWatcher(check: () => void, intervalMs: number, watchFile?: string): OomWatch {
  let disposed = false;
  const safeCheck = () => {
    if (disposed) return;
    try {
      check();
    } catch {
      // The cgroup vanished (container deleted) or a read raced its removal: the next tick retries.
    }
  };
  const timer = setInterval(safeCheck, intervalMs);
  timer.unref();
  let watcher: fs.FSWatcher | undefined;
  if (watchFile) {
    try {
      watcher = fs.watch(watchFile, { persistent: false }, safeCheck);
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined; // polling alone still reports
    }
  }
  return {
    check: safeCheck,
    dispose() {
      disposed = true;
      clearInterval(timer);
      watcher?.close();
    },
  };
}
