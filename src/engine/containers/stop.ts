// `dock stop`, `kill`, `restart`, `wait`, `pause`, `unpause`.

import { kill as runtimeKill } from '../../runtime/kill';
import { parseSignal } from '../../runtime/signals';
import { cgroupsOf } from '../../runtime/status';
import { waitExitVia } from './attach';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { ContainerError } from './errors';
import { withLockAsync } from './lock';
import { containerDir } from './paths';
import { startContainer } from './start';
import { liveState } from './status';
import type { ContainerDoc } from './types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the container's init is gone (through the supervisor when it runs: then its logs and
 * exit.json are written when this returns). Returns false on timeout.
 */
export async function waitStopped(engine: Engine, doc: ContainerDoc, timeoutMs?: number): Promise<boolean> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  const running = () => {
    const s = liveState(engine, engine.containers.get(doc.Id) ?? doc).status;
    return s === 'running' || s === 'paused';
  };
  if (!running()) return true;
  const dir = containerDir(engine.paths, doc.Id);
  await waitExitVia(dir, timeoutMs);
  // The supervisor may be gone (killed): then poll the init itself.
  while (running()) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function markManualStop(engine: Engine, doc: ContainerDoc): void {
  engine.containers.update(doc.Id, (d) => {
    d.State.ManualStop = true;
    d.State.Restarting = false;
  });
}

export async function stopContainer(engine: Engine, doc: ContainerDoc, timeoutSec?: number): Promise<void> {
  const dir = containerDir(engine.paths, doc.Id);
  const timeout = timeoutSec ?? doc.Config.StopTimeout ?? 10;
  const signal = parseSignal(doc.Config.StopSignal, 'SIGTERM');
  const sent = await withLockAsync(dir, () => {
    markManualStop(engine, doc);
    const live = liveState(engine, engine.containers.get(doc.Id)!);
    if (live.status !== 'running' && live.status !== 'paused') return false;
    try {
      runtimeKill(engine.rt, doc.Id, signal);
    } catch {
      return false; // exited meanwhile
    }
    containerEvent(engine, doc, 'kill', { signal: String(signal) });
    // A frozen process cannot act on the signal: thaw it (Docker does the same).
    if (live.status === 'paused') cgroupsOf(engine.rt, live.runtime!).thaw();
    return true;
  });
  if (!sent) return;
  if (timeout >= 0 && (await waitStopped(engine, doc, timeout * 1000))) {
    await stopped(engine, doc);
    return;
  }
  await withLockAsync(dir, () => {
    const live = liveState(engine, engine.containers.get(doc.Id)!);
    if (live.status !== 'running' && live.status !== 'paused') return;
    try {
      runtimeKill(engine.rt, doc.Id, 9, true);
      containerEvent(engine, doc, 'kill', { signal: '9' });
    } catch {
      /* gone */
    }
  });
  if (!(await waitStopped(engine, doc, 30_000))) throw new ContainerError('ERUNTIME', `container ${doc.Name} did not stop after SIGKILL`);
  await stopped(engine, doc);
}

/**
 * The stop event comes after the die event, as Docker's do: the exit handler (the supervisor's exit
 * command) records the exit under the container's lock, so once the record has its end time, the
 * lock is taken once to let that handler finish. Bounded: a handler that never runs (its supervisor
 * was killed) delays the event by two seconds at most.
 */
async function stopped(engine: Engine, doc: ContainerDoc): Promise<void> {
  const dir = containerDir(engine.paths, doc.Id);
  for (let i = 0; i < 40; i++) {
    const cur = engine.containers.get(doc.Id);
    if (!cur || cur.State.FinishedAt) break;
    await sleep(50);
  }
  await withLockAsync(dir, () => undefined).catch(() => undefined);
  containerEvent(engine, doc, 'stop');
}

export async function killContainer(engine: Engine, doc: ContainerDoc, signalText?: string): Promise<void> {
  const signal = parseSignal(signalText, 'SIGKILL');
  const dir = containerDir(engine.paths, doc.Id);
  await withLockAsync(dir, () => {
    const live = liveState(engine, engine.containers.get(doc.Id)!);
    if (live.status !== 'running' && live.status !== 'paused') throw new ContainerError('ESTATE', `cannot kill container ${doc.Name}: container is not running`);
    markManualStop(engine, doc);
    runtimeKill(engine.rt, doc.Id, signal);
    containerEvent(engine, doc, 'kill', { signal: String(signal) });
  });
}

export async function restartContainer(engine: Engine, doc: ContainerDoc, timeoutSec?: number): Promise<void> {
  await stopContainer(engine, doc, timeoutSec);
  // The exit handler (run by the supervisor) cleans up the old run; start does it too if it comes first.
  const restarted = await startContainer(engine, engine.containers.get(doc.Id)!);
  containerEvent(engine, restarted, 'restart');
}

export async function pauseContainer(engine: Engine, doc: ContainerDoc, pause: boolean): Promise<void> {
  await withLockAsync(containerDir(engine.paths, doc.Id), () => {
    const live = liveState(engine, engine.containers.get(doc.Id)!);
    if (pause) {
      if (live.status === 'paused') throw new ContainerError('ESTATE', `container ${doc.Name} is already paused`);
      if (live.status !== 'running') throw new ContainerError('ESTATE', `container ${doc.Name} is not running`);
      cgroupsOf(engine.rt, live.runtime!).freeze();
    } else {
      if (live.status !== 'paused') throw new ContainerError('ESTATE', `container ${doc.Name} is not paused`);
      cgroupsOf(engine.rt, live.runtime!).thaw();
    }
    containerEvent(engine, doc, pause ? 'pause' : 'unpause');
  });
}

