// `events`: runc's event stream of a container, one JSON object per line:
//   {"type":"stats","id":"<id>","data":{"cpu":...,"memory":...,"pids":...,"blkio":...,"hugetlb":...}}
//   {"type":"oom","id":"<id>"}
// With --stats, one stats event and the end. Otherwise stats every interval and an oom event each
// time the kernel's OOM killer strikes in the container's cgroup, until the container stops (or
// the caller aborts: SIGINT/SIGTERM in the CLI). Like runc, a container that is not running is an
// error, and a failed stats read is logged and skipped.
import { containerError, usageError } from './errors';
import { isAlive } from './procfs';
import type { Runtime } from './runtime';
import { cgroupsOf, containerStatus } from './status';
import type { Stats } from './cgroups/types';

export interface RuncEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: Stats;
}

/** How often the stream looks whether the container is still there. */
const LIVENESS_MS = 100;

/** One stats event (`events --stats`). */
export function statsEvent(rt: Runtime, id: string): RuncEvent {
  const rec = rt.store.read(id);
  if (containerStatus(rt, rec) === 'stopped') throw containerError('ESTATUS', `container with id ${id} is not running`);
  return { type: 'stats', id, data: cgroupsOf(rt, rec).stats() };
}

export interface EventStreamOptions {
  /** Period of the stats events, in milliseconds. */
  intervalMs: number;
  onEvent: (event: RuncEvent) => void;
  /** Ends the stream (resolves) when aborted. */
  signal?: AbortSignal;
}

/**
 * Stream events until the container stops or `signal` aborts. The OOM watch looks one last time
 * when the container is seen gone, so an OOM kill of its init is reported before the end.
 */
export function streamEvents(rt: Runtime, id: string, opts: EventStreamOptions): Promise<void> {
  if (!(opts.intervalMs > 0)) throw usageError('duration interval must be greater than 0');
  const rec = rt.store.read(id);
  if (containerStatus(rt, rec) === 'stopped') throw containerError('ESTATUS', `container with id ${id} is not running`);
  const cg = cgroupsOf(rt, rec);

  return new Promise<void>((resolve, reject) => {
    let done = false;
    let failure: unknown;
    const emit = (e: RuncEvent) => {
      if (done) return;
      try {
        opts.onEvent(e);
      } catch (err) {
        failure = err; // the reader went away (EPIPE) or similar: stop
        finish();
      }
    };
    const oom = cg.oomEvents(() => emit({ type: 'oom', id }));
    const stats = setInterval(() => {
      let data: Stats;
      try {
        data = cg.stats();
      } catch (err) {
        if (!cg.exists()) return; // deleted under us: the liveness check ends the stream
        rt.log.error(`events: ${(err as Error).message}`);
        return;
      }
      emit({ type: 'stats', id, data });
    }, opts.intervalMs);
    const liveness = setInterval(() => {
      if (!isAlive(rec.pid, rec.initStartTime)) finish();
    }, LIVENESS_MS);
    const onAbort = () => finish();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    function finish(): void {
      if (done) return;
      if (failure === undefined) oom.check(); // last look: an OOM kill may be why the container stopped
      done = true;
      oom.dispose();
      clearInterval(stats);
      clearInterval(liveness);
      opts.signal?.removeEventListener('abort', onAbort);
      if (failure !== undefined) reject(failure);
      else resolve();
    }
    if (opts.signal?.aborted) finish();
  });
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "250ms", "1m30s", "1.5h") in milliseconds, as runc's --interval takes it. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let sign = 1;
  let i = 0;
  if (s[0] === '-' || s[0] === '+') {
    sign = s[0] === '-' ? -1 : 1;
    i = 1;
  }
  let total = 0;
  let parts = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw usageError(`invalid duration ${JSON.stringify(text)}`);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    i = re.lastIndex;
    parts++;
  }
  if (!parts) throw usageError(`invalid duration ${JSON.stringify(text)}`);
  return sign * total;
}
