// `dock wait --condition` and POST /containers/{id}/wait?condition=: Docker's three conditions.
// not-running answers at once for a container that is not running (created counts as 0);
// next-exit waits for the end of the current or next run; removed waits until the record is gone.
// The exit code is taken from the supervisor while the run lasts, so an --rm container removed at
// once still reports it; a restart (policy) counts as an exit, as Docker's wait does.

import { waitExitVia } from './attach';
import type { Engine } from './engine';
import { usage } from './errors';
import { containerDir } from './paths';
import { liveState, readExit } from './status';
import type { ContainerDoc } from './types';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function parseWaitCondition(v: string | undefined | null): WaitCondition {
  const c = v || 'not-running';
  if (c !== 'not-running' && c !== 'next-exit' && c !== 'removed') throw usage(`invalid condition: "${c}": not-running, next-exit or removed`);
  return c;
}

/** The exit code once `condition` holds; null when `signal` ended the wait first. */
export async function waitCondition(engine: Engine, doc: ContainerDoc, condition: WaitCondition, signal?: AbortSignal): Promise<number | null> {
  const dir = containerDir(engine.paths, doc.Id);
  const startedAt = doc.State.StartedAt;
  let code: number | null = null;
  let seenRun = false;
  let unknownSince = 0;
  let reportedPid = -1;
  while (!signal?.aborted) {
    const cur = engine.containers.get(doc.Id);
    // Removed while running (rm -f quits the supervisor before its exit report): killed by SIGKILL.
    if (!cur) return code ?? (seenRun ? 137 : doc.State.ExitCode);
    const live = liveState(engine, cur);
    if (live.status === 'running' || live.status === 'paused') {
      seenRun = true;
      // The supervisor reported this run's end already: the state follows in a moment (asking
      // the supervisor again would wait for a next run).
      if (reportedPid === cur.State.Pid) {
        await sleep(50);
        continue;
      }
      const c = await waitExitVia(dir);
      reportedPid = cur.State.Pid;
      if (c !== null) {
        code = c;
        if (condition !== 'removed' && liveState(engine, engine.containers.get(doc.Id) ?? cur).status === 'restarting') return c;
      } else await sleep(100);
      continue;
    }
    if (live.status === 'restarting' && condition !== 'removed') return code ?? live.exitCode;
    if (live.status === 'exited' || live.status === 'dead') {
      const exit = readExit(dir);
      // Between the init's end and the supervisor's exit.json the state says 255 ("unknown"):
      // give the record a few seconds to say how it ended before taking that.
      const fresh = exit && exit.pid === cur.State.Pid;
      if (!fresh && live.runtime && unknownSince++ < 50) {
        await sleep(100);
        continue;
      }
      const last = fresh ? exit.exitCode : live.exitCode;
      const ranSince = seenRun || cur.State.StartedAt !== startedAt;
      if (condition === 'not-running') return code ?? last;
      if (condition === 'next-exit' && ranSince) return code ?? last;
      if (condition === 'removed' && ranSince) code ??= last;
    }
    if (live.status === 'created' && condition === 'not-running') return 0;
    await sleep(100);
  }
  return null;
}
