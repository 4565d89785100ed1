import { constants } from 'node:os';
import { usageError } from './errors';

const SIGNALS = constants.signals as Record<string, number>;

/**
 * "KILL", "SIGKILL", "9", "kill" -> 9. Realtime signals as RTMIN+N / RTMAX-N. "0" is signal 0,
 * as with kill(1) and runc: nothing is sent, the call only says whether the process is alive.
 */
export function parseSignal(input: string | undefined, fallback = 'SIGTERM'): number {
  const raw = (input ?? fallback).trim();
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 0 && n <= 64) return n;
  } else {
    const name = raw.toUpperCase().replace(/^SIG/, '');
    const direct = SIGNALS[`SIG${name}`];
    if (direct !== undefined) return direct;
    const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
    if (rt) {
      const base = rt[1] === 'IN' ? 34 : 64;
      const n = base + Number(rt[2] ?? 0);
      if (n >= 34 && n <= 64) return n;
    }
  }
  throw usageError(`unknown signal ${JSON.stringify(raw)}`);
}

export function signalName(n: number): string {
  for (const [name, v] of Object.entries(SIGNALS)) if (v === n) return name;
  return String(n);
}
