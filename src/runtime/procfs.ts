import { readFileSync } from 'node:fs';

/**
 * Start time of a process (field 22 of /proc/PID/stat, clock ticks since boot), or null when it
 * does not exist. Together with the pid it names one process for ever: pids are recycled.
 */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // comm (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  if (rest[0] === 'Z' || rest[0] === 'X') return null; // a zombie has stopped running
  return rest[19] ?? null;
}

export function isAlive(pid: number, startTime: string): boolean {
  return pid > 0 && processStartTime(pid) === startTime;
}
