// What happens when a container's init exits: run by its supervisor as the exit command
// (`dock container _exited ID`, with DOCK_EXITED_PID), or in-process by a foreground `dock run`
// that claimed the exit. Cleans up the run (runtime state and cgroup, overlay mount), records the
// exit, removes an --rm container, and applies the restart policy with Docker's back-off
// (100 ms doubling up to a minute; reset when the run lasted 10 s or more).

import { readFileSync } from 'node:fs';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { ContainerLock } from './lock';
import { detachNetworks } from './network';
import { containerDir } from './paths';
import { removeContainer } from './remove';
import { unmountOverlay } from './rootfs';
import { clearRuntime, startContainer } from './start';
import { readExit } from './status';
import type { ContainerDoc } from './types';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function shouldRestart(doc: ContainerDoc, exitCode: number): boolean {
  const p = doc.HostConfig.RestartPolicy;
  if (doc.State.ManualStop) return false;
  switch (p.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (p.MaximumRetryCount === 0 || doc.State.RestartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

export function restartDelayMs(doc: ContainerDoc, ranMs: number): number {
  if (ranMs >= 10_000) return 100;
  return Math.min(100 * 2 ** doc.State.RestartCount, 60_000);
}

/** OOM kills counted in the container's memory cgroup (v1 memory.oom_control, v2 memory.events). */
export function oomKills(id: string): number {
  for (const [file, re] of [
    [`/sys/fs/cgroup/memory/dock/${id}/memory.oom_control`, /^oom_kill (\d+)$/m],
    [`/sys/fs/cgroup/dock/${id}/memory.events`, /^oom_kill (\d+)$/m],
  ] as const) {
    try {
      const m = re.exec(readFileSync(file, 'utf8'));
      if (m) return Number(m[1]);
    } catch {
      /* not this hierarchy */
    }
  }
  return 0;
}

export async function handleExit(engine: Engine, id: string, exitedPid: number): Promise<void> {
  const dir = containerDir(engine.paths, id);
  if (!engine.containers.get(id)) return;
  let lock: ContainerLock;
  try {
    lock = await ContainerLock.acquireAsync(dir);
  } catch {
    return; // removed meanwhile
  }
  let delay = -1;
  try {
    const doc = engine.containers.get(id);
    if (!doc || doc.State.Removing || (exitedPid && doc.State.Pid !== exitedPid)) return; // stale: a newer run exists
    const exit = readExit(dir);
    const code = exit && exit.pid === doc.State.Pid ? exit.exitCode : doc.State.ExitCode;
    const oom = oomKills(id) > 0;
    clearRuntime(engine, id);
    // A failure here (nft) must not keep the exit from being recorded: rm detaches again.
    await detachNetworks(engine, doc).catch(() => undefined);
    unmountOverlay(dir);
    const updated = engine.containers.update(id, (d) => {
      d.State.ExitCode = code;
      d.State.OOMKilled = oom;
      d.State.FinishedAt = exit?.finishedAt ?? new Date().toISOString();
    });
    if (oom) containerEvent(engine, updated, 'oom');
    containerEvent(engine, updated, 'die', { exitCode: String(code) });
    if (updated.HostConfig.AutoRemove) {
      await removeContainer(engine, updated, { force: true, volumes: true, locked: true });
      return;
    }
    if (!shouldRestart(updated, code)) return;
    delay = restartDelayMs(updated, Date.parse(updated.State.FinishedAt) - Date.parse(updated.State.StartedAt));
    engine.containers.update(id, (d) => {
      d.State.Restarting = true;
    });
  } finally {
    lock.release();
  }
  if (delay < 0) return;
  await sleep(delay);
  try {
    lock = await ContainerLock.acquireAsync(dir);
  } catch {
    return;
  }
  try {
    const doc = engine.containers.get(id);
    // `dock stop`/`rm` during the delay cancel the restart.
    if (!doc || !doc.State.Restarting || doc.State.ManualStop || doc.State.Removing) return;
    const next = engine.containers.update(id, (d) => {
      d.State.RestartCount += 1;
      d.State.Restarting = false;
    });
    await startContainer(engine, next, { locked: true });
  } catch (e) {
    engine.containers.update(id, (d) => {
      d.State.Restarting = false;
      d.State.Error = (e as Error).message;
    });
    throw e;
  } finally {
    lock.release();
  }
}
